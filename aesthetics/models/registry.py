"""Model builders by name: `"model": "nima"` in a config picks `build_nima`."""

from __future__ import annotations

from typing import Callable

import keras

MODEL_BUILDERS: dict[str, Callable] = {}


def register_model(name: str):
    """Decorator: registers `fn(config: ModelConfig, image_size: int) -> keras.Model`."""

    def wrap(fn):
        MODEL_BUILDERS[name] = fn
        return fn

    return wrap


def build_model(config, image_size: int = 224) -> keras.Model:
    """Builds the model a `ModelConfig` names."""
    import aesthetics.models  # noqa: F401  (registers every builder)

    if config.model not in MODEL_BUILDERS:
        raise ValueError(
            f"unknown model {config.model!r}; registered: {sorted(MODEL_BUILDERS)}"
        )
    return MODEL_BUILDERS[config.model](config, image_size=image_size)
