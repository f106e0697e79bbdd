"""Correlation-aware losses: EMD plus terms on how the batch's predicted mean
scores correlate with the true ones (what SRCC/PLCC measure).

A distribution loss alone spends capacity on the shape of each histogram;
norm-in-norm style IQA losses (Li et al. 2020) add a batch-level PLCC term
so the ranking and linearity of the mean scores are trained directly.
"""

from __future__ import annotations

import keras
from keras import ops

from aesthetics.losses.distribution import _DistributionLoss, _as_float32, emd_loss, mean_score


def plcc_term(true_mean, pred_mean):
    """(1 - PLCC) / 2 between two (B,) vectors: 0 for a perfect linear fit,
    1 for a perfect inverse one; 0 when the batch cannot define it (B < 2 or
    no spread), so a batch of one trains on the other terms only."""
    t = true_mean - ops.mean(true_mean)
    p = pred_mean - ops.mean(pred_mean)
    denom = ops.sqrt(ops.sum(t * t) * ops.sum(p * p))
    defined = ops.cast(denom > 1e-12, "float32")
    corr = ops.sum(t * p) / ops.maximum(denom, 1e-12)
    return defined * (1.0 - corr) / 2.0


def rank_term(true_mean, pred_mean, margin: float = 0.0, num_bins: int = 10):
    """Mean pairwise hinge over the batch's ordered pairs: for every pair whose
    true means differ, relu(margin - sign(dt) * dp), dp on the [0, 1] scale
    (divided by num_bins - 1). 0 when no pair differs."""
    scale = float(max(num_bins - 1, 1))
    dt = true_mean[:, None] - true_mean[None, :]
    dp = (pred_mean[:, None] - pred_mean[None, :]) / scale
    sign = ops.sign(dt)
    counted = ops.abs(sign)
    hinge = ops.relu(margin - sign * dp) * counted
    return ops.sum(hinge) / ops.maximum(ops.sum(counted), 1.0)


def emd_plcc_loss(y_true, y_pred, r: float = 2.0, plcc_weight: float = 1.0, rank_weight: float = 0.0,
                  rank_margin: float = 0.0):
    """EMD_r per example + plcc_weight * `plcc_term` + rank_weight *
    `rank_term` of the batch's mean scores (the batch terms are added to
    every example, so the reduced loss is EMD's mean plus the batch terms).
    Train with batches of at least 8 photos for the batch terms to mean much.
    Returns shape (batch,)."""
    y_true, y_pred = _as_float32(y_true, y_pred)
    n = y_pred.shape[-1]
    mt, mp = mean_score(y_true, n), mean_score(y_pred, n)
    batch = plcc_weight * plcc_term(mt, mp)
    if rank_weight:
        batch = batch + rank_weight * rank_term(mt, mp, rank_margin, n)
    return emd_loss(y_true, y_pred, r=r) + batch


@keras.saving.register_keras_serializable(package="aesthetics")
class EMDPLCCLoss(_DistributionLoss):
    """Keras loss wrapper of `emd_plcc_loss` (args: r=2, plcc_weight=1,
    rank_weight=0, rank_margin=0)."""

    fn = staticmethod(emd_plcc_loss)

    def __init__(self, r: float = 2.0, plcc_weight: float = 1.0, rank_weight: float = 0.0,
                 rank_margin: float = 0.0, name="emd_plcc", **kwargs):
        super().__init__(name=name, r=r, plcc_weight=plcc_weight, rank_weight=rank_weight,
                         rank_margin=rank_margin, **kwargs)
