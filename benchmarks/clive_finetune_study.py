"""Does fine-tuning the backbone at native resolution beat the frozen model?
(issue 27). 5-fold cross-validation over the 600 CLIVE dev photos, the folds
of benchmarks/clive_folds.json.

    .venv/bin/python benchmarks/clive_finetune_study.py                    # every variant not yet in the results
    .venv/bin/python benchmarks/clive_finetune_study.py --variants frozen partial_emd
    .venv/bin/python benchmarks/clive_finetune_study.py --max-minutes 40   # start no run after 40 minutes
    .venv/bin/python benchmarks/clive_finetune_study.py --table            # the summary table only
    # one GPU: the whole grid in one command, rows into a folder
    python benchmarks/clive_finetune_study.py --results $OUT/finetune.jsonl --cache $OUT/cache

Every variant starts from what the shipped frozen model knows: the shipped
recipe (ImageNet MobileNet, whole photo at native resolution, mean+std of the
conv_pw_11 and conv_pw_13 maps, EMD head fitted on the frozen features) with
its head fitted on the fold's training photos. The fine-tuned variants then
train the backbone blocks after a split point (conv_pw_11: blocks 12-13;
conv_pw_5: blocks 6-13) on maps cached once per photo and its mirror
(`aesthetics.training.partial_finetune`): random crops of `crop` map cells
(x16 or x8 pixels) or the whole map, BatchNorm frozen ("refit" variants
then fit the head again, the shipped way, on the tuned features of all the
fold's training photos). 15% of the fold's
training photos are held out to choose the epoch (the start, epoch 0,
included), so a fine-tuned variant trains on 85% of what the frozen one
fits its head on: a handicap, stated in the table. Variants with
"holdout": false train on every training photo for a fixed epoch count
instead (chosen from another variant's folds, so slightly optimistic).

Each finished (variant, fold) appends one row to the results file; rows that
exist are skipped, so an interrupted study resumes where it stopped.
Needs ../shared (CLIVE photos); no network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CLIVE_IMAGES, CLIVE_LABELS, require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "finetune.jsonl"
CACHE = ROOT / "benchmarks" / "cache" / "finetune_maps"
FOLDS = ROOT / "benchmarks" / "clive_folds.json"
# the shipped model's head recipe (contrib/zoo/build_clive_model.py)
HEAD = {"loss": "emd", "learning_rate": 3e-3, "l2": 0.03, "dropout": 0.0, "fixed_epochs": 500}
VAL_FRACTION = 0.15

# name -> settings; fine-tuned variants: split point, loss, learning rates, crop (map cells), epochs
BASE = {"at": "conv_pw_11_relu", "loss": "emd", "loss_options": {}, "block_lr": 3e-5, "head_lr": 1e-4,
        "crop": None, "epochs": 12, "patience": 3, "batch_size": 16, "refit_head": False}
VARIANTS = {  # in the order a full run takes them: the most telling first
    "frozen": None,
    "partial_emd": {},
    "partial_emd_plcc": {"loss": "emd_plcc", "loss_options": {"plcc_weight": 1.0}},
    "deep_emd": {"at": "conv_pw_5_relu"},
    "partial_emd_refit": {"refit_head": True},
    "partial_emd_lr1e-4": {"block_lr": 1e-4},
    "partial_emd_crop20": {"crop": 20},
    "partial_emd_lr1e-5": {"block_lr": 1e-5},
    "partial_emd_plcc_rank": {"loss": "emd_plcc", "loss_options": {"plcc_weight": 1.0, "rank_weight": 1.0}},
    "deep_emd_plcc": {"at": "conv_pw_5_relu", "loss": "emd_plcc", "loss_options": {"plcc_weight": 1.0}},
    # no holdout: every training photo, for the median epoch count deep_emd's folds chose (3)
    "deep_emd_all": {"at": "conv_pw_5_relu", "holdout": False, "epochs": 3},
    # the same, with the correlation-aware loss / with 320 px training crops (40 cells of the stride-8 map)
    "deep_emd_plcc_all": {"at": "conv_pw_5_relu", "holdout": False, "epochs": 3, "loss": "emd_plcc",
                          "loss_options": {"plcc_weight": 1.0}},
    "deep_emd_all_crop40": {"at": "conv_pw_5_relu", "holdout": False, "epochs": 3, "crop": 40},
    # epoch-count sensitivity of the shipped variant
    "deep_emd_all_e2": {"at": "conv_pw_5_relu", "holdout": False, "epochs": 2},
    "deep_emd_all_e5": {"at": "conv_pw_5_relu", "holdout": False, "epochs": 5},
}


def settings(name):
    return None if VARIANTS[name] is None else {**BASE, **VARIANTS[name]}


def read_rows(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def pending(variants, folds, rows) -> list:
    """The (variant, fold) runs not yet in `rows`, in run order."""
    done = {(r["variant"], r["fold"]) for r in rows}
    return [(v, k) for v in variants for k in folds if (v, k) not in done]


def run_pending(todo, run, results: Path, t_start: float, max_minutes=None, hidden=("val_losses", "settings")):
    """Runs each pending (variant, fold) with `run(variant, fold, log)`, appending its row to
    `results` as it finishes; starts no run after `max_minutes` from `t_start`."""
    for v, k in todo:
        if max_minutes is not None and (time.time() - t_start) / 60 > max_minutes:
            print(f"stopping: {max_minutes} minutes passed; rerun to resume", flush=True)
            break
        row = run(v, k, lambda m, v=v, k=k: print(f"[{v} fold {k}] {m}", flush=True))
        append_row(results, row)
        print(json.dumps({x: row[x] for x in row if x not in hidden}), flush=True)


def load_table():
    from aesthetics.data.files import resolve_images
    from aesthetics.data.labels import read_labels

    table = read_labels(CLIVE_LABELS, score_range=(0, 100))
    found, missing = resolve_images(table, CLIVE_IMAGES)
    assert len(missing) == 0, missing
    return found.sort_values("image_id").reset_index(drop=True)


def fresh_model():
    from aesthetics.inference.loading import load_model
    from aesthetics.zoo.resolver import resolve_model

    return load_model(resolve_model("clive-mobilenet", backend="keras").path)


def cached_maps(at: str, paths, cache: Path):
    """(plain maps, mirrored maps) of the stem up to `at`, float16, cached on
    disk (one .npy per photo and variant), keyed by the split point and recipe."""
    from aesthetics.training.partial_finetune import cache_maps, split_model

    model = fresh_model()
    key = hashlib.sha1(json.dumps([at, model.recipe.to_dict()]).encode()).hexdigest()[:8]
    folder = cache / f"{at}_{key}"
    out = []
    for flip in (False, True):
        files = [folder / f"{Path(p).stem}{'_flip' if flip else ''}.npy" for p in paths]
        todo = [i for i, f in enumerate(files) if not f.exists()]
        if todo:
            t0 = time.time()
            split = split_model(model, at)
            maps, failures = cache_maps(split.stem, model.recipe, [paths[i] for i in todo], flip=flip)
            assert not failures, failures
            folder.mkdir(parents=True, exist_ok=True)
            for i, m in zip(todo, maps):
                np.save(files[i], m)
            print(f"cached {len(todo)} maps at {at} (flip={flip}) in {time.time() - t0:.0f} s", flush=True)
        out.append([np.load(f) for f in files])
    return out


def evaluate(top, maps, mos):
    from aesthetics.distributions import distribution_mean_std
    from aesthetics.metrics.scores import plcc, srcc
    from aesthetics.training.partial_finetune import predict_top

    pred = distribution_mean_std(predict_top(top, maps))[0]
    return float(srcc(mos, pred)), float(plcc(mos, pred))


def run_one(name, k, fold, table, maps_by_at, log):
    import keras

    from aesthetics.losses import get_loss
    from aesthetics.training.frozen_head import fit_head, install_head
    from aesthetics.training.partial_finetune import fit_top, predict_top, split_model

    s = settings(name)
    at = s["at"] if s else BASE["at"]
    plain, flipped = maps_by_at[at]
    ids = list(table["image_id"])
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    mos = table["mean"].to_numpy()
    fold_ids = set(fold)
    test = np.array([i for i, n in enumerate(ids) if n in fold_ids])
    train = np.setdiff1d(np.arange(len(ids)), test)
    holdout = s is not None and s.get("holdout", True)
    if holdout:  # hold out the epoch-choice photos (seeded per fold)
        order = np.random.default_rng(100 + k).permutation(train)
        n_val = int(round(VAL_FRACTION * len(train)))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])

    t0 = time.time()
    keras.utils.set_random_seed(k)
    model = fresh_model()
    split = split_model(model, at)
    feats = predict_top(split.features, [plain[i] for i in train])
    fit = fit_head(feats, targets[train], batch_size=len(train), seed=k, **HEAD)
    install_head(model, fit)
    row = {"variant": name, "fold": k, "n_test": int(len(test)), "n_train": int(len(train))}
    test_maps = [plain[i] for i in test]
    if s is not None:
        start = evaluate(split.top, test_maps, mos[test])
        loss = get_loss(s["loss"], **s["loss_options"])
        result = fit_top(split, [[plain[i] for i in train], [flipped[i] for i in train]], targets[train],
                         [plain[i] for i in val] if holdout else None, targets[val] if holdout else None, loss, epochs=s["epochs"], block_lr=s["block_lr"],
                         head_lr=s["head_lr"], batch_size=s["batch_size"], crop=s["crop"], patience=s["patience"],
                         seed=k, log=log)
        if s.get("refit_head"):  # the shipped head recipe again, on the tuned features of every training photo
            everything = np.sort(np.concatenate([train, val])) if holdout else train
            install_head(model, fit_head(predict_top(split.features, [plain[i] for i in everything]),
                                         targets[everything], batch_size=len(everything), seed=k, **HEAD))
        row.update({"start_srcc": start[0], "start_plcc": start[1], "best_epoch": result.best_epoch,
                    "epochs_run": len(result.train_losses), "seconds_per_epoch": round(result.seconds_per_epoch, 1),
                    "val_losses": [round(v, 5) for v in result.val_losses], "settings": s})
    row["srcc"], row["plcc"] = evaluate(split.top, test_maps, mos[test])
    row["minutes"] = round((time.time() - t0) / 60, 2)
    return row


def table_text(rows) -> str:
    """Markdown: mean ± sd per variant, and the paired per-fold difference to `frozen`."""
    by = {}
    for r in rows:
        by.setdefault(r["variant"], {})[r["fold"]] = r
    frozen = by.get("frozen", {})
    lines = ["| variant | folds | SRCC | PLCC | paired dSRCC vs frozen | best epochs | s/epoch | min/fold |",
             "|---|---|---|---|---|---|---|---|"]
    for name in [v for v in VARIANTS if v in by] + [v for v in by if v not in VARIANTS]:
        fs = by[name]
        sr = [fs[k]["srcc"] for k in sorted(fs)]
        pl = [fs[k]["plcc"] for k in sorted(fs)]
        paired = [fs[k]["srcc"] - frozen[k]["srcc"] for k in sorted(fs) if k in frozen]
        d = f"{np.mean(paired):+.3f} ± {np.std(paired):.3f}" if paired and name != "frozen" else ""
        epochs = ",".join(str(fs[k].get("best_epoch", "")) for k in sorted(fs)) if name != "frozen" else ""
        spe = np.mean([fs[k].get("seconds_per_epoch", 0) for k in fs])
        lines.append(f"| {name} | {len(fs)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} | {np.mean(pl):.3f} ± {np.std(pl):.3f} "
                     f"| {d} | {epochs} | {spe:.0f} | {np.mean([fs[k]['minutes'] for k in fs]):.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--max-minutes", type=float, default=None, help="start no new run after this many minutes")
    ap.add_argument("--table", action="store_true", help="print the summary table and stop")
    args = ap.parse_args()
    if args.table:
        print(table_text(read_rows(args.results)))
        return
    require_shared()
    t_start = time.time()
    folds = json.loads(FOLDS.read_text())["folds"]
    todo = pending(args.variants, args.folds, read_rows(args.results))
    if not todo:
        print(table_text(read_rows(args.results)))
        return
    table = load_table()
    paths = list(table["filepath"])
    maps_by_at = {}

    def run(v, k, log):
        at = (settings(v) or BASE)["at"]
        if at not in maps_by_at:
            maps_by_at[at] = cached_maps(at, paths, args.cache)
        return run_one(v, k, folds[k], table, maps_by_at, log=log)

    run_pending(todo, run, args.results, t_start, args.max_minutes)
    print(table_text(read_rows(args.results)))


if __name__ == "__main__":
    main()
