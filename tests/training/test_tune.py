"""`aesthetics tune`: the search space's checks, a tiny search, resume, failed trials, hyperband epochs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aesthetics.cli import main
from aesthetics.config import load_config
from aesthetics.sample_data import sample_images_dir, sample_labels_path
from aesthetics.training.tune import trial_overrides

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    f"data.images={json.dumps(str(sample_images_dir()))}",
    f"data.labels={json.dumps(str(sample_labels_path()))}",
    "data.score_range=[0, 100]",
    'data.group_pattern="^(.*)_q\\\\d"',
    "data.image_size=48", "data.resize_to=56", "data.batch_size=8",
    "model.alpha=0.25", "model.backbone_weights=null",
    "train.epochs_head=1", "train.epochs_full=1", "train.lr_head=0.01", "train.lr_full=0.001",
]
SETS = [a for o in TINY for a in ("--set", o)]


def write_space(tmp_path, space, name="space.json"):
    path = tmp_path / name
    path.write_text(json.dumps(space))
    return str(path)


def tune(tmp_path, space, *extra):
    return main(["tune", "--space", write_space(tmp_path, space), "--output", str(tmp_path / "run"),
                 "--verbose", "0", *SETS, *extra])


def rows(tmp_path):
    return [json.loads(line) for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]


def check_best_config(tmp_path, log):
    best = max((r for r in log if r["status"] == "completed"), key=lambda r: r["srcc"])
    config = load_config(tmp_path / "run" / "best_config.json")  # a file `aesthetics train --config` takes
    for key, value in best["values"].items():
        if key == "tuner/epochs":
            key = "train.epochs_full"
        elif key.startswith("tuner/"):
            continue
        target = config
        for part in key.split("."):
            target = target[part] if isinstance(target, dict) else getattr(target, part)
        assert target == pytest.approx(value), key
    return best


# SRCC needs predictions that differ between photos: a random backbone's
# features do not depend on the photo (constant scores, SRCC NaN), the
# shipped model's backbone (offline, alpha 1.0) does.
REAL = ["--set", "model.backbone_weights=bundled", "--set", "model.alpha=1.0", "--algorithm", "random", "--max-trials", "2"]


def test_tiny_search_writes_log_and_best_config_then_resumes(tmp_path, capsys, monkeypatch):
    space = {"train.lr_full": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
             "model.dropout": {"type": "choice", "values": [0.2, 0.5]}}
    assert tune(tmp_path, space, *REAL) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout is the summary alone
    log = rows(tmp_path)
    assert [r["trial_id"] for r in log] == ["0", "1"] and {r["status"] for r in log} == {"completed"}
    assert all(isinstance(r["seconds"], float) and -1 <= r["srcc"] <= 1 for r in log)
    for r in log:
        assert (tmp_path / "run" / "trials" / r["trial_id"] / "model.keras").exists()
    best = check_best_config(tmp_path, log)
    assert summary["best_trial"] == best["trial_id"] and summary["completed"] == 2
    assert summary["best_values"] == best["values"]

    # the same command again: nothing is trained, the log is unchanged
    import aesthetics.training.supervised as supervised

    def no_training(*a, **k):
        raise AssertionError("a finished trial was trained again")

    monkeypatch.setattr(supervised, "train", no_training)
    assert tune(tmp_path, space, *REAL) == 0
    assert json.loads(capsys.readouterr().out)["best_trial"] == best["trial_id"]
    assert rows(tmp_path) == log

    # another space in the same folder is refused (a resume would mix them)
    space["model.dropout"]["values"] = [0.3, 0.6]
    assert tune(tmp_path, space, *REAL) == 2
    assert "different space" in capsys.readouterr().err


def fake_train(calls, fail_first=True):
    """Stands in for supervised.train: the first call fails, the others
    return an SRCC that grows with train.lr_full."""

    def train(config, run_dir, **kwargs):
        calls.append(config)
        if fail_first and len(calls) == 1:
            raise FloatingPointError("loss is NaN")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return {"srcc": float(config.train.lr_full) * 10 + 0.01 * config.train.epochs_full, "n": 8}

    return train


def test_a_failed_trial_is_logged_and_the_search_goes_on(tmp_path, capsys, monkeypatch):
    import aesthetics.training.supervised as supervised

    calls = []
    monkeypatch.setattr(supervised, "train", fake_train(calls))
    space = {"train.lr_full": {"type": "float", "min": 1e-4, "max": 1e-2},
             "train.loss": {"type": "choice", "values": ["emd", "mse"]}}
    assert tune(tmp_path, space, "--algorithm", "random", "--max-trials", "3") == 0
    summary = json.loads(capsys.readouterr().out)
    log = rows(tmp_path)
    assert len(calls) == 3 and [r["status"] for r in log] == ["failed", "completed", "completed"]
    assert "NaN" in log[0]["error"] and log[0]["srcc"] is None
    assert summary["failed"] == 1 and summary["completed"] == 2
    best = check_best_config(tmp_path, log)
    assert summary["best_trial"] == best["trial_id"] != "0"


def test_bayesian_search(tmp_path, capsys, monkeypatch):
    import importlib.util

    import aesthetics.training.supervised as supervised

    space = {"train.lr_full": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
             "model.alpha": {"type": "choice", "values": [0.25, 0.5]}}
    if not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("scipy")):
        assert tune(tmp_path, space, "--algorithm", "bayesian") == 2  # refused, with the fix
        assert "pip install 'keras-tuner[bayesian]'" in capsys.readouterr().err
        pytest.skip("scikit-learn / scipy not installed: the Bayesian oracle cannot run")
    calls = []
    monkeypatch.setattr(supervised, "train", fake_train(calls, fail_first=False))
    assert tune(tmp_path, space, "--algorithm", "bayesian", "--max-trials", "3") == 0
    assert json.loads(capsys.readouterr().out)["completed"] == 3 == len(calls)
    check_best_config(tmp_path, rows(tmp_path))


def test_hyperband_sets_train_epochs_full(tmp_path, capsys, monkeypatch):
    import aesthetics.training.supervised as supervised

    calls = []
    monkeypatch.setattr(supervised, "train", fake_train(calls, fail_first=False))
    space = {"model.dropout": {"type": "float", "min": 0.2, "max": 0.8}}
    assert tune(tmp_path, space, "--algorithm", "hyperband", "--set", "train.epochs_full=3") == 0
    json.loads(capsys.readouterr().out)
    epochs = [c.train.epochs_full for c in calls]
    assert set(epochs) == {1, 3} and len(calls) == len(rows(tmp_path))
    check_best_config(tmp_path, rows(tmp_path))
    assert trial_overrides({"tuner/epochs": 2, "tuner/initial_epoch": 0, "tuner/trial_id": "1",
                            "train.loss": "emd"}) == ["train.epochs_full=2", 'train.loss="emd"']


@pytest.mark.parametrize("space, key, words", [
    ({"train.lr_full": {"type": "uniform", "min": 0, "max": 1}}, "train.lr_full", "unknown type"),
    ({"model.dropout": {"type": "float", "min": 0.8, "max": 0.2}}, "model.dropout", "min (0.8) > max (0.2)"),
    ({"model.dropuot": {"type": "float", "min": 0.2, "max": 0.8}}, "model.dropuot", "unknown key"),
    ({"model.options.use_adain": {"type": "boolean"}}, "model.options.use_adain", ""),  # not a nima option
    ({"data.image_size": {"type": "choice", "values": [48, "big"]}}, "data.image_size", "all strings or all numbers"),
    ({"train.lr_full": {"type": "float", "min": 0, "max": 1, "sampling": "log"}}, "train.lr_full", "min > 0"),
    ({"data.image_size": {"type": "choice", "values": [48, 64]}}, "data.image_size", "value 64"),  # > resize_to
    ({"train.loss": {"type": "choice", "values": ["emd", "hinge2"]}}, "train.loss", ""),
    ([1, 2], "space.json", "non-empty JSON object"),
])
def test_bad_space_is_refused_naming_the_key(tmp_path, capsys, space, key, words):
    assert tune(tmp_path, space) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and words in err[0], err
    assert not (tmp_path / "run" / "trials.jsonl").exists()


def test_bad_space_fails_before_tensorflow(tmp_path):
    space = write_space(tmp_path, {"model.dropuot": {"type": "float", "min": 0.2, "max": 0.8}})
    probe = ("import json, sys\nfrom aesthetics.cli import main\nrc = main(sys.argv[1:])\n"
             "print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules,"
             " 'kt': 'keras_tuner' in sys.modules}))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", probe, "tune", "--space", space, "--output", str(tmp_path / "run"),
                        *SETS], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"rc": 2, "tf": False, "keras": False, "kt": False}
    assert "model.dropuot" in p.stderr


def test_the_example_search_space_is_valid():
    from aesthetics.training.tune import load_space

    root = Path(__file__).resolve().parents[2]
    _, params = load_space(root / "configs" / "search_spaces" / "clive.json", root / "configs" / "clive_dual_path.json")
    assert len(params) >= 5
