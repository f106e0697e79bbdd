"""The one resolver: a model's name, alias or path (+ the backend asked for)
-> the file that scores it and the backend that runs it (TensorFlow-free).

    resolve_model(None)                          # the default shipped model
    resolve_model("clive-mobilenet", "auto")     # its .onnx when onnxruntime is installed
    resolve_model("zoo:clive-mobilenet", "onnx") # "zoo:" names a shipped model explicitly
    resolve_model("run/best.keras")              # a file: the backend from its extension

The API (`aesthetics.load`), the CLI (`predict`, and `export`, `evaluate`,
`train --init-from` through `resolve`) and the Beam pipeline all go through
`resolve_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from aesthetics.constants import PREDICT_BACKENDS
from aesthetics.errors import ConfigError, InputNotFoundError, ModelFileError
from aesthetics.models.recipe import Recipe
from aesthetics.zoo.cards import DEFAULT_MODEL, FILES, get, is_name, model_path, onnxruntime_available

ZOO_PREFIX = "zoo:"
_EXTENSIONS = {".keras": "keras", ".onnx": "onnx", ".tflite": "tflite"}


@dataclass(frozen=True)
class ResolvedModel:
    """What scores: `path` (a model file or SavedModel folder) run by
    `backend` ("keras", "onnx", "tflite" or "savedmodel"). `name` is what to
    call it (the shipped name, or the file name); `recipe` is the card's for
    a shipped model, None for a file (its backend reads it from the file)."""

    path: Path
    backend: str
    name: str
    shipped: bool = False
    recipe: Optional[Recipe] = None


def resolve_backend(model_path, backend: str = "auto") -> str:
    """The backend for `model_path`: `backend` itself unless "auto", when a
    folder is a SavedModel and a file's extension decides."""
    if backend not in PREDICT_BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {PREDICT_BACKENDS}")
    if backend != "auto":
        return backend
    path = Path(model_path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelFileError(f"{path} is a folder without saved_model.pb; not a SavedModel")
    kind = _EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise ModelFileError(
            f"cannot tell the backend of {path} from its extension; expected .keras, .onnx, "
            f".tflite or a SavedModel folder (or pass --backend)"
        )
    return kind


def shipped_name(model) -> Optional[str]:
    """The shipped model `model` names (None: the default; "zoo:NAME"; a
    name that is not an existing path), or None when it is a path."""
    if model is None:
        return DEFAULT_MODEL
    text = str(model)
    if text.startswith(ZOO_PREFIX):
        return text[len(ZOO_PREFIX):]
    return text if is_name(text) else None


def resolve_model(model=None, backend: str = "auto", need_keras: bool = False,
                  must_exist: bool = True, what: Optional[str] = None) -> ResolvedModel:
    """`model` (None: the default shipped model; a shipped name or
    "zoo:NAME"; a path) -> `ResolvedModel`.

    A shipped model comes as `.keras` and `.onnx`: "auto" picks the ONNX copy
    (no TensorFlow import) when onnxruntime is installed and nothing needs
    Keras (`need_keras`, e.g. explanations), else the `.keras` file. A path
    must exist (`must_exist`; the error names `what`, e.g. "--model") and
    "auto" picks its backend by extension."""
    name = shipped_name(model)
    if name is not None:
        entry = get(name)  # InputNotFoundError naming the shipped ones
        if backend == "auto":
            backend = "onnx" if not need_keras and entry.has("onnx") and onnxruntime_available() else "keras"
        if backend not in FILES:
            raise ConfigError(f"shipped model {entry.name!r} comes as {' and '.join(FILES)}; "
                              f"the {backend} backend cannot run it")
        recipe = entry.extra.get("recipe")
        return ResolvedModel(model_path(entry.name, backend), backend, entry.name, shipped=True,
                             recipe=Recipe.from_dict(recipe) if recipe else None)
    path = Path(model)
    if must_exist and not path.exists():
        raise InputNotFoundError(f"{what}: path not found: {model}" if what else f"model not found: {path}")
    if must_exist or backend != "auto":
        backend = resolve_backend(path, backend)
    return ResolvedModel(path, backend, path.name)


def resolve(model, kind: str = "keras") -> Path:
    """A shipped model's `kind` file, or the path `model` itself (checked by
    whoever opens it): zoo names win only when no such path exists."""
    return resolve_model(model, kind, must_exist=False).path
