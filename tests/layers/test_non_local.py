"""NonLocalBlock: embedded-Gaussian non-local block."""

import keras
import numpy as np
import pytest

from aesthetics.layers import NonLocalBlock
from harness import randomize_weights, run_layer_test

X = np.random.default_rng(0).normal(size=(2, 7, 7, 16)).astype("float32")


@pytest.mark.parametrize(
    "kwargs, n_trainable, n_non_trainable",
    [
        ({}, 8, 0),  # theta, phi, g, w: kernel + bias each
        ({"subsample": False, "scale": False}, 8, 0),
        # w without bias + BN gamma/beta; BN moving mean/variance
        ({"use_bn": True, "subsample": False, "inter_channels": 3, "scale": False}, 9, 2),
        ({"use_bn": True, "inter_channels": 5}, 9, 2),
    ],
    ids=["default", "no_subsample", "bn", "bn_subsample"],
)
def test_non_local_through_harness(kwargs, n_trainable, n_non_trainable):
    run_layer_test(
        NonLocalBlock,
        kwargs,
        X,
        (2, 7, 7, 16),
        expected_num_trainable_weights=n_trainable,
        expected_num_non_trainable_weights=n_non_trainable,
        atol=1e-5,
    )


def test_non_local_odd_sizes_through_harness():
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 8)).astype("float32")
    run_layer_test(
        NonLocalBlock,
        {"use_bn": True, "subsample": False, "inter_channels": 3, "scale": False},
        x,
        (2, 5, 6, 8),
        expected_num_trainable_weights=9,
        expected_num_non_trainable_weights=2,
        atol=1e-5,
    )


@pytest.mark.parametrize("use_bn", [False, True])
def test_non_local_is_identity_at_init(use_bn):
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 8)).astype("float32")
    layer = NonLocalBlock(use_bn=use_bn)
    np.testing.assert_allclose(layer(x), x, atol=1e-6)
    np.testing.assert_allclose(layer(x, training=True), x, atol=1e-6)


def _np_non_local(x, layer, subsample, scale=True):
    wt, bt = layer.theta.get_weights()
    wp, bp = layer.phi.get_weights()
    wg, bg = layer.g.get_weights()
    ww, bw = layer.w.get_weights()
    theta = x @ wt[0, 0] + bt
    phi = x @ wp[0, 0] + bp
    g = x @ wg[0, 0] + bg
    if subsample:  # 2x2 max pool, even sizes
        b, h, w, c = phi.shape
        phi = phi.reshape(b, h // 2, 2, w // 2, 2, c).max((2, 4))
        g = g.reshape(b, h // 2, 2, w // 2, 2, c).max((2, 4))
    b, h, w, _ = x.shape
    ci = theta.shape[-1]
    theta, phi, g = (t.reshape(b, -1, ci) for t in (theta, phi, g))
    logits = theta @ phi.transpose(0, 2, 1)
    if scale:
        logits = logits / np.sqrt(ci)
    a = np.exp(logits - logits.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    y = (a @ g).reshape(b, h, w, ci)
    return x + y @ ww[0, 0] + bw


@pytest.mark.parametrize("subsample", [False, True])
@pytest.mark.parametrize("scale", [True, False])
def test_non_local_matches_numpy(subsample, scale):
    x = np.random.default_rng(1).normal(size=(2, 4, 6, 8)).astype("float32")
    layer = NonLocalBlock(inter_channels=4, subsample=subsample, scale=scale)
    layer(x)
    randomize_weights(layer, scale=0.5)
    np.testing.assert_allclose(layer(x), _np_non_local(x, layer, subsample, scale), atol=1e-4)


def test_non_local_unknown_spatial_dims():
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, NonLocalBlock()(inputs))
    randomize_weights(model.layers[-1], scale=0.5)
    for shape in [(3, 5, 7, 8), (1, 2, 2, 8), (2, 1, 1, 8)]:
        x = np.random.default_rng(0).normal(size=shape).astype("float32")
        out = np.asarray(model(x))
        assert out.shape == shape and np.all(np.isfinite(out))


def test_non_local_attention_in_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = NonLocalBlock()
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    out = layer(x)
    assert out.dtype == "bfloat16"
    assert layer.theta.compute_dtype == "bfloat16" and layer.theta.kernel.dtype == "float32"


def test_non_local_explicit_policy_reaches_every_sublayer():
    layer = NonLocalBlock(use_bn=True, dtype=keras.DTypePolicy("mixed_bfloat16"))
    layer(X)
    subs = {s.name: s.dtype_policy.name for s in layer._flatten_layers(include_self=False)}
    assert {"theta", "phi", "g", "w", "bn"} <= set(subs)
    assert set(subs.values()) == {"mixed_bfloat16"}


def test_non_local_bad_arguments():
    with pytest.raises(ValueError, match="inter_channels"):
        NonLocalBlock(inter_channels=0)
    with pytest.raises(ValueError, match="known C"):
        NonLocalBlock().build((2, 4, 4, None))


@pytest.mark.parametrize("use_bn", [False, True])
def test_the_residual_grows_at_most_about_the_learning_rate_with_bn(use_bn):
    """Issue 26's divergence: under Adam every weight moves by about the
    learning rate a step, so a zero-initialised output projection W with a
    wide input grows its residual by ~lr x Ci x |A g| a step (a 512-wide
    block reached 46x its input in a 3-epoch head phase) and the score
    softmax saturates. Through zero-gamma BatchNorm (use_bn) the residual is
    normalised, and only gamma and beta (one number a channel, ~lr a step)
    scale it."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(1).uniform(0, 6, (4, 4, 4, 128)).astype("float32"))  # ReLU6 maps
    layer = NonLocalBlock(inter_channels=64, use_bn=use_bn, subsample=False)
    layer(x)
    optimizer = keras.optimizers.Adam(1e-3)
    for _ in range(30):  # a head phase's worth of steps pushing the output one way
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(layer(x, training=True))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables))
    residual = float(tf.reduce_max(tf.abs(layer(x, training=False) - x)))
    if use_bn:
        assert residual < 0.5
    else:
        assert residual > 5.0
