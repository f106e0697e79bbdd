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
