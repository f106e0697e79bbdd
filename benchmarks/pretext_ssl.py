"""Self-supervised pretext pretraining on CPU: zero-shot quality and label efficiency.

    python benchmarks/pretext_ssl.py all [--out runs/ssl]      # everything, resumable
    python benchmarks/pretext_ssl.py throughput|pretrain|zeroshot|finetune|report

Protocol (reduced to fit ~1 h of 2 shared CPU cores; see the
"Self-supervised pretraining (issue 3)" section of benchmarks/RESULTS.md):

* pretrain: MobileNet v1 (alpha 1) from the ImageNet weights in
  ../shared/weights, pretext heads ranking + kind + level + reconstruction,
  on the 33 pristine photos plus the 480 *training* photos of the fixed CLIVE
  split (labels unused), 128 px crops from photos downscaled to a 160 px short
  side, batches of 4 photos x 2 crops x 4 levels, `PRETRAIN_STEPS` steps.
* zeroshot: SRCC/PLCC vs MOS on the 120 CLIVE validation photos of the
  ranking score (whole photo resized to 128 px, as `aesthetics predict`
  does), against trivial baselines measured the same way: the same ranking
  head (random init, 5 seeds) on the ImageNet encoder and on a random
  encoder, and the variance of the Laplacian (a classic sharpness measure).
* finetune: `aesthetics.training.supervised.train` (NIMA head, EMD, 128 px input) on
  25/50/100 % of the CLIVE training labels (a seeded subset, nested across
  fractions for one seed), validated on the fixed CLIVE val part, from
  (a) ImageNet, (b) ImageNet + self-supervised, (c) random init (100 % only,
  the floor), seeds 0 and 1. Run order puts seed 0 of every cell first so a
  cut-short run still gives a complete (single-seed) grid.
* ablation: the same pretraining with only the ranking + level-regression
  heads (no classification, no decoder), its zero-shot SRCC and fine-tunes
  with `--fractions` / `--seeds` (init name "ssl_rank").
* report: prints the markdown tables from the JSON results.

Every stage skips work already done (results are JSON files under --out), so
re-running continues after an interruption.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import MOBILENET_WEIGHTS, PRISTINE, clive_split, require_shared  # noqa: E402

SIZE = 128  # model input (fine-tune) and crop side (pretext)
WORKING = 160  # short side of the photos the crops are cut from
PRETRAIN_STEPS_PER_EPOCH = 50
PRETRAIN_EPOCHS = 6
FRACTIONS = (0.25, 0.5, 1.0)
SEEDS = (0, 1)


def pretrain_overrides() -> list[str]:
    return [
        'model.backbone="mobilenet"',
        f"model.backbone_weights={json.dumps(str(MOBILENET_WEIGHTS))}",
        f"pretrain.crop_size={SIZE}",
        f"pretrain.working_size={WORKING}",
        "pretrain.images_per_batch=4",
        "pretrain.crops_per_image=2",
        "pretrain.levels_per_group=4",
        f"pretrain.steps_per_epoch={PRETRAIN_STEPS_PER_EPOCH}",
        f"pretrain.epochs={PRETRAIN_EPOCHS}",
        "pretrain.lr=2e-4",
        "pretrain.seed=42",
    ]


def finetune_overrides(init: str, split_file: Path, seed: int) -> list[str]:
    out = [
        f"data.image_size={SIZE}",
        f"data.resize_to={int(round(SIZE * 256 / 224))}",
        "data.batch_size=16",
        f"data.split_file={json.dumps(str(split_file))}",
        "train.epochs_head=2",
        "train.epochs_full=6",
        "train.lr_full=1e-4",
        "train.early_stopping_patience=3",
        f"train.seed={seed}",
    ]
    if init == "random":
        # the floor: no pretrained features to protect, so no frozen phase,
        # a higher rate and BatchNorm statistics that learn
        out += [
            "model.backbone_weights=null",
            "train.epochs_head=0",
            "train.epochs_full=8",
            "train.lr_full=1e-3",
            "train.freeze_batchnorm=false",
        ]
    else:
        out.append(f"model.backbone_weights={json.dumps(str(MOBILENET_WEIGHTS))}")
    return out


def _config(extra):
    from aesthetics.config import load_config

    return load_config(HERE.parent / "configs" / "clive_mobilenet.json", extra)


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# --------------------------------------------------------------------------


def pretext_image_dir(out: Path) -> Path:
    """A folder of symlinks: the pristine photos + the CLIVE *training* photos."""
    folder = out / "pretext_images"
    train, _ = clive_split()
    for sub, files in (("pristine", sorted(PRISTINE.glob("*.jpg"))), ("clive_train", list(train["filepath"]))):
        d = folder / sub
        d.mkdir(parents=True, exist_ok=True)
        for f in files:
            link = d / Path(f).name
            if not link.exists():
                link.symlink_to(Path(f).resolve())
    return folder


# Pretraining variants: the main run (all four heads) and an ablation with
# only the ranking + level-regression heads (no classification, no decoder).
VARIANTS = {
    "ssl": ("pretrain", []),
    "ssl_rank": (
        "pretrain_rank",
        ["pretrain.classification_weight=0", "pretrain.reconstruction_weight=0", "pretrain.decoder=false"],
    ),
}


def stage_pretrain(out: Path, variant: str = "ssl") -> dict:
    from aesthetics.pretext.training import pretrain

    folder, extra = VARIANTS[variant]
    images = pretext_image_dir(out)
    config = _config(pretrain_overrides() + extra)
    _log(f"pretrain {variant}: start")
    summary = pretrain(config, out / folder, images=str(images), verbose=2)
    _log(f"pretrain {variant}: done", json.dumps(summary.get("last_epoch")))
    return summary


def stage_zeroshot_variant(out: Path, variant: str) -> dict:
    """Zero-shot SRCC/PLCC of a pretraining variant's ranking score on CLIVE val."""
    result_path = out / f"zeroshot_{variant}.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    from aesthetics.inference.loading import load_model

    _, val = clive_split()
    model = load_model(out / VARIANTS[variant][0] / "model.keras")
    result = {"variant": variant, **_corr(val["mos"].to_numpy(), _score(model, list(val["filepath"])))}
    _log("zeroshot", variant, result)
    _write(result_path, result)
    return result


