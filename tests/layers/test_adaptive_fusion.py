"""AdaptiveFusion: AdaIN (maps) / FiLM (vectors) conditioned on a style vector."""

import keras
import numpy as np
import pytest

from aesthetics.layers import AdaptiveFusion
from harness import randomize_weights, run_layer_test

STYLE = (2, 6)


@pytest.mark.parametrize("content", [(2, 7, 7, 16), (2, 4, 5, 8), (2, 16)], ids=["map", "map_odd", "vector"])
def test_adaptive_fusion_through_harness(content):
    rng = np.random.default_rng(0)
    inputs = [rng.normal(1.0, 2.0, content).astype("float32"), rng.normal(size=STYLE).astype("float32")]
    run_layer_test(
        AdaptiveFusion,
        {},
        inputs,
        content,
        expected_num_trainable_weights=4,  # gamma and beta Dense: kernel + bias
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )


@pytest.mark.parametrize("content", [(2, 7, 7, 16), (2, 16)], ids=["map", "vector"])
def test_adaptive_fusion_normalized_style_through_harness(content):
    rng = np.random.default_rng(2)
    inputs = [rng.normal(1.0, 2.0, content).astype("float32"), rng.normal(size=STYLE).astype("float32")]
    layer = run_layer_test(AdaptiveFusion, {"normalize_style": True}, inputs, content,
                           expected_num_trainable_weights=4, expected_num_non_trainable_weights=0, atol=1e-5)
    assert layer.get_config()["normalize_style"] is True


def test_normalized_style_makes_the_modulation_independent_of_the_style_scale():
    """The mechanism that keeps the dual path from diverging: a style vector
    that grows 50x (as the global vector can once the backbone trains) moves a
    trained FiLM's output 50x as far without normalisation, not at all with it."""
    rng = np.random.default_rng(3)
    content = rng.normal(size=(4, 16)).astype("float32")
    style = rng.normal(size=(4, 6)).astype("float32")
    moved = {}
    for normalize in (False, True):
        layer = AdaptiveFusion(normalize_style=normalize)
        layer([content, style])
        randomize_weights(layer, seed=4)
        base = np.asarray(layer([content, style]))
        moved[normalize] = [float(np.abs(np.asarray(layer([content, k * style])) - base).max()) for k in (1, 50)]
    assert moved[True] == pytest.approx([0.0, 0.0], abs=1e-4)
    assert moved[False][0] == 0.0 and moved[False][1] > 1.0


def test_adaptive_fusion_epsilon_through_harness():
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(2, 7, 7, 16)).astype("float32"), rng.normal(size=STYLE).astype("float32")]
    layer = run_layer_test(
        AdaptiveFusion,
        {"epsilon": 1e-3},
        inputs,
        (2, 7, 7, 16),
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )
    assert layer.get_config()["epsilon"] == 1e-3


def _instance_norm(x, eps=1e-5):
    mu = x.mean((1, 2), keepdims=True)
    var = x.var((1, 2), keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def test_adaptive_fusion_at_init_is_instance_norm():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (2, 4, 5, 8)).astype("float32")
    s = rng.normal(size=(2, 6)).astype("float32")
    np.testing.assert_allclose(AdaptiveFusion()([x, s]), _instance_norm(x), atol=1e-4)
    v = rng.normal(size=(2, 8)).astype("float32")
    np.testing.assert_allclose(AdaptiveFusion()([v, s]), v, atol=1e-6)


def test_adaptive_fusion_formula():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 3, 8)).astype("float32")
    v = rng.normal(size=(2, 8)).astype("float32")
    s = rng.normal(size=(2, 6)).astype("float32")
    for content in (x, v):
        layer = AdaptiveFusion()
        layer([content, s])
        randomize_weights(layer, seed=2, scale=0.5)
        wg, bg = layer.gamma.get_weights()
        wb, bb = layer.beta.get_weights()
        gamma, beta = s @ wg + bg, s @ wb + bb
        if content.ndim == 4:
            ref = (1 + gamma[:, None, None]) * _instance_norm(content) + beta[:, None, None]
        else:
            ref = (1 + gamma) * content + beta
        np.testing.assert_allclose(layer([content, s]), ref, atol=1e-4)


def test_adaptive_fusion_statistics_in_float32_under_mixed_precision():
    rng = np.random.default_rng(2)
    x = rng.normal(50.0, 20.0, (2, 6, 6, 8)).astype("float32")  # large mean: bf16 stats would drift
    s = rng.normal(size=STYLE).astype("float32")
    layer = AdaptiveFusion(dtype=keras.DTypePolicy("mixed_bfloat16"))
    out = layer([x, s])
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert layer.gamma.kernel.dtype == "float32" and layer.gamma.compute_dtype == "bfloat16"
    out = np.asarray(keras.ops.cast(out, "float32"))
    # only the bf16 rounding of the input and of the output remain
    np.testing.assert_allclose(out, _instance_norm(x), atol=0.1)


def test_adaptive_fusion_bad_inputs():
    with pytest.raises(ValueError, match="two inputs"):
        AdaptiveFusion().build((2, 8))
    with pytest.raises(ValueError, match="content must be"):
        AdaptiveFusion().build([(2, 3, 8), (2, 6)])
    with pytest.raises(ValueError, match="style must be a vector"):
        AdaptiveFusion().build([(2, 8), (2, 3, 6)])
