"""Throughput of ``degrade_batch`` inside a tf.data pipeline.

    python benchmarks/bench_degrade.py [--batches 20] [--batch-size 32] [--method partition switch]

Batches of 224x224 crops (from a small in-memory set cut from the photos in
../shared/data/pristine, or synthetic noise when that folder is absent) get a
random kind and level per example (``random_degradation_params``) and go
through ``degrade_batch`` in ``Dataset.map``. After a few warm-up batches it
times ``--batches`` batches and prints one line per method (images/s).
Numbers depend on the CPU (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PRISTINE = ROOT.parent / "shared" / "data" / "pristine"


def make_crops(n, size, seed=0):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    photos = sorted(PRISTINE.glob("*.jpg"))[:8] if PRISTINE.is_dir() else []
    crops = []
    for i in range(n):
        if photos:
            data = tf.io.read_file(str(photos[i % len(photos)]))
            img = tf.io.decode_image(data, channels=3, expand_animations=False)
            img = tf.image.convert_image_dtype(img, tf.float32)
            h, w = int(img.shape[0]), int(img.shape[1])
            if min(h, w) > 2 * size:  # bring big photos nearer the crop size
                s = 2 * size / min(h, w)
                img = tf.image.resize(img, [round(h * s), round(w * s)], antialias=True)
            y0 = rng.integers(0, img.shape[0] - size + 1)
            x0 = rng.integers(0, img.shape[1] - size + 1)
            crops.append(tf.clip_by_value(img[y0 : y0 + size, x0 : x0 + size], 0.0, 1.0).numpy())
        else:
            crops.append(rng.uniform(0.0, 1.0, (size, size, 3)).astype("float32"))
    return np.stack(crops)


def bench(crops, method, batch_size, batches, warmup):
    import tensorflow as tf

    from aesthetics.pretext.degrade import degrade_batch, random_degradation_params

    def augment(i, x):
        i = tf.cast(i, tf.int32)
        kinds, levels = random_degradation_params(tf.shape(x)[0], seed=tf.stack([i, 0]))
        return degrade_batch(x, kinds, levels, seed=tf.stack([i, 1]), method=method)

    ds = (
        tf.data.Dataset.from_tensor_slices(crops)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .enumerate()
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    elapsed = time.perf_counter() - start
    return batches * batch_size / elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--method", nargs="+", default=["partition", "switch"], choices=["partition", "switch"])
    args = ap.parse_args(argv)

    crops = make_crops(64, args.size)
    for method in args.method:
        rate = bench(crops, method, args.batch_size, args.batches, args.warmup)
        print(
            f"degrade_batch[{method}]: {rate:.1f} images/s "
            f"(tf.data, batch {args.batch_size}x{args.size}x{args.size}, random kind/level, "
            f"{args.batches} batches after {args.warmup} warm-up, {os.cpu_count()} CPUs)",
            flush=True,
        )


if __name__ == "__main__":
    main()
