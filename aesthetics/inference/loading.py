"""Loading trained models: `.keras` files and idealo's Keras 2 NIMA weights."""

from __future__ import annotations

from pathlib import Path


def load_model(path, compile: bool = False):
    """Loads a `.keras` model saved by this package (custom layers, losses and
    metrics are registered on import)."""
    import keras

    import aesthetics.layers  # noqa: F401  (registers custom layers)
    import aesthetics.losses.distribution  # noqa: F401
    import aesthetics.metrics.scores  # noqa: F401
    import aesthetics.models  # noqa: F401

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    if path.suffix != ".keras":
        raise ValueError(
            f"{path}: expected a .keras model; for idealo's HDF5 weights use "
            f"--weights FILE --backbone NAME"
        )
    return keras.saving.load_model(path, compile=compile)


def load_idealo_nima(weights, backbone: str = "mobilenet", alpha: float = 1.0, image_size: int = 224):
    """Builds NIMA with idealo's layout (backbone + Dropout(0.75) + Dense(10))
    and loads their Keras 2 HDF5 weights file (e.g. weights_mobilenet_aesthetic_0.07.hdf5)."""
    from aesthetics.config import ModelConfig
    from aesthetics.models import build_model
    from aesthetics.models.legacy import load_hdf5_weights_by_name

    if not Path(weights).is_file():
        raise FileNotFoundError(f"weights file not found: {weights}")
    config = ModelConfig(model="nima", backbone=backbone, backbone_weights=None, alpha=alpha, dropout=0.75)
    model = build_model(config, image_size=image_size)
    load_hdf5_weights_by_name(model, weights)
    return model
