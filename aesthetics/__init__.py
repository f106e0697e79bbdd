"""aesthetics: score how good a photo looks (Keras 3 / TensorFlow).

Importing the package is light: nothing here imports TensorFlow.
"""

from __future__ import annotations


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aesthetics")
    except PackageNotFoundError:  # a source checkout that is not installed
        import re
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
        except OSError:
            match = None
        return match.group(1) if match else "unknown"


__version__ = _version()

from aesthetics.errors import AestheticsError  # noqa: E402,F401
# extension points (TF-free): register models, losses and backbones with their option schemas
from aesthetics.catalog import register_backbone, register_loss, register_model  # noqa: E402,F401
from aesthetics.registry import Option  # noqa: E402,F401


def load(model=None, backend: str = "auto", threads=None):
    """A scorer for a shipped model (default: the default model), a model
    file or an export; see `aesthetics.api`. Importing TensorFlow is left to
    the backends that need it (not onnx)."""
    from aesthetics.api import load as _load

    return _load(model, backend=backend, threads=threads)


def list_models():
    """The models shipped inside the package (see `aesthetics models`)."""
    from aesthetics.zoo import list_models as _list

    return _list()
