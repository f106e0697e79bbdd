"""NIMA (Talebi & Milanfar 2018): ImageNet backbone + 10-bin softmax score head."""

from __future__ import annotations

import keras

from aesthetics.config import ModelConfig
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models.backbones import backbone_preprocess_mode, build_backbone
from aesthetics.models.registry import register_model


def score_head(features, num_bins: int, dropout: float):
    """Dropout + Dense softmax over score bins, kept in float32 so the
    distribution (and the EMD on it) stays accurate under mixed precision."""
    x = keras.layers.Dropout(dropout, name="head_dropout")(features)
    return keras.layers.Dense(
        num_bins, activation="softmax", dtype="float32", name="scores"
    )(x)


def image_input(image_size: int):
    # RGB in [0, 255]; preprocessing happens inside the model.
    return keras.Input((image_size, image_size, 3), name="image", dtype="float32")


@register_model("nima")
def build_nima(config: ModelConfig, image_size: int = 224) -> keras.Model:
    """Builds NIMA.

    Input: (batch, image_size, image_size, 3) float32 RGB in [0, 255].
    Output: (batch, num_bins) float32 probabilities over scores 1..num_bins.
    Layers named "backbone" (frozen in training phase 1) and "scores" (head).
    """
    inputs = image_input(image_size)
    x = BackbonePreprocess(backbone_preprocess_mode(config.backbone), name="preprocess")(
        inputs
    )
    backbone = build_backbone(
        config.backbone,
        (image_size, image_size, 3),
        weights=config.backbone_weights,
        alpha=config.alpha,
    )
    features = backbone(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    outputs = score_head(pooled, config.num_bins, config.dropout)
    return keras.Model(inputs, outputs, name="nima")
