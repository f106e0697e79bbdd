"""Is an int8 copy of the default model worth shipping? (issue 28, item 3)

    .venv/bin/python benchmarks/bench_int8.py [--photos 600] [--reps 3]

Makes int8 copies of the technical model's ONNX file with onnxruntime's
quantizer: dynamic (weights int8, activations quantized on the fly: ConvInteger)
and static QDQ (weights and activations int8, calibrated on 64 CLIVE photos
that are then left out of the SRCC), of every op or of the convolutions only. Measures, side by side in one process:
model-only time on the same prepared batches (500 px CLIVE photos, and
1024x768 photos), interleaved, best of --reps; and the SRCC/PLCC of each
copy's scores with the human MOS on the CLIVE dev photos (the shipped model
was trained on them, so SRCC is in-sample; what matters is the difference
from float, the issue's bar being 0.005), plus the largest score change.
The bar for shipping: >= 1.5x faster and SRCC within 0.005 of float.
Writes benchmarks/results/int8.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CLIVE_IMAGES, CLIVE_LABELS, require_shared  # noqa: E402

CALIBRATION = 64


def prepared(paths, recipe):
    from aesthetics.data.images import load_image
    from aesthetics.data.resize import prepare_photo

    return [prepare_photo(load_image(str(p)), recipe).astype(np.float32) for p in paths]


def quantize(src: Path, out_dir: Path, calib_images) -> dict:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out_dir / "pre.onnx"
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    dynamic = out_dir / "dynamic.onnx"
    quantize_dynamic(str(pre), str(dynamic), weight_type=QuantType.QUInt8)

    import onnxruntime as ort

    name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: im[None]} for im in calib_images])

        def get_next(self):
            return next(self.items, None)

    static = out_dir / "static.onnx"
    quantize_static(str(pre), str(static), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    # only the convolutions int8: the mean/std pooling and the head (whose kernel carries the
    # folded feature standardisation) stay float32
    static_conv = out_dir / "static_conv.onnx"
    quantize_static(str(pre), str(static_conv), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    op_types_to_quantize=["Conv"])
    return {"float": src, "dynamic": dynamic, "static": static, "static_conv": static_conv}


def mean_scores(scorer, images, batch=8):
    out = []
    for s in range(0, len(images), batch):
        part = images[s:s + batch]
        shapes = {im.shape for im in part}
        for shape in shapes:
            idx = [i for i, im in enumerate(part) if im.shape == shape]
            dist = np.asarray(scorer(np.stack([part[i] for i in idx])))
            for i, d in zip(idx, dist):
                out.append((s + i, float(d @ np.arange(1, len(d) + 1))))
    return np.array([v for _, v in sorted(out)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=600)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "int8.json")
    args = ap.parse_args()
    require_shared()
    from PIL import Image
    from scipy.stats import pearsonr, spearmanr

    from aesthetics.data.files import resolve_images
    from aesthetics.data.labels import read_labels
    from aesthetics.inference.backends import OnnxScorer
    from aesthetics.zoo.resolver import resolve_model

    resolved = resolve_model("technical", "onnx")
    table = read_labels(CLIVE_LABELS, score_range=(0, 100))
    found, _ = resolve_images(table, CLIVE_IMAGES)
    found = found.sort_values("image_id").reset_index(drop=True).iloc[:args.photos]
    images = prepared(found["filepath"], resolved.recipe)
    calib, test = images[:CALIBRATION], images[CALIBRATION:]
    mos = found["mean"].to_numpy()[CALIBRATION:]
    big = [np.asarray(Image.fromarray(im.astype(np.uint8)).resize((1024, 768), Image.BICUBIC), np.float32)
           for im in test[:8]]
    result = {"model": "technical", "recipe_max_side": resolved.recipe.max_side, "photos_scored": len(test),
              "calibration_photos": CALIBRATION, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = quantize(Path(resolved.path), Path(tmp), calib)
        scorers = {k: OnnxScorer(v) for k, v in files.items()}
        sizes = {k: Path(v).stat().st_size / 1e6 for k, v in files.items()}
        times = {k: {"500px_batch8": [], "1024x768_batch2": []} for k in scorers}
        small = np.stack([im for im in test[:32] if im.shape == test[0].shape][:8])
        for _ in range(args.reps):  # interleaved
            for k, sc in scorers.items():
                t0 = time.perf_counter()
                sc(small)
                times[k]["500px_batch8"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for s in range(0, len(big), 2):
                    sc(np.stack(big[s:s + 2]))
                times[k]["1024x768_batch2"].append(time.perf_counter() - t0)
        scores = {k: mean_scores(sc, test) for k, sc in scorers.items()}
    for k in scorers:
        best = {m: min(v) for m, v in times[k].items()}
        result["variants"][k] = {
            "mb": round(sizes[k], 1), "seconds": best,
            "speedup": {m: times["float"][m] and min(times["float"][m]) / best[m] for m in best},
            "srcc": float(spearmanr(mos, scores[k])[0]), "plcc": float(pearsonr(mos, scores[k])[0]),
            "max_score_change": float(np.abs(scores[k] - scores["float"]).max()),
            "mean_score_change": float(np.abs(scores[k] - scores["float"]).mean()),
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print("| copy | MB | speed-up 500 px x8 | speed-up 1024x768 x2 | SRCC | PLCC | score change mean / max |")
    print("|---|---|---|---|---|---|---|")
    for k, v in result["variants"].items():
        print(f"| {k} | {v['mb']:.1f} | {v['speedup']['500px_batch8']:.2f}x | {v['speedup']['1024x768_batch2']:.2f}x "
              f"| {v['srcc']:.4f} | {v['plcc']:.4f} | {v['mean_score_change']:.3f} / {v['max_score_change']:.3f} |")


if __name__ == "__main__":
    main()