def stage_throughput(out: Path) -> dict:
    """Images/s of the degradation + pretext pipeline alone (after warm-up)."""
    result_path = out / "throughput.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    from aesthetics.pretext.batches import PretextOptions, load_photo_bank, make_pretext_dataset
    from aesthetics.data.images import find_images

    paths = find_images([pretext_image_dir(out)], recursive=True)
    result = {}
    for size, working in ((SIZE, WORKING), (224, 256)):
        t0 = time.time()
        bank = load_photo_bank(paths, working, size)
        load_s = time.time() - t0
        options = PretextOptions(crop_size=size, images_per_batch=4, crops_per_image=2, levels_per_group=4)
        it = iter(make_pretext_dataset(bank, options, seed=0))
        for _ in range(3):
            next(it)
        n, t0 = 30, time.time()
        for _ in range(n):
            next(it)
        dt = time.time() - t0
        result[f"{size}px"] = {
            "images_per_s": round(n * options.batch_size / dt, 1),
            "batch_size": options.batch_size,
            "bank_load_s": round(load_s, 1),
            "bank_mb": round(bank.nbytes / 1e6, 1),
            "n_photos": len(bank),
        }
        _log("throughput", size, result[f"{size}px"])
    _write(result_path, result)
    return result


def _score(model, paths):
    from aesthetics.inference.scoring import score_files

    recs = score_files(model, paths, batch_size=32)
    return [r.get("mean_score_prediction", float("nan")) for r in recs]


def _corr(y, p):
    import numpy as np
    from scipy import stats

    p = np.asarray(p, np.float64)
    return {
        "srcc": round(float(stats.spearmanr(y, p).statistic), 4),
        "plcc": round(float(stats.pearsonr(y, p).statistic), 4),
    }


