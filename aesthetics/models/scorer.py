"""`AestheticsModel`: a scoring model that carries its own recipe.

KerasHub's functional-subclass pattern: the class builds a functional graph
in `__init__` from its constructor arguments, and `get_config` returns those
arguments. A saved `.keras` file therefore holds the architecture config
(`model_config`), the input/output recipe (`recipe`, see
`aesthetics.models.recipe.Recipe`), the dtype policy it was built under and
free-form provenance (`info`: training data, weights origin, metrics); loading
rebuilds the same graph (backbone weights are not fetched again: the file's
own variables are loaded into it) and returns this class.

    model = build_model(ModelConfig(backbone="mobilenet"), recipe=Recipe(image_size=224))
    model.recipe.resize           # "resize"
    model.save("m.keras")
    keras.saving.load_model("m.keras").recipe == model.recipe   # True

Graph builders are looked up by `head`: "distribution" uses the registered
model builders (`nima`, `dual_path`: image -> (B, num_bins) probabilities);
"ranking" uses the self-supervised scorer (image -> (B, 1) score);
"zero_shot" CLIP-IQA's prompt comparison (image -> (B, 1) score, no training).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import keras

from aesthetics.config import ModelConfig
from aesthetics.errors import ModelFileError
from aesthetics.models.recipe import Recipe, checked_fields
from aesthetics.catalog import MODEL_HEADS
from aesthetics.precision import dtype_policy_scope

HEADS = ("distribution", "ranking", "zero_shot")  # = aesthetics.catalog.MODEL_HEADS


def _graph(config: ModelConfig, image_size: int, head: str) -> keras.Model:
    # the head's graph builder, from the catalog: "ranking" lives in
    # aesthetics.pretext, which builds on the models (never the reverse)
    return MODEL_HEADS.load(head)(config, image_size)


def _hub_config(graph):
    """The KerasHub encoder record of the graph's backbone, if it is one."""
    try:
        return getattr(graph.get_layer("backbone"), "hub_config", None)
    except ValueError:
        return None


