"""Building a registered model: `"model": "nima"` in a config picks the
builder `aesthetics.catalog.MODELS` names.

A builder returns the bare functional graph; `build_model` wraps it in an
`AestheticsModel`, which carries the recipe and is what gets trained, saved
and served.
"""

from __future__ import annotations

from typing import Optional

import keras

from aesthetics.catalog import MODELS, register_model  # noqa: F401  (register_model: public)
from aesthetics.registry import import_plugins


def build_graph(config, image_size: Optional[int] = 224) -> keras.Model:
    """The plain functional graph of the builder a `ModelConfig` names, after
    its plugins are imported and its values checked (a ConfigError naming
    the key, e.g. for `predict --weights --alpha nan` or a model file's
    config, not a failure deep inside Keras)."""
    import_plugins(getattr(config, "plugins", None), "model.plugins")
    _check_model_config(config)
    kind = MODELS.get(config.model).extra.get("kind", "image")
    if kind != "image":
        from aesthetics.errors import ConfigError

        if kind == "zero_shot":
            raise ConfigError(f"model.model: {config.model!r} is not trained; `aesthetics zero-shot` builds it")
        raise ConfigError(f"model.model: {config.model!r} is not an image model; `aesthetics train` trains it "
                          "on the embeddings of its embedder (docs/REFERENCES.md)")
    return MODELS.load(config.model)(config, image_size=image_size)


def _check_model_config(config) -> None:
    import dataclasses

    from aesthetics.config.validation import validate_model

    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        import copy

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
            output="score" if head in ("ranking", "zero_shot") else "distribution",
        )
    elif image_size is not None and int(image_size) != recipe.image_size:
        raise ValueError(f"image_size {image_size} differs from the recipe's {recipe.image_size}")
    return AestheticsModel(config, recipe, head=head, info=info, flexible_input=flexible_input)
