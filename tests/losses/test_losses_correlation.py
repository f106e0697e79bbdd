"""The correlation-aware loss (EMD + batch PLCC + pairwise ranking)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from aesthetics.config import load_config
from aesthetics.errors import ConfigError
from aesthetics.losses import get_loss
from aesthetics.losses.correlation import EMDPLCCLoss, emd_plcc_loss, plcc_term, rank_term
from aesthetics.losses.distribution import emd_loss


def _peaked(scores, n=10):
    """Distributions with all mass on bins scores (1-based)."""
    out = np.zeros((len(scores), n), np.float32)
    out[np.arange(len(scores)), np.asarray(scores) - 1] = 1.0
    return out


def test_plcc_term_is_zero_for_a_linear_fit_one_for_an_inverse_and_zero_when_undefined():
    t = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    assert float(plcc_term(t, 2 * t + 1)) == pytest.approx(0.0, abs=1e-6)
    assert float(plcc_term(t, -t)) == pytest.approx(1.0, abs=1e-6)
    assert float(plcc_term(t[:1], t[:1])) == 0.0  # one photo: no correlation
    assert float(plcc_term(t, np.ones(4, np.float32))) == 0.0  # no spread


def test_rank_term_counts_only_misordered_pairs():
    t = np.array([1.0, 2.0, 3.0], np.float32)
    assert float(rank_term(t, t)) == 0.0
    # one pair of three reversed by 0.9 points on 1..10: hinge 0.1 over 6 ordered pairs (each counted twice)
    got = float(rank_term(t, np.array([1.0, 2.9, 2.0], np.float32)))
    assert got == pytest.approx(2 * (0.9 / 9) / 6, rel=1e-5)
    assert float(rank_term(np.ones(3, np.float32), t)) == 0.0  # ties carry no order


def test_emd_plcc_adds_the_batch_terms_to_emd():
    y_true = _peaked([2, 5, 8, 9])
    good = _peaked([3, 5, 7, 9])  # same order: plcc term ~0
    bad = _peaked([9, 7, 5, 3])   # reversed
    emd = np.asarray(emd_loss(y_true, bad))
    got = np.asarray(emd_plcc_loss(y_true, bad, plcc_weight=0.5, rank_weight=0.0))
    assert got.shape == (4,)
    np.testing.assert_allclose(got - emd, 0.5 * float(plcc_term(
        np.array([2, 5, 8, 9.0], np.float32), np.array([9, 7, 5, 3.0], np.float32))), atol=1e-6)
    assert np.mean(emd_plcc_loss(y_true, good)) < np.mean(emd_plcc_loss(y_true, bad))
    # with both weights 0 it is EMD
    np.testing.assert_allclose(emd_plcc_loss(y_true, bad, plcc_weight=0.0), emd, atol=1e-7)


def test_gradients_are_finite_even_for_a_batch_of_one_and_identical_predictions():
    logits = tf.Variable(np.zeros((3, 10), np.float32))
    y = _peaked([2, 5, 8])
    loss = EMDPLCCLoss(rank_weight=1.0)
    for batch in (slice(0, 1), slice(0, 3)):
        with tf.GradientTape() as tape:
            value = loss(y[batch], tf.nn.softmax(logits[batch]))
        grad = tape.gradient(value, logits)
        assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))


def test_registered_with_a_checked_schema_and_serialisable():
    loss = get_loss("emd_plcc", plcc_weight=0.3, rank_weight=0.1)
    again = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert isinstance(again, EMDPLCCLoss) and again.get_config()["plcc_weight"] == 0.3
    config = load_config(None, ['train.loss="emd_plcc"', 'train.loss_options={"plcc_weight": 2.0}'])
    assert config.train.loss_options == {"plcc_weight": 2.0}
    with pytest.raises(ConfigError, match="plcc_weight"):
        load_config(None, ['train.loss="emd_plcc"', 'train.loss_options={"plcc_weight": -1}'])
    with pytest.raises(ConfigError, match="rank_margin"):
        load_config(None, ['train.loss="emd_plcc"', 'train.loss_options={"rank_margin": 3}'])
