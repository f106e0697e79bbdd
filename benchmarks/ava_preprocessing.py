"""idealo's AVA aesthetic NIMA: how its scores depend on the backbone's
padding and on the photo's resize, measured on real photos.

    .venv/bin/python benchmarks/ava_preprocessing.py   # -> benchmarks/results/ava_preprocessing.json

1. The five AVA photos idealo published scores for (its issue #23): scores
   with today's MobileNet padding and with Keras 2.1's (`mobilenet_keras21`).
2. The 600 CLIVE photos of ../shared: the Keras 2.1 model with idealo's
   preprocessing (nearest resize straight to 224, `legacy`) against the
   package's standard whole-photo resize (antialiased, EXIF-rotated, the
   preprocessing every export reproduces): max and mean |difference| of the
   mean scores, SRCC between the two, and each one's SRCC with CLIVE's MOS
   (technical quality: a check of sense, not the model's purpose).
3. TensorFlow's nearest resize (what an exported graph would run) against
   Pillow's, pixel by pixel, on the CLIVE photos.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "idealo_nima_mobilenet_aesthetic_ava.hdf5"
PUBLISHED = {"42039": 5.228, "42040": 4.688, "42041": 5.287, "42042": 5.127, "42044": 5.795}
OUT = ROOT / "benchmarks" / "results" / "ava_preprocessing.json"


def scores(model, paths, recipe=None):
    from aesthetics.inference.scoring import as_scorer, score_paths
    from aesthetics.models.scorer import recipe_of

    scorer = as_scorer(model, recipe or recipe_of(model))
    records = score_paths(scorer, paths, batch_size=16)
    bad = [r for r in records if "error" in r]
    if bad:
        sys.exit(f"failed: {bad[:3]}")
    return np.array([r["mean_score_prediction"] for r in records])


def main() -> None:
    import pandas as pd
    from PIL import Image
    from scipy.stats import spearmanr

    from aesthetics.inference.loading import load_idealo_nima

    if not WEIGHTS.exists():
        sys.exit(f"needs {WEIGHTS}")
    result = {}
    ava = sorted((SHARED / "data" / "ava_sample" / "images").glob("*.jpg"))
    for backbone in ("mobilenet", "mobilenet_keras21"):
        model = load_idealo_nima(WEIGHTS, backbone=backbone)
        s = scores(model, ava)
        result[f"ava5_{backbone}"] = {p.stem: round(float(v), 4) for p, v in zip(ava, s)}
        result[f"ava5_{backbone}_max_abs_diff_to_published"] = round(
            max(abs(float(v) - PUBLISHED[p.stem]) for p, v in zip(ava, s)), 4)

    labels = pd.read_csv(SHARED / "data" / "clive" / "labels.csv")
    paths = [SHARED / "data" / "clive" / "images" / name for name in labels["image"]]
    model = load_idealo_nima(WEIGHTS, backbone="mobilenet_keras21")
    legacy_recipe = model.recipe
    standard = dataclasses.replace(legacy_recipe, legacy=False, resize="resize")
    t0 = time.time()
    legacy = scores(model, paths, legacy_recipe)
    resized = scores(model, paths, standard)
    d = np.abs(legacy - resized)
    result["clive600"] = {
        "n": len(paths),
        "max_abs_diff": round(float(d.max()), 4),
        "mean_abs_diff": round(float(d.mean()), 4),
        "p95_abs_diff": round(float(np.percentile(d, 95)), 4),
        "srcc_legacy_vs_standard": round(float(spearmanr(legacy, resized)[0]), 4),
        "srcc_with_mos_legacy": round(float(spearmanr(legacy, labels["mos"])[0]), 4),
        "srcc_with_mos_standard": round(float(spearmanr(resized, labels["mos"])[0]), 4),
        "seconds": round(time.time() - t0, 1),
    }

    import tensorflow as tf

    mismatched, total = 0, 0
    for path in paths[:100]:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        pil = np.asarray(Image.fromarray(rgb).resize((224, 224), Image.NEAREST))
        tfn = tf.image.resize(rgb[None], (224, 224), method="nearest").numpy()[0].astype(np.uint8)
        mismatched += int((pil != tfn).any(-1).sum())
        total += 224 * 224
    result["tf_vs_pillow_nearest_100_photos"] = {"pixels_differing": mismatched, "pixels": total}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
