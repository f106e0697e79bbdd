"""The report in a real browser: headless Chromium renders it (skipped without one).

Chromium loads the page from disk with networking features off; `--dump-dom`
gives the DOM it built (so the thumbnails are elements, in score order, and
the several-model page's sort script has run) and `--screenshot` what a
person sees (not one flat colour; the score badges' colours on screen).
Photos: a few real CLIVE photos when ../shared is there, else the package's
samples. `.ci/run` installs Debian's chromium so that CI runs this for real;
`entrypoints/run_tests.sh` says when it will skip.
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
from aesthetics.report.scale import score_colour

ROOT = Path(__file__).resolve().parents[2]
CLIVE = ROOT.parent / "shared" / "data" / "clive" / "images"
SAMPLES = ROOT / "aesthetics" / "sample_data" / "images"
TIMEOUT_S = 90


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", *(shutil.which(name) for name in BROWSERS)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(f"no Chromium: none of {', '.join(BROWSERS)} on PATH "
                "(Debian: apt-get install chromium)")


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


def _has_colour(pixels, hex_colour: str, tolerance: int = 3, count: int = 20) -> bool:
    """At least `count` pixels within `tolerance` of `hex_colour` on every channel."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=-1) <= tolerance).sum()) >= count


def test_several_model_report_renders_and_sorts_in_chromium(tmp_path):
    binary = chromium()
    photos = real_photos()
    technical = [6.2, 3.1, 8.4, 5.0, 7.7, 4.4]
    aesthetic = [4.1, 6.5, 5.2, 5.9, 3.3, 7.0]
    records = [{"image_id": p.stem, "path": str(p),
                "technical": {"mean_score_prediction": t, "std_score_prediction": 1.5},
                "aesthetic": {"mean_score_prediction": a, "std_score_prediction": 1.2}}
               for p, t, a in zip(photos, technical, aesthetic)]
    report = write_report(records, tmp_path / "report.html", title="Two models")

    dom = browser(binary, tmp_path, "--dump-dom", report.as_uri()).stdout
    firsts = [float(v.split()[0]) for v in re.findall(r'data-scores="([^"]+)"', dom)]
    assert firsts == sorted(technical, reverse=True)
    assert len(re.findall(r'<circle class="point', dom)) == len(photos)
    assert re.search(r'<div class="sorter">', dom)  # the script ran: the sort buttons are shown
    # #sort=aesthetic: the script re-orders the cards already on the page
    dom = browser(binary, tmp_path, "--dump-dom", report.as_uri() + "#sort=aesthetic").stdout
    seconds = [float(v.split()[1]) for v in re.findall(r'data-scores="([^"]+)"', dom)]
    assert seconds == sorted(aesthetic, reverse=True)
    assert len(re.findall(r"<img [^>]*>", dom)) == len(photos)

    shot = tmp_path / "shot.png"
    browser(binary, tmp_path, f"--screenshot={shot}", "--window-size=1280,2600", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2600, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000 and pixels.std() > 20
    badges = {score_colour(v) for v in technical + aesthetic}
    missing = [c for c in badges if not _has_colour(pixels, c)]
    assert not missing, f"badge colours not on screen: {missing}"
    assert not _has_colour(pixels, score_colour(1.0))  # the check can fail: no score of 1 here
