"""A saved model carries its recipe: input size, resize policy, output kind."""

import json
import zipfile

import keras
import numpy as np
import pytest

from aesthetics.config import ModelConfig
from aesthetics.errors import ModelFileError
from aesthetics.models import AestheticsModel, Recipe, build_model, recipe_of

TINY = dict(backbone="mobilenet", alpha=0.25, backbone_weights=None)


def test_recipe_round_trip_and_input_side():
    r = Recipe(image_size=64, resize="center_crop", resize_to=80, score_range=(0, 100))
    assert Recipe.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert r.input_side == 80 and Recipe(image_size=64).input_side == 64
    assert "centre crop" in r.describe()


@pytest.mark.parametrize("values, needle", [
    ({"image_size": 10**6}, "image_size"),
    ({"image_size": "224"}, "image_size"),
    ({"resize": "squash"}, "resize"),
    ({"resize": "center_crop", "image_size": 224, "resize_to": 200}, "resize_to"),
    ({"output": "logits"}, "output"),
    ({"num_bins": 0}, "num_bins"),
    ({"score_range": [5, 5]}, "score_range"),
    ({"score_range": [0, float("nan")]}, "score_range"),
    ({"colour": "rgb"}, "unknown field"),
])
def test_invalid_recipes_are_refused(values, needle):
    with pytest.raises(ModelFileError, match=needle):
        Recipe.from_dict(values)


def test_saved_model_keeps_recipe_class_policy_and_frozen_layers(tmp_path):
    recipe = Recipe(image_size=64, resize="center_crop", resize_to=72, score_range=(0, 100))
    model = build_model(ModelConfig(**TINY), recipe=recipe, info={"note": "test"})
    model.get_layer("backbone").trainable = False
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:  # self-describing: readable without Keras
        config = json.loads(z.read("config.json"))["config"]
    assert config["recipe"]["resize"] == "center_crop" and config["model_config"]["backbone_weights"] is None
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is AestheticsModel
    assert loaded.recipe == recipe and loaded.info["note"] == "test"
    assert loaded.info["backbone_weights"] is None
    assert not loaded.get_layer("backbone").trainable
    assert len(loaded.trainable_weights) == len(model.trainable_weights) == 2  # the head only
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_policy_is_recorded_and_nothing_leaks():
    from aesthetics.precision import dtype_policy_scope

    with dtype_policy_scope("mixed_bfloat16"):
        model = build_model(ModelConfig(**TINY), image_size=64)
    assert keras.config.dtype_policy().name == "float32"
    assert model.policy == "mixed_bfloat16"
    clone = AestheticsModel.from_config(model.get_config())  # built under float32 globally
    assert clone.get_layer("backbone").dtype_policy.name == "mixed_bfloat16"
    assert clone.get_layer("scores").dtype_policy.name == "float32"  # the head stays float32
    with pytest.raises(RuntimeError):
        with dtype_policy_scope("mixed_float16"):
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


def test_recipe_of_plain_keras_model_falls_back_to_its_input():
    inputs = keras.Input((48, 48, 3))
    plain = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(inputs)))
    assert recipe_of(plain) == Recipe(image_size=48)
    score = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(inputs)))
    assert recipe_of(score).output == "score"


def test_build_model_refuses_a_conflicting_image_size():
    with pytest.raises(ValueError, match="differs"):
        build_model(ModelConfig(**TINY), image_size=96, recipe=Recipe(image_size=64))


def test_invalid_model_config_in_a_file_is_a_model_file_error():
    with pytest.raises(ModelFileError, match="unknown field"):
        AestheticsModel(model_config={"backbone": "mobilenet", "layers": 3}, recipe={"image_size": 64})
    with pytest.raises(ModelFileError, match="head"):
        AestheticsModel(model_config=TINY, recipe={"image_size": 64}, head="magic")


def test_a_dmos_range_is_a_valid_recipe():
    assert Recipe(score_range=(100, 0)).score_range == (100, 0)
