"""Every model builder goes through the shared model harness: the
self-supervised scorer, the attention model and the native-resolution NIMA
(the plain NIMA and dual-path builders are checked in their own files)."""

import numpy as np
from harness import check_model

from aesthetics.config import ModelConfig
from aesthetics.models import AestheticsModel, Recipe, build_model

TINY = dict(backbone="mobilenet", alpha=0.25, backbone_weights=None)


def _images(n=2, size=64, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_self_supervised_scorer_through_harness():
    from aesthetics.pretext.model import build_scoring_model

    model = check_model(lambda: build_scoring_model(ModelConfig(**TINY), 64), _images(), (2, 1))
    assert type(model) is AestheticsModel and model.recipe.output == "score" and model.head == "ranking"


def test_attention_model_through_harness():
    from aesthetics.models.dual_path import attention_model

    def factory():
        return attention_model(build_model(ModelConfig(model="dual_path", **TINY), image_size=64))

    model = check_model(factory, _images(), [(2, 10), (2, 4, 4, 1)])
    scores, attention = model(_images())
    np.testing.assert_allclose(np.asarray(attention).sum((1, 2, 3)), 1.0, atol=1e-5)


def test_native_resolution_nima_through_harness():
    options = {"pooling": "mean_std", "pool_layers": ["conv_pw_11_relu"]}

    def factory():
        return build_model(ModelConfig(**TINY, options=options), recipe=Recipe(resize="native"))

    model = check_model(factory, _images(), (2, 10))
    assert model.input_shape == (None, None, None, 3)
    assert len(model.trainable_weights) == 2 + len(model.get_layer("backbone").trainable_weights)
    assert model(_images(1, 96)).shape == (1, 10)  # any input size
