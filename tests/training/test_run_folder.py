"""Run folders: strict JSON, atomic files, and resume only with the same config."""

import json

import pytest

from aesthetics.config import load_config
from aesthetics.errors import RunFolderError
from aesthetics.training.run_folder import RunFolder, config_differences, json_safe, write_json


def test_json_never_contains_nan(tmp_path):
    import numpy as np

    value = {"srcc": float("nan"), "x": [1.0, float("inf"), np.float32(0.5)], "n": np.int64(3)}
    write_json(tmp_path / "m.json", value)
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"srcc": None, "x": [1.0, None, 0.5], "n": 3}
    assert json_safe(float("-inf")) is None
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left


def test_config_differences_name_dotted_keys():
    a = {"data": {"image_size": 224, "x": 1}, "train": {"lr": 1}}
    b = {"data": {"image_size": 192, "x": 1}, "train": {"lr": 1}}
    assert config_differences(a, b) == ["data.image_size: 224 -> 192"]


def _started_run(tmp_path, overrides=()):
    config = load_config(None, list(overrides))
    run = RunFolder(tmp_path / "run", sections=("data", "model", "train"), outputs=("model.keras",))
    assert run.prepare(config) == {}
    run.start(config)
    run.write_state({"epochs_done": 2, "phase": 1})
    run.last_checkpoint.parent.mkdir(parents=True, exist_ok=True)
    run.last_checkpoint.write_bytes(b"checkpoint")
    return run


def test_resume_with_the_same_config_continues(tmp_path):
    run = _started_run(tmp_path)
    assert run.prepare(load_config(None, []))["epochs_done"] == 2


def test_resume_with_a_changed_config_is_refused_and_touches_nothing(tmp_path):
    run = _started_run(tmp_path)
    before = {p.name: p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    with pytest.raises(RunFolderError) as e:
        run.prepare(load_config(None, ["data.image_size=192"]))
    assert "data.image_size: 224 -> 192" in str(e.value) and "--no-resume" in str(e.value)
    assert {p.name: p.read_bytes() for p in run.path.rglob("*") if p.is_file()} == before


def test_a_finished_run_with_another_config_is_refused(tmp_path):
    run = _started_run(tmp_path)
    run.update_state(finished=True)
    with pytest.raises(RunFolderError, match="finished with a different config"):
        run.prepare(load_config(None, ["train.epochs_full=3"]))


def test_sections_outside_the_run_kind_do_not_matter(tmp_path):
    run = _started_run(tmp_path)
    assert run.prepare(load_config(None, ["pretrain.epochs=3"]))["epochs_done"] == 2


def test_no_resume_starts_over(tmp_path):
    run = _started_run(tmp_path)
    (run.path / "history.csv").write_text("epoch,loss\n0,1\n")
    assert run.prepare(load_config(None, ["data.image_size=192"]), resume=False) == {}
    assert not run.last_checkpoint.exists() and not (run.path / "history.csv").exists()


def test_trim_history_drops_epochs_past_the_checkpoint(tmp_path):
    run = _started_run(tmp_path)
    (run.path / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n")
    run.trim_history(2)
    assert (run.path / "history.csv").read_text().splitlines() == ["epoch,loss", "0,1.0", "1,0.9"]


def test_a_finished_run_counts_as_finished_only_with_its_results(tmp_path):
    run = _started_run(tmp_path)
    run.update_state(finished=True)
    (run.path / "metrics.json").write_text('{"srcc": 0.5}')
    assert run.prepare(load_config(None, []))["finished"]
    assert run.finished_metrics() == {"srcc": 0.5}
    (run.path / "metrics.json").unlink()
    assert run.prepare(load_config(None, [])) == {}  # results gone: train again
    assert not run.last_checkpoint.exists() and not (run.path / "state.json").exists()
