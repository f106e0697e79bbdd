"""Shared bits of the benchmark scripts: where the real data is, the CLIVE split."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AESTHETICS_SHARED", ROOT.parent / "shared"))
CLIVE_IMAGES = SHARED / "data" / "clive" / "images"
CLIVE_LABELS = SHARED / "data" / "clive" / "labels.csv"
PRISTINE = SHARED / "data" / "pristine"
MOBILENET_WEIGHTS = SHARED / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
# The project's fixed CLIVE dev split: 80/20, seed 42 (aesthetics.data.splits.split_table).
CLIVE_SEED = 42
CLIVE_VAL_FRACTION = 0.2


def require_shared() -> None:
    if not CLIVE_LABELS.exists():
        sys.exit(f"benchmark needs the real data in {SHARED} (set AESTHETICS_SHARED)")


def clive_split():
    """(train, val) label tables of the fixed CLIVE split, with `filepath`."""
    from aesthetics.data.files import resolve_images
    from aesthetics.data.labels import read_labels
    from aesthetics.data.splits import split_table

    table = read_labels(CLIVE_LABELS, score_range=(0, 100))
    found, _ = resolve_images(table, CLIVE_IMAGES)
    return split_table(found, val_fraction=CLIVE_VAL_FRACTION, seed=CLIVE_SEED)


# Runs the CLI in this child process, then prints its own peak RSS in bytes
# as the last line. Linux: VmHWM of /proc/self/status, the high-water mark of
# this process's own memory since exec. Not ru_maxrss: Linux carries the
# parent's peak into a child started by vfork/posix_spawn + exec (measured:
# a child of a 400 MB parent reports 407 MB, VmHWM 11 MB). Used by
# bench_large_photos.py and tests/reliability/test_memory_bound.py.
PEAK_RSS_CHILD = """
import resource, sys
from aesthetics.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
try:
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(peak, flush=True)
sys.exit(code or 0)
"""
