"""Small photos and records for the report tests (imported by them as `report_helpers`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image


def make_photo(path: Path, size=(64, 48), seed: int = 0, exif_orientation=None) -> Path:
    """A small JPEG with smooth colour gradients plus noise (not one colour)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1),
                     np.full((h, w), rng.integers(0, 255))], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(path, "JPEG", quality=90, exif=exif.tobytes())
    else:
        img.save(path, "JPEG", quality=90)
    return path


def record(path, mean, std=1.0, **extra) -> dict:
    dist = [0.1] * 10
    return {"image_id": Path(path).stem, "path": str(path), "mean_score_prediction": float(mean),
            "std_score_prediction": float(std), "distribution": dist, **extra}


def failure(path, reason) -> dict:
    return {"image_id": Path(path).stem, "path": str(path), "error": reason}


def card_scores(html: str) -> list[float]:
    """The data-score of every card, in page order."""
    return [float(s) for s in re.findall(r'<figure class="card[^"]*"[^>]*data-score="([0-9.]+)"', html)]


def card_ranks(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<figure class="card[^"]*" data-rank="(\d+)"', html)]
