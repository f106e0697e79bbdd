"""Do rated reference photos help score CLIVE? (issue 12). 5-fold cross-validation
over the 600 CLIVE dev photos, the folds of benchmarks/clive_folds.json; the
reference set is always the fold's training part (480 photos), never a test photo.

    .venv/bin/python benchmarks/clive_references.py                 # every run not yet in the results
    .venv/bin/python benchmarks/clive_references.py --variants knn gcn --folds 0
    .venv/bin/python benchmarks/clive_references.py --table         # the summary table only

Every photo is embedded once (cached in benchmarks/cache/) by the default
reference embedder, clive-mobilenet's backbone (ImageNet MobileNet v1,
untouched by CLIVE training) at its native-resolution recipe: content = the
pooled conv_pw_13 map (1024), style = mean and std of conv_pw_5 (512).

    knn, knn_content, knn_style   model-free: softmax(similarity / 0.05)-weighted
                                  neighbours' distributions (k = 8 per kind)
    gcn                           configs/clive_reference_gcn.json's model
                                  (8 + 8 neighbours, 2 graph layers, learnt +
                                  similarity edges), trained on 85% of the fold's
                                  training photos with leave-self-out, early
                                  stopping on the other 15% (the fine-tuning
                                  study's holdout), best weights restored
    gcn_content, gcn_no_graph     the same with content neighbours only / no
                                  graph layers (query node + k-NN estimate only)

The reference row is the backbone alone: the "frozen" rows of
benchmarks/results/finetune.jsonl (the shipped model's recipe, per fold).
Each finished (variant, fold) appends one row to
benchmarks/results/references.jsonl (SRCC, PLCC, seconds per photo for
retrieval + model); rows that exist are skipped. Needs ../shared; no network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.clive_finetune_study import FOLDS, VAL_FRACTION, load_table, pending, read_rows, run_pending  # noqa: E402
from benchmarks.common import require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "references.jsonl"
FROZEN_RESULTS = ROOT / "benchmarks" / "results" / "finetune.jsonl"
CACHE = ROOT / "benchmarks" / "cache" / "references_clive-mobilenet.npz"
CONFIG = ROOT / "configs" / "clive_reference_gcn.json"
EMBEDDER = "clive-mobilenet"
VARIANTS = {  # name -> (method, overrides of the config's options)
    "knn": ("knn", {}),
    "knn_content": ("knn", {"retrieve": ["content"]}),
    "knn_style": ("knn", {"retrieve": ["style"]}),
    "gcn": ("gcn", {}),
    "gcn_content": ("gcn", {"retrieve": ["content"]}),
    "gcn_no_graph": ("gcn", {"gcn_layers": 0}),
}


def recipe():
    config = json.loads(CONFIG.read_text())
    return config["model"]["options"], config["model"].get("dropout", 0.2), config["train"], config["data"]


def embeddings(table):
    """(vectors (600, 1536) in table order, the embedder's recipe), cached."""
    from aesthetics.references.embed import Embedder, public_recipe

    paths = [str(p) for p in table["filepath"]]
    embedder = Embedder(EMBEDDER)
    if CACHE.exists():
        with np.load(CACHE, allow_pickle=False) as z:
            if list(z["paths"]) == paths and str(z["sha"]) == embedder.recipe["model_sha256"]:
                return z["vectors"], embedder, float(z["seconds_per_photo"])
    t0 = time.time()
    vectors, ok, failures = embedder.embed_paths(paths)
    assert not failures and len(ok) == len(paths), failures
    per_photo = (time.time() - t0) / len(paths)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, paths=np.array(paths), vectors=vectors, sha=np.array(embedder.recipe["model_sha256"]),
             recipe=json.dumps(public_recipe(embedder.recipe)), seconds_per_photo=per_photo)
    return vectors, embedder, per_photo


