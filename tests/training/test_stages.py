"""Staged schedules with loss switching, progressive resizing and partial
backbone unfreezing: the plan, its validation, and real tiny runs on the
bundled sample (resumed in the middle of a stage)."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from harness import StopAfterEpochs

from aesthetics.config import ModelConfig, load_config
from aesthetics.errors import ConfigError
from aesthetics.sample_data import sample_images_dir, sample_labels_path
from aesthetics.training.stages import StageProgress, plan_stages, resize_for, segments, size_at
from aesthetics.training.supervised import train

BASE = [
    f"data.images={json.dumps(str(sample_images_dir()))}",
    f"data.labels={json.dumps(str(sample_labels_path()))}",
    "data.score_range=[0, 100]",
    'data.group_pattern="^(.*)_q\\\\d"',
    "data.image_size=64", "data.resize_to=72", "data.batch_size=8",
    "model.alpha=0.25", "model.backbone_weights=null",
]
STAGES = [
    {"name": "warm", "optimizer": "adamw", "lr": 1e-3, "epochs": 3, "loss_cycle": ["mse", "l1"],
     "switch_every": 1, "train": "head"},
    {"name": "tune", "optimizer": "sgd", "lr": 1e-3, "epochs": 2, "loss": "emd", "lr_schedule": "cosine"},
]


def _config(*more, stages=STAGES):
    return load_config(None, BASE + [f"train.stages={json.dumps(stages)}", *more])


def test_the_two_nima_phases_are_the_default_plan():
    config = load_config(None, BASE + ["train.epochs_head=2", "train.epochs_full=3", "train.lr_head=0.01",
                                       "train.lr_full=0.001", "train.early_stopping_patience=4"])
    head, full = plan_stages(config.train)
    assert (head.name, head.epochs, head.lr, head.train, head.losses) == ("head", 2, 0.01, "head", ("emd",))
    assert (full.name, full.epochs, full.lr, full.train, full.early_stopping_patience) == ("full", 3, 0.001, "all", 4)
    assert head.early_stopping_patience == 0
    only_full = plan_stages(load_config(None, BASE + ["train.epochs_head=0"]).train)
    assert [s.name for s in only_full] == ["full"]


def test_segments_follow_the_loss_cycle_and_the_sizes():
    config = _config("train.progressive_sizes=[32, 48, 64]", "train.progressive_epochs=[0, 2, 4]",
                     stages=[{"lr": 1e-3, "epochs": 6, "loss_cycle": ["mse", "l1", "emd"], "switch_every": 2}])
    (stage,) = plan_stages(config.train)
    assert [stage.loss_at(j) for j in range(7)] == ["mse", "mse", "l1", "l1", "emd", "emd", "mse"]
    got = [(s.start, s.stop, s.loss, s.image_size) for s in segments(0, stage, 0, 0, config.train, 64)]
    assert got == [(0, 2, "mse", 32), (2, 4, "l1", 48), (4, 6, "emd", 64)]
    # from the middle of the stage (a resume): run epoch 5 is stage epoch 3
    got = [(s.start, s.stop, s.stage_start, s.loss) for s in segments(0, stage, 3, 5, config.train, 64)]
    assert got == [(5, 6, 3, "l1"), (6, 8, 4, "emd")]
    assert [size_at(config.train, 64, e) for e in (0, 1, 2, 3, 4, 99)] == [32, 32, 48, 48, 64, 64]
    assert resize_for(32, 64, 72) == 36 and resize_for(64, 64, 64) == 64


BAD = {
    "train.stages[1].lr": [{"lr": 1e-3, "epochs": 1}, {"lr": 0, "epochs": 1}],
    "train.stages[0].epochs": [{"lr": 1e-3}],
    "train.stages[0].optimizer": [{"lr": 1e-3, "epochs": 1, "optimizer": "lamb"}],
    "train.stages[0].loss_cycle": [{"lr": 1e-3, "epochs": 1, "loss": "emd", "loss_cycle": ["l1"]}],
    "train.stages[0].loss_cycle[1]": [{"lr": 1e-3, "epochs": 1, "loss_cycle": ["l1", "huber"]}],
    "train.stages[0].switch_every": [{"lr": 1e-3, "epochs": 1, "loss": "emd", "switch_every": 2}],
    "train.stages[0].train": [{"lr": 1e-3, "epochs": 1, "train": "backbone"}],
    "train.stages[0].epoch": [{"lr": 1e-3, "epochs": 1, "epoch": 3}],
    "train.stages": [],
}


@pytest.mark.parametrize("key", sorted(BAD))
def test_a_bad_stage_names_its_key(key):
    with pytest.raises(ConfigError) as e:
        _config(stages=BAD[key])
    assert str(e.value).startswith(key + ":"), str(e.value)


@pytest.mark.parametrize("sets, key", [
    (["train.progressive_sizes=[32, 64]"], "train.progressive_epochs"),
    (["train.progressive_sizes=[32, 48]", "train.progressive_epochs=[0, 2]"], "train.progressive_sizes"),
    (["train.progressive_sizes=[32, 64]", "train.progressive_epochs=[1, 2]"], "train.progressive_epochs[0]"),
    (["train.progressive_sizes=[32, 48, 64]", "train.progressive_epochs=[0, 2, 2]"], "train.progressive_epochs[2]"),
    (["train.progressive_sizes=[16, 64]", "train.progressive_epochs=[0, 2]"], "train.progressive_sizes[0]"),
    (["train.progressive_sizes=[32, 64]", "train.progressive_epochs=[0]"], "train.progressive_epochs"),
    (["train.trainable_backbone_layers=-1"], "train.trainable_backbone_layers"),
])
def test_bad_progressive_settings_name_their_key(sets, key):
    with pytest.raises(ConfigError) as e:
        load_config(None, BASE + sets)
    assert str(e.value).startswith(key + ":"), str(e.value)


def test_stage_tracker_stops_a_stage_after_its_patience():
    from aesthetics.training.callbacks import StageTracker

    progress = StageProgress(stage=1)
    tracker = StageTracker(progress, patience=2)
    tracker.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    for loss in (1.0, 0.8, 0.9, 0.85):
        tracker.on_epoch_end(0, {"val_loss": loss})
    assert progress.stage_epochs_done == 4 and progress.stage_best == 0.8
    assert progress.stage_stopped and tracker.model.stop_training
    again = StageProgress.from_state(progress.to_state(), [])
    assert again == progress  # what state.json keeps is enough to resume the count


def test_trainable_backbone_layers_unfreezes_only_the_last_ones():
    from aesthetics.models import build_model
    from aesthetics.training.weights import unfreeze_backbone

    backbone = build_model(ModelConfig(alpha=0.25, backbone_weights=None), image_size=64).get_layer("backbone")
    total = unfreeze_backbone(backbone, keep_batchnorm_frozen=False)
    assert unfreeze_backbone(backbone, keep_batchnorm_frozen=False, last_layers=5) == 5 < total
    leaves = [layer for layer in backbone._flatten_layers(include_self=False) if layer.weights]
    assert [layer.trainable for layer in leaves[-5:]] == [True] * 5 and not leaves[-6].trainable
    assert unfreeze_backbone(backbone, keep_batchnorm_frozen=False, last_layers=0) == 0


def _history(run):
    return pd.read_csv(run / "history.csv")


def test_staged_progressive_run_trains_its_plan_and_resumes_mid_stage(tmp_path):
    run = tmp_path / "run"
    sizes = ["train.progressive_sizes=[32, 64]", "train.progressive_epochs=[0, 2]"]
    with pytest.raises(KeyboardInterrupt):
        train(_config(*sizes), run, verbose=0, callbacks=[StopAfterEpochs(2)])  # inside stage "warm"
    state = json.loads((run / "state.json").read_text())
    assert (state["epochs_done"], state["stage"], state["stage_epochs_done"]) == (2, 0, 2)

    seen = {}

    class Iterations(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.setdefault("iterations", int(self.model.optimizer.iterations.numpy()))

    metrics = train(_config(*sizes), run, verbose=0, callbacks=[Iterations()])
    assert seen["iterations"] > 0  # the stage's optimizer came back from the checkpoint
    h = _history(run)
    assert list(h["epoch"]) == [0, 1, 2, 3, 4]  # every epoch once
    assert list(h["stage"]) == ["warm"] * 3 + ["tune"] * 2
    assert list(h["loss_name"]) == ["mse", "l1", "mse", "emd", "emd"]
    assert list(h["optimizer"]) == ["adamw"] * 3 + ["sgd"] * 2
    assert list(h["image_size"]) == [32, 32, 64, 64, 64]
    assert h["lr"][0] == pytest.approx(1e-3) and h["lr"][4] < h["lr"][3] <= 1e-3  # cosine in "tune"
    assert np.isfinite(h["val_loss"]).all() and np.isfinite(h["loss"]).all()
    assert json.loads((run / "state.json").read_text())["finished"]
    model = keras.saving.load_model(run / "model.keras", compile=False)
    assert model.recipe.image_size == 64 and model.input_shape[1:3] == (64, 64)
    # the fixed-size model.keras carries best.keras's weights (a random-init
    # alpha=0.25 backbone predicts nearly constant scores, so SRCC itself can be NaN)
    best = keras.saving.load_model(run / "best.keras", compile=False)
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), best.predict(x, verbose=0), atol=1e-6)
    assert metrics["n"] == 8 and np.isfinite(metrics["mse"]) and metrics["best_epoch"] in range(1, 6)  # 1-based


def test_a_run_of_the_old_two_phase_state_resumes(tmp_path):
    """A state.json with "phase" (written before stages existed) resumes in
    the stage that phase became."""
    sets = ["train.epochs_head=1", "train.epochs_full=2", "train.lr_head=0.01", "train.lr_full=0.001"]
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(load_config(None, BASE + sets), run, verbose=0, callbacks=[StopAfterEpochs(2)])
    state = json.loads((run / "state.json").read_text())
    legacy = {k: v for k, v in state.items() if not k.startswith("stage")}
    (run / "state.json").write_text(json.dumps({**legacy, "phase": 2}))
    train(load_config(None, BASE + sets), run, verbose=0)
    h = _history(run)
    assert list(h["epoch"]) == [0, 1, 2] and list(h["stage"]) == ["head", "full", "full"]


def test_train_cli_refuses_epochs_with_stages(tmp_path, capsys):
    from aesthetics.cli import main

    stages = json.dumps([{"lr": 1e-3, "epochs": 1}])
    rc = main(["train", "--images", str(sample_images_dir()), "--labels", str(sample_labels_path()),
               "--score-range", "0", "100", "--output", str(tmp_path / "run"), "--epochs", "3",
               "--set", f"train.stages={stages}"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "error: train.stages:" in err and "--epochs" in err, err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_stage_tracker_and_best_model_follow_a_higher_is_better_monitor(tmp_path):
    from aesthetics.training.callbacks import BestModel, StageTracker, improves

    assert improves(0.5, 0.4, "val_srcc") and not improves(0.5, 0.4, "val_loss")
    assert improves(0.1, None, "val_plcc") and not improves(float("nan"), None, "val_srcc")
    progress = StageProgress(stage=0)
    tracker = StageTracker(progress, patience=2, monitor="val_srcc")
    best = BestModel(tmp_path / "best.keras", monitor="val_srcc")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    for callback in (tracker, best):
        callback.set_model(model)
    for srcc in (0.2, 0.5, 0.4, 0.45):
        tracker.on_epoch_end(0, {"val_srcc": srcc, "val_loss": 0.1})
        best.on_epoch_end(0, {"val_srcc": srcc, "val_loss": 0.1})
    assert progress.stage_best == 0.5 == best.best and progress.stage_stopped


def test_a_run_keeps_the_epoch_its_monitor_picks(tmp_path):
    """train.monitor=val_srcc: best.keras / model.keras and state.json's best
    epoch are the epoch of the highest validation SRCC, not of the lowest loss."""
    run = tmp_path / "run"
    stages = [{"name": "fit", "optimizer": "adam", "lr": 3e-3, "epochs": 4, "loss_cycle": ["mse", "emd"],
               "switch_every": 1, "train": "all"}]
    metrics = train(_config("train.monitor=\"val_srcc\"", "train.freeze_batchnorm=false", stages=stages), run, verbose=0)
    h = _history(run)
    state = json.loads((run / "state.json").read_text())
    srcc = h["val_srcc"].to_numpy(float)
    assert np.isfinite(srcc).any(), "no epoch had a finite SRCC: nothing was selected"
    assert state["best_epoch"] == int(np.nanargmax(srcc)) + 1 == metrics["best_epoch"]
    assert state["best_val_srcc"] == pytest.approx(np.nanmax(srcc))
    assert metrics["srcc"] == pytest.approx(np.nanmax(srcc), abs=1e-6)  # model.keras is that epoch


def test_a_bad_monitor_names_its_key():
    with pytest.raises(ConfigError, match="^train.monitor:"):
        _config('train.monitor="srcc"')
    with pytest.raises(ConfigError, match="^train.monitor:"):
        load_config(None, BASE + ["train.epochs_full=0", "train.cache_features=true", 'train.monitor="val_srcc"'])
