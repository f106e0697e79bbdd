import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from aesthetics.metrics import scores as M
from aesthetics.losses.distribution import EMDLoss, emd_loss, get_loss, mean_score


def _dists(n=6, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 10)).astype("float32")
    b = rng.random((n, 10)).astype("float32")
    return a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)


def _emd_reference(p, q, r):
    out = []
    for x, y in zip(p, q):
        cx, cy = np.cumsum(x), np.cumsum(y)
        out.append((np.mean(np.abs(cx - cy) ** r)) ** (1 / r))
    return np.array(out)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_emd_matches_reference(r):
    p, q = _dists()
    np.testing.assert_allclose(np.asarray(emd_loss(p, q, r=r)), _emd_reference(p, q, r), atol=2e-5)
    np.testing.assert_allclose(M.emd(p, q, r=r), _emd_reference(p, q, r).mean(), atol=1e-6)


def test_emd_of_shift_by_one_bin():
    # All mass moved by one bin: CDFs differ by 1 on one of 10 positions.
    p = np.eye(10, dtype="float32")[[3]]
    q = np.eye(10, dtype="float32")[[4]]
    assert np.isclose(float(emd_loss(p, q, r=1)[0]), 0.1)
    assert np.isclose(float(emd_loss(p, q, r=2)[0]), np.sqrt(0.1), atol=1e-6)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_emd_gradient_finite_when_prediction_equals_target(r):
    logits = tf.Variable(np.log(_dists()[0]))
    target = tf.nn.softmax(logits)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(emd_loss(tf.stop_gradient(target), tf.nn.softmax(logits), r=r))
    grad = tape.gradient(loss, logits)
    assert np.all(np.isfinite(grad.numpy()))
    assert float(loss) < 1e-5


def test_emd_bfloat16_predictions_give_float32():
    p, q = _dists()
    out = emd_loss(p, tf.cast(q, tf.bfloat16))
    assert out.dtype == tf.float32 and np.all(np.isfinite(out.numpy()))


def test_loss_registry_and_serialisation():
    import keras

    loss = get_loss("emd", r=1)
    assert isinstance(loss, EMDLoss)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    p, q = _dists()
    np.testing.assert_allclose(float(loss(p, q)), float(again(p, q)), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("nope")


def test_mean_score_and_std():
    d = np.zeros((2, 10), "float32")
    d[0, 4] = d[0, 5] = 0.5  # scores 5 and 6
    d[1, 0] = 1.0
    np.testing.assert_allclose(np.asarray(mean_score(d)), [5.5, 1.0])
    np.testing.assert_allclose(M.distribution_mean(d), [5.5, 1.0])
    np.testing.assert_allclose(M.distribution_std(d), [0.5, 0.0], atol=1e-7)


def test_numpy_metrics_against_scipy_and_by_hand():
    rng = np.random.default_rng(1)
    t = rng.uniform(1, 10, 50)
    p = t + rng.normal(0, 1, 50)
    assert np.isclose(M.srcc(t, p), stats.spearmanr(t, p).statistic)
    assert np.isclose(M.plcc(t, p), stats.pearsonr(t, p).statistic)
    assert M.binary_accuracy([4, 6, 5, 7], [6, 6, 4.9, 8], threshold=5) == 0.5
    assert M.mse([1, 2], [2, 4]) == 2.5
    assert M.mae([1, 2], [2, 4]) == 1.5


def test_evaluate_distributions():
    p, q = _dists(20)
    out = M.evaluate_distributions(p, q)
    assert set(out) >= {"srcc", "plcc", "accuracy", "mse", "mae", "emd", "emd_r1", "n"}
    assert out["n"] == 20
    same = M.evaluate_distributions(p, p)
    assert np.isclose(same["srcc"], 1.0) and same["mse"] == 0 and same["emd"] == 0


def test_keras_metrics_match_numpy():
    p, q = _dists(8)
    mae = M.MeanScoreMAE()
    mae.update_state(p, q)
    assert np.isclose(float(mae.result()), M.mae(M.distribution_mean(p), M.distribution_mean(q)), atol=1e-5)
    acc = M.MeanScoreAccuracy(threshold=5.5)
    acc.update_state(p, q)
    ref = M.binary_accuracy(M.distribution_mean(p), M.distribution_mean(q), 5.5)
    assert np.isclose(float(acc.result()), ref)
    emd = M.EMDMetric(r=2)
    emd.update_state(p, q)
    assert np.isclose(float(emd.result()), M.emd(p, q), atol=1e-5)
