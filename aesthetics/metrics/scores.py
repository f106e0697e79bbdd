"""Evaluation metrics for score distributions and mean scores.

Numpy functions (used by `evaluate` and the benchmarks) plus Keras metrics for
training logs. Conventions: distributions are (n, num_bins) over scores
1..num_bins; "mean score" means E[score] under a distribution.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from scipy import stats

from aesthetics.distributions import distribution_mean_std
from aesthetics.losses.distribution import emd_loss, mean_score


def distribution_mean(dist) -> np.ndarray:
    return distribution_mean_std(dist)[0]


def distribution_std(dist) -> np.ndarray:
    return distribution_mean_std(dist)[1]


def srcc(y_true, y_pred) -> float:
    """Spearman rank-order correlation (ties averaged, like scipy)."""
    return float(stats.spearmanr(y_true, y_pred).statistic)


def plcc(y_true, y_pred) -> float:
    """Pearson linear correlation coefficient (a.k.a. LCC)."""
    return float(stats.pearsonr(y_true, y_pred).statistic)


def binary_accuracy(y_true, y_pred, threshold: float = 5.0) -> float:
    """Share of images put on the same side of `threshold` (AVA: 5) as the truth."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean((y_true >= threshold) == (y_pred >= threshold)))


def mse(y_true, y_pred) -> float:
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))


def mae(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def emd(dist_true, dist_pred, r: float = 2.0) -> float:
    """Mean EMD_r over examples (same definition as `aesthetics.losses.distribution.emd_loss`)."""
    cdf_diff = np.cumsum(dist_true, -1) - np.cumsum(dist_pred, -1)
    return float(np.mean(np.mean(np.abs(cdf_diff) ** r, axis=-1) ** (1.0 / r)))


def evaluate_distributions(dist_true, dist_pred, threshold: float = 5.0) -> dict:
    """All report metrics from true and predicted distributions."""
    dist_true = np.asarray(dist_true, dtype=np.float64)
    dist_pred = np.asarray(dist_pred, dtype=np.float64)
    m_true, m_pred = distribution_mean(dist_true), distribution_mean(dist_pred)
    n = len(m_true)
    constant = n < 2 or np.ptp(m_true) == 0 or np.ptp(m_pred) == 0
    return {
        "n": int(n),
        "srcc": float("nan") if constant else srcc(m_true, m_pred),
        "plcc": float("nan") if constant else plcc(m_true, m_pred),
        "accuracy": binary_accuracy(m_true, m_pred, threshold),
        "accuracy_threshold": float(threshold),
        "mse": mse(m_true, m_pred),
        "mae": mae(m_true, m_pred),
        "emd": emd(dist_true, dist_pred, r=2.0),
        "emd_r1": emd(dist_true, dist_pred, r=1.0),
    }


# ---- Keras metrics (for training logs) ---------------------------------------


@keras.saving.register_keras_serializable(package="aesthetics")
class MeanScoreMAE(keras.metrics.MeanMetricWrapper):
    """Mean absolute error between the mean scores of two distributions."""

    def __init__(self, name="mean_score_mae", dtype=None):
        super().__init__(_mean_score_abs_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _mean_score_abs_error(y_true, y_pred):
    return ops.abs(mean_score(y_true) - mean_score(y_pred))


@keras.saving.register_keras_serializable(package="aesthetics")
class MeanScoreAccuracy(keras.metrics.MeanMetricWrapper):
    """Binary accuracy of the mean score at a threshold (AVA convention: 5)."""

    def __init__(self, threshold=5.0, name="mean_score_accuracy", dtype=None):
        self.threshold = float(threshold)
        super().__init__(self._accuracy, name=name, dtype=dtype)

    def _accuracy(self, y_true, y_pred):
        hi_true = mean_score(y_true) >= self.threshold
        hi_pred = mean_score(y_pred) >= self.threshold
        return ops.cast(ops.equal(hi_true, hi_pred), "float32")

    def get_config(self):
        return {"threshold": self.threshold, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="aesthetics")
class EMDMetric(keras.metrics.MeanMetricWrapper):
    """Mean EMD_r (r=2 by default) as a metric, whatever the training loss."""

    def __init__(self, r=2.0, name="emd", dtype=None):
        self.r = float(r)
        super().__init__(emd_loss, name=name, dtype=dtype, r=self.r)

    def get_config(self):
        return {"r": self.r, "name": self.name, "dtype": self.dtype}
