"""Self-supervised pretraining that pays off? (issue 14) The cheap, honest proxy.

    .venv/bin/python benchmarks/ssl_probe.py                       # every variant not yet in the results
    .venv/bin/python benchmarks/ssl_probe.py --variants imagenet protected
    .venv/bin/python benchmarks/ssl_probe.py --max-minutes 40      # start no pretraining after 40 minutes
    .venv/bin/python benchmarks/ssl_probe.py --table

Each variant is an encoder: "imagenet" (the shipped ImageNet MobileNet v1)
or the same network after `aesthetics pretrain` with the variant's settings
(below), from the ImageNet weights, on the 33 pristine photos and the 5 AVA
sample photos at native resolution (224 px crops, no downscale; no CLIVE
photo is seen, so the CLIVE folds stay clean). For every encoder, on the 600
CLIVE dev photos and the 5 folds of benchmarks/clive_folds.json:

* ridge probe: the shipped features (whole photo at native resolution, long
  side <= 512, mean and std of conv_pw_11 and conv_pw_13: 3072 dims),
  standardised, ridge regression onto MOS with the penalty chosen by an
  inner 5-fold cross-validation on the fold's training photos; test SRCC;
* label efficiency: the shipped head (benchmarks/clive_finetune_study.HEAD:
  the standardised linear EMD head) fitted on 25 / 50 / 100 % of the fold's
  training photos (a seeded subset, seeds 0-2; at 100 % seed 0 only: the
  subset is then the same and the linear head's fit is convex), test SRCC;
* zero-shot: for pretrained encoders, the pretext ranking head on the pooled
  conv_pw_13 map of the whole photo (native resolution), SRCC against MOS
  over all 600 photos; the variance of the Laplacian (a sharpness statistic)
  measured the same way is the bar.

At the shipped recipe the backbone is frozen, so "fine-tuned at the shipped
recipe" is exactly this head on each encoder's features. One row per encoder
in benchmarks/results/ssl_probe.jsonl (rows that exist are skipped);
pretraining runs resume from their run folders (benchmarks/cache/ssl_runs).
Needs ../shared; no network.
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
from benchmarks.clive_finetune_study import FOLDS, HEAD, append_row, fresh_model, load_table, read_rows  # noqa: E402
from benchmarks.common import MOBILENET_WEIGHTS, PRISTINE, SHARED, require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ssl_probe.jsonl"
RUNS = ROOT / "benchmarks" / "cache" / "ssl_runs"
FEATURES = ROOT / "benchmarks" / "cache" / "ssl_features"
FRACTIONS = (0.25, 0.5, 1.0)
SEEDS = (0, 1, 2)

# 200 steps of 4 photos x 2 crops x 4 levels (32 crops of 224 px) each (about 15 minutes on 2 CPU cores)
PRETRAIN = [
    "model.model=\"nima\"", "model.backbone=\"mobilenet\"", "pretrain.crop_size=224", "pretrain.working_size=null",
    "pretrain.images_per_batch=4", "pretrain.crops_per_image=2", "pretrain.levels_per_group=4",
    "pretrain.steps_per_epoch=50", "pretrain.epochs=4", "pretrain.decoder=false", "pretrain.lr_schedule=\"cosine\"",
]
VARIANTS = {  # name -> the pretrain overrides beyond PRETRAIN (None: no pretraining), in run order
    "imagenet": None,
    # protected: only the last three blocks (conv_dw / conv_pw 11-13 and their BatchNorm: 12 weighted
    # layers) train, at a lower rate, and the pooled features are held near ImageNet's (distillation)
    "protected": ["pretrain.lr=3e-5", "pretrain.trainable_backbone_layers=12", "pretrain.distill_weight=1"],
    # protected + the distortion-aware contrastive loss and mixed degradations
    "contrastive": ["pretrain.lr=3e-5", "pretrain.trainable_backbone_layers=12", "pretrain.distill_weight=1",
                    "pretrain.contrastive_weight=1", "pretrain.mix_probability=0.5"],
    # the earlier heads (ranking, kind, level) at native resolution, everything trainable, unprotected
    "native_rank": ["pretrain.lr=1e-4"],
    # "protected" again with another pretraining seed (crops, kinds, levels, head init): its spread
    "protected_seed7": ["pretrain.lr=3e-5", "pretrain.trainable_backbone_layers=12", "pretrain.distill_weight=1",
                        "pretrain.seed=7"],
    # "protected" for twice the steps (400)
    "protected_long": ["pretrain.lr=3e-5", "pretrain.trainable_backbone_layers=12", "pretrain.distill_weight=1",
                       "pretrain.epochs=8"],
}


def pretrain_run(name: str, log) -> tuple[Path, dict]:
    """Runs (or resumes) the variant's pretraining; returns (run folder, summary)."""
    from aesthetics.config import load_config
    from aesthetics.pretext.training import pretrain

    images = RUNS / "photos"  # the unlabelled pretraining photos, linked into one folder
    images.mkdir(parents=True, exist_ok=True)
    sources = sorted(PRISTINE.glob("*")) + sorted((SHARED / "data" / "ava_sample" / "images").glob("*"))
    for src in sources:
        if src.suffix.lower() in (".jpg", ".jpeg", ".png") and not (images / src.name).exists():
            (images / src.name).symlink_to(src)
    overrides = PRETRAIN + VARIANTS[name] + [f"model.backbone_weights={json.dumps(str(MOBILENET_WEIGHTS))}"]
    config = load_config(None, overrides)
    run = RUNS / name
    t0 = time.time()
    summary = pretrain(config, run, images=str(images), verbose=2)
    log(f"pretrained in {time.time() - t0:.0f} s: {summary.get('last_epoch')}")
    return run, {"overrides": VARIANTS[name], "pretrain_seconds": summary.get("train_seconds"),
                 "n_photos": summary.get("n_photos"), "last_epoch": summary.get("last_epoch")}


