"""Training at native resolution: crops of the unresized photo, validation on
the whole photo (the recipe the shipped model scores with), started from a
model's backbone and head (`--init-from M --init-head`)."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from test_cli_e2e import run_cli

from aesthetics.config import ModelConfig, load_config
from aesthetics.data.images import load_image
from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset, make_training_dataset
from aesthetics.data.resize import fit_photo
from aesthetics.errors import ConfigError, ModelFileError
from aesthetics.models import Recipe, build_model
from aesthetics.sample_data import sample_images_dir, sample_labels_path
from aesthetics.training.weights import transfer_head_weights

ROOT = Path(__file__).resolve().parents[2]
POOL = {"pooling": "mean_std", "pool_layers": ["conv_pw_11_relu"]}


def _paths(n=5):
    return sorted(str(p) for p in sample_images_dir().iterdir() if p.suffix.lower() in (".jpg", ".png"))[:n]


def _native_model(seed=0, options=POOL):
    keras.utils.set_random_seed(seed)
    config = ModelConfig(model="nima", backbone="mobilenet", alpha=0.25, backbone_weights=None,
                         dropout=0.0, options=options)
    return build_model(config, recipe=Recipe(resize="native", max_side=192, image_size=96, score_range=(0, 100)))


def test_training_crops_come_from_the_unresized_photo_and_validation_sees_it_whole():
    options = PipelineOptions(image_size=96, eval_resize="native", max_side=192, hflip=False)
    paths = _paths()
    targets = np.full((len(paths), 10), 0.1, np.float32)
    (images, _), = make_training_dataset(paths, targets, options, batch_size=len(paths), seed=0).take(1)
    assert images.shape == (len(paths), 96, 96, 3)
    whole = {i: fit_photo(load_image(p), 192) for i, p in enumerate(paths)}
    # a crop is a window of the photo at its own scale: found in it pixel for pixel
    crop = np.asarray(images[0]).astype(np.uint8)
    found = any(
        np.array_equal(whole[i][y:y + 96, x:x + 96], crop)
        for i in whole for y in range(whole[i].shape[0] - 95) for x in range(whole[i].shape[1] - 95)
    )
    assert found
    seen = {}
    for batch, index in make_eval_dataset(paths, None, options, batch_size=4, with_index=True):
        assert len({tuple(b.shape) for b in batch}) == 1
        for image, i in zip(np.asarray(batch), np.asarray(index)):
            seen[int(i)] = image
    assert sorted(seen) == list(range(len(paths)))
    for i, image in seen.items():
        np.testing.assert_array_equal(image, whole[i])


def test_native_config_values_are_checked():
    config = load_config(None, ['data.eval_resize="native"', "data.image_size=96", "data.max_side=192"])
    assert Recipe.from_data_config(config.data).native and Recipe.from_data_config(config.data).max_side == 192
    with pytest.raises(ConfigError, match="data.image_size"):
        load_config(None, ['data.eval_resize="native"', "data.image_size=256", "data.max_side=192"])
    with pytest.raises(ConfigError, match="data.max_side"):
        load_config(None, ["data.max_side=8"])


def test_the_head_moves_with_the_backbone_and_mismatches_are_refused():
    source, target = _native_model(seed=1), _native_model(seed=2)
    x = np.random.default_rng(0).uniform(0, 255, (1, 96, 96, 3)).astype(np.float32)
    target.get_layer("backbone").set_weights(source.get_layer("backbone").get_weights())
    assert not np.allclose(source(x), target(x))
    assert transfer_head_weights(source, target) == 2
    np.testing.assert_allclose(np.asarray(source(x)), np.asarray(target(x)), atol=1e-6)
    with pytest.raises(ModelFileError, match="scores"):
        transfer_head_weights(_native_model(options={"pooling": "avg"}), target)


def test_native_fine_tuning_from_a_model_runs_end_to_end(tmp_path):
    init = tmp_path / "init.keras"
    _native_model().save(init)
    p = run_cli(
        "train", "--config", "configs/sample.json", "--images", str(sample_images_dir()),
        "--labels", str(sample_labels_path()), "--output", str(tmp_path / "run"),
        "--init-from", str(init), "--init-head", "--backbone-weights", "none",
        "--set", "model.alpha=0.25", "--set", "model.dropout=0.0", "--set", f"model.options={json.dumps(POOL)}",
        "--set", 'data.eval_resize="native"', "--set", "data.image_size=96", "--set", "data.max_side=192",
        "--set", "data.random_crop=true", "--set", "train.epochs_head=0", "--set", "train.epochs_full=1",
        "--set", 'train.loss="emd_plcc"', "--verbose", "0", cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    model_path = tmp_path / "run" / "model.keras"
    p = run_cli("predict", "--model", str(model_path), "--backend", "keras", str(sample_images_dir()),
                "--output", str(tmp_path / "scores.json"), cwd=ROOT)
    assert p.returncode == 0, p.stderr
    records = json.loads((tmp_path / "scores.json").read_text())
    assert len(records) == 44 and all(r.get("error") is None for r in records)
    from aesthetics.inference.loading import load_model

    model = load_model(model_path)
    assert model.recipe.native and model.recipe.max_side == 192
    assert model.info.get("init_head") is True


def test_init_head_needs_init_from(tmp_path):
    p = run_cli("train", "--config", "configs/sample.json", "--images", str(sample_images_dir()),
                "--labels", str(sample_labels_path()), "--output", str(tmp_path / "run"), "--init-head", cwd=ROOT)
    assert p.returncode == 2 and "--init-from" in p.stderr
