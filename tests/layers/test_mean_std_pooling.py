"""MeanStdPooling: per-channel mean and std over positions, in float32."""

import numpy as np
import pytest

from aesthetics.layers.mean_std_pooling import MeanStdPooling
from harness import run_layer_test


def _maps(shape=(2, 5, 7, 6), seed=0):
    return np.random.default_rng(seed).normal(0, 2, shape).astype("float32")


def test_mean_std_pooling_layer():
    x = _maps()
    expected = np.concatenate([x.mean((1, 2)), np.sqrt(x.var((1, 2)) + 1e-6)], -1)
    run_layer_test(
        MeanStdPooling,
        {},
        x,
        (2, 12),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_output_data=expected,
        float32_outputs=(0,),
        atol=1e-5,
    )


def test_any_spatial_size_and_a_constant_map():
    layer = MeanStdPooling()
    out = np.asarray(layer(np.full((1, 3, 9, 2), 4.0, "float32")))
    np.testing.assert_allclose(out, [[4.0, 4.0, 1e-3, 1e-3]], atol=1e-6)
    assert np.asarray(layer(_maps((3, 17, 4, 2)))).shape == (3, 4)


def test_bad_epsilon():
    with pytest.raises(ValueError, match="epsilon"):
        MeanStdPooling(epsilon=0)
