"""Issue 28: peak memory and speed of `aesthetics predict` on large camera photos.

    python benchmarks/bench_large_photos.py [--quick] [--photos 32] [--sizes 500,1024x768,12mp,24mp]
        [--batch-sizes 1,8,32] [--max-batch-pixels N] [--model M] [--output PATH]

Test photos: CLIVE photos (~500x500) ENLARGED with Pillow (LANCZOS, aspect not
kept) to 1024x768, 4032x3024 (12 MP) and 6000x4000 (24 MP), saved as JPEG
quality 92; "500" is the original CLIVE files. They are made once, under
benchmarks/cache/large_photos/ (git-ignored). Enlarged photos have no real
fine detail, so they compress better than camera files: decode times are a
lower bound for real 12 MP photos of the same size.

1. For each size and batch size, the real `aesthetics predict FOLDER
   --batch-size B --output X.jsonl` (default models unless --model) as a
   fresh process: its peak RSS (VmHWM, read in the child), wall time and
   the scoring loop's own rate (the CLI's summary line "... (N photos/s)",
   which leaves out the start-up). `--max-batch-pixels` is passed through:
   10**12 reproduces the loop before the pixel budget (batches bounded by
   count only).
2. In this process, for one photo of each size, the stages of the default
   model's path (onnx): decode with JPEG draft, `prepare_photo` (the resize),
   the model call; and the default two-model group's decode+prepare
   (`ScorerGroup.load`: one decode for both recipes).

Writes benchmarks/results/large_photos.json (or --output) and prints markdown
tables. CPU timings on a shared machine are noisy: compare numbers measured
in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLIVE_IMAGES, PEAK_RSS_CHILD, ROOT  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache" / "large_photos"
SIZES = {"500": None, "1024x768": (1024, 768), "4032x3024": (4032, 3024), "6000x4000": (6000, 4000)}
ALIASES = {"12mp": "4032x3024", "24mp": "6000x4000", "1mp": "1024x768"}
SUMMARY = re.compile(r"scored (\d+) photo\(s\), (\d+) failed in ([\d.]+) s \(([\d.]+) photos/s\)")


def size_names(text: str) -> list[str]:
    names = [ALIASES.get(s.strip().lower(), s.strip().lower()) for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in SIZES]
    if bad:
        sys.exit(f"--sizes: unknown {bad}; choose from {list(SIZES)} or {list(ALIASES)}")
    return names


def make_photos(size: str, count: int) -> Path:
    """The folder of `count` test photos of `size` (made once, then reused)."""
    from PIL import Image

    folder = CACHE / size / str(count)
    sources = sorted(CLIVE_IMAGES.glob("*.[jJ][pP][gG]"))[:count]
    if len(sources) < count:
        sys.exit(f"need {count} CLIVE photos in {CLIVE_IMAGES}, found {len(sources)}")
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources:
        dst = folder / (src.stem + ".jpg")
        if dst.exists():
            continue
        with Image.open(src) as img:
            img = img.convert("RGB")
            if SIZES[size] is not None:
                img = img.resize(SIZES[size], Image.LANCZOS)
            img.save(dst, quality=92)
    return folder


def run_predict(folder: Path, batch: int, out: Path, max_batch_pixels, model) -> dict:
    """One `aesthetics predict` process: peak RSS, wall time, the loop's rate."""
    cmd = [sys.executable, "-c", PEAK_RSS_CHILD, "predict", str(folder), "--batch-size", str(batch),
           "--output", str(out), "--overwrite", "-q"]
    if max_batch_pixels:
        cmd += ["--max-batch-pixels", str(max_batch_pixels)]
    if model:
        cmd += ["--model", model]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    m = SUMMARY.search(proc.stderr)
    if proc.returncode != 0 or m is None:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}
    peak = int(proc.stdout.strip().splitlines()[-1])  # bytes
    return {"peak_rss_mb": round(peak / 2**20, 1), "wall_s": round(wall, 2),
            "scored": int(m.group(1)), "failed": int(m.group(2)), "loop_s": float(m.group(3)),
            "photos_per_s": float(m.group(4))}


