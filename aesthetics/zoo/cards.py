"""The shipped models' folders and cards (TensorFlow-free): what
`aesthetics models` lists and where each model's files are."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from aesthetics.errors import InputNotFoundError, ModelFileError

ZOO_DIR = Path(__file__).parent
DEFAULT_MODEL = "clive-mobilenet-ft"
# The shipped model whose backbone is plain ImageNet MobileNet (frozen when it
# was trained): what `backbone_weights: "bundled"` copies, so training starts
# from ImageNet features offline, not from the default model's fine-tuned ones.
BUNDLED_BACKBONE_MODEL = "clive-mobilenet"
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
    aliases: tuple = ()
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
            aliases=tuple(str(a) for a in card.get("aliases", ())),
            extra={k: v for k, v in card.items() if k not in
                   ("scores", "data", "cv_srcc", "cv_plcc", "licence", "description", "aliases")},
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{folder}/card.json: unreadable model card ({e})") from None


def list_models() -> list:
    """Every shipped model (folders with a card.json), by name."""
    return [_read_card(p.parent) for p in sorted(ZOO_DIR.glob("*/card.json"))]


def get(name: str) -> ZooModel:
    """The shipped model called `name` or with `name` as an alias."""
    models = list_models()
    for model in models:
        if model.name == name or name in model.aliases:
            return model
    names = [m.name + (f" ({', '.join(m.aliases)})" if m.aliases else "") for m in models]
    raise InputNotFoundError(f"no shipped model named {name!r}; shipped: {', '.join(names) or 'none'} "
                             f"(`aesthetics models` lists them)")


def is_name(text) -> bool:
    """True when `text` names a shipped model (and is not an existing path)."""
    text = str(text)
    if Path(text).exists():
        return False
    return (ZOO_DIR / text / "card.json").is_file() or any(text in m.aliases for m in list_models())


def model_path(name: str, kind: str = "keras") -> Path:
    model = get(name)
    path = model.path(kind)
    if not path.is_file():
        raise InputNotFoundError(f"shipped model {name!r} has no {kind} file ({path})")
    return path


def onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None