def laplacian_variance(path, size=512):
    import numpy as np
    from PIL import Image

    from aesthetics.data.images import load_image

    img = Image.fromarray(load_image(path)).convert("L")
    img.thumbnail((size, size))
    g = np.asarray(img, np.float64)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def stage_zeroshot(out: Path) -> dict:
    result_path = out / "zeroshot.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    import dataclasses

    import keras
    import numpy as np

    from aesthetics.inference.loading import load_model
    from aesthetics.pretext.model import build_scoring_model

    _, val = clive_split()
    paths, mos = list(val["filepath"]), val["mos"].to_numpy()
    config = _config(pretrain_overrides())
    result = {"n_val": len(paths), "input_px": SIZE}

    model = load_model(out / "pretrain" / "model.keras")
    result["ssl_ranking_head"] = _corr(mos, _score(model, paths))
    _log("zeroshot ssl", result["ssl_ranking_head"])
    # the 480 training photos were seen during pretraining, but never their labels
    train, _ = clive_split()
    result["ssl_ranking_head_on_clive_train"] = _corr(
        train["mos"].to_numpy(), _score(model, list(train["filepath"]))
    )
    result["laplacian_variance_on_clive_train"] = _corr(
        train["mos"].to_numpy(), [laplacian_variance(p) for p in train["filepath"]]
    )
    _log("zeroshot ssl on clive train", result["ssl_ranking_head_on_clive_train"])

    for name, weights in (("imagenet", str(MOBILENET_WEIGHTS)), ("random_encoder", None)):
        rows = []
        for seed in range(5):
            keras.utils.set_random_seed(seed)
            m = build_scoring_model(dataclasses.replace(config.model, backbone_weights=weights), SIZE)
            rows.append(_corr(mos, _score(m, paths)))
        srcc = [r["srcc"] for r in rows]
        result[f"{name}_random_head"] = {
            "srcc_mean": round(float(np.mean(srcc)), 4),
            "abs_srcc_mean": round(float(np.mean(np.abs(srcc))), 4),
            "srcc_per_seed": srcc,
        }
        _log("zeroshot", name, result[f"{name}_random_head"])
    result["laplacian_variance"] = _corr(mos, [laplacian_variance(p) for p in paths])
    _log("zeroshot laplacian", result["laplacian_variance"])
    _write(result_path, result)
    return result


def _split_file(out: Path, fraction: float, seed: int) -> Path:
    import numpy as np

    from aesthetics.data.splits import save_split

    path = out / "splits" / f"train{int(fraction * 100)}_s{seed}.json"
    if not path.exists():
        train, val = clive_split()
        ids = np.array(sorted(train["image_id"]))
        perm = np.random.default_rng(1000 + seed).permutation(len(ids))
        chosen = ids[perm[: int(round(fraction * len(ids)))]]
        save_split(path, list(chosen), list(val["image_id"]))
    return path


def finetune_grid(seeds=SEEDS, inits=("imagenet", "ssl", "random"), fractions=FRACTIONS):
    """(init, fraction, seed) in run order: seed 0 of every cell first;
    random init (the floor) only with 100 % of the labels."""
    cells = []
    for seed in seeds:
        for fraction in fractions:
            for init in ("imagenet", *VARIANTS):
                if init in inits:
                    cells.append((init, fraction, seed))
        if "random" in inits and 1.0 in fractions:
            cells.append(("random", 1.0, seed))
    return cells


