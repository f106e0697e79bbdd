"""Builds the shipped aesthetic model `nima-ava-mobilenet` (alias `aesthetic`)
from idealo's published AVA NIMA weights:

    .venv/bin/python contrib/zoo/build_ava_model.py   # -> aesthetics/zoo/nima-ava-mobilenet/

The weights are converted as they are (no training): MobileNet v1 with Keras
2.1's padding (`mobilenet_keras21`, what idealo trained with) + Dropout(0.75)
+ Dense(10, softmax), carrying idealo's preprocessing as its recipe (nearest
resize of the whole photo straight to 224 x 224, no EXIF rotation), which
every backend and export reproduces. Writes model.keras, model.onnx (+ its
metadata), card.json, MODEL_CARD.md and LICENSES.md, and checks the scores
of idealo's five published photos and the Keras / ONNX agreement.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
NAME = "nima-ava-mobilenet"
PUBLISHED = {"42039": 5.228, "42040": 4.688, "42041": 5.287, "42042": 5.127, "42044": 5.795}
SHA256_PREFIX = "e563ad91b3d47410"


def card() -> dict:
    return {
        "scores": "aesthetic appeal of photos (composition, subject, light, colour), AVA's mean vote on 1..10",
        "data": "AVA (Aesthetic Visual Analysis), ~255,000 photos rated by photographers; trained by idealo",
        "aliases": ["aesthetic"],
        "cv_srcc": None, "cv_plcc": None,
        "reported": {"by": "idealo (image-quality-assessment README), on their AVA test split, not re-measured here",
                     "emd": 0.071, "lcc": 0.626, "srcc": 0.609},
        "licence": "Apache-2.0 (idealo internet GmbH); see LICENSES.md",
        "description": "idealo's NIMA: MobileNet v1 (Keras 2.1 padding) + 10-bin softmax, "
                       "nearest resize to 224 (idealo's preprocessing)",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=SHARED / "weights" / "idealo_nima_mobilenet_aesthetic_ava.hdf5")
    ap.add_argument("--out", type=Path, default=ROOT / "aesthetics" / "zoo" / NAME)
    args = ap.parse_args()

    import hashlib

    from aesthetics.export import export_model
    from aesthetics.inference.backends import load_scorer
    from aesthetics.inference.loading import load_idealo_nima, load_model
    from aesthetics.inference.scoring import as_scorer, score_paths
    from aesthetics.training.run_folder import save_model_atomic, write_json

    digest = hashlib.sha256(args.weights.read_bytes()).hexdigest()
    if not digest.startswith(SHA256_PREFIX):
        raise SystemExit(f"{args.weights}: sha256 {digest[:16]}..., expected {SHA256_PREFIX}... (idealo's file)")
    model = load_idealo_nima(args.weights, backbone="mobilenet_keras21")
    model.info = {
        "name": NAME,
        "source": "idealo/image-quality-assessment models/MobileNet/weights_mobilenet_aesthetic_0.07.hdf5 "
                  "(git blob 003fb321ce92445e41d708144a3656589f9214e7, Apache-2.0)",
        "weights_sha256": digest,
        "data": {"labels": "AVA (trained by idealo)", "score_range": None},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, args.out / "model.keras")
    export_model(model, args.out / "model.onnx", "onnx")

    photos = sorted((SHARED / "data" / "ava_sample" / "images").glob("*.jpg"))
    clive = sorted((SHARED / "data" / "clive" / "images").glob("*"))[:60]
    keras_model = as_scorer(load_model(args.out / "model.keras"))
    onnx_model = load_scorer("onnx", args.out / "model.onnx")
    k = score_paths(keras_model, photos + clive)
    o = score_paths(onnx_model, photos + clive)
    keras_scores = np.array([r["mean_score_prediction"] for r in k])
    onnx_scores = np.array([r["mean_score_prediction"] for r in o])
    five = {p.stem: round(float(s), 4) for p, s in zip(photos, keras_scores)}
    result = {
        "published": PUBLISHED,
        "ours": five,
        "diff": {n: round(five[n] - PUBLISHED[n], 4) for n in PUBLISHED},
        "keras_vs_onnx_max_abs_diff": float(np.abs(keras_scores - onnx_scores).max()),
        "photos_compared": len(k),
    }
    write_json(ROOT / "benchmarks" / "results" / f"zoo_{NAME}.json", result)
    c = card()
    c["recipe"] = model.recipe.to_dict()
    write_json(args.out / "card.json", c)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
