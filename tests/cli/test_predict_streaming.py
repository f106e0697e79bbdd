"""`aesthetics predict` over a library, for real (the shipped ONNX model on
real photos, separate processes): kill -9 and Ctrl-C mid-run, then --resume;
ranking, copies and links."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("onnxruntime")


# Large enough that the run is still going when the stop arrives, even when this
# test process is starved of CPU for seconds.
FOLDERS = 30
FILES = 12 * FOLDERS


def _default_sigint():
    # a shell starts a background job (`pytest ... &`) with SIGINT ignored, and children inherit
    # that: the run would never see the Ctrl-C this test sends (it did: exit 0 instead of 130)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "aesthetics", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def run(args, cwd):
    p = start(args, cwd)
    out, err = p.communicate(timeout=600)
    return p.returncode, out, err


def lines(path):
    return path.read_text().count("\n") if path.exists() else 0


@pytest.fixture()
def library(shared_dir, tmp_path):
    """FILES files: hard links of 12 real CLIVE photos in FOLDERS folders (same
    names in every folder, as cameras name them)."""
    photos = sorted((shared_dir / "data" / "clive" / "images").glob("*.JPG"))[:12]
    for k in range(FOLDERS):
        folder = tmp_path / "library" / f"day{k}"
        folder.mkdir(parents=True)
        for photo in photos:
            os.link(photo, folder / photo.name)
    return tmp_path / "library"


def _wait_for(path, n, proc, timeout=300):
    t0 = time.time()
    while lines(path) < n:
        assert proc.poll() is None, "the run ended before it could be stopped"
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_a_stopped_run_resumes_with_every_file_once(library, tmp_path, how):
    out = tmp_path / ("scores.csv" if how == "kill -9" else "scores.json")
    args = ["predict", str(library), "--recursive", "--output", str(out), "--batch-size", "2",
            "--workers", "1"]
    proc = start(args, tmp_path)
    _wait_for(out, 12, proc)
    proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "ctrl-c":
        assert proc.returncode == 130 and "--resume" in err
        partial = json.loads(out.read_text())  # closed on Ctrl-C: valid JSON
        assert 6 <= len(partial) < FILES
    rc, _, err = run(args, tmp_path)
    assert rc == 2 and "--resume" in err and "--overwrite" in err  # nothing overwritten by accident
    rc, _, err = run(args + ["--resume"], tmp_path)
    assert rc == 0, err
    from aesthetics.inference.outputs import read_records

    records = read_records(out)
    paths = [r["path"] for r in records]
    assert len(paths) == FILES and len(set(paths)) == FILES
    assert len({r["image_id"] for r in records}) == FILES  # same stems, distinct ids
    assert {r["image_id"].split("/")[0] for r in records} == {f"day{k}" for k in range(FOLDERS)}
    # hard links of the same photo: the same score, whichever batch it was in
    by_name = {}
    for r in records:
        # the default run scores with both shipped models: a group of fields each
        scores = tuple(round(r[m]["mean_score_prediction"], 5) for m in ("technical", "aesthetic"))
        by_name.setdefault(Path(r["path"]).name, set()).add(scores)
    assert all(len(v) == 1 for v in by_name.values())
    assert "already in" in err


def test_ranking_copies_and_links(shared_dir, tmp_path):
    photos = sorted((shared_dir / "data" / "clive" / "images").glob("*.JPG"))[:8]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff")
    files = [str(p) for p in photos] + [str(broken)]
    out = tmp_path / "s.jsonl"
    rc, stdout, err = run(["predict", *files, "--model", "technical", "--output", str(out), "--sort", "--top-k", "3",
                           "--copy-to", str(tmp_path / "best"), "--report", "r/report.html"], tmp_path)
    assert rc == 0, err
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("data:image/jpeg;base64,") >= 8 and "broken.jpg" in page
    printed = [float(line.split()[0]) for line in stdout.splitlines()]
    assert len(printed) == 3 and printed == sorted(printed, reverse=True)
    from aesthetics.inference.outputs import read_records

    records = read_records(out)
    assert len(records) == 9  # the file keeps every photo, best first, the failure last
    means = [r["mean_score_prediction"] for r in records[:8]]
    assert means == sorted(means, reverse=True) and "error" in records[-1]
    copied = sorted(p.name for p in (tmp_path / "best").iterdir())
    assert copied == [f"{i:04d}_{Path(records[i - 1]['path']).name}" for i in (1, 2, 3)]
    cut = means[4]
    rc, stdout, err = run(["predict", *files, "--model", "technical", "--min-score", str(cut), "--link-to",
                           str(tmp_path / "good")], tmp_path)
    assert rc == 0, err
    links = sorted((tmp_path / "good").iterdir())
    assert len(links) == 5 and all(p.is_symlink() and p.resolve().is_file() for p in links)
    assert len(stdout.splitlines()) == 5


def test_unknown_output_format_and_resume_without_output_are_refused(tmp_path):
    from aesthetics.sample_data import sample_images_dir

    rc, _, err = run(["predict", str(sample_images_dir()), "--output", "s.xml"], tmp_path)
    assert rc == 2 and "unknown format '.xml'" in err
    rc, _, err = run(["predict", str(sample_images_dir()), "--resume"], tmp_path)
    assert rc == 2 and "--resume needs --output" in err
