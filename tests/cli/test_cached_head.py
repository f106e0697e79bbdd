"""train.cache_features: the head trained on features computed once (LAION's way),
written into an ordinary scoring model; the model.options.head_hidden MLP."""

import json

import numpy as np
import pytest

from test_cli_e2e import run_cli

from aesthetics.sample_data import sample_images_dir

TINY = ["--set", "model.alpha=0.25", "--backbone-weights", "none", "--set", "data.image_size=64",
        "--set", "data.resize_to=72", "--set", "train.cache_features=true", "--set", "train.epochs_full=0",
        "--set", "train.epochs_head=6", "--set", "model.options={\"head_hidden\": [32, 16]}", "--verbose", "0"]


def _train(tmp_path, *extra):
    images = sample_images_dir()
    return run_cli("train", "--images", str(images), "--labels", str(images.parent / "labels.csv"),
                   "--score-range", "0", "100", "--output", "run", *TINY, *extra, cwd=tmp_path)


def test_cached_head_trains_the_scoring_model(tmp_path):
    p = _train(tmp_path)
    assert p.returncode == 0, p.stderr
    assert "computing the features of" in p.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 9 and len(list((tmp_path / "run").glob("features_*.npz"))) == 1

    # the saved model is the trained one: evaluating it on the run's validation photos from the
    # files gives the metrics computed on the cached features
    images = sample_images_dir()
    p = run_cli("evaluate", "--model", "run/model.keras", "--images", str(images), "--labels",
                str(images.parent / "labels.csv"), "--score-range", "0", "100", "--split-file", "run/split.json",
                "--output", "val.json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    val = json.loads((tmp_path / "val.json").read_text())
    assert val["n"] == 9 and val["emd"] == pytest.approx(metrics["emd"], abs=1e-4)

    from aesthetics.inference.loading import load_model

    model = load_model(tmp_path / "run" / "model.keras")
    assert [l.name for l in model.layers if l.name.startswith("head_mlp_")][:3] == \
        ["head_mlp_0", "head_mlp_dropout_0", "head_mlp_1"]
    assert not np.allclose(np.asarray(model.get_layer("scores").kernel), 0)

    # starting over with another head reuses the features (the backbone did not change)
    p = _train(tmp_path, "--set", "train.epochs_head=3", "--no-resume")
    assert p.returncode == 0, p.stderr
    assert "computing the features" not in p.stderr


def test_cache_features_needs_a_head_only_plan(tmp_path):
    p = _train(tmp_path, "--set", "train.epochs_full=2")
    assert p.returncode == 2 and "train.cache_features" in p.stderr
    p = _train(tmp_path, "--set", "model.options={\"head_hidden\": [0]}")
    assert p.returncode == 2 and "model.options.head_hidden[0]" in p.stderr


def test_a_search_over_cached_heads_computes_the_features_once(tmp_path):
    images = sample_images_dir()
    (tmp_path / "space.json").write_text(json.dumps({
        "train.lr_head": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
        "model.dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1}}))
    p = run_cli("tune", "--space", "space.json", "--algorithm", "random", "--max-trials", "3", "--images",
                str(images), "--labels", str(images.parent / "labels.csv"), "--score-range", "0", "100",
                "--output", "search", *TINY, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("computing the features of") == 2  # train and val photos, once for 3 trials
    assert len(list((tmp_path / "search" / "features").glob("features_*.npz"))) == 1
    rows = [json.loads(line) for line in (tmp_path / "search" / "trials.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["completed"] * 3
    assert json.loads((tmp_path / "search" / "best_config.json").read_text())["train"]["cache_features"] is True
