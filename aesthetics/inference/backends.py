"""`predict` backends: which runtime scores the images.

    keras       a `.keras` model (`KerasScorer`, in `aesthetics.inference.scoring`)
    savedmodel  an exported SavedModel folder (its `serving_images` signature)
    onnx        an exported `.onnx` file in onnxruntime: no TensorFlow or
                Keras is imported
    tflite      an exported `.tflite` file, run by `ai_edge_litert` when
                installed (then TensorFlow-free too), else `tf.lite.Interpreter`

All four are fed by the same loop (`aesthetics.inference.scoring`): Pillow
decoding and the package's one resize, so a file gets the same pixels, and
the same score, whichever runtime scores it.

"auto" picks by the model path: a folder -> savedmodel, else the extension
(`resolve_backend`, from `aesthetics.zoo.resolver`, which also resolves
shipped model names).
This module imports only numpy and Pillow at load time; TensorFlow is imported
inside the savedmodel/tflite code paths that need it.
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np

from aesthetics.constants import PREDICT_BACKENDS
from aesthetics.errors import AestheticsError, ModelFileError
from aesthetics.inference.scoring import KerasScorer, score_paths  # noqa: F401  (re-exported)
from aesthetics.models.recipe import Recipe
from aesthetics.zoo.resolver import resolve_backend  # noqa: F401  (re-exported)

BACKENDS = PREDICT_BACKENDS


def _recipe(model_path, side, embedded: Optional[str] = None) -> Recipe:
    """The artefact's recipe from its metadata file (or, for ONNX, the copy
    embedded in the file), validated; without either, a whole-photo resize
    to the input's static side."""
    import json

    from aesthetics.export.metadata import read_metadata, recipe_from_metadata

    meta = read_metadata(model_path)
    if meta is None and embedded:
        try:
            meta = json.loads(embedded)
        except ValueError:
            meta = None
    if meta is None and not isinstance(side, int):
        raise ModelFileError(f"{model_path}: input has no fixed image size and there is no metadata file")
    return recipe_from_metadata(meta, model_path, side if isinstance(side, int) else None)


def _check_bins(recipe: Recipe, width, path) -> None:
    """A recipe (from metadata) whose bins disagree with the model's output."""
    if not isinstance(width, int) or width <= 0:
        return
    want = recipe.num_bins if recipe.output == "distribution" else 1
    if width != want:
        raise ModelFileError(
            f"{path}: its metadata says output {recipe.output!r} with num_bins={recipe.num_bins}, "
            f"but the model outputs {width} value(s) per image; the metadata file does not belong "
            f"to this model"
        )


def _pick_output(names) -> str:
    for name in ("distribution", "mean_score"):
        if name in names:
            return name
    return names[0]


class OnnxScorer:
    """An exported `.onnx` model in onnxruntime (CPU unless `providers`)."""

    def __init__(self, path, threads: Optional[int] = None, providers=None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise AestheticsError(
                "the onnx backend needs onnxruntime: pip install 'aesthetics[onnx]' "
                "(or just onnxruntime)"
            ) from None

        options = ort.SessionOptions()
        # Native-resolution photos come in many shapes, and onnxruntime keeps a
        # planned memory pattern per input shape. Measured (issue 28, 2 cores,
        # shipped clive-mobilenet, 8 photos at 1024x768 in calls of 2 + 16 at
        # 500 px in calls of 8): peak RSS 910 -> 531 MB with patterns off, at the
        # same speed (2.47 vs 2.52 s and 1.39 vs 1.42 s, medians, within noise).
        # Arena off or ORT_PARALLEL cost 35-50% speed; ORT_ENABLE_ALL and
        # sequential execution are already onnxruntime's defaults.
        options.enable_mem_pattern = False
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelFileError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {e})") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        embedded = self.session.get_modelmeta().custom_metadata_map.get("aesthetics")
        self.recipe = _recipe(path, _side(inp.shape), embedded)
        self.image_size = self.recipe.image_size
        self.output_name = _pick_output([o.name for o in self.session.get_outputs()])
        out = next(o for o in self.session.get_outputs() if o.name == self.output_name)
        _check_bins(self.recipe, out.shape[-1] if out.shape else None, path)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = self.session.run([self.output_name], {self.input_name: images.astype(np.float32)})[0]
        return out.reshape(len(images), -1)


def _side(shape):
    """The static height of an NHWC input shape, or None."""
    side = shape[1] if len(shape) == 4 else None
    return side if isinstance(side, int) and side > 0 else None


def _tflite_interpreter(path, threads: Optional[int]):
    try:  # the standalone runtime, if installed: no TensorFlow needed
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())


class TFLiteScorer:
    """An exported `.tflite` model (signature serving_default)."""

    def __init__(self, path, threads: Optional[int] = None):
        try:
            self.interpreter = _tflite_interpreter(path, threads)
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(f"{path}: not a loadable TFLite model ({e})") from None
        signatures = self.interpreter.get_signature_list()
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures), None)
        if key is None:
            raise ModelFileError(f"{path}: TFLite model has no signature; export it with `aesthetics export`")
        self.runner = self.interpreter.get_signature_runner(key)
        self.input_name = signatures[key]["inputs"][0]
        self.output_name = _pick_output(signatures[key]["outputs"])
        shape = self.runner.get_input_details()[self.input_name]["shape_signature"]
        self.recipe = _recipe(path, _side([int(s) for s in shape]))
        self.image_size = self.recipe.image_size
        out_shape = self.runner.get_output_details()[self.output_name]["shape_signature"]
        _check_bins(self.recipe, int(out_shape[-1]) if len(out_shape) else None, path)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = self.runner(**{self.input_name: images.astype(np.float32)})[self.output_name]
        return np.asarray(out).reshape(len(images), -1)


class SavedModelScorer:
    """An exported SavedModel, called through its float `serving_images`
    signature."""

    def __init__(self, path):
        import tensorflow as tf

        self._tf = tf
        try:
            loaded = tf.saved_model.load(str(path))
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise ModelFileError(f"{path}: not a loadable SavedModel ({e})") from None
        if "serving_images" not in loaded.signatures:
            raise ModelFileError(
                f"{path}: no 'serving_images' signature (has {sorted(loaded.signatures)}); "
                f"export it with `aesthetics export --format savedmodel`"
            )
        self._loaded = loaded  # keeps the variables alive
        self.fn = loaded.signatures["serving_images"]
        spec = next(iter(self.fn.structured_input_signature[1].values()))
        self.recipe = _recipe(path, _side(list(spec.shape)))
        self.image_size = self.recipe.image_size
        self.input_shape = (None, self.image_size, self.image_size, 3)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = self.fn(images=self._tf.convert_to_tensor(images, self._tf.float32))
        name = _pick_output(list(out))
        return np.asarray(out[name]).reshape(len(images), -1)


def load_scorer(backend: str, model_path, threads: Optional[int] = None):
    """The scorer object for a non-Keras backend."""
    if backend == "onnx":
        return OnnxScorer(model_path, threads=threads)
    if backend == "tflite":
        return TFLiteScorer(model_path, threads=threads)
    if backend == "savedmodel":
        return SavedModelScorer(model_path)
    raise ValueError(f"backend {backend!r} has no exported-model scorer")