def encoder_features(name: str, run, table, log):
    """(shipped features (600, 3072), pooled conv_pw_13 means (600, 1024), seconds per photo), cached."""
    import keras

    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import as_scorer, output_rows
    from aesthetics.training.weights import transfer_backbone_weights

    cache = FEATURES / f"{name}.npz"
    paths = [str(p) for p in table["filepath"]]
    if cache.exists():
        with np.load(cache) as z:
            if list(z["paths"]) == paths:
                return z["features"], z["pooled"], float(z["seconds_per_photo"])
    model = fresh_model()
    if run is not None:
        transfer_backbone_weights(load_model(run / "model.keras"), model)
    # one output (the scoring loop takes one): [the head's input, the conv_pw_13 MeanStdPooling ([mean, std])]
    head_input, pool = model.get_layer("head_dropout").input, model.get_layer("pool").output
    both = keras.Model(model.inputs, keras.layers.Concatenate()([head_input, pool]))
    t0 = time.time()
    rows, ok, failures = output_rows(as_scorer(both, model.recipe), paths, batch_size=1)
    assert not failures and len(ok) == len(paths), failures
    per_photo = (time.time() - t0) / len(paths)
    width = int(head_input.shape[-1])
    features = rows[:, :width].astype(np.float32)
    pooled = rows[:, width: width + int(pool.shape[-1]) // 2].astype(np.float32)
    FEATURES.mkdir(parents=True, exist_ok=True)
    np.savez(cache, paths=np.array(paths), features=features, pooled=pooled, seconds_per_photo=per_photo)
    log(f"features of {len(paths)} photos in {per_photo * len(paths):.0f} s")
    return features, pooled, per_photo


RIDGE_ALPHAS = np.logspace(-2, 6, 17)


def _ridge_path(x_train, y_train, x_eval, alphas):
    """Predictions on x_eval for every alpha (rows: alphas), features standardised on x_train."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mean) / std, (x_eval - mean) / std
    y_mean = y_train.mean()
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    uty = u.T @ (y_train - y_mean)
    projected = b @ vt.T  # (n_eval, r)
    return np.stack([projected @ (s / (s**2 + alpha) * uty) + y_mean for alpha in alphas])


def ridge_cv(x_train, y_train, x_test, alphas=RIDGE_ALPHAS, inner_folds=5, seed=0):
    """Ridge regression on standardised features, the penalty picked by an
    inner 5-fold cross-validation (mean squared error) on the training rows
    only; returns (test predictions, alpha)."""
    order = np.random.default_rng(seed).permutation(len(y_train))
    errors = np.zeros(len(alphas))
    for part in np.array_split(order, inner_folds):
        rest = np.setdiff1d(order, part)
        pred = _ridge_path(x_train[rest], y_train[rest], x_train[part], alphas)
        errors += ((pred - y_train[part]) ** 2).sum(1)
    alpha = float(alphas[int(np.argmin(errors))])
    return _ridge_path(x_train, y_train, x_test, [alpha])[0], alpha


def evaluate_encoder(features, table, folds, log) -> dict:
    from aesthetics.distributions import distribution_mean_std
    from aesthetics.metrics.scores import srcc
    from aesthetics.training.frozen_head import fit_head, predict_head

    ids = list(table["image_id"])
    mos = table["mean"].to_numpy()
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    ridge, alphas = [], []
    head = {f"{f:g}": {s: [] for s in (SEEDS if f < 1 else SEEDS[:1])} for f in FRACTIONS}
    for k, fold in enumerate(folds):
        test = np.array([i for i, n in enumerate(ids) if n in set(fold)])
        train = np.setdiff1d(np.arange(len(ids)), test)
        pred, alpha = ridge_cv(features[train], mos[train], features[test])
        ridge.append(float(srcc(mos[test], pred)))
        alphas.append(alpha)
        for seed in SEEDS:
            order = np.random.default_rng(1000 * seed + k).permutation(train)
            for f in FRACTIONS:
                if f == 1.0 and seed != SEEDS[0]:
                    continue  # every training photo: the seed would only change the (convex) head's init
                part = np.sort(order[: int(round(f * len(train)))])
                fit = fit_head(features[part], targets[part], batch_size=len(part), seed=seed, **HEAD)
                predicted = distribution_mean_std(predict_head(fit, features[test]))[0]
                head[f"{f:g}"][seed].append(float(srcc(mos[test], predicted)))
        log(f"fold {k}: ridge {ridge[-1]:.3f}, head 100% seed 0 {head['1'][0][-1]:.3f}")
    return {"ridge_srcc": ridge, "ridge_alpha": alphas,
            "head_srcc": {f: {str(s): v for s, v in by.items()} for f, by in head.items()}}


def refit_ridge(results: Path) -> None:
    """Rewrites the ridge columns of every row from its cached features (the
    first rows were written with a GCV choice of the penalty, which on 480
    rows x 3072 features always picked the smallest one)."""
    from aesthetics.metrics.scores import srcc

    table = load_table()
    folds = json.loads(FOLDS.read_text())["folds"]
    ids, mos = list(table["image_id"]), table["mean"].to_numpy()
    rows = read_rows(results)
    for row in rows:
        with np.load(FEATURES / f"{row['variant']}.npz") as z:
            features = z["features"]
        row["ridge_srcc"], row["ridge_alpha"] = [], []
        for fold in folds:
            test = np.array([i for i, n in enumerate(ids) if n in set(fold)])
            train = np.setdiff1d(np.arange(len(ids)), test)
            pred, alpha = ridge_cv(features[train], mos[train], features[test])
            row["ridge_srcc"].append(float(srcc(mos[test], pred)))
            row["ridge_alpha"].append(alpha)
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))


def zero_shot(run, pooled, table) -> float:
    from aesthetics.inference.loading import load_model
    from aesthetics.metrics.scores import srcc

    scorer = load_model(run / "model.keras")
    kernel, bias = scorer.get_layer("rank_score").get_weights()
    return float(srcc(table["mean"].to_numpy(), pooled @ kernel[:, 0] + bias[0]))


def laplacian_bar(table) -> float:
    from benchmarks.pretext_ssl import laplacian_variance

    from aesthetics.metrics.scores import srcc

    return float(srcc(table["mean"].to_numpy(), [laplacian_variance(p) for p in table["filepath"]]))


def summarise(row) -> dict:
    out = {"ridge": (np.mean(row["ridge_srcc"]), np.std(row["ridge_srcc"]))}
    for f, by in row["head_srcc"].items():
        per_fold = np.mean([v for v in by.values()], axis=0)  # seeds averaged within each fold
        out[f] = (np.mean(per_fold), np.std(per_fold))
    return out


def table_text(rows) -> str:
    base = next((r for r in rows if r["variant"] == "imagenet"), None)
    # SRCC columns: mean ± std over the 5 folds (head: the seeds averaged within a fold); "vs
    # ImageNet": mean ± std of the paired differences over (fold, seed)
    lines = ["| encoder | pretraining | ridge probe SRCC | head 25 % | head 50 % | head 100 % | "
             "vs ImageNet 25 / 50 / 100 % | zero-shot SRCC |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = summarise(r)
        cells = [f"{s[f][0]:.3f} ± {s[f][1]:.3f}" for f in ("0.25", "0.5", "1")]
        delta = ""
        if base is not None and r is not base:
            d = []
            for f in ("0.25", "0.5", "1"):  # paired by fold and seed
                diffs = [a - b for seed in r["head_srcc"][f] for a, b in
                         zip(r["head_srcc"][f][seed], base["head_srcc"][f][seed])]
                d.append(f"{np.mean(diffs):+.3f} ± {np.std(diffs):.3f}")
            delta = " / ".join(d)
        minutes = f"{r['pretrain_seconds'] / 60:.0f} min" if r.get("pretrain_seconds") else "-"
        zs = f"{r['zero_shot_srcc']:.3f}" if r.get("zero_shot_srcc") is not None else "-"
        lines.append(f"| {r['variant']} | {minutes} | {s['ridge'][0]:.3f} ± {s['ridge'][1]:.3f} | "
                     + " | ".join(cells) + f" | {delta} | {zs} |")
    lap = next((r["laplacian_srcc"] for r in rows if r.get("laplacian_srcc") is not None), None)
    if lap is not None:
        lines.append(f"\nVariance of the Laplacian, the same 600 photos: SRCC {lap:.3f}.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--refit-ridge", action="store_true",
                    help="recompute the ridge columns of existing rows from the cached features")
    args = ap.parse_args()
    if args.table:
        print(table_text(read_rows(args.results)))
        return
    if args.refit_ridge:
        refit_ridge(args.results)
        print(table_text(read_rows(args.results)))
        return
    require_shared()
    folds = json.loads(FOLDS.read_text())["folds"]
    table = load_table()
    done = {r["variant"] for r in read_rows(args.results)}
    t_start = time.time()
    for name in args.variants:
        if name in done:
            continue
        if args.max_minutes is not None and (time.time() - t_start) / 60 > args.max_minutes:
            print(f"stopping: {args.max_minutes} minutes passed; rerun to resume", flush=True)
            break

        def log(message, name=name):
            print(f"[{name}] {message}", flush=True)

        row = {"variant": name}
        run = None
        if VARIANTS[name] is not None:
            run, info = pretrain_run(name, log)
            row.update(info)
        features, pooled, per_photo = encoder_features(name, run, table, log)
        row.update(evaluate_encoder(features, table, folds, log))
        row["seconds_per_photo"] = round(per_photo, 4)
        if run is not None:
            row["zero_shot_srcc"] = zero_shot(run, pooled, table)
        else:
            row["laplacian_srcc"] = laplacian_bar(table)
        append_row(args.results, row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("head_srcc",)}), flush=True)
    print(table_text(read_rows(args.results)))


if __name__ == "__main__":
    main()