def stage_times(path: Path, reps: int) -> dict:
    """Seconds per stage for one photo (best of `reps`): the default model's
    path on onnx, and the default group's one decode for both models."""
    import numpy as np

    from aesthetics.data.images import load_image
    from aesthetics.data.resize import draft_size, prepare_photo
    from aesthetics.inference.backends import OnnxScorer
    from aesthetics.inference.multi import ScorerGroup
    from aesthetics.zoo import resolve_model

    def best(fn):
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - t)
        return min(times), value

    scorer = OnnxScorer(resolve_model(None, "onnx").path)
    recipe = scorer.recipe
    t_full, full = best(lambda: load_image(path))
    t_draft, drafted = best(lambda: load_image(path, draft=lambda w, h: draft_size(recipe, w, h)))
    t_prep, prepared = best(lambda: prepare_photo(drafted, recipe))
    batch = prepared[None].astype(np.float32)
    scorer(batch)  # warm-up: onnxruntime plans a new shape on its first call
    t_model, _ = best(lambda: scorer(batch))
    group = ScorerGroup([(n, OnnxScorer(resolve_model(n, "onnx").path)) for n in ("technical", "aesthetic")])
    t_group, _ = best(lambda: group.load(path, 10**9))
    return {"stored": f"{full.shape[1]}x{full.shape[0]}", "decoded": f"{drafted.shape[1]}x{drafted.shape[0]}",
            "model_input": f"{prepared.shape[1]}x{prepared.shape[0]}",
            "decode_full_s": round(t_full, 4), "decode_draft_s": round(t_draft, 4),
            "prepare_s": round(t_prep, 4), "model_s": round(t_model, 4),
            "group_decode_prepare_s": round(t_group, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=32, help="photos per size (default 32)")
    p.add_argument("--sizes", default="500,1024x768,12mp,24mp")
    p.add_argument("--batch-sizes", default="1,8,32")
    p.add_argument("--quick", action="store_true", help="2 photos, sizes 500 and 12mp, batch 1 and 8")
    p.add_argument("--max-batch-pixels", type=int, default=None,
                   help="passed to predict (10**12: the old loop, bounded by count only)")
    p.add_argument("--model", default=None, help="predict --model (default: predict's default)")
    p.add_argument("--reps", type=int, default=3, help="repeats of each in-process stage (best kept)")
    p.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "large_photos.json")
    args = p.parse_args(argv)
    if args.quick:
        args.photos, args.sizes, args.batch_sizes = 2, "500,12mp", "1,8"
    sizes = size_names(args.sizes)
    batches = [int(b) for b in args.batch_sizes.split(",")]
    print(f"test photos: {args.photos} CLIVE photo(s) per size, enlarged with Pillow (LANCZOS) "
          f"and saved as JPEG q92 in {CACHE}; '500' = the original CLIVE files")
    folders = {s: make_photos(s, args.photos) for s in sizes}

    runs = []
    tmp = CACHE / "outputs"
    tmp.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        for b in batches:
            r = run_predict(folders[size], b, tmp / f"{size}_b{b}.jsonl", args.max_batch_pixels, args.model)
            runs.append({"size": size, "batch_size": b, **r})
            print(f"  predict {size} batch {b}: {r}", flush=True)
    stages = {size: stage_times(next(iter(sorted(folders[size].glob("*.jpg")))), args.reps) for size in sizes}

    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "photos_per_size": args.photos, "max_batch_pixels": args.max_batch_pixels,
              "model": args.model or "predict's default", "quick": args.quick,
              "photos": "CLIVE photos enlarged with Pillow LANCZOS, JPEG q92 ('500': originals)",
              "predict": runs, "stages": stages}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    budget = args.max_batch_pixels or "default"
    print(f"\n### predict ({args.photos} photos per size, --max-batch-pixels {budget})\n")
    print("| size | batch | peak RSS (MB) | photos/s (loop) | wall (s) |")
    print("|---|---:|---:|---:|---:|")
    for r in runs:
        if "error" in r:
            print(f"| {r['size']} | {r['batch_size']} | error: {r['error'][:80]} | | |")
        else:
            print(f"| {r['size']} | {r['batch_size']} | {r['peak_rss_mb']:.0f} | {r['photos_per_s']:.2f} "
                  f"| {r['wall_s']:.1f} |")
    print("\n### stages, one photo (seconds, best of %d; default model on onnx)\n" % args.reps)
    print("| size | decoded | model input | full decode | draft decode | prepare | model call "
          "| two-model decode+prepare |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for size, s in stages.items():
        print(f"| {s['stored']} | {s['decoded']} | {s['model_input']} | {s['decode_full_s']:.3f} "
              f"| {s['decode_draft_s']:.3f} | {s['prepare_s']:.3f} | {s['model_s']:.3f} "
              f"| {s['group_decode_prepare_s']:.3f} |")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
