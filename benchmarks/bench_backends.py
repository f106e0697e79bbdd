"""Deployment benchmark: export formats and predict backends, side by side.

    PYTHONPATH=. python benchmarks/bench_backends.py [--images 100] [--runs 5]

Builds NIMA-MobileNet-1.0-224 from the local ImageNet weights
(../shared/weights/mobilenet_1_0_224_imagenet_notop.weights.h5) with its score
head fitted on CLIVE photos that are NOT among the benchmark photos (frozen
backbone features, EMD loss, a few seconds), saves it as .keras, exports it
with `aesthetics export` in every format and measures on N other CLIVE photos:

- artefact sizes; export times;
- parity: the SavedModel bytes signature vs `predict` (score_files), ONNX and
  TFLite on the same pixels vs Keras, the TF-free ONNX predict path
  (Pillow resize) vs Keras predict; dynamic-range TFLite's score drift (SRCC
  and max |diff| of mean scores vs the float model);
- cold start: one `aesthetics predict IMAGE` process, start to exit (median
  of --runs, backends interleaved so load drift hits all alike);
- throughput: images/s scoring the N photos inside a warm process (model
  loaded, 8-image warm-up excluded), decode + resize + inference.

Writes a markdown report to stdout and benchmarks/results_backends.md.
CPU timings on a shared machine are noisy: compare ratios measured together.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
CLIVE = SHARED / "data" / "clive"
BACKENDS = ("keras", "savedmodel", "onnx", "tflite")


def env():
    return dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


# --------------------------------------------------------------------------
# inner mode: runs in its own process, one backend, prints JSON


def inner_throughput(backend: str, model_path: str, folder: str, batch_size: int) -> None:
    t0 = time.perf_counter()
    from aesthetics.data.images import find_images

    paths = find_images([folder])
    if backend == "keras":
        from aesthetics.inference.loading import load_model
        from aesthetics.inference.scoring import score_files

        model = load_model(model_path)
        run = lambda ps: score_files(model, ps, batch_size=batch_size)  # noqa: E731
    else:
        from aesthetics.inference.backends import load_scorer
        from aesthetics.inference.scoring import score_paths

        scorer = load_scorer(backend, model_path)
        if backend == "savedmodel":
            from aesthetics.inference.scoring import score_files

            run = lambda ps: score_files(scorer, ps, batch_size=batch_size)  # noqa: E731
        else:
            run = lambda ps: score_paths(scorer, ps, batch_size=batch_size)  # noqa: E731
    load_s = time.perf_counter() - t0
    run(paths[:8])  # warm-up (graph tracing, allocator, thread pools)
    t1 = time.perf_counter()
    records = run(paths)
    seconds = time.perf_counter() - t1
    print(json.dumps({
        "backend": backend, "n": len(records), "seconds": seconds, "load_seconds": load_s,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "scores": {Path(r["path"]).name: r.get("mean_score_prediction") for r in records},
    }))


# --------------------------------------------------------------------------
# outer mode


def clive_split(n_bench: int, n_fit: int):
    import csv

    with open(CLIVE / "labels.csv") as f:
        rows = [(r["image"], float(r["mos"]), float(r["mos_std"])) for r in csv.DictReader(f)]
    rows = [r for r in rows if (CLIVE / "images" / r[0]).is_file()]
    # labels.csv lists the PNGs first: a seeded shuffle mixes JPEG and PNG.
    random.Random(0).shuffle(rows)
    bench = rows[:n_bench]
    fit = rows[n_bench:n_bench + n_fit]
    return bench, fit


def build_model(fit_rows, work: Path):
    """MobileNet-1.0-224 (ImageNet) + score head fitted on `fit_rows`."""
    import keras
    import numpy as np

    from aesthetics.config import ModelConfig
    from aesthetics.data.labels import gaussian_histogram, map_score_range
    from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset
    from aesthetics.losses.distribution import emd_loss
    from aesthetics.models import build_model as build

    keras.utils.set_random_seed(0)
    model = build(ModelConfig(backbone="mobilenet", backbone_weights=str(WEIGHTS), dropout=0.5), image_size=224)
    features = keras.Model(model.input, model.get_layer("pool").output)
    paths = [str(CLIVE / "images" / r[0]) for r in fit_rows]
    ds = make_eval_dataset(paths, None, PipelineOptions(image_size=224, cache=False), batch_size=32)
    batches = ((b[0] if isinstance(b, tuple) else b) for b in ds)
    x = np.concatenate([np.asarray(features(images, training=False)) for images in batches])
    mos = np.array([r[1] for r in fit_rows])
    std = np.array([r[2] for r in fit_rows]) * 9 / 100
    y = gaussian_histogram(map_score_range(mos, 0, 100), std).astype("float32")
    head = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(10, activation="softmax")])
    head.compile(keras.optimizers.Adam(3e-3), loss=emd_loss)
    head.fit(x, y, epochs=150, batch_size=64, verbose=0)
    model.get_layer("scores").set_weights(head.get_weights())
    path = work / "run" / "model.keras"
    path.parent.mkdir(parents=True)
    model.save(path)
    return path


def cli(*args, timeout=900):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "aesthetics", "-q", *args], env=env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"aesthetics {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return elapsed, proc


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "model.json")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=100, help="CLIVE photos to score")
    p.add_argument("--fit-images", type=int, default=300, help="CLIVE photos to fit the head on")
    p.add_argument("--runs", type=int, default=5, help="cold-start runs per backend")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--inner", nargs=3, metavar=("BACKEND", "MODEL", "FOLDER"), help=argparse.SUPPRESS)
    p.add_argument("--keep", help="keep the work folder here")
    args = p.parse_args(argv)
    if args.inner:
        inner_throughput(*args.inner, batch_size=args.batch_size)
        return 0
    if not WEIGHTS.is_file() or not CLIVE.is_dir():
        print(f"needs {WEIGHTS} and {CLIVE}", file=sys.stderr)
        return 1

    os.environ.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from scipy import stats

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-backends-"))
    work.mkdir(parents=True, exist_ok=True)
    bench_rows, fit_rows = clive_split(args.images, args.fit_images)
    folder = work / "photos"
    folder.mkdir(exist_ok=True)
    for name, *_ in bench_rows:
        link = folder / name
        if not link.exists():
            link.symlink_to(CLIVE / "images" / name)
    files = sorted(str(f) for f in folder.iterdir())
    mos = {r[0]: r[1] for r in bench_rows}
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    log(f"fitting the head on {len(fit_rows)} CLIVE photos ...")
    t0 = time.perf_counter()
    model_path = build_model(fit_rows, work)
    log(f"  {time.perf_counter() - t0:.0f} s")

    artefacts = {
        "keras": model_path,
        "savedmodel": work / "exports" / "aesthetics" / "1",
        "onnx": work / "exports" / "model.onnx",
        "tflite": work / "exports" / "model.tflite",
        "tflite_dynamic": work / "exports" / "model_dynamic.tflite",
    }
    export_seconds = {}
    for key, path in artefacts.items():
        if key == "keras":
            continue
        fmt = "tflite" if key.startswith("tflite") else key
        extra = ["--quantize", "dynamic"] if key == "tflite_dynamic" else []
        log(f"export {key} ...")
        export_seconds[key], _ = cli("export", "--model", str(model_path), "--format", fmt,
                                     "--output", str(path), *extra)
    sizes = {k: size_of(v) for k, v in artefacts.items()}

    # ---- parity (in this process)
    log("parity ...")
    import tensorflow as tf

    from aesthetics.inference.backends import OnnxScorer, TFLiteScorer
    from aesthetics.inference.scoring import load_for_model
    from aesthetics.data.images import load_image
    from aesthetics.data.pipeline import resize_image
    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_files

    model = load_model(model_path)
    bins = np.arange(1, 11)
    ref = {Path(r["path"]).name: r for r in score_files(model, files, batch_size=args.batch_size)}
    names = [Path(f).name for f in files]
    ref_mean = np.array([ref[n]["mean_score_prediction"] for n in names])
    pixels = np.stack([
        np.asarray(tf.cast(tf.cast(tf.round(resize_image(load_image(f), 224)), tf.uint8), tf.float32))
        for f in files
    ])
    keras_dist = np.concatenate([np.asarray(model(pixels[i:i + 32], training=False))
                                 for i in range(0, len(pixels), 32)])
    sig = tf.saved_model.load(str(artefacts["savedmodel"])).signatures["serving_default"]
    sm_mean = np.concatenate([
        sig(image_bytes=tf.constant([open(f, "rb").read() for f in files[i:i + 32]]))["mean_score"].numpy()
        for i in range(0, len(files), 32)
    ])
    onnx = OnnxScorer(artefacts["onnx"])
    tfl = TFLiteScorer(artefacts["tflite"])
    tflq = TFLiteScorer(artefacts["tflite_dynamic"])

    def batched(fn):
        return np.concatenate([fn(pixels[i:i + 32]) for i in range(0, len(pixels), 32)])

    onnx_dist, tfl_dist, tflq_dist = batched(onnx), batched(tfl), batched(tflq)
    from aesthetics.models import recipe_of

    numpy_pixels = np.stack([load_for_model(f, recipe_of(model)) for f in files])
    onnx_numpy_mean = np.concatenate([onnx(numpy_pixels[i:i + 32]) for i in range(0, len(files), 32)]) @ bins
    jpg = np.array([n.lower().endswith(".jpg") for n in names])
    pixel_diff = np.abs(numpy_pixels - pixels)
    parity = {
        "savedmodel_bytes_vs_predict_mean_max": float(np.abs(sm_mean - ref_mean).max()),
        "savedmodel_bytes_vs_predict_mean_max_jpg": float(np.abs(sm_mean - ref_mean)[jpg].max()) if jpg.any() else None,
        "savedmodel_bytes_vs_predict_mean_max_png": float(np.abs(sm_mean - ref_mean)[~jpg].max()) if (~jpg).any() else None,
        "onnx_vs_keras_dist_max": float(np.abs(onnx_dist - keras_dist).max()),
        "onnx_vs_keras_mean_max": float(np.abs(onnx_dist @ bins - keras_dist @ bins).max()),
        "tflite_vs_keras_dist_max": float(np.abs(tfl_dist - keras_dist).max()),
        "tflite_vs_keras_mean_max": float(np.abs(tfl_dist @ bins - keras_dist @ bins).max()),
        "tflite_dynamic_vs_float_mean_max": float(np.abs(tflq_dist @ bins - tfl_dist @ bins).max()),
        "tflite_dynamic_vs_float_mean_median": float(np.median(np.abs(tflq_dist @ bins - tfl_dist @ bins))),
        "tflite_dynamic_vs_float_srcc": float(stats.spearmanr(tflq_dist @ bins, tfl_dist @ bins).statistic),
        "onnx_predict_path_vs_keras_predict_mean_max": float(np.abs(onnx_numpy_mean - ref_mean).max()),
        "numpy_resize_values_differing": float((pixel_diff > 0).mean()),
        "numpy_resize_max_level_diff": float(pixel_diff.max()),
        "keras_srcc_vs_mos": float(stats.spearmanr(ref_mean, [mos[n] for n in names]).statistic),
        "tflite_dynamic_srcc_vs_mos": float(stats.spearmanr(tflq_dist @ bins, [mos[n] for n in names]).statistic),
        "n_jpg": int(jpg.sum()), "n_png": int((~jpg).sum()),
    }
    del model, sig, onnx, tfl, tflq

    # ---- cold start: one image, fresh process, interleaved
    log("cold start ...")
    one = files[0]
    cold = {b: [] for b in BACKENDS}
    for run in range(args.runs):
        for backend in BACKENDS:
            path = artefacts[backend]
            seconds, _ = cli("predict", one, "--model", str(path), "--backend", backend)
            cold[backend].append(seconds)
            log(f"  run {run + 1} {backend}: {seconds:.2f} s")

    # ---- throughput: warm process per backend
    log("throughput ...")
    through = {}
    for backend in BACKENDS:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--inner", backend, str(artefacts[backend]),
             str(folder), "--batch-size", str(args.batch_size)],
            env=env(), cwd=ROOT, capture_output=True, text=True, timeout=1800,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        through[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"  {backend}: {through[backend]['n'] / through[backend]['seconds']:.1f} img/s")

    report = render(args, sizes, export_seconds, parity, cold, through, len(files))
    print(report)
    (ROOT / "benchmarks" / "results_backends.md").write_text(report)
    (ROOT / "benchmarks" / "results_backends.json").write_text(json.dumps({
        "sizes": sizes, "export_seconds": export_seconds, "parity": parity, "cold_start_seconds": cold,
        "throughput": {b: {k: v for k, v in t.items() if k != "scores"} for b, t in through.items()},
    }, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(args, sizes, export_seconds, parity, cold, through, n) -> str:
    mb = lambda b: f"{b / 1e6:.1f} MB"  # noqa: E731
    med = {b: statistics.median(v) for b, v in cold.items()}
    ips = {b: t["n"] / t["seconds"] for b, t in through.items()}
    cpu = os.cpu_count()
    lines = [
        "# Predict backends and export formats (NIMA-MobileNet-1.0-224)",
        "",
        f"Generated by `benchmarks/bench_backends.py` on {platform.machine()} with {cpu} CPU cores "
        f"(shared with other jobs: compare ratios), Python {platform.python_version()}. Model: "
        f"MobileNet 1.0 224 ImageNet backbone + score head fitted on {args.fit_images} CLIVE photos; "
        f"measured on {n} other CLIVE photos ({parity['n_jpg']} JPEG, {parity['n_png']} PNG); "
        f"its SRCC vs MOS there: {parity['keras_srcc_vs_mos']:.3f}.",
        "",
        "## Artefacts",
        "",
        "| format | size | export time (process) |",
        "|---|---|---|",
        f"| .keras | {mb(sizes['keras'])} | - |",
        f"| SavedModel (2 signatures) | {mb(sizes['savedmodel'])} | {export_seconds['savedmodel']:.0f} s |",
        f"| ONNX (opset 17) | {mb(sizes['onnx'])} | {export_seconds['onnx']:.0f} s |",
        f"| TFLite float32 | {mb(sizes['tflite'])} | {export_seconds['tflite']:.0f} s |",
        f"| TFLite dynamic-range int8 | {mb(sizes['tflite_dynamic'])} | {export_seconds['tflite_dynamic']:.0f} s |",
        "",
        "## Parity (max absolute difference)",
        "",
        "| comparison | value |",
        "|---|---|",
        f"| SavedModel `serving_default` (image bytes) vs `predict`, mean score | "
        f"{parity['savedmodel_bytes_vs_predict_mean_max']:.2e} (JPEG {_fmt(parity['savedmodel_bytes_vs_predict_mean_max_jpg'])}, "
        f"PNG {_fmt(parity['savedmodel_bytes_vs_predict_mean_max_png'])}) |",
        f"| ONNX vs Keras, same pixels: distribution / mean score | {parity['onnx_vs_keras_dist_max']:.2e} / {parity['onnx_vs_keras_mean_max']:.2e} |",
        f"| TFLite float vs Keras, same pixels: distribution / mean score | {parity['tflite_vs_keras_dist_max']:.2e} / {parity['tflite_vs_keras_mean_max']:.2e} |",
        f"| ONNX predict path (Pillow resize) vs Keras predict, mean score | {parity['onnx_predict_path_vs_keras_predict_mean_max']:.2e} |",
        f"| Pillow resize vs TF resize: share of values differing (max levels) | "
        f"{parity['numpy_resize_values_differing']:.2e} ({parity['numpy_resize_max_level_diff']:.0f}) |",
        f"| TFLite dynamic vs float: mean score max / median diff, SRCC | "
        f"{parity['tflite_dynamic_vs_float_mean_max']:.3f} / {parity['tflite_dynamic_vs_float_mean_median']:.3f}, "
        f"{parity['tflite_dynamic_vs_float_srcc']:.4f} |",
        f"| SRCC vs MOS: float / dynamic-range TFLite | {parity['keras_srcc_vs_mos']:.4f} / {parity['tflite_dynamic_srcc_vs_mos']:.4f} |",
        "",
        f"## Cold start and throughput (CPU, batch {args.batch_size})",
        "",
        f"Cold start: `aesthetics predict ONE_IMAGE --model M --backend B`, process start to exit, "
        f"median of {args.runs} (interleaved). Throughput: {n} photos in a warm process "
        f"(Pillow decode + resize + inference).",
        "",
        "| backend | cold start (median) | min..max | vs keras | throughput | vs keras | imports TF |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in BACKENDS:
        lines.append(
            f"| {b} | {med[b]:.2f} s | {min(cold[b]):.2f}..{max(cold[b]):.2f} s | {med[b] / med['keras']:.2f}x "
            f"| {ips[b]:.1f} img/s | {ips[b] / ips['keras']:.2f}x | {'yes' if through[b]['tensorflow_imported'] else 'no'} |"
        )
    lines.append("")
    return "\n".join(lines)


def _fmt(v):
    return "n/a" if v is None else f"{v:.2e}"


if __name__ == "__main__":
    sys.exit(main())
