"""Model builders by name: `"model": "nima"` in a config picks `build_nima`.

A builder returns the bare functional graph; `build_model` wraps it in an
`AestheticsModel`, which carries the recipe and is what gets trained, saved
and served.
"""

from __future__ import annotations

from typing import Callable, Optional

import keras

MODEL_BUILDERS: dict[str, Callable] = {}


def register_model(name: str):
    """Decorator: registers `fn(config: ModelConfig, image_size: int) -> keras.Model`."""

    def wrap(fn):
        MODEL_BUILDERS[name] = fn
        return fn

    return wrap


def build_graph(config, image_size: int = 224) -> keras.Model:
    """The plain functional graph of the builder a `ModelConfig` names."""
    import aesthetics.models.dual_path  # noqa: F401  (registers the builders)
    import aesthetics.models.nima  # noqa: F401
    from aesthetics.errors import ConfigError

    if config.model not in MODEL_BUILDERS:
        raise ConfigError(
            f"model.model: unknown model {config.model!r}; registered: {sorted(MODEL_BUILDERS)}"
        )
    _check_model_config(config)
    return MODEL_BUILDERS[config.model](config, image_size=image_size)


def _check_model_config(config) -> None:
    """The config checks of `aesthetics.config` for a ModelConfig built in
    code (e.g. `predict --weights --alpha nan`) or read from a model file: a
    ConfigError naming the key, not a failure deep inside Keras."""
    import copy
    import dataclasses

    from aesthetics.config.validation import validate_model

    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        validate_model(copy.deepcopy(config))


def build_model(config, image_size: Optional[int] = None, recipe=None, info=None, head="distribution",
                flexible_input: bool = False):
    """Builds the `AestheticsModel` a `ModelConfig` names, carrying `recipe`
    (default: whole-photo resize to `image_size`, 224 if not given);
    `flexible_input`: a graph for inputs of any size (see AestheticsModel)."""
    from aesthetics.models.recipe import Recipe
    from aesthetics.models.scorer import AestheticsModel

    if recipe is None:
        recipe = Recipe(
            image_size=int(image_size or 224),
            resize_to=max(256, int(image_size or 224)),
            num_bins=int(config.num_bins),
            output="score" if head == "ranking" else "distribution",
        )
    elif image_size is not None and int(image_size) != recipe.image_size:
        raise ValueError(f"image_size {image_size} differs from the recipe's {recipe.image_size}")
    return AestheticsModel(config, recipe, head=head, info=info, flexible_input=flexible_input)