@keras.saving.register_keras_serializable(package="aesthetics")
class AestheticsModel(keras.Model):
    """An image -> score model with its recipe.

    Args:
        model_config: a `ModelConfig` as a dict (architecture: model,
            backbone, alpha, dropout, num_bins, options). Its
            `backbone_weights` is used for this build only; the saved config
            records None (the weights live in the file) and keeps the origin
            in `info["backbone_weights"]`.
        recipe: a `Recipe` or its dict: input size, resize policy, output kind.
        head: "distribution" or "ranking" (see module docstring).
        policy: dtype policy name to build under (e.g. "mixed_bfloat16");
            None: the current global policy, recorded as its name.
        info: JSON-serialisable provenance (shown by `aesthetics models`,
            copied into export metadata).
        frozen_layers: names of layers to set non-trainable after the build
            (restores a frozen backbone or BatchNorm on load).
        flexible_input: build the graph for inputs of any size (progressive
            resizing trains on smaller crops); the recipe still says how a
            photo is prepared for scoring. `with_fixed_input` turns such a
            model back into one with the recipe's input shape.

    Call arguments: images, float32 (B, image_size, image_size, 3) RGB in
    [0, 255]. Output: (B, num_bins) float32 probabilities ("distribution") or
    (B, 1) float32 scores ("ranking").
    """

    def __init__(self, model_config, recipe, head="distribution", policy=None, info=None,
                 frozen_layers=None, flexible_input=False, **kwargs):
        if head not in HEADS:
            raise ModelFileError(f"unknown model head {head!r}; expected one of {list(HEADS)}")
        config = model_config if isinstance(model_config, ModelConfig) else _model_config(model_config)
        recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
        policy = policy or keras.config.dtype_policy().name
        with dtype_policy_scope(policy):
            graph = _graph(config, None if flexible_input else recipe.input_shape[0], head)
        kwargs.setdefault("name", graph.name)
        inputs = graph.inputs[0] if len(graph.inputs) == 1 else graph.inputs
        outputs = graph.outputs[0] if len(graph.outputs) == 1 else graph.outputs
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        info = dict(info or {})
        info.setdefault("backbone_weights", _weights_origin(config.backbone_weights))
        hub = _hub_config(graph)
        if hub is not None:  # a KerasHub encoder: its config rebuilds it; the preset is provenance
            if config.backbone_preset:
                info.setdefault("backbone_preset", _weights_origin(config.backbone_preset))
            config = dataclasses.replace(config, backbone_preset=None, backbone_config=hub)
        self.model_config = dataclasses.replace(config, backbone_weights=None)
        self.recipe = recipe
        self.head = head
        self.policy = policy
        self.info = info
        self.flexible_input = bool(flexible_input)
        if frozen_layers:
            self._freeze(frozen_layers)

    def _freeze(self, names) -> None:
        names = set(names)
        for layer in self._flatten_layers(include_self=False):
            if layer.name in names:
                layer.trainable = False

    def frozen_layer_names(self) -> list:
        """Names of the layers that do not train (a frozen backbone, frozen
        BatchNorm): part of the config, so a resumed run trains what the
        interrupted one trained and its optimizer state still fits."""
        return [layer.name for layer in self._flatten_layers(include_self=False) if not layer.trainable]

    def get_config(self):
        return {
            "model_config": dataclasses.asdict(self.model_config),
            "recipe": self.recipe.to_dict(),
            "head": self.head,
            "policy": self.policy,
            "info": self.info,
            "frozen_layers": self.frozen_layer_names(),
            "flexible_input": self.flexible_input,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        trainable = config.pop("trainable", True)
        model = cls(**config)
        model.trainable = trainable
        return model

    @classmethod
    def from_preset(cls, name: str) -> "AestheticsModel":
        """A shipped model (a preset: `aesthetics/zoo/<name>/`) by its name or
        alias, e.g. `AestheticsModel.from_preset("aesthetic")`: its `.keras`
        file, carrying the recipe of its card. Offline."""
        import aesthetics.layers  # noqa: F401  (registers the custom layers)
        import aesthetics.losses  # noqa: F401
        import aesthetics.metrics  # noqa: F401
        from aesthetics.zoo import resolve_model

        resolved = resolve_model(f"zoo:{name}" if not str(name).startswith("zoo:") else name, "keras")
        model = keras.saving.load_model(resolved.path, compile=False)
        if not isinstance(model, cls):
            raise ModelFileError(f"{resolved.path}: not an {cls.__name__}")
        return model


def with_fixed_input(model: AestheticsModel) -> AestheticsModel:
    """`model` (built with flexible_input) as a model with its recipe's input
    shape and the same weights: what every exporter and scorer expects."""
    if not model.flexible_input:
        return model
    fixed = AestheticsModel(model.model_config, model.recipe, head=model.head, policy=model.policy,
                            info=model.info, frozen_layers=model.frozen_layer_names(), name=model.name)
    fixed.set_weights(model.get_weights())
    return fixed


def _model_config(values) -> ModelConfig:
    return ModelConfig(**checked_fields(ModelConfig, values, "model_config"))


def _weights_origin(weights) -> Optional[str]:
    if weights in (None, "imagenet", "bundled"):
        return weights
    from pathlib import Path

    return Path(str(weights)).name  # a local file: its name, not the user's path


def recipe_of(model) -> Recipe:
    """The model's recipe; for a plain Keras model (e.g. saved by an older
    version) a default recipe from its input shape."""
    recipe = getattr(model, "recipe", None)
    if isinstance(recipe, Recipe):
        return recipe
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    width = model.outputs[0].shape[-1]
    output = "score" if width == 1 else "distribution"
    bins = int(width) if width != 1 else 10
    if shape[1] is None:  # fully convolutional: the photo at its own size
        return Recipe(resize="native", output=output, num_bins=bins)
    return Recipe(image_size=int(shape[1]), output=output, num_bins=bins)
