"""CosineDistance: 1 - cos(a, b) per row, float32."""

import numpy as np
import pytest

from aesthetics.layers import CosineDistance
from harness import run_layer_test


def _inputs(seed=0, b=3, d=6):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, d)).astype("float32"), rng.normal(size=(b, d)).astype("float32")]


def test_cosine_distance_through_harness():
    a, b = _inputs()
    expected = 1 - (a * b).sum(-1, keepdims=True) / (np.linalg.norm(a, axis=-1, keepdims=True)
                                                      * np.linalg.norm(b, axis=-1, keepdims=True))
    run_layer_test(CosineDistance, {}, [a, b], (3, 1), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0, expected_output_data=expected,
                   float32_outputs=(0,), atol=1e-5, run_training_check=False,
                   run_variable_spatial_check=False)


def test_same_direction_is_zero_and_opposite_is_two():
    a, _ = _inputs(1)
    layer = CosineDistance()
    np.testing.assert_allclose(np.asarray(layer([a, 3.0 * a])), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer([a, -a])), 2.0, atol=1e-6)
    assert np.isfinite(np.asarray(layer([np.zeros_like(a), a]))).all()


def test_a_bad_epsilon_is_refused():
    with pytest.raises(ValueError, match="epsilon"):
        CosineDistance(epsilon=0)
