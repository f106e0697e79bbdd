"""The layer harness itself: it must fail on the mistakes it exists to catch."""

import keras
import numpy as np
import pytest

from harness import run_layer_test, run_precision_test

X = np.random.default_rng(0).normal(size=(2, 7, 7, 16)).astype("float32")


@keras.saving.register_keras_serializable(package="aesthetics_tests")
class _Projection(keras.layers.Layer):
    """A 1x1 conv sublayer; `pass_policy` False forgets dtype=self.dtype_policy;
    `pin_float32` builds it as a deliberate float32 sublayer."""

    def __init__(self, pass_policy=True, pin_float32=False, **kwargs):
        super().__init__(**kwargs)
        self.pass_policy = pass_policy
        self.pin_float32 = pin_float32

    def build(self, input_shape):
        dtype = "float32" if self.pin_float32 else (self.dtype_policy if self.pass_policy else None)
        self.proj = keras.layers.Conv2D(4, 1, name="proj", dtype=dtype)
        self.proj.build(input_shape)

    def call(self, x):
        return keras.ops.cast(self.proj(x), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (4,)

    def get_config(self):
        config = super().get_config()
        config.update({"pass_policy": self.pass_policy, "pin_float32": self.pin_float32})
        return config


def test_good_layer_passes():
    run_precision_test(_Projection, {}, X)


def test_sublayer_without_the_policy_fails():
    with pytest.raises(AssertionError, match="sublayer 'proj' has policy 'float32'"):
        run_precision_test(_Projection, {"pass_policy": False}, X)


def test_pinned_float32_sublayer_must_be_declared():
    with pytest.raises(AssertionError, match="sublayer 'proj'"):
        run_precision_test(_Projection, {"pin_float32": True}, X)
    run_precision_test(_Projection, {"pin_float32": True}, X, float32_sublayers=("proj",))
    with pytest.raises(AssertionError, match="no sublayer named"):
        run_precision_test(_Projection, {}, X, float32_sublayers=("nope",))


def test_wrong_weight_count_fails():
    with pytest.raises(AssertionError, match="trainable weights, expected 3"):
        run_layer_test(
            _Projection,
            {},
            X,
            (2, 7, 7, 4),
            expected_num_trainable_weights=3,
            expected_num_non_trainable_weights=0,
            run_saving_check=False,
            run_precision_checks=False,
        )


class _Unregistered(_Projection):
    pass


def test_unregistered_class_fails_the_round_trip():
    with pytest.raises(TypeError, match="Could not locate class"):
        run_layer_test(
            _Unregistered,
            {},
            X,
            (2, 7, 7, 4),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
        )
