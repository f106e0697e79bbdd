"""BackbonePreprocess: raw RGB in [0, 255] -> what each backbone expects."""

import keras
import numpy as np
import pytest

from aesthetics.layers.preprocess import PREPROCESS_MODES, BackbonePreprocess
from harness import run_layer_test


def _rgb(shape=(2, 7, 7, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_backbone_preprocess_layer(mode):
    run_layer_test(
        BackbonePreprocess,
        {"mode": mode},
        _rgb(),
        (2, 7, 7, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        atol=1e-4,
    )


def test_preprocess_matches_keras_applications():
    x = _rgb((2, 4, 4, 3))
    pairs = {
        "tf": keras.applications.mobilenet.preprocess_input,
        "caffe": keras.applications.resnet50.preprocess_input,
        "torch": keras.applications.densenet.preprocess_input,
    }
    for mode, fn in pairs.items():
        ours = np.asarray(BackbonePreprocess(mode)(x))
        np.testing.assert_allclose(ours, fn(x.copy()), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(BackbonePreprocess("none")(x)), x)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_preprocess_under_mixed_precision_is_close_to_float32(mode):
    x = _rgb((2, 4, 4, 3))
    ref = np.asarray(BackbonePreprocess(mode)(x))
    out = BackbonePreprocess(mode, dtype=keras.DTypePolicy("mixed_bfloat16"))(x)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    out = np.asarray(keras.ops.cast(out, "float32"))
    # bfloat16 keeps 8 significant bits: relative error <= 2**-8 per value
    np.testing.assert_allclose(out, ref, rtol=2**-7, atol=2**-7 * np.abs(ref).max())


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="mode must be one of"):
        BackbonePreprocess("inception")
