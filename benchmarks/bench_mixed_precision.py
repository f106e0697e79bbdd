"""Training throughput under float32, mixed_float16 and mixed_bfloat16 (issue 11, item 2).

    python benchmarks/bench_mixed_precision.py                      # every policy, this machine's first device
    python benchmarks/bench_mixed_precision.py --steps 60 --batch 64 --results $OUT/mixed_precision.jsonl

The training step `aesthetics train` runs (NIMA on MobileNet v1 at 224 px,
the EMD loss, Adam wrapped in loss scaling under mixed_float16 as
`optim.with_loss_scaling` does, float32 heads), on synthetic images already
in device memory, so the number is the model's compute and not the photo
pipeline. The policies run one after another in one process, in turns
(float32, mixed_float16, mixed_bfloat16, float32 again ...), and each
reports images per second over `--steps` timed steps after `--warmup`
steps; the ratio to float32 from the same run is the speed-up. One row per
(policy, round) appended to --results with the device's name. Needs no data
and no network (random init).
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

RESULTS = ROOT / "benchmarks" / "results" / "mixed_precision.jsonl"
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", "GPU")
    return "CPU"


def throughput(policy: str, batch: int, steps: int, warmup: int) -> float:
    import keras
    import tensorflow as tf

    from aesthetics.config import ModelConfig
    from aesthetics.losses import get_loss
    from aesthetics.models import build_model
    from aesthetics.precision import dtype_policy_scope
    from aesthetics.training.optim import make_optimizer, with_loss_scaling

    keras.backend.clear_session()
    with dtype_policy_scope(None if policy == "float32" else policy):
        model = build_model(ModelConfig(backbone="mobilenet", backbone_weights=None), image_size=224)
        mixed = None if policy == "float32" else policy
        model.compile(optimizer=with_loss_scaling(make_optimizer("adam", 1e-4), mixed), loss=get_loss("emd"))
        rng = np.random.default_rng(0)
        x = tf.constant(rng.uniform(0, 255, (batch, 224, 224, 3)).astype("float32"))
        y = tf.constant(rng.dirichlet(np.ones(10), batch).astype("float32"))
        for _ in range(warmup):
            model.train_on_batch(x, y)
        float(model.train_on_batch(x, y))  # wait for the device
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, y)
        float(loss)
        return batch * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policies", nargs="*", default=list(POLICIES), choices=list(POLICIES))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    device = device_name()
    rows = []
    for r in range(args.rounds):
        for policy in args.policies:
            ips = throughput(policy, args.batch, args.steps, args.warmup)
            row = {"device": device, "policy": policy, "round": r, "batch": args.batch, "steps": args.steps,
                   "images_per_second": round(ips, 1)}
            rows.append(row)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            with open(args.results, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    base = np.mean([r["images_per_second"] for r in rows if r["policy"] == "float32"] or [np.nan])
    print(f"\n| policy | images/s ({device}, batch {args.batch}) | vs float32 |\n|---|---|---|")
    for policy in args.policies:
        ips = np.mean([r["images_per_second"] for r in rows if r["policy"] == policy])
        print(f"| {policy} | {ips:.1f} | {ips / base:.2f}x |")


if __name__ == "__main__":
    main()
