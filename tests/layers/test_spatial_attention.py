"""SpatialAttention: softmax saliency pooling."""

import keras
import numpy as np
import pytest

from aesthetics.layers import SpatialAttention
from harness import run_layer_test

X = np.random.default_rng(0).normal(size=(2, 7, 7, 16)).astype("float32")


@pytest.mark.parametrize("zero_init", [True, False])
def test_spatial_attention_through_harness(zero_init):
    run_layer_test(
        SpatialAttention,
        {"zero_init": zero_init},
        X,
        (2, 16),
        expected_num_trainable_weights=4,  # hidden and logits conv: kernel + bias
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )


def test_spatial_attention_with_map_through_harness():
    layer = run_layer_test(
        SpatialAttention,
        {"hidden_units": 3, "return_attention": True, "zero_init": False},
        X,
        [(2, 16), (2, 7, 7, 1)],
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        float32_outputs=(1,),  # the attention map stays float32
        atol=1e-5,
    )
    assert layer.hidden.kernel.shape == (1, 1, 16, 3)


def test_spatial_attention_odd_sizes_through_harness():
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 8)).astype("float32")
    run_layer_test(
        SpatialAttention,
        {"zero_init": False},
        x,
        (2, 8),
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )
    run_layer_test(
        SpatialAttention,
        {"hidden_units": 3, "return_attention": True, "zero_init": False},
        x,
        [(2, 8), (2, 4, 5, 1)],
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        float32_outputs=(1,),
        atol=1e-5,
    )


def test_spatial_attention_activation_object_round_trips():
    layer = run_layer_test(
        SpatialAttention,
        {"activation": keras.activations.gelu, "zero_init": False},
        X,
        (2, 16),
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )
    assert layer.get_config()["activation"] == "gelu"


def test_spatial_attention_map_sums_to_one():
    x = np.random.default_rng(0).normal(size=(3, 4, 5, 8)).astype("float32")
    layer = SpatialAttention(return_attention=True, zero_init=False)
    pooled, attention = (np.asarray(t) for t in layer(x))
    assert attention.shape == (3, 4, 5, 1) and attention.dtype == np.float32
    np.testing.assert_allclose(attention.sum((1, 2, 3)), 1.0, atol=1e-5)
    assert attention.std() > 0  # not uniform with random weights
    np.testing.assert_allclose(pooled, (attention * x).sum((1, 2)), atol=1e-5)


def test_spatial_attention_with_constant_logits_is_average_pooling():
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 8)).astype("float32")
    layer = SpatialAttention(return_attention=True)  # zero-init logits conv
    layer(x)
    kernel, _ = layer.logits.get_weights()
    layer.logits.set_weights([kernel, np.array([3.0], "float32")])  # logits == 3 everywhere
    pooled, attention = layer(x)
    np.testing.assert_allclose(attention, 1 / 20, atol=1e-7)
    np.testing.assert_allclose(pooled, x.mean((1, 2)), atol=1e-6)


def test_spatial_attention_map_is_float32_under_mixed_precision():
    layer = SpatialAttention(return_attention=True, zero_init=False, dtype=keras.DTypePolicy("mixed_float16"))
    pooled, attention = layer(X)
    assert keras.backend.standardize_dtype(pooled.dtype) == "float16"
    assert keras.backend.standardize_dtype(attention.dtype) == "float32"
    np.testing.assert_allclose(np.asarray(attention).sum((1, 2, 3)), 1.0, atol=1e-5)


def test_spatial_attention_bad_arguments():
    with pytest.raises(ValueError, match="hidden_units"):
        SpatialAttention(hidden_units=0)
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        SpatialAttention().build((2, 8))
