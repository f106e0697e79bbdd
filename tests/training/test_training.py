"""Training, resume and the split logic on the bundled sample (tiny model)."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from harness import StopAfterEpochs

from aesthetics.config import load_config
from aesthetics.data.labels import read_labels
from aesthetics.data.splits import split_table
from aesthetics.sample_data import sample_images_dir, sample_labels_path
from aesthetics.training.supervised import train

TINY = [
    f"data.images={json.dumps(str(sample_images_dir()))}",
    f"data.labels={json.dumps(str(sample_labels_path()))}",
    "data.score_range=[0, 100]",
    'data.group_pattern="^(.*)_q\\\\d"',
    "data.image_size=48", "data.resize_to=56", "data.batch_size=8",
    "model.alpha=0.25", "model.backbone_weights=null",
    "train.epochs_head=1", "train.epochs_full=2", "train.lr_head=0.01", "train.lr_full=0.001",
]


def test_group_split_keeps_photos_together():
    table = read_labels(sample_labels_path(), score_range=(0, 100))
    train_t, val_t = split_table(table, 0.25, seed=1, group_pattern=r"^(.*)_q\d")
    photo = lambda t: set(t["image_id"].str.replace(r"_q\d.*", "", regex=True))  # noqa: E731
    assert photo(train_t).isdisjoint(photo(val_t))
    assert len(val_t) % 4 == 0 and len(train_t) + len(val_t) == len(table)


def test_train_interrupt_and_resume(tmp_path):
    config = load_config(None, TINY)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, run, verbose=0, callbacks=[StopAfterEpochs(2)])  # dies in phase 2
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == 2 and not state.get("finished")
    assert state["stage"] == 1 and state["stage_epochs_done"] == 1  # one epoch into phase 2
    assert (run / "checkpoints" / "last.keras").exists()

    metrics = train(load_config(None, TINY), run, verbose=0)
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]  # every epoch once, none redone
    assert json.loads((run / "state.json").read_text())["finished"]
    for name in ("model.keras", "metrics.json", "split.json", "config.json"):
        assert (run / name).exists(), name
    assert metrics["n"] == len(json.loads((run / "split.json").read_text())["val"])
    assert {"srcc", "plcc", "accuracy", "mse", "mae", "emd"} <= set(metrics)
    assert np.isfinite(history["val_loss"]).all()
    assert (history["epoch_seconds"] > 0).all()  # wall time per epoch, resumed ones included


def test_init_from_copies_backbone(tmp_path):
    from aesthetics.models import build_model

    config = load_config(None, TINY + ["train.epochs_head=1", "train.epochs_full=0"])
    source = build_model(config.model, image_size=48)
    source.save(tmp_path / "source.keras")
    train(config, tmp_path / "run", init_from=str(tmp_path / "source.keras"), verbose=0)
    # phase 1 freezes the backbone, so it must still equal the source's
    trained = keras.saving.load_model(tmp_path / "run" / "model.keras")
    for a, b in zip(source.get_layer("backbone").get_weights(), trained.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_corrupt_and_missing_images_do_not_stop_training(tmp_path, caplog):
    import shutil

    images = tmp_path / "images"
    shutil.copytree(sample_images_dir(), images)
    (images / "kite_q1.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # corrupt
    (images / "rocket_q2.jpg").unlink()  # missing
    overrides = [o for o in TINY if not o.startswith("data.images")]
    config = load_config(None, overrides + [f"data.images={json.dumps(str(images))}",
                                            "train.epochs_full=0", "data.val_fraction=0.5"])
    with caplog.at_level("WARNING", logger="aesthetics"):
        metrics = train(config, tmp_path / "run", verbose=0)
    assert metrics["n_missing"] == 1
    assert list(metrics["skipped"]) == [str(images / "kite_q1.jpg")]
    assert "rocket_q2.jpg" in caplog.text  # missing: reported before training
    assert "kite_q1.jpg" in caplog.text  # unreadable: reported by path and reason
