"""TANet-style losses: cdf, emd_r1, mixed_mean, combined (issue #4)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aesthetics.catalog import LOSSES
from aesthetics.losses.distribution import (
    CDFLoss,
    CombinedLoss,
    EMDLoss,
    EMDR1Loss,
    MixedMeanLoss,
    get_loss,
)

NEW_LOSSES = ["cdf", "emd_r1", "mixed_mean", "combined"]


def _dists(seed=0, batch=4, bins=10):
    rng = np.random.default_rng(seed)
    y_true = rng.dirichlet(np.ones(bins), batch).astype("float32")
    y_pred = rng.dirichlet(np.ones(bins) * 2, batch).astype("float32")
    return y_true, y_pred


# numpy references, written from the definitions, per example
def _np_cdf(t, p):
    return np.mean(np.abs(np.cumsum(t, -1) - np.cumsum(p, -1)), -1)


def _np_emd2(t, p):
    return np.sqrt(np.mean((np.cumsum(t, -1) - np.cumsum(p, -1)) ** 2, -1))


def _np_mixed(t, p, normalize=True):
    scores = np.arange(1, t.shape[-1] + 1)
    d = (t * scores).sum(-1) - (p * scores).sum(-1)
    if normalize:
        d = d / (t.shape[-1] - 1)
    return (np.abs(d) + d**2 + np.abs(d) ** 3) / 3


def test_new_losses_are_registered():
    for name in NEW_LOSSES:
        assert name in LOSSES
    assert isinstance(get_loss("cdf"), CDFLoss)
    assert isinstance(get_loss("emd_r1"), EMDR1Loss)
    assert isinstance(get_loss("mixed_mean", normalize=False), MixedMeanLoss)
    assert isinstance(get_loss("combined", mean_weight=0.5), CombinedLoss)


def test_values_match_numpy_references():
    t, p = _dists()
    ref_cdf = _np_cdf(t, p)
    np.testing.assert_allclose(CDFLoss().call(t, p), ref_cdf, rtol=1e-5)
    np.testing.assert_allclose(float(CDFLoss()(t, p)), ref_cdf.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(EMDR1Loss()(t, p)), ref_cdf.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        float(MixedMeanLoss()(t, p)), _np_mixed(t, p).mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(MixedMeanLoss(normalize=False)(t, p)),
        _np_mixed(t, p, normalize=False).mean(),
        rtol=1e-5,
    )
    ref = 0.7 * _np_emd2(t, p) + 0.3 * _np_mixed(t, p)
    loss = CombinedLoss(distribution_weight=0.7, mean_weight=0.3)
    np.testing.assert_allclose(float(loss(t, p)), ref.mean(), rtol=1e-5)
    # defaults: EMD r=2 + 1.0 * normalised mixed mean
    ref = _np_emd2(t, p) + _np_mixed(t, p)
    np.testing.assert_allclose(float(CombinedLoss()(t, p)), ref.mean(), rtol=1e-5)
    # r=1 distribution term
    ref = _np_cdf(t, p) + 0.1 * _np_mixed(t, p)
    loss = CombinedLoss(mean_weight=0.1, r=1)
    np.testing.assert_allclose(float(loss(t, p)), ref.mean(), rtol=1e-5)


def test_hand_computed_example():
    # all mass on score 1 vs all mass on score 10: every CDF gap but the last is 1
    t = np.eye(10, dtype="float32")[[0]]
    p = np.eye(10, dtype="float32")[[9]]
    np.testing.assert_allclose(float(CDFLoss()(t, p)), 0.9, rtol=1e-6)
    # mean scores 1 and 10: d = 9 (normalised 1) -> (1 + 1 + 1) / 3
    np.testing.assert_allclose(float(MixedMeanLoss()(t, p)), 1.0, rtol=1e-6)
    # unnormalised: (9 + 81 + 729) / 3
    np.testing.assert_allclose(float(MixedMeanLoss(normalize=False)(t, p)), 273.0, rtol=1e-6)


def test_zero_when_equal():
    t, _ = _dists()
    for name in NEW_LOSSES:
        assert float(get_loss(name)(t, t)) < 1e-5, name


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_finite_at_exact_match(name):
    # y_pred == y_true exactly: softmax of the same logits (uniform, one-hot-ish,
    # and random); every loss's kink/root at 0 must not give NaN or inf.
    logits = np.stack(
        [np.zeros(10), np.eye(10)[3] * 30.0, np.random.default_rng(0).normal(size=10)]
    ).astype("float32")
    y_true = tf.nn.softmax(logits)
    logits = tf.Variable(logits)
    loss = get_loss(name)
    with tf.GradientTape() as tape:
        value = loss(y_true, tf.nn.softmax(logits))
    grad = tape.gradient(value, logits)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(grad.numpy())), (name, grad.numpy())


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_serialization_roundtrip(name):
    options = {"combined": {"mean_weight": 0.25, "r": 1.0}, "mixed_mean": {"normalize": False}}
    loss = get_loss(name, **options.get(name, {}))
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()
    t, p = _dists(1)
    np.testing.assert_allclose(float(clone(t, p)), float(loss(t, p)), rtol=1e-6)


@pytest.mark.parametrize("name", NEW_LOSSES + ["emd"])
def test_bfloat16_predictions_give_float32(name):
    t, p = _dists(2)
    keras.config.set_dtype_policy("mixed_bfloat16")  # conftest resets it
    loss = get_loss(name)
    value = loss(t, tf.cast(p, "bfloat16"))
    assert value.dtype == tf.float32
    assert np.isfinite(float(value))
    per_example = loss.call(tf.cast(t, "bfloat16"), tf.cast(p, "bfloat16"))
    assert per_example.dtype == tf.float32 and per_example.shape == (4,)


def test_emd_r1_equals_cdf_and_emd_r1_option():
    t, p = _dists(3)
    a = float(get_loss("emd_r1")(t, p))
    np.testing.assert_allclose(a, float(get_loss("cdf")(t, p)), rtol=1e-6)
    np.testing.assert_allclose(a, float(EMDLoss(r=1)(t, p)), rtol=1e-6)
