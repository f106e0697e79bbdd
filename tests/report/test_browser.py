"""The report in a real browser: headless Chromium renders it (skipped without one).

Chromium loads the page from disk with networking features off; `--dump-dom`
gives the DOM it built (so the thumbnails are elements, in score order) and
`--screenshot` what a person sees (it must not be one flat colour). Photos:
a few real CLIVE photos when ../shared is there, else the package's samples.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aesthetics.report import write_report

ROOT = Path(__file__).resolve().parents[2]
CLIVE = ROOT.parent / "shared" / "data" / "clive" / "images"
SAMPLES = ROOT / "aesthetics" / "sample_data" / "images"
TIMEOUT_S = 90


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no Chromium: /usr/bin/chromium absent and none on PATH (Debian: apt-get install chromium)")


def browser(binary, tmp_path, *args) -> subprocess.CompletedProcess:
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT_S} s")


def real_photos(count=6) -> list[Path]:
    folder = CLIVE if CLIVE.is_dir() else SAMPLES
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    if len(photos) < count:
        pytest.skip(f"fewer than {count} photos in {folder}")
    return photos


def test_report_renders_in_chromium(tmp_path):
    binary = chromium()
    photos = real_photos()
    scores = [6.2, 3.1, 8.4, 5.0, 7.7, 4.4]
    records = [{"image_id": p.stem, "path": str(p), "mean_score_prediction": s,
                "std_score_prediction": 1.5} for p, s in zip(photos, scores)]
    records.append({"image_id": "lost", "path": str(tmp_path / "lost.jpg"), "error": "file not found"})
    report = write_report(records, tmp_path / "report.html", title="Browser check")

    dom = browser(binary, tmp_path, "--dump-dom", report.as_uri()).stdout
    images = re.findall(r"<img [^>]*>", dom)
    assert len(images) == len(photos)
    assert all('src="data:image/jpeg;base64,' in tag for tag in images)
    rendered = [float(s) for s in re.findall(r'data-score="([0-9.]+)"', dom)]
    assert rendered == sorted(scores, reverse=True)
    assert "Browser check" in dom and "file not found" in dom

    shot = tmp_path / "shot.png"
    browser(binary, tmp_path, f"--screenshot={shot}", "--window-size=1280,1400", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1400, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # photos, text, chart: not blank
    assert pixels.std() > 20
