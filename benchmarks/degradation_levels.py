"""Are adjacent degradation levels distinguishable? (issue 14)

    .venv/bin/python benchmarks/degradation_levels.py                         # pixel statistics
    .venv/bin/python benchmarks/degradation_levels.py --model RUN/model.keras # + a pretrained ranker's view

On 224 px crops cut at native resolution from the 33 pristine photos (as
`pretrain.working_size: null` cuts them; 2 crops a photo, seeded), every kind
of `aesthetics.pretext.degrade` at levels 0-5:

* PSNR of each level against the clean crop (mean over crops), and between
  adjacent levels: the PSNR of level l+1 against level l and the share of
  crops where level l+1 is further from the clean crop than level l (the
  grading is monotone on that crop), with the kind's random parameters
  drawn once per crop (as `pretrain.shared_randomness` does) and, for
  comparison, drawn anew for every level;
* with --model (a `aesthetics pretrain` run's model.keras, its ranking head):
  the share of crops whose score at level l is above the score at level l+1,
  per kind and adjacent pair: how often the pretrained network tells the
  levels apart in the right order (0.5 = chance).

Writes benchmarks/results/degradation_levels.json (keyed by model) and prints
markdown tables. Needs ../shared; no network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import PRISTINE, require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "degradation_levels.json"
CROP = 224


def crops(per_photo=2, seed=0) -> np.ndarray:
    from aesthetics.data.images import load_image

    rng = np.random.default_rng(seed)
    out = []
    for path in sorted(p for p in PRISTINE.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        image = load_image(str(path))
        h, w = image.shape[:2]
        for _ in range(per_photo):
            y, x = rng.integers(0, h - CROP + 1), rng.integers(0, w - CROP + 1)
            out.append(image[y:y + CROP, x:x + CROP])
    return np.stack(out).astype(np.float32) / 255.0


def psnr(a, b):
    mse = np.mean((a - b) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-10))


def measure(images, model_path=None) -> dict:
    import tensorflow as tf

    from aesthetics.pretext.degrade import DEGRADATION_NAMES, NUM_LEVELS, degrade_batch

    scorer = None
    if model_path:
        from aesthetics.inference.loading import load_model

        scorer = load_model(model_path)
    n = len(images)
    result = {}
    for k, name in enumerate(DEGRADATION_NAMES):
        levels, independent = [], []
        for level in range(NUM_LEVELS + 1):
            x, kinds, lv = tf.constant(images), tf.fill([n], k), tf.fill([n], level)
            # one draw of the random parameters per crop for all its levels (pretrain.shared_randomness)
            levels.append(np.asarray(degrade_batch(x, kinds, lv, seed=[7, 0])))
            independent.append(np.asarray(degrade_batch(x, kinds, lv, seed=[7, level])))
        to_clean = [psnr(levels[0], lv) for lv in levels[1:]]
        to_clean_independent = [psnr(independent[0], lv) for lv in independent[1:]]
        row = {
            "psnr_vs_clean": [float(np.mean(p)) for p in to_clean],
            "psnr_adjacent": [float(np.mean(psnr(levels[i], levels[i + 1]))) for i in range(NUM_LEVELS)],
            # level l+1 further from clean than level l (level 0: any change counts)
            "monotone_share": [float(np.mean(to_clean[0] < 99))] + [
                float(np.mean(to_clean[i + 1] < to_clean[i])) for i in range(NUM_LEVELS - 1)],
            "monotone_share_independent_draws": [float(np.mean(to_clean_independent[0] < 99))] + [
                float(np.mean(to_clean_independent[i + 1] < to_clean_independent[i])) for i in range(NUM_LEVELS - 1)],
        }
        if scorer is not None:
            scores = [np.asarray(scorer.predict(lv * 255.0, batch_size=16, verbose=0)).reshape(-1) for lv in levels]
            row["ranker_adjacent_accuracy"] = [float(np.mean(scores[i] > scores[i + 1])) for i in range(NUM_LEVELS)]
        result[name] = row
    return result


def table_text(result) -> str:
    has_model = any("ranker_adjacent_accuracy" in r for r in result.values())
    head = ("| kind | PSNR vs clean, L1 → L5 (dB) | PSNR between adjacent levels, 0-1 … 4-5 | "
            "monotone share, 0-1 … 4-5 | the same, independent draws |")
    head += " ranker orders adjacent levels, 0-1 … 4-5 |" if has_model else ""
    lines = [head, "|---|---|---|---|---|" + ("---|" if has_model else "")]
    for name, r in result.items():
        cells = [" / ".join(f"{v:.1f}" for v in r["psnr_vs_clean"]),
                 " / ".join(f"{v:.1f}" for v in r["psnr_adjacent"]),
                 " / ".join(f"{v:.2f}" for v in r["monotone_share"]),
                 " / ".join(f"{v:.2f}" for v in r["monotone_share_independent_draws"])]
        if has_model:
            cells.append(" / ".join(f"{v:.2f}" for v in r.get("ranker_adjacent_accuracy", [])))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a pretrain run's model.keras (its ranking head)")
    ap.add_argument("--name", help="the results key (default: the model's run folder name, or 'pixels')")
    args = ap.parse_args()
    require_shared()
    key = args.name or (args.model.parent.name if args.model else "pixels")
    result = measure(crops(), args.model)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved[key] = result
    RESULTS.write_text(json.dumps(saved, indent=1) + "\n")
    print(table_text(result))


if __name__ == "__main__":
    main()
