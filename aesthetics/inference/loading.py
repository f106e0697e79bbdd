"""Loading trained models: `.keras` files and idealo's Keras 2 NIMA weights."""

from __future__ import annotations

import zipfile
from pathlib import Path

from aesthetics.errors import AestheticsError, InputNotFoundError, ModelFileError


def load_model(path, compile: bool = False):
    """Loads a `.keras` model saved by this package (custom layers, losses and
    metrics are registered on import)."""
    import keras

    import aesthetics.layers  # noqa: F401  (registers custom layers)
    import aesthetics.losses  # noqa: F401
    import aesthetics.metrics  # noqa: F401
    import aesthetics.models.scorer  # noqa: F401

    path = Path(path)
    check_model_path(path)
    try:
        return keras.saving.load_model(path, compile=compile)
    except AestheticsError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, TypeError) as e:
        # truncated / not a zip / missing config.json / bad config: the file is at fault
        raise ModelFileError(f"{path}: not a loadable .keras model ({type(e).__name__}: {e})") from None


def check_model_path(path) -> None:
    """Cheap checks a CLI runs before importing TensorFlow."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"model not found: {path}")
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{path}: expected a .keras model; for idealo's HDF5 weights use "
            f"--weights FILE --backbone NAME"
        )
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras file (a .keras model is a zip archive; truncated?)")


def load_idealo_nima(weights, backbone: str = "mobilenet", alpha: float = 1.0, image_size: int = 224):
    """Builds NIMA with idealo's layout (backbone + Dropout(0.75) + Dense(10))
    and loads their Keras 2 HDF5 weights file (e.g. weights_mobilenet_aesthetic_0.07.hdf5)."""
    from aesthetics.config import ModelConfig
    from aesthetics.models import Recipe, build_model
    from aesthetics.models.legacy import load_hdf5_weights_by_name

    if not Path(weights).is_file():
        raise InputNotFoundError(f"weights file not found: {weights}")
    config = ModelConfig(model="nima", backbone=backbone, backbone_weights=None, alpha=alpha, dropout=0.75)
    # idealo's preprocessing: nearest resize straight to the input size, no EXIF rotation
    recipe = Recipe(image_size=image_size, resize_to=max(256, image_size), legacy=True)
    model = build_model(config, recipe=recipe, info={"weights": Path(weights).name, "source": "idealo"})
    load_hdf5_weights_by_name(model, weights)
    return model
