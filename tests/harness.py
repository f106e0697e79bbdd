"""Shared checks every custom layer and model goes through.

`check_layer` / `check_model` assert:
1. output shape (and dtype for float32 outputs),
2. config round trip: `from_config(get_config())` gives the same outputs
   after copying weights,
3. `.keras` save/load round trip gives identical outputs,
4. a forward (and, for trainable things, backward) pass under the
   `mixed_bfloat16` policy with finite results.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_numpy(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    return [keras.ops.convert_to_numpy(o) for o in _as_list(outputs)]


def _assert_same(a, b, atol=1e-6):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], atol=atol, rtol=0)
        return
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


class _mixed_precision:
    def __init__(self, policy="mixed_bfloat16"):
        self.policy = policy

    def __enter__(self):
        self.old = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.policy)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.old)


def _wrap_layer(layer_factory, input_shapes):
    """A functional model around one layer so it can be saved as `.keras`."""
    inputs = [keras.Input(shape[1:], batch_size=None) for shape in input_shapes]
    layer = layer_factory()
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(inputs, layer(inputs)), layer


def _random_inputs(input_shapes, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, s).astype("float32") for s in input_shapes]


def check_layer(
    layer_factory,
    input_shapes,
    expected_output_shape,
    input_range=(-1.0, 1.0),
    atol=1e-6,
    check_training=True,
):
    """Runs the standard checks on a layer.

    Args:
        layer_factory: zero-argument callable returning a fresh layer.
        input_shapes: list of full input shapes (batch first).
        expected_output_shape: a shape tuple, or a list of them for several
            outputs (dict outputs: a dict of shapes).
    """
    xs = _random_inputs(input_shapes, low=input_range[0], high=input_range[1])
    feed = xs[0] if len(xs) == 1 else xs

    model, layer = _wrap_layer(layer_factory, input_shapes)
    out = _to_numpy(model(feed))
    _check_shapes(out, expected_output_shape)

    # config round trip (fresh layer, weights copied, same outputs)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    model2, _ = _wrap_layer(lambda: clone, input_shapes)
    model2.set_weights(model.get_weights())
    _assert_same(out, _to_numpy(model2(feed)), atol)

    _check_keras_roundtrip(model, feed, out, atol)
    _check_mixed_precision(
        lambda: _wrap_layer(layer_factory, input_shapes)[0], feed, check_training
    )
    return model


def check_model(model_factory, inputs, expected_output_shape, atol=1e-5, check_training=True):
    """Standard checks for a model builder (`model_factory()` -> keras.Model)."""
    model = model_factory()
    out = _to_numpy(model(inputs))
    _check_shapes(out, expected_output_shape)

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    _assert_same(out, _to_numpy(clone(inputs)), atol)

    _check_keras_roundtrip(model, inputs, out, atol)
    _check_mixed_precision(model_factory, inputs, check_training)
    return model


def _check_shapes(out, expected):
    if isinstance(out, dict):
        for k, shape in expected.items():
            assert tuple(out[k].shape) == tuple(shape), (k, out[k].shape, shape)
        return
    expected = expected if isinstance(expected, list) else [expected]
    assert [tuple(o.shape) for o in out] == [tuple(s) for s in expected]


def _check_keras_roundtrip(model, feed, out, atol):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    _assert_same(out, _to_numpy(loaded(feed)), atol)


def _check_mixed_precision(factory, feed, check_training):
    with _mixed_precision("mixed_bfloat16"):
        model = factory()
        out = _to_numpy(model(feed))
        for o in out.values() if isinstance(out, dict) else out:
            assert np.all(np.isfinite(o.astype("float32")))
        if check_training and model.trainable_weights:
            import tensorflow as tf

            with tf.GradientTape() as tape:
                y = model(feed, training=True)
                ys = list(y.values()) if isinstance(y, dict) else _as_list(y)
                loss = sum(tf.reduce_mean(tf.cast(t, "float32")) for t in ys)
            grads = tape.gradient(loss, model.trainable_weights)
            for g in grads:
                if g is not None:
                    assert np.all(np.isfinite(np.asarray(tf.cast(g, "float32"))))


class StopAfterEpochs(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after `epochs` epochs: what Ctrl-C or a killed
    job looks like to a training loop (for resume tests)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt
