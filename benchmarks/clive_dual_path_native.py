"""Does the dual-pathway model beat mean+std pooling where the product scores:
whole photos at native resolution? (issue 26). 5-fold cross-validation over
the 600 CLIVE dev photos, the folds of benchmarks/clive_folds.json.

    .venv/bin/python benchmarks/clive_dual_path_native.py                     # every run not yet in the results
    .venv/bin/python benchmarks/clive_dual_path_native.py --variants dual_path mean_std_trained --folds 0
    .venv/bin/python benchmarks/clive_dual_path_native.py --max-minutes 40    # start no run after 40 minutes
    .venv/bin/python benchmarks/clive_dual_path_native.py --table             # the summary table only

Each variant is a model with the shipped model's recipe (ImageNet MobileNet
v1, alpha 1, frozen; the whole photo, long side <= the shipped max_side) and
a head trained from random initialisation on the backbone's frozen features:

    dual_path         conv_pw_11 -> 1x1 reduction -> SpatialAttention pooling (local),
                      conv_pw_13 -> NonLocalBlock (non_local_bn) -> average pooling (global),
                      AdaptiveFusion, NIMA head (docs/DUAL_PATH.md)
    no_non_local, no_attention, no_adain   the dual path without that part
    mean_std_trained  the shipped architecture (mean+std of conv_pw_11 and
                      conv_pw_13, Dense softmax) with its head trained the same way

Training: the model is cut after conv_pw_11_relu
(`aesthetics.training.partial_finetune.split_model`); the conv_pw_11 maps of
every photo and its mirror are the ones benchmarks/clive_finetune_study.py
caches (the same stem, weights and recipe; checked on one photo per process),
blocks 12-13 stay frozen (block_lr 0, BatchNorm in inference mode) and the
head layers train with Adam on whole maps, the best epoch on a 15% seeded
holdout of the fold's training photos restored (epoch 0 included; the same
holdout as the fine-tuning study's). The "frozen" rows of
benchmarks/results/finetune.jsonl (the shipped recipe: standardised features,
EMD head fitted full-batch on all the fold's training photos) are the reference;
mean_std_trained is the like-for-like one (same training, same 85%).

Each finished (variant, fold) appends one row to the results file (SRCC,
PLCC, the epoch curve, seconds per epoch, and the mean L2 norms of the
global vector, the local vector, the fused vector and the head features on
the holdout, after every epoch and at the restored one); rows that exist are
skipped, so an interrupted study resumes where it stopped.
Needs ../shared (CLIVE photos, ImageNet MobileNet weights); no network.
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
from benchmarks.clive_finetune_study import (  # noqa: E402
    CACHE,
    FOLDS,
    VAL_FRACTION,
    append_row,
    cached_maps,
    evaluate,
    load_table,
    pending,
    read_rows,
    run_pending,
)
from benchmarks.common import require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dual_path_native.jsonl"
FROZEN_RESULTS = ROOT / "benchmarks" / "results" / "finetune.jsonl"
WEIGHTS = ROOT.parent / "shared" / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
AT = "conv_pw_11_relu"
# head_lr: at 1e-3 the dual path's training loss never fell (fold 0: 0.245 for 5 epochs, epoch 0 kept,
# SRCC 0.13; the FiLM-fused vector's norm tripled in one epoch) and mean_std_trained's holdout loss
# jumped 0.17 -> 0.25 between epochs (results/dual_path_native_headlr1e-3.jsonl); at 1e-4 the dual
# path's fell steadily (results/dual_path_native_lr_probe.log, 3 epochs of fold 0: train 0.209, 0.178,
# 0.151; holdout 0.206 at the start, then 0.175, 0.150, 0.152). mean_std_trained is not yet tried at 1e-4.
TRAIN = {"loss": "emd", "head_lr": 1e-4, "block_lr": 0.0, "epochs": 30, "patience": 5, "batch_size": 16,
         "crop": None, "dropout": 0.5}
# the dual path as configs/clive_dual_path.json builds it: the non-local residual through zero-gamma
# BatchNorm (non_local_bn), without which it diverges (benchmarks/dual_path_stability.py)
DUAL = {"non_local_bn": True}
VARIANTS = {  # name -> (model, options), in run order
    "dual_path": ("dual_path", DUAL),
    "mean_std_trained": ("nima", {"pooling": "mean_std", "pool_layers": ["conv_pw_11_relu"]}),
    "no_non_local": ("dual_path", {**DUAL, "use_non_local": False}),
    "no_attention": ("dual_path", {**DUAL, "use_attention": False}),
    "no_adain": ("dual_path", {**DUAL, "use_adain": False}),
}
REFERENCE = "mean_std_trained"


def shipped_recipe():
    from aesthetics.zoo.resolver import resolve_model

    return resolve_model("clive-mobilenet", "keras").recipe


def build(name, weights=WEIGHTS, alpha=1.0, dropout=TRAIN["dropout"]):
    """The variant's model with the shipped model's recipe (native resolution)."""
    from aesthetics.config import ModelConfig
    from aesthetics.models import Recipe, build_model

    kind, options = VARIANTS[name]
    shipped = shipped_recipe()
    recipe = Recipe(resize="native", max_side=shipped.max_side, image_size=224, score_range=(0, 100))
    assert recipe.to_dict() == shipped.to_dict(), (recipe, shipped)  # else the cached maps are not this model's
    config = ModelConfig(model=kind, backbone="mobilenet", alpha=alpha,
                         backbone_weights=None if weights is None else str(weights), dropout=dropout,
                         options=dict(options))
    return build_model(config, recipe=recipe)


def norm_probe(split):
    """A map model -> (B, k) diagnostics, and their k names: the L2 norms of the
    vectors the head combines, and the attention map's peak (max / mean)."""
    import keras

    outs = split.layer_outputs
    tensors = {}
    for name, layer in (("global", "global_pool"), ("fused", "fusion"), ("features", "head_dropout"),
                        ("local", "local_pool")):
        if layer in outs:
            tensors[name] = outs[layer]
    if "local_attention" in outs:
        pooled, attention = outs["local_attention"]
        tensors["local"] = pooled
    if "pooled" in outs:  # NIMA mean+std: its features
        tensors["features"] = outs["pooled"]
    names = sorted(tensors)
    columns = [keras.ops.norm(keras.ops.cast(tensors[n], "float32"), axis=-1) for n in names]
    if "local_attention" in outs:
        names.append("attention_peak")
        columns.append(keras.ops.max(attention, axis=(1, 2, 3)) / keras.ops.mean(attention, axis=(1, 2, 3)))
    return keras.Model(split.top.input, keras.ops.stack(columns, axis=-1), name="norm_probe"), names


