"""A model copied out of its run folder reproduces the run's numbers, on every
command and backend: the `.keras` file alone carries the recipe."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_e2e import run_cli

from aesthetics.sample_data import sample_images_dir, sample_labels_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def center_crop_run(tmp_path_factory):
    """The bundled sample (real photos, 4 graded degradations each), trained
    with centre-crop validation at 64 px."""
    d = tmp_path_factory.mktemp("recipe")
    weights = ROOT.parent / "shared" / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
    # ImageNet features make predictions differ between photos (a random
    # backbone's are near constant, and their SRCC is noise)
    backbone = ["--backbone-weights", str(weights)] if weights.is_file() else \
        ["--backbone-weights", "none", "--set", "model.alpha=0.25"]
    p = run_cli(
        "train", "--config", "configs/sample.json", "--images", str(sample_images_dir()),
        "--labels", str(sample_labels_path()), "--output", str(d / "run"), *backbone,
        "--set", "data.image_size=64", "--set", "data.resize_to=80",
        "--set", "data.eval_resize=center_crop", "--set", "train.epochs_head=3",
        "--verbose", "0", cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    (d / "copy").mkdir()
    shutil.copy(d / "run" / "model.keras", d / "copy" / "model.keras")
    return d


def test_evaluate_on_a_copied_model_reproduces_the_run(center_crop_run):
    d = center_crop_run
    run_metrics = json.loads((d / "run" / "metrics.json").read_text())
    # no --score-range: the model knows it was trained on 0..100 labels
    p = run_cli("evaluate", "--model", "copy/model.keras", "--images", str(sample_images_dir()),
                "--labels", str(sample_labels_path()), "--split-file", "run/split.json",
                "--output", "copy/eval.json", cwd=d)
    assert p.returncode == 0, p.stderr
    got = json.loads((d / "copy" / "eval.json").read_text())
    assert got["n"] == run_metrics["n"] == 12
    for key in ("srcc", "plcc", "mae", "emd"):
        if run_metrics[key] is None:  # constant predictions (random backbone)
            assert got[key] is None
        else:
            assert abs(got[key] - run_metrics[key]) < 0.005, key


def test_onnx_export_of_the_copy_scores_like_the_keras_copy(center_crop_run):
    d = center_crop_run
    p = run_cli("export", "--model", "copy/model.keras", "--format", "onnx", "--output", "copy/m.onnx", cwd=d)
    assert p.returncode == 0, p.stderr
    meta = json.loads((d / "copy" / "m.onnx.json").read_text())
    assert meta["recipe"]["resize"] == "center_crop" and meta["recipe"]["resize_to"] == 80
    outputs = {}
    for backend, model in (("keras", "copy/model.keras"), ("onnx", "copy/m.onnx")):
        out = d / f"{backend}.json"
        p = run_cli("predict", "--model", model, "--backend", backend, str(sample_images_dir()),
                    "--output", str(out), cwd=d)
        assert p.returncode == 0, p.stderr
        outputs[backend] = {r["path"]: r["mean_score_prediction"] for r in json.loads(out.read_text())}
    assert len(outputs["keras"]) == 44 and outputs["keras"].keys() == outputs["onnx"].keys()
    worst = max(abs(outputs["keras"][k] - outputs["onnx"][k]) for k in outputs["keras"])
    assert worst < 1e-4, worst


def test_tensorflow_start_up_lines_are_hidden(center_crop_run):
    d = center_crop_run
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "aesthetics", "predict", "--model", "copy/model.keras",
                        str(sample_images_dir() / "camera_q0.jpg")], cwd=d, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    noise = [line for line in p.stderr.splitlines() if not line.startswith("aesthetics: ")]
    assert noise == [], noise
