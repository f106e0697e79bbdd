"""Mean and std of score distributions, numpy only.

Kept free of TensorFlow and pandas: the ONNX predict path imports it, and its
cold start is measured in fractions of a second.
"""

from __future__ import annotations

import numpy as np


def distribution_mean_std(dist) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of distributions over scores 1..num_bins along the last
    axis, as float64 (0-d arrays for a single distribution). Rows must
    already sum to 1."""
    p = np.asarray(dist, dtype=np.float64)
    scores = np.arange(1, p.shape[-1] + 1, dtype=np.float64)
    mean = p @ scores
    var = (p * (scores - mean[..., None]) ** 2).sum(axis=-1)
    return mean, np.sqrt(np.maximum(var, 0.0))
