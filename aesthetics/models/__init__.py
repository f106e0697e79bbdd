"""Model builders and the recipe-carrying `AestheticsModel` they are wrapped in.

`recipe` is TensorFlow-free (the ONNX path reads recipes too), so this
package imports the Keras parts lazily: `from aesthetics.models import
build_model` imports them on first use. The builders are registered, by
name and with their option schemas, in `aesthetics.catalog.MODELS`.
"""

from aesthetics.models.recipe import Recipe  # noqa: F401

_LAZY = {
    "MODELS": "aesthetics.catalog",
    "build_graph": "aesthetics.models.registry",
    "build_model": "aesthetics.models.registry",
    "register_model": "aesthetics.catalog",
    "AestheticsModel": "aesthetics.models.scorer",
    "recipe_of": "aesthetics.models.scorer",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aesthetics.models' has no attribute {name!r}")
