"""ImageNet backbones from `keras.applications`, by name, with local-file weights."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras

from aesthetics.catalog import BACKBONES  # the one list of backbones, with their facts
from aesthetics.errors import ConfigError, InputNotFoundError, WeightsUnavailableError  # noqa: F401


def canonical_backbone_name(name: str) -> str:
    """The registered name a spelling means ("MobileNetV2" -> "mobilenet_v2");
    a ConfigError naming model.backbone otherwise."""
    return BACKBONES.get(name, "model.backbone").name


def backbone_preprocess_mode(name: str) -> str:
    return BACKBONES.get(name, "model.backbone").extra["preprocess"]


def accepts_alpha(name: str) -> bool:
    return bool(BACKBONES.get(name, "model.backbone").extra.get("accepts_alpha"))


def build_backbone(
    name: str,
    input_shape,
    weights: Optional[str] = "imagenet",
    alpha: float = 1.0,
    preset: Optional[str] = None,
    hub_config: Optional[dict] = None,
) -> keras.Model:
    """Returns the backbone without its top, outputting the last feature map.

    Args:
        name: a backbone in `aesthetics.catalog.BACKBONES` (case and
            underscores are forgiving).
        input_shape: (height, width, 3).
        weights: "imagenet" (downloaded by Keras, cached in ~/.keras/models),
            None (random init), or a path to a local weights file: a Keras 3
            `.weights.h5`, or a Keras 2 HDF5 weights file (matched by layer name).
        alpha: width multiplier (MobileNet family only).
        preset, hub_config: a KerasHub backbone's preset, or the encoder
            record a saved model keeps (`aesthetics.models.keras_hub_backbones`);
            its output is a pooled vector (B, D), not a map.

    The returned model is named "backbone" so training code can freeze it.
    """
    entry = BACKBONES.get(name, "model.backbone")
    key = entry.name
    if entry.extra.get("source") == "keras_hub":
        from aesthetics.models.keras_hub_backbones import build_hub_backbone

        if alpha != 1.0:
            raise ConfigError(f"model.alpha: backbone {key!r} has no width multiplier (alpha={alpha})")
        if weights not in (None, "imagenet", "preset") and hub_config is None:
            raise ConfigError(f"model.backbone_weights: a KerasHub backbone's weights come from its preset "
                              f"(model.backbone_preset); use \"preset\" or null (random init), not {weights!r}")
        return build_hub_backbone(key, input_shape[0], preset=preset, config=hub_config,
                                  load_weights=weights is not None)
    kwargs = dict(include_top=False, input_shape=tuple(input_shape), pooling=None)
    if entry.extra.get("accepts_alpha"):
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
        model = entry.load()(weights=weights, **kwargs)
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
    (the same architecture and width): fine-tuning works offline.

    Read straight from the shipped `.keras` file (its config.json and the
    nested model's group of model.weights.h5), so loading a backbone never
    needs the whole scoring model, nor `aesthetics.inference`."""
    import json
    import tempfile
    import zipfile

    from aesthetics import zoo
    from aesthetics.errors import ModelFileError

    path = zoo.model_path(zoo.BUNDLED_BACKBONE_MODEL, "keras")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))["config"]["model_config"]
            weights = archive.read("model.weights.h5")
        shipped, shipped_alpha = config["backbone"], config["alpha"]
    except (OSError, zipfile.BadZipFile, KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: cannot read the bundled backbone ({type(e).__name__}: {e})") from None
    if canonical_backbone_name(shipped) != name or shipped_alpha != alpha:
        raise ConfigError(
            f"model.backbone_weights: 'bundled' holds a {shipped} (alpha {shipped_alpha}) "
            f"backbone, not {name} (alpha {alpha}); pass model.backbone={shipped}"
        )
    with tempfile.TemporaryDirectory(prefix="aesthetics-bundled-") as folder:
        target = Path(folder) / "backbone.weights.h5"
        _nested_model_weights(weights, target, path)
        backbone.load_weights(str(target))
    return len(backbone.weights)


def _nested_model_weights(weights: bytes, target: Path, source) -> None:
    """Writes the weights of the one nested model (the "backbone" sub-model)
    of a `.keras` file's model.weights.h5 as a `.weights.h5` of its own."""
    import io

    import h5py

    from aesthetics.errors import ModelFileError

    with h5py.File(io.BytesIO(weights), "r") as src, h5py.File(target, "w") as dst:
        layers = src["layers"]
        nested = [key for key in layers if isinstance(layers[key], h5py.Group) and "layers" in layers[key]]
        if len(nested) != 1:
            raise ModelFileError(f"{source}: expected one nested backbone model, found {len(nested)}")
        for key in layers[nested[0]]:
            src.copy(layers[nested[0]][key], dst, name=key)


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