def probe_norms(probe, maps) -> dict:
    from aesthetics.training.partial_finetune import predict_top

    model, names = probe
    values = predict_top(model, maps).mean(axis=0)
    return {n: round(float(v), 3) for n, v in zip(names, values)}


_STEM_CHECKED = []


def check_stem(split, recipe, path, cached):
    """The variant's stem computes the cached map (once per process)."""
    from aesthetics.training.partial_finetune import cache_maps

    if _STEM_CHECKED:
        return
    maps, failures = cache_maps(split.stem, recipe, [path])
    assert not failures, failures
    assert maps[0].shape == cached.shape, (maps[0].shape, cached.shape)
    diff = float(np.max(np.abs(maps[0].astype(np.float32) - cached.astype(np.float32))))
    assert diff <= 2e-2 + 1e-2 * float(np.max(np.abs(cached))), f"the stem's map differs from the cache by {diff}"
    _STEM_CHECKED.append(diff)
    print(f"stem check: max |map - cached| = {diff:.2g}", flush=True)


def run_one(name, k, fold, table, maps, log):
    import keras

    from aesthetics.losses import get_loss
    from aesthetics.training.partial_finetune import fit_top, split_model

    plain, flipped = maps
    ids = list(table["image_id"])
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    mos = table["mean"].to_numpy()
    fold_ids = set(fold)
    test = np.array([i for i, n in enumerate(ids) if n in fold_ids])
    train = np.setdiff1d(np.arange(len(ids)), test)
    order = np.random.default_rng(100 + k).permutation(train)  # the fine-tuning study's holdout
    n_val = int(round(VAL_FRACTION * len(train)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])

    t0 = time.time()
    keras.utils.set_random_seed(k)
    model = build(name)
    split = split_model(model, AT)
    check_stem(split, model.recipe, table["filepath"].iloc[int(train[0])], plain[int(train[0])])
    backbone = [np.array(w) for w in model.get_layer("backbone").weights]
    probe = norm_probe(split)
    val_maps = [plain[i] for i in val]
    norms_by_epoch = []  # as each epoch left the model (epoch 0: the start)
    fit = fit_top(split, [[plain[i] for i in train], [flipped[i] for i in train]], targets[train],
                  val_maps, targets[val], get_loss(TRAIN["loss"]), epochs=TRAIN["epochs"],
                  block_lr=TRAIN["block_lr"], head_lr=TRAIN["head_lr"], batch_size=TRAIN["batch_size"],
                  crop=TRAIN["crop"], patience=TRAIN["patience"], seed=k, log=log,
                  on_epoch=lambda epoch: norms_by_epoch.append(probe_norms(probe, val_maps)))
    assert all(np.array_equal(np.asarray(w), b) for w, b in zip(model.get_layer("backbone").weights, backbone))
    srcc, plcc = evaluate(split.top, [plain[i] for i in test], mos[test])
    return {"variant": name, "fold": k, "n_test": int(len(test)), "n_train": int(len(train)),
            "srcc": srcc, "plcc": plcc, "best_epoch": fit.best_epoch, "epochs_run": len(fit.val_losses) - 1,
            "seconds_per_epoch": round(fit.seconds_per_epoch, 1),
            "val_losses": [round(v, 5) for v in fit.val_losses],
            "train_losses": [round(v, 5) for v in fit.train_losses],
            "norms_best": probe_norms(probe, val_maps), "norms_by_epoch": norms_by_epoch,
            "head_params": int(sum(np.prod(v.shape) for v in split.head_variables())),
            "settings": {**TRAIN, "model": VARIANTS[name][0], "options": VARIANTS[name][1], "at": AT,
                         "max_side": model.recipe.max_side},
            "minutes": round((time.time() - t0) / 60, 2)}


