"""A KerasHub backbone (CLIP, SigLIP, DINOv2, ViT) on CLIVE with the shipped
protocol (issue 13): 5-fold cross-validation over the 600 CLIVE dev photos
(benchmarks/clive_folds.json), a head on the frozen backbone's embeddings
(LAION's predictor: embeddings once per photo, then the head; here the
shipped models' standardised linear EMD head of benchmarks/clive_finetune_study.py).

    .venv/bin/python benchmarks/clive_keras_hub.py --preset presets/clip_b16               # CLIP ViT-B/16
    .venv/bin/python benchmarks/clive_keras_hub.py --preset presets/dinov2_s --family dinov2
    .venv/bin/python benchmarks/clive_keras_hub.py --table

Needs a preset folder with real weights (KerasHub `save_to_preset`, made once
online; none was available on the machines these numbers come from) and
../shared. One row per (preset, fold) in benchmarks/results/keras_hub.jsonl,
with the paired difference to the shipped MobileNet recipe's rows ("frozen"
in results/finetune.jsonl). Photos are resized whole to the preset's input
size (the recipe "resize"), as `aesthetics train` would with this backbone.
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
from benchmarks.clive_finetune_study import FOLDS, HEAD, append_row, load_table, read_rows  # noqa: E402
from benchmarks.common import require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "keras_hub.jsonl"
FROZEN_RESULTS = ROOT / "benchmarks" / "results" / "finetune.jsonl"
CACHE = ROOT / "benchmarks" / "cache"


def embeddings(preset: Path, family: str, table):
    """(features (600, D), seconds per photo), cached by the preset's weights."""
    from aesthetics.config import ModelConfig
    from aesthetics.models import Recipe, build_model
    from aesthetics.models.keras_hub_backbones import image_size_of, load_preset_backbone, encoder_of
    from aesthetics.training.frozen_head import extract_features

    digest = hashlib.sha256((preset / "model.weights.h5").read_bytes()).hexdigest()[:12]
    cache = CACHE / f"keras_hub_{family}_{digest}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["features"], float(z["seconds_per_photo"]), digest
    size = image_size_of(encoder_of(load_preset_backbone(str(preset), family, load_weights=False), family))
    model = build_model(ModelConfig(backbone=family, backbone_preset=str(preset), backbone_weights="preset"),
                        recipe=Recipe(image_size=size, resize_to=size))
    t0 = time.time()
    features, ok, failures = extract_features(model, list(table["filepath"]), batch_size=16)
    assert not failures and len(ok) == len(table), failures
    per_photo = (time.time() - t0) / len(table)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, features=features, seconds_per_photo=per_photo)
    return features, per_photo, digest


def run_fold(features, table, fold, k):
    from aesthetics.distributions import distribution_mean_std
    from aesthetics.metrics.scores import plcc, srcc
    from aesthetics.training.frozen_head import fit_head, predict_head

    ids = list(table["image_id"])
    test = np.array([i for i, n in enumerate(ids) if n in set(fold)])
    train = np.setdiff1d(np.arange(len(ids)), test)
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    fit = fit_head(features[train], targets[train], loss=HEAD["loss"], learning_rate=HEAD["learning_rate"],
                   l2=HEAD["l2"], dropout=HEAD["dropout"], fixed_epochs=HEAD["fixed_epochs"], seed=k)
    pred = distribution_mean_std(predict_head(fit, features[test]))[0]
    mos = table["mean"].to_numpy()[test]
    return float(srcc(mos, pred)), float(plcc(mos, pred))


def table_text(rows, frozen_rows) -> str:
    frozen = {r["fold"]: r["srcc"] for r in frozen_rows if r["variant"] == "frozen"}
    by = {}
    for r in rows:
        by.setdefault((r["family"], r["preset"], r["weights"]), []).append(r)
    lines = ["| backbone | preset (weights sha256) | folds | SRCC | PLCC | paired dSRCC vs shipped MobileNet | ms/photo |",
             "|---|---|---|---|---|---|---|"]
    for (family, preset, weights), rs in sorted(by.items()):
        d = [r["srcc"] - frozen[r["fold"]] for r in rs if r["fold"] in frozen]
        lines.append(f"| {family} | {preset} ({weights}) | {len(rs)} | {np.mean([r['srcc'] for r in rs]):.3f} ± "
                     f"{np.std([r['srcc'] for r in rs]):.3f} | {np.mean([r['plcc'] for r in rs]):.3f} | "
                     f"{np.mean(d):+.3f} ± {np.std(d):.3f} | {1e3 * rs[0]['seconds_per_photo']:.0f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, help="a KerasHub preset folder with real weights")
    ap.add_argument("--family", default="clip", choices=["clip", "siglip", "dinov2", "vit"])
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table or args.preset is None:
        print(table_text(read_rows(args.results), read_rows(FROZEN_RESULTS)) if read_rows(args.results) else
              "no rows yet: no real KerasHub weights were available here (give --preset DIR)")
        return
    require_shared()
    folds = json.loads(FOLDS.read_text())["folds"]
    table = load_table()
    features, per_photo, digest = embeddings(args.preset, args.family, table)
    done = {(r["preset"], r["weights"], r["fold"]) for r in read_rows(args.results)}
    for k in args.folds:
        if (args.preset.name, digest, k) in done:
            continue
        sr, pl = run_fold(features, table, folds[k], k)
        row = {"family": args.family, "preset": args.preset.name, "weights": digest, "fold": k, "srcc": sr,
               "plcc": pl, "seconds_per_photo": per_photo, "dims": int(features.shape[1])}
        append_row(args.results, row)
        print(json.dumps(row), flush=True)
    print(table_text(read_rows(args.results), read_rows(FROZEN_RESULTS)))


if __name__ == "__main__":
    main()
