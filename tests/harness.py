"""Shared checks every custom layer and model goes through.

Layers (modelled on KerasHub's `TestCase`, written for pytest):

`run_layer_test(cls, init_kwargs, input_data, expected_output_shape, ...)`
    1. `run_serialization_test` on a fresh instance (below);
    2. build: `layer.build(input_shapes)` builds it, with the expected
       number of trainable and non-trainable weights;
    3. symbolic: `compute_output_shape` (which every layer must implement)
       and `compute_output_spec` on `keras.KerasTensor` inputs, and a
       symbolic call, give the expected shapes, also with the batch and the
       spatial dims unknown (None); the symbolic call builds the same weights;
    4. eager: the expected output shapes and dtypes (the compute dtype;
       `float32_outputs` name outputs pinned to float32), optional expected
       values; `training=True` and `training=False` both run and are finite;
    5. the weights are randomised (so zero-initialised layers are not the
       identity) and `from_config(get_config())` with the weights copied gives
       the same outputs;
    6. unknown spatial dims: the layer built on `(None, None, None, C)` gives
       the same outputs on the original inputs and runs on two other spatial
       sizes (output maps follow the input's spatial size);
    7. training: every trainable weight gets a finite gradient, and one
       compiled `fit` step (graph mode) gives a finite loss;
    8. `run_model_saving_test` and `run_precision_test` (below).

`run_serialization_test(instance)`
    `from_config(get_config())` and `serialize_keras_object` -> `json.dumps`
    -> `json.loads` -> `deserialize_keras_object` give the same class, an
    equal config (compared as JSON) and, for layers, the same attributes.

`run_precision_test(cls, init_kwargs, input_data, ...)`
    With the global policy left at float32, the layer built with an explicit
    `dtype=keras.DTypePolicy(p)` for p in mixed_bfloat16, mixed_float16 and
    float32: the layer's policy, compute and variable dtypes; every output's
    dtype and its `compute_output_spec` dtype; every weight's dtype (float32
    under mixed policies); every sublayer has the same policy, except those
    the test names in `float32_sublayers`, which must be float32; finite
    outputs and (mixed policies) finite gradients; the policy survives a JSON
    round trip. Then the reverse (global mixed_bfloat16, layer
    dtype="float32": everything float32) and the global policy alone (global
    mixed_bfloat16, no dtype argument).

`run_model_saving_test(cls, init_kwargs, input_data)`
    `.keras` save and load. A model comes back as the same class; a layer
    (saved inside a functional wrapper) comes back as the same class (not a
    generic Layer) with the same config; with randomised weights the
    outputs are identical.

Models: `check_model(model_factory, inputs, expected_output_shape)` asserts
the output shapes, the `from_config` round trip (the model's own class),
the JSON round trip, the `.keras` round trip (same class, same outputs),
training=False equal to the default call, and a forward and backward pass
under the global mixed_bfloat16 policy with finite results.

`StopAfterEpochs` simulates an interrupted training run.
"""

from __future__ import annotations

import json
import os
import tempfile

import keras

from aesthetics.precision import dtype_policy_scope
import numpy as np

PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16", "float32")


# ---------------------------------------------------------------- helpers


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _flat(outputs):
    """A dict's values (sorted by key) or a list of outputs."""
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    return _as_list(outputs)