def _paired(fs, ref):
    d = [fs[k]["srcc"] - ref[k]["srcc"] for k in sorted(fs) if k in ref]
    return f"{np.mean(d):+.3f} ± {np.std(d):.3f} ({len(d)})" if d else ""


def table_text(rows, frozen_rows) -> str:
    """Markdown: mean ± sd per variant, the paired per-fold SRCC difference to
    the shipped recipe ("frozen" rows of the fine-tuning study) and to
    mean_std_trained, epochs, costs and the vector norms at the restored epoch."""
    by = {}
    for r in rows:
        by.setdefault(r["variant"], {})[r["fold"]] = r
    frozen = {r["fold"]: r for r in frozen_rows if r["variant"] == "frozen"}
    lines = ["| variant | folds | SRCC | PLCC | paired dSRCC vs frozen | paired dSRCC vs mean_std_trained "
             "| best epochs | s/epoch | min/fold | norms (best epoch) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    if frozen:
        sr, pl = [frozen[k]["srcc"] for k in sorted(frozen)], [frozen[k]["plcc"] for k in sorted(frozen)]
        lines.append(f"| frozen (shipped recipe, finetune.jsonl) | {len(frozen)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} "
                     f"| {np.mean(pl):.3f} ± {np.std(pl):.3f} | | | | | | |")
    for name in [v for v in VARIANTS if v in by] + [v for v in by if v not in VARIANTS]:
        fs = by[name]
        sr = [fs[k]["srcc"] for k in sorted(fs)]
        pl = [fs[k]["plcc"] for k in sorted(fs)]
        vs_ref = _paired(fs, by.get(REFERENCE, {})) if name != REFERENCE else ""
        epochs = ",".join(str(fs[k].get("best_epoch", "")) for k in sorted(fs))
        spe = np.mean([fs[k].get("seconds_per_epoch", 0) for k in fs])
        norms = {}
        for k in fs:
            for n, v in fs[k].get("norms_best", {}).items():
                norms.setdefault(n, []).append(v)
        norm_text = ", ".join(f"{n} {np.mean(v):.3g}" for n, v in sorted(norms.items()))
        lines.append(f"| {name} | {len(fs)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} | {np.mean(pl):.3f} ± {np.std(pl):.3f} "
                     f"| {_paired(fs, frozen)} | {vs_ref} | {epochs} | {spe:.0f} "
                     f"| {np.mean([fs[k]['minutes'] for k in fs]):.1f} | {norm_text} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--frozen-results", type=Path, default=FROZEN_RESULTS,
                    help="the fine-tuning study's rows; its 'frozen' rows are the shipped recipe per fold")
    ap.add_argument("--cache", type=Path, default=CACHE, help="the fine-tuning study's map cache")
    ap.add_argument("--max-minutes", type=float, default=None, help="start no new run after this many minutes")
    ap.add_argument("--table", action="store_true", help="print the summary table and stop")
    args = ap.parse_args()
    frozen_rows = read_rows(args.frozen_results)
    if args.table:
        print(table_text(read_rows(args.results), frozen_rows))
        return
    require_shared()
    t_start = time.time()
    folds = json.loads(FOLDS.read_text())["folds"]
    todo = pending(args.variants, args.folds, read_rows(args.results))
    if todo:
        table = load_table()
        maps = cached_maps(AT, list(table["filepath"]), args.cache)
    run_pending(todo, lambda v, k, log: run_one(v, k, folds[k], table, maps, log=log), args.results, t_start,
                args.max_minutes, hidden=("val_losses", "train_losses", "settings"))
    print(table_text(read_rows(args.results), frozen_rows))


if __name__ == "__main__":
    main()
