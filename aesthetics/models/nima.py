"""NIMA (Talebi & Milanfar 2018): ImageNet backbone + 10-bin softmax score head.

Options (``"model": {"model": "nima", "options": {...}}``), all optional:

    pooling ("avg")        "avg": global average pooling (NIMA); "mean_std":
                           mean and standard deviation over positions
                           (`MeanStdPooling`), which keeps how features vary
                           across the photo.
    pool_layers ([])       extra backbone layers whose maps are pooled the
                           same way and concatenated (e.g. ["conv_pw_11_relu"],
                           MobileNet's stride-16 map).

A head trained on frozen features (`aesthetics.training.frozen_head`) reads
the input of "head_dropout" and has its feature standardisation folded into
the "scores" layer, so the graph stays plain (and exports to ONNX as is).
"""

from __future__ import annotations

from typing import Optional

import keras

from aesthetics.catalog import MODELS
from aesthetics.config import ModelConfig
from aesthetics.errors import ConfigError
from aesthetics.layers.mean_std_pooling import MeanStdPooling
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models.backbones import backbone_preprocess_mode, build_backbone

def resolve_options(options: Optional[dict]) -> dict:
    """The defaults merged with `options`, checked against nima's schema in
    `aesthetics.catalog` (a ConfigError naming model.options.KEY)."""
    return MODELS.get("nima").resolve_options(options, "model.options")


def mlp_head(features, widths, dropout: float):
    """LAION-predictor-style hidden layers ("head_mlp_i": Dense + GELU, then
    dropout) between the pooled features and the score head."""
    x = features
    for i, width in enumerate(widths):
        x = keras.layers.Dense(int(width), activation="gelu", name=f"head_mlp_{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"head_mlp_dropout_{i}")(x)
    return x


def score_head(features, num_bins: int, dropout: float, kernel_regularizer=None):
    """Dropout ("head_dropout") + Dense softmax over score bins ("scores"),
    kept in float32 so the distribution (and the EMD on it) stays accurate
    under mixed precision. Also the head `training.frozen_head` fits."""
    x = keras.layers.Dropout(dropout, name="head_dropout")(features)
    return keras.layers.Dense(
        num_bins, activation="softmax", dtype="float32", name="scores", kernel_regularizer=kernel_regularizer
    )(x)


def image_input(image_size: Optional[int]):
    # RGB in [0, 255]; preprocessing happens inside the model. None: any size.
    return keras.Input((image_size, image_size, 3), name="image", dtype="float32")


def _feature_backbone(backbone: keras.Model, pool_layers) -> keras.Model:
    """The backbone with the extra pooled maps as outputs (final map last)."""
    if not pool_layers:
        return backbone
    maps = []
    for name in pool_layers:
        try:
            maps.append(backbone.get_layer(name).output)
        except ValueError:
            raise ConfigError(f"model.options.pool_layers: the backbone has no layer {name!r}") from None
    return keras.Model(backbone.inputs, [*maps, backbone.outputs[0]], name="backbone")


def build_nima(config: ModelConfig, image_size: Optional[int] = 224) -> keras.Model:
    """Builds NIMA (see the module docstring for the options).

    Input: (batch, image_size, image_size, 3) float32 RGB in [0, 255]
    (image_size None: any size, for native-resolution recipes).
    Output: (batch, num_bins) float32 probabilities over scores 1..num_bins.
    Layers named "backbone" (frozen in training phase 1) and "scores" (head).
    """
    opts = resolve_options(config.options)
    inputs = image_input(image_size)
    x = BackbonePreprocess(backbone_preprocess_mode(config.backbone), name="preprocess")(
        inputs
    )
    backbone = build_backbone(
        config.backbone,
        (image_size, image_size, 3),
        weights=config.backbone_weights,
        alpha=config.alpha,
        preset=getattr(config, "backbone_preset", None),
        hub_config=getattr(config, "backbone_config", None),
    )
    if len(backbone.outputs[0].shape) == 2:  # a KerasHub encoder: already a pooled vector
        if opts["pool_layers"]:
            raise ConfigError("model.options.pool_layers: the backbone outputs a pooled vector, not maps")
        features = mlp_head(backbone(x), opts["head_hidden"], config.dropout)
        outputs = score_head(features, config.num_bins, config.dropout)
        return keras.Model(inputs, outputs, name="nima")
    backbone = _feature_backbone(backbone, opts["pool_layers"])
    maps = backbone(x)
    maps = list(maps) if isinstance(maps, (list, tuple)) else [maps]
    if opts["pooling"] == "mean_std":
        pooled = [MeanStdPooling(name=f"pool_{i}" if i < len(maps) - 1 else "pool")(m)
                  for i, m in enumerate(maps)]
    else:
        pooled = [keras.layers.GlobalAveragePooling2D(name=f"pool_{i}" if i < len(maps) - 1 else "pool")(m)
                  for i, m in enumerate(maps)]
    features = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="pooled")(pooled)
    features = mlp_head(features, opts["head_hidden"], config.dropout)
    outputs = score_head(features, config.num_bins, config.dropout)
    return keras.Model(inputs, outputs, name="nima")