def _to_numpy(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    return [keras.ops.convert_to_numpy(o) for o in _as_list(outputs)]


def _assert_same(a, b, atol=1e-6):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], atol=atol, rtol=0, err_msg=k)
        return
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def _is_float(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


def _assert_finite(outputs, what=""):
    for o in _flat(outputs):
        o = keras.ops.convert_to_numpy(keras.ops.cast(o, "float32"))
        assert np.all(np.isfinite(o)), f"non-finite values {what}"


# The global dtype policy inside a block, restored afterwards.
global_policy = dtype_policy_scope




def _inputs_list(input_data):
    return [np.asarray(x) for x in _as_list(input_data)]


def _feed(xs):
    return xs[0] if len(xs) == 1 else list(xs)


def _shapes(xs):
    shapes = [tuple(x.shape) for x in xs]
    return shapes[0] if len(shapes) == 1 else shapes


def _keras_tensors(xs, unknown_batch=False, unknown_spatial=False):
    tensors = []
    for x in xs:
        shape = list(x.shape)
        if unknown_batch:
            shape[0] = None
        if unknown_spatial and len(shape) == 4:
            shape[1] = shape[2] = None
        tensors.append(keras.KerasTensor(tuple(shape), dtype=_dtype(x)))
    return _feed(tensors)


def _expected_list(expected):
    if isinstance(expected, dict):
        return [tuple(expected[k]) for k in sorted(expected)]
    if isinstance(expected, list):
        return [tuple(s) for s in expected]
    return [tuple(expected)]


def _relabel(expected, batch, spatial):
    """Expected shapes with the batch dim replaced by `batch` and, for (B, H, W,
    C) outputs, H and W by `spatial` (outputs follow the input's spatial size)."""
    out = []
    for shape in expected:
        shape = list(shape)
        shape[0] = batch
        if len(shape) == 4 and spatial is not None:
            shape[1], shape[2] = spatial
        out.append(tuple(shape))
    return out


def _shape_list(shape_or_shapes):
    """compute_output_shape's result as a list of tuples."""
    s = shape_or_shapes
    if isinstance(s, dict):
        return [tuple(s[k]) for k in sorted(s)]
    if isinstance(s, (list, tuple)) and s and isinstance(s[0], (list, tuple)):
        return [tuple(x) for x in s]
    return [tuple(s)]


def randomize_weights(layer, seed=0, scale=0.3):
    """Random trainable weights (normal, std `scale`) and non-trainable ones in
    [0.5, 1.5] (valid BatchNorm statistics), so zero-initialised layers are not
    trivially the identity in the comparisons."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))
    for w in layer.non_trainable_weights:
        if _is_float(w.dtype):
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))


def _wrap_layer(layer_factory, input_shapes):
    """A functional model around one layer so it can be saved as `.keras`.
    `input_shapes` are full shapes; their batch dim is dropped."""
    inputs = [keras.Input(tuple(shape)[1:]) for shape in input_shapes]
    layer = layer_factory()
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(inputs, layer(inputs)), layer


def _gradients(model_or_layer, feed, training=True):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y = model_or_layer(feed, training=training)
        loss = sum(
            tf.reduce_mean(tf.cast(t, "float32")) + tf.reduce_mean(tf.square(tf.cast(t, "float32")))
            for t in _flat(y)
            if _is_float(t.dtype)
        )
    return tape.gradient(loss, model_or_layer.trainable_weights)


def _assert_finite_gradients(grads, weights, require_all):
    for g, w in zip(grads, weights):
        if g is None:
            assert not require_all, f"no gradient reaches {w.path}"
            continue
        g = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(g, "float32")))
        assert np.all(np.isfinite(g)), f"non-finite gradient for {w.path}"


# ---------------------------------------------------------------- layers


def run_serialization_test(instance):
    """get_config and JSON (de)serialisation round trips: same class, equal
    config; for a layer also the same public and private attribute names."""
    cls = type(instance)
    config = instance.get_config()
    config_json = json.dumps(config, sort_keys=True)  # must be JSON-able as is
    is_model = isinstance(instance, keras.Model)

    revived = cls.from_config(config)
    assert type(revived) is cls
    assert json.dumps(revived.get_config(), sort_keys=True) == config_json
    if not is_model:
        assert set(dir(revived)) == set(dir(instance))

    serialized = keras.saving.serialize_keras_object(instance)
    revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(revived) is cls, f"deserialized as {type(revived).__name__}, not {cls.__name__}"
    assert json.dumps(revived.get_config(), sort_keys=True) == config_json
    if not is_model:
        assert set(dir(revived)) - {"__annotations__"} == set(dir(instance)) - {"__annotations__"}
    return revived


def _check_weight_counts(layer, n_trainable, n_non_trainable, when):
    assert layer.built, f"not built after {when}"
    if n_trainable is not None:
        assert len(layer.trainable_weights) == n_trainable, (
            f"{when}: {len(layer.trainable_weights)} trainable weights, expected {n_trainable}"
        )
    if n_non_trainable is not None:
        assert len(layer.non_trainable_weights) == n_non_trainable, (
            f"{when}: {len(layer.non_trainable_weights)} non-trainable weights, "
            f"expected {n_non_trainable}"
        )


def _check_output_dtypes(outputs, compute_dtype, float32_outputs, what):
    for i, o in enumerate(_flat(outputs)):
        if not _is_float(o.dtype):
            continue
        want = "float32" if i in float32_outputs else compute_dtype
        assert _dtype(o) == want, f"{what}: output {i} is {_dtype(o)}, expected {want}"


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    *,
    expected_num_trainable_weights,
    expected_num_non_trainable_weights,
    expected_output_data=None,
    float32_outputs=(),
    float32_sublayers=(),
    atol=1e-6,
    run_training_check=True,
    run_precision_checks=True,
    run_saving_check=True,
    run_variable_spatial_check=True,
):
    """Runs every layer check (see the module docstring).

    Args:
        cls: the layer class.
        init_kwargs: constructor arguments (without `dtype`).
        input_data: a float array, or a list of them for a multi-input layer
            (passed to the layer as a list).
        expected_output_shape: a shape tuple, or a list of them for a layer
            with several outputs.
        expected_num_trainable_weights, expected_num_non_trainable_weights:
            weight counts once built (None: not checked).
        expected_output_data: optional expected eager outputs (float32).
        float32_outputs: indices of outputs that are float32 under any policy.
        float32_sublayers: names of sublayers that deliberately pin float32.
        run_training_check: gradients and a compiled fit step.
    Returns:
        the eagerly built layer (randomised weights).
    """
    xs = _inputs_list(input_data)
    feed = _feed(xs)
    expected = _expected_list(expected_output_shape)
    batch = xs[0].shape[0]
    counts = (expected_num_trainable_weights, expected_num_non_trainable_weights)
    float32_outputs = tuple(float32_outputs)

    # 1. serialization of an unbuilt layer
    run_serialization_test(cls(**init_kwargs))

    # 2. build
    layer = cls(**init_kwargs)
    layer.build(_shapes(xs))
    _check_weight_counts(layer, *counts, "build()")

    # 3. symbolic: compute_output_shape / compute_output_spec / symbolic call
    assert type(layer).compute_output_shape is not keras.layers.Layer.compute_output_shape, (
        f"{cls.__name__} does not implement compute_output_shape"
    )
    assert _shape_list(layer.compute_output_shape(_shapes(xs))) == expected
    spec = layer.compute_output_spec(_keras_tensors(xs))
    assert [tuple(s.shape) for s in _flat(spec)] == expected
    _check_output_dtypes(spec, layer.compute_dtype, float32_outputs, "compute_output_spec")
    for unknown_spatial in (False, True):
        tensors = _keras_tensors(xs, unknown_batch=True, unknown_spatial=unknown_spatial)
        spatial = (None, None) if unknown_spatial else None
        want = _relabel(expected, None, spatial)
        input_shapes = [tuple(t.shape) for t in _as_list(tensors)]
        input_shapes = input_shapes[0] if len(input_shapes) == 1 else input_shapes
        assert _shape_list(layer.compute_output_shape(input_shapes)) == want
        assert [tuple(s.shape) for s in _flat(layer.compute_output_spec(tensors))] == want
        symbolic_layer = cls(**init_kwargs)
        symbolic = symbolic_layer(tensors)
        assert [tuple(s.shape) for s in _flat(symbolic)] == want
        _check_output_dtypes(symbolic, symbolic_layer.compute_dtype, float32_outputs, "symbolic call")
        _check_weight_counts(symbolic_layer, *counts, "a symbolic call")

    # 4. eager
    layer = cls(**init_kwargs)
    out = layer(feed)
    _check_weight_counts(layer, *counts, "an eager call")
    assert [tuple(o.shape) for o in _flat(out)] == expected
    _check_output_dtypes(out, layer.compute_dtype, float32_outputs, "eager call")
    _assert_finite(out, "(eager)")
    if expected_output_data is not None:
        _assert_same(_to_numpy(expected_output_data), _to_numpy(out), atol)
    for training in (True, False):
        o = layer(feed, training=training)
        assert [tuple(t.shape) for t in _flat(o)] == expected
        _assert_finite(o, f"(training={training})")

    # 5. randomised weights; config round trip with the weights copied
    randomize_weights(layer)
    reference = _to_numpy(layer(feed))
    clone = cls.from_config(layer.get_config())
    clone(feed)
    clone.set_weights(layer.get_weights())
    _assert_same(reference, _to_numpy(clone(feed)), atol)
    _assert_same(reference, _to_numpy(layer(feed, training=False)), atol)

    # 6. unknown spatial dims: build once, run on several sizes
    maps = [i for i, x in enumerate(xs) if x.ndim == 4]
    if run_variable_spatial_check and maps:
        inputs = [
            keras.Input((None, None, x.shape[-1]) if x.ndim == 4 else x.shape[1:]) for x in xs
        ]
        variable = cls(**init_kwargs)
        model = keras.Model(_feed(inputs), variable(_feed(inputs)))
        variable.set_weights(layer.get_weights())
        _assert_same(reference, _to_numpy(model(feed)), max(atol, 1e-5))
        h, w = xs[maps[0]].shape[1:3]
        for k, (h2, w2) in enumerate([(h + 3, w + 1), (max(1, h - 2), w + 4)]):
            rng = np.random.default_rng(k + 1)
            sized = [
                rng.uniform(x.min(), x.max(), (batch, h2, w2, x.shape[-1])).astype(x.dtype)
                if x.ndim == 4
                else x
                for x in xs
            ]
            o = model(_feed(sized))
            assert [tuple(t.shape) for t in _flat(o)] == _relabel(expected, batch, (h2, w2))
            _assert_finite(o, f"(spatial size {h2}x{w2})")

    # 7. training: gradients reach every trainable weight; one compiled step
    if run_training_check and layer.trainable_weights:
        grads = _gradients(layer, feed)
        _assert_finite_gradients(grads, layer.trainable_weights, require_all=True)
        _check_fit_step(cls, init_kwargs, xs, reference)

    # 8. saving and precision
    if run_saving_check:
        run_model_saving_test(cls, init_kwargs, input_data, atol=atol)
    if run_precision_checks:
        run_precision_test(
            cls,
            init_kwargs,
            input_data,
            float32_outputs=float32_outputs,
            float32_sublayers=float32_sublayers,
            check_gradients=run_training_check,
        )
    return layer


def _check_fit_step(cls, init_kwargs, xs, targets):
    model, _ = _wrap_layer(lambda: cls(**init_kwargs), [x.shape for x in xs])
    n_outputs = len(model.outputs)
    model.compile(optimizer="sgd", loss=["mse"] * n_outputs, jit_compile=False)
    y = [np.zeros_like(t, dtype="float32") for t in _flat(targets)]
    history = model.fit(_feed(xs), y[0] if n_outputs == 1 else y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def run_precision_test(
    cls,
    init_kwargs,
    input_data,
    float32_outputs=(),
    float32_sublayers=(),
    policies=PRECISION_POLICIES,
    check_gradients=True,
):
    """Explicit per-layer dtype policies (see the module docstring)."""
    xs = _inputs_list(input_data)
    feed = _feed(xs)
    float32_outputs = tuple(float32_outputs)
    float32_sublayers = set(float32_sublayers)

    def check(layer, policy_name):
        policy = keras.DTypePolicy(policy_name)
        out = layer(feed)
        what = f"{cls.__name__}(dtype={policy_name!r})"
        assert layer.dtype_policy.name == policy_name, what
        assert layer.compute_dtype == policy.compute_dtype, what
        assert layer.variable_dtype == policy.variable_dtype, what
        _check_output_dtypes(out, policy.compute_dtype, float32_outputs, what)
        spec = layer.compute_output_spec(_keras_tensors(xs))
        _check_output_dtypes(spec, policy.compute_dtype, float32_outputs, f"{what} spec")
        assert [tuple(s.shape) for s in _flat(spec)] == [tuple(o.shape) for o in _flat(out)]
        for weight in layer.weights:
            if _is_float(weight.dtype):
                assert _dtype(weight) == policy.variable_dtype, f"{what}: {weight.path}"
        seen = set()
        for sub in layer._flatten_layers(include_self=False):
            seen.add(sub.name)
            want = "float32" if sub.name in float32_sublayers else policy_name
            assert sub.dtype_policy.name == want, (
                f"{what}: sublayer {sub.name!r} has policy {sub.dtype_policy.name!r}, "
                f"expected {want!r} (pass dtype=self.dtype_policy to sublayers)"
            )
        missing = float32_sublayers - seen
        assert not missing, f"{what}: no sublayer named {sorted(missing)}"
        _assert_finite(out, f"({what})")
        return out

    with global_policy("float32"):
        for policy_name in policies:
            layer = cls(**init_kwargs, dtype=keras.DTypePolicy(policy_name))
            check(layer, policy_name)
            revived = keras.saving.deserialize_keras_object(
                json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
            )
            assert revived.dtype_policy.name == policy_name
            if check_gradients and policy_name != "float32" and layer.trainable_weights:
                randomize_weights(layer)
                _assert_finite(layer(feed, training=True), f"(training, {policy_name})")
                grads = _gradients(layer, feed)
                _assert_finite_gradients(grads, layer.trainable_weights, require_all=False)

    # the reverse: a float32 layer inside a mixed precision model
    with global_policy("mixed_bfloat16"):
        check(cls(**init_kwargs, dtype="float32"), "float32")
        # the global policy alone (no dtype argument)
        check(cls(**init_kwargs), "mixed_bfloat16")


def run_model_saving_test(cls, init_kwargs, input_data, atol=1e-6, randomize=True):
    """`.keras` round trip: same class back, identical outputs.

    `cls(**init_kwargs)` may return a model (saved as is; `cls` may also be a
    builder function) or a layer (saved inside a functional wrapper).
    """
    if isinstance(input_data, dict):  # a model with named (dict) inputs: fed as is
        xs, feed = None, {k: np.asarray(v) for k, v in input_data.items()}
    else:
        xs = _inputs_list(input_data)
        feed = _feed(xs)
    instance = cls(**init_kwargs)
    if isinstance(instance, keras.Model):
        model, layer = instance, None
    else:
        assert xs is not None, "dict inputs are supported for models only"
        model, layer = _wrap_layer(lambda: instance, [x.shape for x in xs])
    if randomize:
        randomize_weights(layer if layer is not None else model)
    out = _to_numpy(model(feed))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    if layer is None:
        assert type(loaded) is type(model), (
            f"loaded as {type(loaded).__name__}, not {type(model).__name__}"
        )
    else:
        restored = loaded.get_layer(layer.name)
        assert type(restored) is type(layer), (
            f"loaded as {type(restored).__name__}, not {type(layer).__name__}"
        )
        assert restored.get_config() == layer.get_config()
    _assert_same(out, _to_numpy(loaded(feed)), atol)
    return loaded


def check_model(model_factory, inputs, expected_output_shape, atol=1e-5, check_training=True):
    """Standard checks for a model builder (`model_factory()` -> keras.Model)."""
    model = model_factory()
    out = _to_numpy(model(inputs))
    _check_shapes(out, expected_output_shape)
    _assert_same(out, _to_numpy(model(inputs, training=False)), atol)

    cls = type(model)
    clone = cls.from_config(model.get_config())
    assert type(clone) is cls
    clone.set_weights(model.get_weights())
    _assert_same(out, _to_numpy(clone(inputs)), atol)

    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    )
    assert type(revived) is cls, f"deserialized as {type(revived).__name__}, not {cls.__name__}"
    revived.set_weights(model.get_weights())
    _assert_same(out, _to_numpy(revived(inputs)), atol)

    run_model_saving_test(lambda: model, {}, inputs, atol=atol, randomize=False)
    _check_mixed_precision(model_factory, inputs, check_training)
    return model


def _check_shapes(out, expected):
    if isinstance(out, dict):
        assert set(out) == set(expected), (sorted(out), sorted(expected))
        for k, shape in expected.items():
            assert tuple(out[k].shape) == tuple(shape), (k, out[k].shape, shape)
        return
    expected = expected if isinstance(expected, list) else [expected]
    assert [tuple(o.shape) for o in out] == [tuple(s) for s in expected]


def _check_mixed_precision(factory, feed, check_training):
    with global_policy("mixed_bfloat16"):
        model = factory()
        out = model(feed)
        _assert_finite(out, "(mixed_bfloat16)")
        if check_training and model.trainable_weights:
            _assert_finite(model(feed, training=True), "(mixed_bfloat16, training)")
            grads = _gradients(model, feed)
            _assert_finite_gradients(grads, model.trainable_weights, require_all=False)


class StopAfterEpochs(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after `epochs` epochs: what Ctrl-C or a killed
    job looks like to a training loop (for resume tests)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt
