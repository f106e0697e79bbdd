"""Issue 28: `aesthetics predict` on 12-megapixel camera photos keeps its
memory bounded (the pixel budget per model call, JPEG draft decoding), even
with --batch-size 32: the child's peak RSS stays under 1.2 GB."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import PEAK_RSS_CHILD

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 1.2e9
PHOTOS = 6


def _camera_photo(path: Path, seed: int, width: int = 4032, height: int = 3024) -> None:
    """A 12 MP JPEG with camera-like content: gradients plus noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 220], axis=-1)
    noise = rng.normal(0, 18, (height // 8, width // 8, 3)).astype(np.float32)
    noise = np.repeat(np.repeat(noise, 8, axis=0), 8, axis=1)  # blotches compress like a photo
    pixels = np.clip(base + noise + seed * 7, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=92)


def test_predict_on_12mp_photos_stays_under_1_2_gb(tmp_path):
    pytest.importorskip("onnxruntime", reason="the default predict path runs the ONNX models in onnxruntime")
    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(PHOTOS):
        _camera_photo(folder / f"camera_{k}.jpg", k)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_CHILD, "predict", str(folder), "--batch-size", "32",
         "--output", str(tmp_path / "scores.jsonl")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak = int(proc.stdout.strip().splitlines()[-1])
    lines = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert len(lines) == PHOTOS and all('"error"' not in line for line in lines)
    assert peak <= LIMIT_BYTES, f"peak RSS {peak / 1e9:.2f} GB > {LIMIT_BYTES / 1e9} GB"
