"""Metrics: numpy rank/error metrics on score distributions (`scores`) and
Keras metrics for training logs; importing registers the Keras ones."""

import aesthetics.metrics.scores  # noqa: F401
