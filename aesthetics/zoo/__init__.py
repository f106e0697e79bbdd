"""Pretrained models that ship inside the package (TensorFlow-free).

Each model is a folder `aesthetics/zoo/<name>/` holding `model.keras` (the
Keras model, with its recipe), `model.onnx` + `model.onnx.json` (the same
model for onnxruntime: scoring without TensorFlow), `card.json` (what
`aesthetics models` lists), `MODEL_CARD.md` and `LICENSES.md`.

    from aesthetics.zoo import DEFAULT_MODEL, list_models, model_path
    model_path(DEFAULT_MODEL, "onnx")   # .../zoo/clive-mobilenet/model.onnx
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from aesthetics.errors import ConfigError, InputNotFoundError, ModelFileError

ZOO_DIR = Path(__file__).parent
DEFAULT_MODEL = "clive-mobilenet"
FILES = {"keras": "model.keras", "onnx": "model.onnx"}


@dataclass(frozen=True)
class ZooModel:
    """One shipped model, as its `card.json` describes it."""

    name: str
    folder: Path
    scores: str
    data: str
    cv_srcc: Optional[float]
    cv_plcc: Optional[float]
    licence: str
    description: str = ""
    extra: dict = field(default_factory=dict)

    def path(self, kind: str = "keras") -> Path:
        if kind not in FILES:
            raise ValueError(f"kind must be one of {sorted(FILES)}, got {kind!r}")
        return self.folder / FILES[kind]

    def has(self, kind: str) -> bool:
        return self.path(kind).is_file()

    @property
    def size_bytes(self) -> int:
        return self.path("keras").stat().st_size if self.has("keras") else 0


def _read_card(folder: Path) -> ZooModel:
    try:
        card = json.loads((folder / "card.json").read_text())
        return ZooModel(
            name=folder.name,
            folder=folder,
            scores=card["scores"],
            data=card["data"],
            cv_srcc=card.get("cv_srcc"),
            cv_plcc=card.get("cv_plcc"),
            licence=card["licence"],
            description=card.get("description", ""),
            extra={k: v for k, v in card.items() if k not in
                   ("scores", "data", "cv_srcc", "cv_plcc", "licence", "description")},
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{folder}/card.json: unreadable model card ({e})") from None


def list_models() -> list:
    """Every shipped model (folders with a card.json), by name."""
    return [_read_card(p.parent) for p in sorted(ZOO_DIR.glob("*/card.json"))]


def get(name: str) -> ZooModel:
    for model in list_models():
        if model.name == name:
            return model
    names = [m.name for m in list_models()]
    raise InputNotFoundError(f"no shipped model named {name!r}; shipped: {names or 'none'} "
                             f"(`aesthetics models` lists them)")


def is_name(text) -> bool:
    """True when `text` names a shipped model (and is not an existing path)."""
    text = str(text)
    return not Path(text).exists() and (ZOO_DIR / text / "card.json").is_file()


def model_path(name: str, kind: str = "keras") -> Path:
    model = get(name)
    path = model.path(kind)
    if not path.is_file():
        raise InputNotFoundError(f"shipped model {name!r} has no {kind} file ({path})")
    return path


def onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def shipped_file(name: Optional[str] = None, backend: str = "auto", need_keras: bool = False):
    """(file, backend) for a shipped model (default: the default model).

    "auto" picks the ONNX copy (no TensorFlow import) when onnxruntime is
    installed and nothing needs Keras (`need_keras`, e.g. explanations),
    else the `.keras` file."""
    entry = get(name or DEFAULT_MODEL)
    if backend == "auto":
        backend = "onnx" if not need_keras and entry.has("onnx") and onnxruntime_available() else "keras"
    if backend not in FILES:
        raise ConfigError(f"shipped model {entry.name!r} comes as {' and '.join(FILES)}; "
                          f"the {backend} backend cannot run it")
    return model_path(entry.name, backend), backend


def resolve(model, kind: str = "keras") -> Path:
    """A zoo name or a path -> a path (zoo names win only when no such path exists)."""
    if model is None:
        return model_path(DEFAULT_MODEL, kind)
    return model_path(str(model), kind) if is_name(model) else Path(model)
