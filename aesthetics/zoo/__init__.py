"""Pretrained models that ship inside the package (TensorFlow-free).

Each model is a folder `aesthetics/zoo/<name>/` holding `model.keras` (the
Keras model, with its recipe), `model.onnx` + `model.onnx.json` (the same
model for onnxruntime: scoring without TensorFlow), `card.json` (what
`aesthetics models` lists), `MODEL_CARD.md` and `LICENSES.md`.

    from aesthetics.zoo import DEFAULT_MODEL, list_models, model_path, resolve_model
    model_path(DEFAULT_MODEL, "onnx")   # .../zoo/clive-mobilenet-ft/model.onnx
    resolve_model("clive-mobilenet")    # ResolvedModel(path, backend, name, shipped, recipe)

`cards.py` reads the folders; `resolver.py` turns a name, alias or path
(+ a backend) into the file and the backend that score it.
"""

from __future__ import annotations

from aesthetics.zoo.cards import (  # noqa: F401
    BUNDLED_BACKBONE_MODEL,
    DEFAULT_MODEL,
    FILES,
    ZOO_DIR,
    ZooModel,
    get,
    is_name,
    list_models,
    model_path,
    onnxruntime_available,
)
from aesthetics.zoo.resolver import (  # noqa: F401
    ZOO_PREFIX,
    ResolvedModel,
    resolve,
    resolve_backend,
    resolve_model,
    shipped_name,
)
