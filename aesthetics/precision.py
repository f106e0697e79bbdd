"""Dtype policies as a scope: nothing global leaks out of a build or a run."""

from __future__ import annotations

import contextlib
from typing import Optional


@contextlib.contextmanager
def dtype_policy_scope(policy: Optional[str]):
    """Sets Keras' global dtype policy to `policy` (e.g. "mixed_bfloat16")
    inside the block and restores the previous one on exit, also on error.
    None leaves the current policy as it is."""
    import keras

    if policy is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
