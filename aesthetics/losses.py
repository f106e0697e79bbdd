"""Losses over 10-bin score distributions.

All take ``y_true`` and ``y_pred`` of shape (batch, num_bins) with rows that are
probability distributions over scores 1..num_bins, compute in float32 whatever
the model's compute dtype, and have finite gradients when ``y_pred == y_true``.

Select by name in a config: ``"train": {"loss": "emd", "loss_options": {"r": 2}}``.
"""

from __future__ import annotations

import keras
from keras import ops

# Added under roots so the gradient of x**(1/r) at x == 0 stays finite.
_EPS = 1e-12


def _as_float32(y_true, y_pred):
    return ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")


def emd_loss(y_true, y_pred, r: float = 2.0):
    """Earth mover's distance between score distributions (NIMA, eq. 1).

    EMD_r = (mean_k |CDF_true(k) - CDF_pred(k)|^r)^(1/r), per example.
    r=2 is NIMA's choice (smooth, penalises large CDF gaps more); r=1 is the
    plain L1 distance between CDFs. Returns shape (batch,).
    """
    y_true, y_pred = _as_float32(y_true, y_pred)
    cdf_diff = ops.cumsum(y_true, axis=-1) - ops.cumsum(y_pred, axis=-1)
    if r == 1:
        return ops.mean(ops.abs(cdf_diff), axis=-1)
    if r == 2:
        # square, not abs**2: abs has a kink at 0 and its **r the same gradient
        return ops.sqrt(ops.mean(ops.square(cdf_diff), axis=-1) + _EPS)
    power = ops.mean(ops.power(ops.abs(cdf_diff) + _EPS, r), axis=-1)
    return ops.power(power + _EPS, 1.0 / r)


def mean_score(distribution, num_bins: int | None = None):
    """E[score] of distributions over scores 1..num_bins; shape (batch,)."""
    distribution = ops.cast(distribution, "float32")
    n = num_bins or distribution.shape[-1]
    scores = ops.arange(1, n + 1, dtype="float32")
    return ops.sum(distribution * scores, axis=-1)


class _DistributionLoss(keras.losses.Loss):
    """Base for config-constructible losses: subclasses set `fn` and kwargs."""

    def __init__(self, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(self._fn_kwargs)
        return config


@keras.saving.register_keras_serializable(package="aesthetics")
class EMDLoss(_DistributionLoss):
    """Keras loss wrapper of `emd_loss` (args: r=2)."""

    fn = staticmethod(emd_loss)

    def __init__(self, r: float = 2.0, name="emd", **kwargs):
        super().__init__(name=name, r=r, **kwargs)


# name -> Loss class; other modules add theirs with `register_loss`.
LOSSES: dict[str, type] = {"emd": EMDLoss}


def register_loss(name: str):
    def wrap(cls):
        LOSSES[name] = cls
        return cls

    return wrap


def get_loss(name: str, **options) -> keras.losses.Loss:
    """Builds a registered loss by name with its options."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name](**options)
