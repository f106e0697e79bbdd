"""ImageNet backbones from `keras.applications`, by name, with local-file weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import keras


@dataclass(frozen=True)
class BackboneSpec:
    constructor: Callable
    preprocess: str  # a `BackbonePreprocess` mode
    accepts_alpha: bool = False


def _app(name):
    return lambda **kw: getattr(keras.applications, name)(**kw)


BACKBONES = {
    "mobilenet": BackboneSpec(_app("MobileNet"), "tf", accepts_alpha=True),
    "mobilenet_v2": BackboneSpec(_app("MobileNetV2"), "tf", accepts_alpha=True),
    "mobilenet_v3_small": BackboneSpec(_app("MobileNetV3Small"), "none", True),
    "mobilenet_v3_large": BackboneSpec(_app("MobileNetV3Large"), "none", True),
    "efficientnet_b0": BackboneSpec(_app("EfficientNetB0"), "none"),
    "efficientnet_b1": BackboneSpec(_app("EfficientNetB1"), "none"),
    "efficientnet_b2": BackboneSpec(_app("EfficientNetB2"), "none"),
    "efficientnet_v2_b0": BackboneSpec(_app("EfficientNetV2B0"), "none"),
    "resnet50": BackboneSpec(_app("ResNet50"), "caffe"),
    "resnet50_v2": BackboneSpec(_app("ResNet50V2"), "tf"),
    "inception_v3": BackboneSpec(_app("InceptionV3"), "tf"),
    "inception_resnet_v2": BackboneSpec(_app("InceptionResNetV2"), "tf"),
    "xception": BackboneSpec(_app("Xception"), "tf"),
    "densenet121": BackboneSpec(_app("DenseNet121"), "torch"),
    "convnext_tiny": BackboneSpec(_app("ConvNeXtTiny"), "none"),
    "vgg16": BackboneSpec(_app("VGG16"), "caffe"),
}

# Accept the spellings people type: "MobileNetV2", "mobilenetv2", "efficientnetb0".
_ALIASES = {k.replace("_", ""): k for k in BACKBONES}


from aesthetics.errors import ConfigError, InputNotFoundError, WeightsUnavailableError  # noqa: E402,F401


def canonical_backbone_name(name: str) -> str:
    key = name.lower().replace("-", "_")
    if key in BACKBONES:
        return key
    key = key.replace("_", "")
    if key in _ALIASES:
        return _ALIASES[key]
    raise ConfigError(f"model.backbone: unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")


def backbone_preprocess_mode(name: str) -> str:
    return BACKBONES[canonical_backbone_name(name)].preprocess


def build_backbone(
    name: str,
    input_shape,
    weights: Optional[str] = "imagenet",
    alpha: float = 1.0,
) -> keras.Model:
    """Returns the backbone without its top, outputting the last feature map.

    Args:
        name: a key of `BACKBONES` (case and underscores are forgiving).
        input_shape: (height, width, 3).
        weights: "imagenet" (downloaded by Keras, cached in ~/.keras/models),
            None (random init), or a path to a local weights file: a Keras 3
            `.weights.h5`, or a Keras 2 HDF5 weights file (matched by layer name).
        alpha: width multiplier (MobileNet family only).

    The returned model is named "backbone" so training code can freeze it.
    """
    key = canonical_backbone_name(name)
    spec = BACKBONES[key]
    kwargs = dict(include_top=False, input_shape=tuple(input_shape), pooling=None)
    if spec.accepts_alpha:
        kwargs["alpha"] = alpha
    elif alpha != 1.0:
        raise ConfigError(f"model.alpha: backbone {key!r} has no width multiplier (alpha={alpha})")
    if key.startswith("mobilenet_v3"):
        kwargs["include_preprocessing"] = True

    local_file = None
    bundled = weights == "bundled"
    if bundled:
        weights = None  # copied from the shipped model below
    if weights not in (None, "imagenet"):
        local_file = Path(weights).expanduser()
        if not local_file.is_file():
            raise InputNotFoundError(f"model.backbone_weights: file not found: {local_file}")
        weights = None

    try:
        model = spec.constructor(weights=weights, **kwargs)
    except Exception as e:  # Keras raises several types for a failed download
        if weights == "imagenet" and _looks_like_download_error(e):
            raise WeightsUnavailableError(
                f"could not download ImageNet weights for backbone {key!r} "
                f"(no network?). Keras caches them under ~/.keras/models once "
                f"downloaded; offline, pass a local file instead, e.g. "
                f"--backbone-weights /path/to/{key}_notop.weights.h5 "
                f"(model.backbone_weights in a config). Original error: {e}"
            ) from e
        raise
    model.name = "backbone"
    if local_file is not None:
        load_weights_file(model, local_file)
    if bundled:
        load_bundled_weights(model, key, alpha)
    return model


def load_bundled_weights(backbone: keras.Model, name: str, alpha: float) -> int:
    """Copies the default shipped model's backbone weights into `backbone`
    (the same architecture and width): fine-tuning works offline."""
    from aesthetics import zoo
    from aesthetics.inference.loading import load_model
    from aesthetics.training.weights import copy_weights_by_name

    shipped = load_model(zoo.model_path(zoo.DEFAULT_MODEL, "keras"))
    config = shipped.model_config
    if canonical_backbone_name(config.backbone) != name or config.alpha != alpha:
        raise ConfigError(
            f"model.backbone_weights: 'bundled' holds a {config.backbone} (alpha {config.alpha}) "
            f"backbone, not {name} (alpha {alpha}); pass model.backbone={config.backbone}"
        )
    return copy_weights_by_name(shipped.get_layer("backbone"), backbone)


def _looks_like_download_error(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return any(
        s in text
        for s in ("url fetch", "urlopen", "http", "connection", "resolve", "network")
    )


def load_weights_file(model: keras.Model, path) -> None:
    """Loads a `.weights.h5` (Keras 3) or a Keras 2 HDF5 file into `model`."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        model.load_weights(str(path))
        return
    from aesthetics.models.legacy import load_hdf5_weights_by_name

    load_hdf5_weights_by_name(model, path)