def stage_finetune(
    out: Path, only=None, seeds=SEEDS, inits=("imagenet", "ssl", "random"), fractions=FRACTIONS
) -> list:
    from aesthetics.training.supervised import train
    from common import CLIVE_IMAGES, CLIVE_LABELS

    results = []
    for init, fraction, seed in finetune_grid(seeds, inits, fractions):
        name = f"{init}_{int(fraction * 100)}_s{seed}"
        if only and name not in only:
            continue
        result_path = out / "finetune" / f"{name}.json"
        if result_path.exists():
            results.append(json.loads(result_path.read_text()))
            continue
        split = _split_file(out, fraction, seed)
        config = _config(
            [
                f"data.images={json.dumps(str(CLIVE_IMAGES))}",
                f"data.labels={json.dumps(str(CLIVE_LABELS))}",
            ]
            + finetune_overrides(init, split, seed)
        )
        _log("finetune", name, "start")
        t0 = time.time()
        metrics = train(
            config, out / "finetune" / name,
            init_from=str(out / VARIANTS[init][0] / "model.keras") if init in VARIANTS else None,
            verbose=0,
        )
        row = {
            "name": name, "init": init, "fraction": fraction, "seed": seed,
            "n_train": metrics["n_train"], "srcc": round(metrics["srcc"], 4),
            "plcc": round(metrics["plcc"], 4), "best_epoch": metrics.get("best_epoch"),
            "seconds": round(time.time() - t0, 1),
        }
        _write(result_path, row)
        results.append(row)
        _log("finetune", name, json.dumps(row))
    return results


def stage_report(out: Path) -> str:
    import numpy as np

    lines = []
    tp = out / "throughput.json"
    if tp.exists():
        lines.append("throughput: " + tp.read_text())
    hist = out / "pretrain" / "history.csv"
    if hist.exists():
        import pandas as pd

        h = pd.read_csv(hist)
        steps = PRETRAIN_STEPS_PER_EPOCH * 32
        lines.append(
            "pretrain history (last epoch):\n" + h.tail(1).T.to_string()
            + f"\ntrain img/s per epoch: {[round(steps / s, 1) for s in h['seconds']]}"
        )
        lines.append(h.to_string())
    for zs in sorted(out.glob("zeroshot*.json")):
        lines.append(f"{zs.name}: " + zs.read_text())
    rows = [json.loads(p.read_text()) for p in sorted((out / "finetune").glob("*.json"))]
    if rows:
        lines.append("| init | labels | n_train | seeds | SRCC | PLCC | epochs to best val loss | minutes/run |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for init in ("random", "imagenet", *VARIANTS):
            for fraction in FRACTIONS:
                cell = [r for r in rows if r["init"] == init and r["fraction"] == fraction]
                if not cell:
                    continue
                f = lambda k: np.mean([r[k] for r in cell])  # noqa: E731
                sd = lambda k: np.std([r[k] for r in cell])  # noqa: E731
                lines.append(
                    f"| {init} | {int(fraction * 100)}% | {cell[0]['n_train']} | "
                    f"{','.join(str(r['seed']) for r in cell)} | {f('srcc'):.3f} ± {sd('srcc'):.3f} | "
                    f"{f('plcc'):.3f} ± {sd('plcc'):.3f} | {f('best_epoch'):.1f} | {f('seconds') / 60:.1f} |"
                )
        lines.append("per run: " + json.dumps(rows))
    text = "\n".join(lines)
    print(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("all", "throughput", "pretrain", "zeroshot", "finetune", "ablation", "report"))
    parser.add_argument("--out", default=str(HERE.parent / "runs" / "ssl"))
    parser.add_argument("--only", nargs="*", help="finetune: run only these cells, e.g. ssl_25_s0")
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS), help="finetune seeds")
    parser.add_argument("--inits", nargs="*", default=["imagenet", "ssl", "random"],
                        choices=("imagenet", "random", *VARIANTS), help="finetune inits")
    parser.add_argument("--fractions", nargs="*", type=float, default=list(FRACTIONS))
    args = parser.parse_args(argv)
    require_shared()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.stage in ("all", "throughput"):
        stage_throughput(out)
    if args.stage in ("all", "pretrain"):
        stage_pretrain(out)
    if args.stage in ("all", "zeroshot"):
        stage_zeroshot(out)
    if args.stage in ("all", "finetune"):
        stage_finetune(out, args.only, tuple(args.seeds), tuple(args.inits), tuple(args.fractions))
    if args.stage == "ablation":  # ranking + regression heads only
        stage_pretrain(out, "ssl_rank")
        stage_zeroshot_variant(out, "ssl_rank")
        stage_finetune(out, None, tuple(args.seeds), ("ssl_rank",), tuple(args.fractions))
    if args.stage in ("all", "report"):
        stage_report(out)


if __name__ == "__main__":
    main()
