"""train -> evaluate -> predict through the real command line, on real photos."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "aesthetics", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    return proc


@pytest.fixture()
def clive_subset(shared_dir, tmp_path):
    """24 real CLIVE photos with their real MOS labels."""
    src = shared_dir / "data" / "clive"
    lines = (src / "labels.csv").read_text().splitlines()
    (tmp_path / "images").mkdir()
    keep = lines[1:25]
    for line in keep:
        name = line.split(",")[0]
        shutil.copy(src / "images" / name, tmp_path / "images" / name)
    (tmp_path / "labels.csv").write_text("\n".join([lines[0]] + keep) + "\n")
    return tmp_path


def test_train_evaluate_predict(clive_subset):
    d = clive_subset
    p = run_cli("train", "--images", "images", "--labels", "labels.csv", "--score-range", "0", "100",
                "--output", "run", "--backbone-weights", "none", "--epochs", "1", "--batch-size", "8",
                "--set", "model.alpha=0.25", "--set", "data.image_size=64", "--set", "data.resize_to=72",
                "--set", "train.epochs_head=1", "--verbose", "0", cwd=d)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["n"] == 5 and "srcc" in summary
    for name in ("model.keras", "metrics.json", "history.csv", "split.json"):
        assert (d / "run" / name).exists()

    p = run_cli("evaluate", "--model", "run/model.keras", "--images", "images", "--labels", "labels.csv",
                "--score-range", "0", "100", "--output", "eval/metrics.json", cwd=d)
    assert p.returncode == 0, p.stderr
    metrics = json.loads((d / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 24 and {"srcc", "plcc", "accuracy", "mse", "mae", "emd"} <= set(metrics)
    assert (d / "eval" / "metrics.png").stat().st_size > 1000

    # evaluate just the run's validation part
    p = run_cli("evaluate", "--model", "run/model.keras", "--images", "images", "--labels", "labels.csv",
                "--score-range", "0", "100", "--split-file", "run/split.json", "--output", "val.json", cwd=d)
    assert p.returncode == 0, p.stderr
    assert json.loads((d / "val.json").read_text())["n"] == 5

    (d / "images" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    p = run_cli("predict", "--model", "run/model.keras", "images", "--output", "preds.json", cwd=d)
    assert p.returncode == 0, p.stderr
    preds = json.loads((d / "preds.json").read_text())
    assert len(preds) == 25
    bad = [r for r in preds if "error" in r]
    assert [r["image_id"] for r in bad] == ["corrupt"] and "mean_score_prediction" not in bad[0]
    good = [r for r in preds if "error" not in r]
    assert all(1 <= r["mean_score_prediction"] <= 10 and len(r["distribution"]) == 10 for r in good)
    assert "corrupt.jpg" in p.stdout  # reported to the user, by path

    p = run_cli("predict", "--model", "run/model.keras", "images/*.png", "--output", "preds.csv", cwd=d)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(d / "preds.csv")))
    assert rows and {"image_id", "mean_score_prediction", "std_score_prediction", "p10"} <= set(rows[0])


def test_predict_exit_status_when_nothing_scored(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"junk")
    from aesthetics.config import ModelConfig
    from aesthetics.models import build_model

    build_model(ModelConfig(alpha=0.25, backbone_weights=None), image_size=32).save(tmp_path / "m.keras")
    p = run_cli("predict", "--model", "m.keras", "a.jpg", cwd=tmp_path)
    assert p.returncode == 1
    assert "a.jpg" in p.stdout


def test_bad_label_row_is_one_clear_line(tmp_path):
    (tmp_path / "labels.csv").write_text("image,mos\na.jpg,50\nb.jpg,oops\n")
    (tmp_path / "images").mkdir()
    p = run_cli("train", "--images", "images", "--labels", "labels.csv", "--score-range", "0", "100",
                "--output", "run", cwd=tmp_path)
    assert p.returncode == 2
    assert "labels.csv:3" in p.stderr and "Traceback" not in p.stderr
