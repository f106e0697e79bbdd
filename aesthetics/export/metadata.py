"""Export metadata (`model.json` beside every artefact): where it lives, how
to read it (TensorFlow-free, for the ONNX predict path) and how it is built
from a model's recipe. Schema: docs/DEPLOYMENT.md."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from pathlib import Path
from typing import Optional

from aesthetics.constants import EXPORT_FORMATS, QUANTIZE_MODES  # noqa: F401
from aesthetics.errors import ModelFileError
from aesthetics.models.recipe import Recipe

log = logging.getLogger("aesthetics")

FORMATS = EXPORT_FORMATS
BYTES_INPUT = "image_bytes"  # `_bytes`: TF Serving's naming convention for binary strings
IMAGES_INPUT = "images"
FILE_INPUT = "image"  # ONNX / TFLite input name
DEFAULT_SIGNATURE = "serving_default"
IMAGES_SIGNATURE = "serving_images"
ONNX_OPSET = 17
METADATA_SCHEMA = 2


def metadata_path(artefact, fmt: Optional[str] = None) -> Path:
    """Where the metadata of `artefact` lives: `DIR/model.json` for a
    SavedModel folder, `FILE.json` (e.g. `model.onnx.json`) for a file."""
    artefact = Path(artefact)
    if fmt == "savedmodel" or (fmt is None and artefact.is_dir()):
        return artefact / "model.json"
    return artefact.with_name(artefact.name + ".json")


def read_metadata(artefact) -> Optional[dict]:
    """The metadata written by `export_model` beside `artefact`, or None when
    there is none. An unreadable or malformed file is a `ModelFileError`."""
    path = metadata_path(artefact)
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: unreadable export metadata: {e}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: unreadable export metadata: JSON nested too deeply") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: export metadata must be a JSON object")
    return meta


def recipe_from_metadata(meta: Optional[dict], where, image_size: Optional[int] = None) -> Recipe:
    """The recipe an export's metadata records (validated and bounded), or for
    an artefact without metadata a whole-photo resize to its input size."""
    if meta and "recipe" in meta:
        return Recipe.from_dict(meta["recipe"], where=f"{where}: recipe")
    if meta and "input" in meta:  # schema 1 (before recipes): whole-photo resize
        size = meta["input"].get("image_size") if isinstance(meta["input"], dict) else None
        if isinstance(size, bool) or not isinstance(size, int):  # not 224.7, inf, "224"
            raise ModelFileError(f"{where}: metadata has no valid input.image_size (got {size!r})")
        image_size = size
    if image_size is None:
        raise ModelFileError(f"{where}: no recipe in the metadata and no fixed input size")
    try:
        return Recipe(image_size=int(image_size), resize_to=max(256, int(image_size)))
    except ModelFileError as e:
        raise ModelFileError(f"{where}: {e}") from None


def model_outputs(model):
    """(first output tensor's last dimension, is scalar head)."""
    out = model.outputs[0]
    width = int(out.shape[-1]) if len(out.shape) > 1 else 1
    return width, width == 1


def output_names(scalar: bool) -> list:
    return ["mean_score"] if scalar else ["mean_score", "std_score", "distribution"]


def _resize_description(recipe: Recipe) -> dict:
    center = recipe.resize == "center_crop"
    if recipe.native:
        return {
            "policy": "native",
            "method": "bilinear",
            "antialias": True,
            "aspect": f"the photo at its own size and aspect; shrunk only when its long side "
                      f"exceeds {recipe.max_side} px (enlarged if its short side is under 32 px)",
            "then": "clip to [0, 255], round half to even to integer (uint8) values",
            "reference": "aesthetics.data.resize.fit_photo",
        }
    return {
        "policy": recipe.resize,
        "method": "bilinear",
        "antialias": True,
        "aspect": (
            f"whole image resized to {recipe.resize_to}x{recipe.resize_to}, then the centre "
            f"{recipe.image_size}x{recipe.image_size} cropped" if center
            else "whole image squashed to image_size x image_size (no crop)"
        ),
        "then": "clip to [0, 255], round half to even to integer (uint8) values",
        "reference": "aesthetics.data.resize.resize_photo (serving_default: its in-graph "
                     "twin aesthetics.data.pipeline.resize_image, equal up to float rounding)",
    }


def build_metadata(model, fmt: str, artefact, model_path=None, quantize=None) -> dict:
    """Everything a consumer of the artefact needs, from the model's recipe
    and its own config (no side files are read)."""
    import keras
    import tensorflow as tf

    from aesthetics import __version__
    from aesthetics.models.scorer import recipe_of

    recipe = recipe_of(model)
    size = recipe.input_shape[0]  # None: any size (native-resolution recipes)
    width, scalar = model_outputs(model)
    model_config = getattr(model, "model_config", None)
    info = getattr(model, "info", None) or {}
    if fmt == "savedmodel":
        inputs = {
            DEFAULT_SIGNATURE: {"name": BYTES_INPUT, "dtype": "string", "shape": [None],
                                "content": "encoded JPEG, PNG, GIF or BMP files"},
            IMAGES_SIGNATURE: {"name": IMAGES_INPUT, "dtype": "float32", "shape": [None, size, size, 3]},
        }
    else:
        inputs = {DEFAULT_SIGNATURE: {"name": FILE_INPUT, "dtype": "float32", "shape": [None, size, size, 3]}}
    resize = _resize_description(recipe)
    resize["in_graph"] = "serving_default signature only" if fmt == "savedmodel" else False
    return {
        "schema": METADATA_SCHEMA,
        "format": fmt,
        "artefact": Path(artefact).name,
        "quantization": quantize,
        "model": model.name,
        "source_model": Path(model_path).name if model_path else None,
        "recipe": recipe.to_dict(),
        "input": {
            "image_size": size,
            "layout": "NHWC",
            "color": "RGB",
            "dtype": "float32",
            "range": [0, 255],
            "signatures": inputs,
        },
        "resize": resize,
        "decode": (
            "serving_default decodes JPEG/PNG/GIF/BMP in the graph like predict (PNG alpha on "
            "white), but cannot apply EXIF orientation: send upright images"
            if fmt == "savedmodel"
            else "by the caller: RGB, EXIF orientation applied, alpha composited on white "
            "(aesthetics.data.images.load_image; `aesthetics predict` does this)"
        ),
        "backbone": model_config.backbone if model_config else None,
        "alpha": model_config.alpha if model_config else None,
        "architecture": dataclasses.asdict(model_config) if model_config else None,
        "preprocessing": {"mode": _preprocess_mode(model), "in_graph": True},
        "scores": {
            "kind": "scalar" if scalar else "distribution",
            "num_bins": None if scalar else width,
            "bins": None if scalar else list(range(1, width + 1)),
            "range": None if scalar else [1, width],
            "label_range": list(recipe.score_range) if recipe.score_range else None,
        },
        "outputs": output_names(scalar),
        "training": info or None,
        "versions": {
            "aesthetics": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _preprocess_mode(model) -> Optional[str]:
    for layer in model.layers:
        if type(layer).__name__ == "BackbonePreprocess":
            return layer.mode
    return None
