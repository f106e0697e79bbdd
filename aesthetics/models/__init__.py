"""Model builders and the recipe-carrying `AestheticsModel` they are wrapped in.

`recipe` is TensorFlow-free (the ONNX path reads recipes too), so this
package imports the Keras parts lazily: `from aesthetics.models import
build_model` imports them (and registers every builder) on first use.
"""

from aesthetics.models.recipe import Recipe  # noqa: F401

_LAZY = {
    "MODEL_BUILDERS": "aesthetics.models.registry",
    "build_graph": "aesthetics.models.registry",
    "build_model": "aesthetics.models.registry",
    "register_model": "aesthetics.models.registry",
    "AestheticsModel": "aesthetics.models.scorer",
    "recipe_of": "aesthetics.models.scorer",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        importlib.import_module("aesthetics.models.nima")  # registers the builders
        importlib.import_module("aesthetics.models.dual_path")
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aesthetics.models' has no attribute {name!r}")