def run_one(name, k_fold, fold, table, vectors, embedder, log):
    import keras

    from aesthetics.losses import get_loss
    from aesthetics.metrics.scores import plcc, srcc
    from aesthetics.models.reference_gcn import ReferenceGCN, ReferenceGCNConfig
    from aesthetics.references.embed import public_recipe
    from aesthetics.references.graph import graph_inputs, knn_distribution
    from aesthetics.references.index import ReferenceIndex
    from aesthetics.training.optim import make_optimizer

    method, overrides = VARIANTS[name]
    options, dropout, train_cfg, data_cfg = recipe()
    options = {**options, **overrides}
    ids = list(table["image_id"])
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    mos = table["mean"].to_numpy()
    fold_ids = set(fold)
    test = np.array([i for i, n in enumerate(ids) if n in fold_ids])
    train = np.setdiff1d(np.arange(len(ids)), test)
    content, style = embedder.split(vectors)
    index = ReferenceIndex([ids[i] for i in train], targets[train], content[train], style[train],
                           public_recipe(embedder.recipe))
    k, kinds = int(options["k"]), list(options["retrieve"])
    t0 = time.time()
    test_graph = graph_inputs(index, content[test], style[test], k, kinds)
    retrieval = (time.time() - t0) / len(test)
    row = {"variant": name, "fold": k_fold, "n_test": int(len(test)), "n_references": int(len(train)),
           "k": k, "retrieve": kinds}
    if method == "knn":
        t0 = time.time()
        pred = knn_distribution(test_graph.inputs["similarities"], test_graph.inputs["neighbour_distributions"],
                                float(options["temperature"]))
        model_seconds = (time.time() - t0) / len(test)
    else:
        keras.utils.set_random_seed(k_fold)
        order = np.random.default_rng(100 + k_fold).permutation(len(train))  # the fine-tuning study's holdout
        n_val = int(round(VAL_FRACTION * len(train)))
        hold, fit_rows = np.sort(order[:n_val]), np.sort(order[n_val:])  # rows of the index
        all_graph = graph_inputs(index, content[train], style[train], k, kinds, exclude=np.arange(len(train)))
        pick = lambda g, rows: {n: v[rows] for n, v in g.inputs.items()}  # noqa: E731
        config = ReferenceGCNConfig(content_dim=embedder.dims[0], style_dim=embedder.dims[1], k=k, retrieve=kinds,
                                    hidden=int(options["hidden"]), gcn_layers=int(options["gcn_layers"]),
                                    learned_adjacency=bool(options["learned_adjacency"]),
                                    similarity_prior=bool(options["similarity_prior"]),
                                    temperature=float(options["temperature"]), dropout=float(dropout))
        model = ReferenceGCN(config)
        model.compile(optimizer=make_optimizer("adam", float(train_cfg["lr_head"])), loss=get_loss(train_cfg["loss"]))
        t1 = time.time()
        history = model.fit(pick(all_graph, fit_rows), targets[train][fit_rows],
                            validation_data=(pick(all_graph, hold), targets[train][hold]),
                            epochs=int(train_cfg["epochs_head"]), batch_size=int(data_cfg["batch_size"]), verbose=0,
                            callbacks=[keras.callbacks.EarlyStopping(
                                patience=int(train_cfg["early_stopping_patience"]), restore_best_weights=True)])
        losses = history.history["val_loss"]
        row.update({"best_epoch": int(np.argmin(losses)) + 1, "epochs_run": len(losses),
                    "fit_seconds": round(time.time() - t1, 1), "params": int(model.count_params())})
        log(f"best epoch {row['best_epoch']} of {len(losses)}, holdout loss {min(losses):.4f}")
        t0 = time.time()
        pred = np.asarray(model.predict(test_graph.inputs, batch_size=256, verbose=0), np.float32)
        model_seconds = (time.time() - t0) / len(test)
    means = pred @ np.arange(1, 11, dtype=np.float32)
    row.update({"srcc": float(srcc(mos[test], means)), "plcc": float(plcc(mos[test], means)),
                "ms_per_photo_retrieval": round(1e3 * retrieval, 3), "ms_per_photo_model": round(1e3 * model_seconds, 3)})
    return row


def table_text(rows, frozen_rows, embed_seconds=None) -> str:
    by = {}
    for r in rows:
        by.setdefault(r["variant"], {})[r["fold"]] = r
    frozen = {r["fold"]: r for r in frozen_rows if r["variant"] == "frozen"}
    lines = ["| method | folds | SRCC | PLCC | paired dSRCC vs backbone alone | ms/photo (retrieval + model) |",
             "|---|---|---|---|---|---|"]
    if frozen:
        sr = [frozen[k]["srcc"] for k in sorted(frozen)]
        pl = [frozen[k]["plcc"] for k in sorted(frozen)]
        lines.append(f"| backbone alone (the shipped frozen recipe, finetune.jsonl) | {len(frozen)} | "
                     f"{np.mean(sr):.3f} ± {np.std(sr):.3f} | {np.mean(pl):.3f} ± {np.std(pl):.3f} | | |")
    for name in [v for v in VARIANTS if v in by]:
        fs = by[name]
        sr = [fs[k]["srcc"] for k in sorted(fs)]
        pl = [fs[k]["plcc"] for k in sorted(fs)]
        d = [fs[k]["srcc"] - frozen[k]["srcc"] for k in sorted(fs) if k in frozen]
        paired = f"{np.mean(d):+.3f} ± {np.std(d):.3f} ({len(d)})" if d else ""
        ms = np.mean([fs[k]["ms_per_photo_retrieval"] + fs[k]["ms_per_photo_model"] for k in fs])
        lines.append(f"| {name} | {len(fs)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} | {np.mean(pl):.3f} ± "
                     f"{np.std(pl):.3f} | {paired} | {ms:.2f} |")
    if embed_seconds is not None:
        lines.append(f"\nEmbedding (the backbone pass, once per photo): {1e3 * embed_seconds:.0f} ms/photo "
                     "on these 2 shared CPU cores.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    rows = read_rows(args.results)
    frozen = read_rows(FROZEN_RESULTS)
    embed_seconds = None
    if CACHE.exists():
        with np.load(CACHE, allow_pickle=False) as z:
            embed_seconds = float(z["seconds_per_photo"])
    if args.table:
        print(table_text(rows, frozen, embed_seconds))
        return
    require_shared()
    folds = json.loads(FOLDS.read_text())["folds"]
    table = load_table()
    vectors, embedder, embed_seconds = embeddings(table)
    todo = pending(args.variants, args.folds, rows)
    run_pending(todo, lambda v, k, log: run_one(v, k, folds[k], table, vectors, embedder, log), args.results,
                time.time(), args.max_minutes, hidden=())
    print(table_text(read_rows(args.results), frozen, embed_seconds))


if __name__ == "__main__":
    main()
