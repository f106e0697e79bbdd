"""What scoring with both shipped models costs: `predict`'s loop (onnxruntime,
the default backend) over the same photos with the technical model alone,
the aesthetic model alone, both in one pass (`ScorerGroup`: one decode per
photo), and both as two separate runs. Rounds alternate the variants, so
drift of a shared machine hits them alike; medians and ratios are printed.

    .venv/bin/python benchmarks/bench_two_models.py [--photos 120] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIVE = ROOT.parent / "shared" / "data" / "clive" / "images"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from aesthetics.inference.backends import load_scorer
    from aesthetics.inference.multi import ScorerGroup
    from aesthetics.inference.scoring import score_paths
    from aesthetics.zoo import model_path

    photos = sorted(CLIVE.glob("*"))[: args.photos]
    technical = load_scorer("onnx", model_path("clive-mobilenet", "onnx"))
    aesthetic = load_scorer("onnx", model_path("nima-ava-mobilenet", "onnx"))
    group = ScorerGroup([("technical", technical), ("aesthetic", aesthetic)])
    run = lambda scorer: score_paths(scorer, photos, batch_size=32, workers=args.workers)  # noqa: E731
    variants = {
        "technical": lambda: run(technical),
        "aesthetic": lambda: run(aesthetic),
        "both_one_pass": lambda: run(group),
        "both_two_runs": lambda: (run(technical), run(aesthetic)),
    }
    for fn in variants.values():  # warm-up: sessions, thread pools, file cache
        fn()
    times = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "photos": len(photos),
        "rounds": args.rounds,
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "photos_per_second": {k: round(len(photos) / v, 1) for k, v in median.items()},
        "both_one_pass_over_technical": round(median["both_one_pass"] / median["technical"], 2),
        "both_one_pass_over_two_runs": round(median["both_one_pass"] / median["both_two_runs"], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
