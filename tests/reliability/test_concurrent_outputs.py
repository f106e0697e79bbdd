"""Round 2 of the hostile probe on outputs: two runs on one output file, an
output that cannot be replaced, copies into the scored folder."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aesthetics.sample_data import sample_images_dir

ROOT = Path(__file__).resolve().parents[2]


def start(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "aesthetics", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_run_on_the_same_output_is_refused_and_nothing_is_lost(tmp_path):
    from aesthetics.inference.outputs import read_records

    args = ["predict", str(sample_images_dir()), "--model", "technical", "--output", "s.jsonl", "-q",
            "--batch-size", "2", "--workers", "1"]
    first = start(args, tmp_path)
    lock = tmp_path / ".s.jsonl.lock"
    deadline = time.time() + 120
    while not (lock.exists() and lock.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)  # the first run holds the lock from its first write
    second = start(args + ["--overwrite"], tmp_path)
    _, err2 = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and "is being written by another run (pid" in err2
    assert str(first.pid) in err2
    records = read_records(tmp_path / "s.jsonl")
    assert len(records) == 44 and len({r["path"] for r in records}) == 44  # the first run's, whole


def test_the_lock_is_released_when_a_run_ends(tmp_path):
    from aesthetics.errors import OutputError
    from aesthetics.inference.outputs import OutputLock

    with OutputLock(tmp_path / "s.csv"):
        with pytest.raises(OutputError, match="another run"):
            with OutputLock(tmp_path / "s.csv"):
                pass
    with OutputLock(tmp_path / "s.csv"):  # free again
        pass


def test_a_failed_replace_keeps_the_records_in_the_temporary_file(tmp_path, monkeypatch):
    """`os.replace` refused (a read-only file entry, a Windows reader holding
    it): a one-line OutputError saying where the records are."""
    from aesthetics.errors import OutputError
    from aesthetics.inference import outputs

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outputs.os, "replace", refuse)
    keep = [{"image_id": "a", "path": "a.jpg", "mean_score_prediction": 5.0}]
    with pytest.raises(OutputError, match=r"cannot replace .*s\.jsonl \(Permission denied\); its 1 record\(s\) "
                                          r"are kept in .*\.s\.jsonl\.tmp"):
        outputs.RecordWriter(tmp_path / "s.jsonl", keep=keep)
    assert "a.jpg" in (tmp_path / ".s.jsonl.tmp").read_text()


@pytest.mark.parametrize("where, recursive", [("the", False), ("inside", True)])
def test_copies_into_the_scored_folder_are_refused(tmp_path, where, recursive):
    library = tmp_path / "lib"
    shutil.copytree(sample_images_dir(), library)
    target = library if where == "the" else library / "picks"
    args = ["predict", str(library), "--model", "technical", "--top-k", "2", "--copy-to", str(target), "-q"]
    p = start(args + (["--recursive"] if recursive else []), tmp_path)
    _, err = p.communicate(timeout=120)
    expected = "is the scored folder" if where == "the" else "is inside the scored folder"
    assert p.returncode == 2 and expected in err, err
    assert sorted(os.listdir(library)) == sorted(os.listdir(sample_images_dir()))  # nothing copied
