"""Exporting a trained model for deployment: SavedModel (TF Serving), ONNX, TFLite.

Every artefact takes what the `.keras` model takes, or encoded image files,
and gives the same numbers as `aesthetics predict`:

    savedmodel  a folder for TF Serving / `tf.saved_model.load`, signatures
                  serving_default  image_bytes: string [None] (encoded JPEG,
                                   PNG, GIF or BMP files) -> decoded, resized and
                                   rounded exactly like `predict` -> model
                  serving_images   images: float32 [None, S, S, 3], RGB 0..255
    onnx        one file, input "image" float32 [None, S, S, 3] (tf2onnx)
    tflite      one file, signature serving_default, input "image" float32
                  [None, S, S, 3]; `quantize="dynamic"` stores weights as int8

Outputs (all formats, by name): mean_score [None], std_score [None] and
distribution [None, num_bins] (probabilities of the scores 1..num_bins); a
model with a scalar score head (B, 1) exports mean_score only.

Metadata (`model.json` schema, see docs/DEPLOYMENT.md) is written beside the
artefact: inside a SavedModel folder as `model.json`; for a file as
`<file name>.json` (`model.onnx` -> `model.onnx.json`), so an ONNX and a TFLite
export can share a folder without overwriting each other's metadata.

TensorFlow is imported inside the functions that need it: `metadata_path` and
`read_metadata` serve the TensorFlow-free ONNX predict path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from aesthetics.errors import ExportError
from aesthetics.export.image_bytes import bytes_to_model_input, native_model_input, score_outputs
from aesthetics.export.metadata import (
    BYTES_INPUT, DEFAULT_SIGNATURE, FILE_INPUT, FORMATS, IMAGES_INPUT, IMAGES_SIGNATURE,
    ONNX_OPSET, QUANTIZE_MODES, build_metadata, metadata_path, model_outputs,
)

log = logging.getLogger("aesthetics")


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _mixed_policy(model) -> Optional[str]:
    for layer in _layers(model):
        name = getattr(getattr(layer, "dtype_policy", None), "name", "float32")
        if name != "float32":
            return name
    return None


def float32_model(model):
    """`model` itself, or for a model trained under a mixed-precision policy
    (its layers compute in bfloat16/float16) a float32 clone with the same
    weights: exported graphs compute in float32 (TFLite and ONNX runtimes,
    CPUs and TF Serving all handle that best; scores gain precision)."""
    import keras

    if _mixed_policy(model) is None:
        return model

    def fix(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "DTypePolicy" and str(obj.get("config", {}).get("name", "")) != "float32":
                return {**obj, "config": {**obj["config"], "name": "float32"}}
            return {k: fix(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        return obj

    from aesthetics.models.scorer import AestheticsModel
    from aesthetics.precision import dtype_policy_scope

    if isinstance(model, AestheticsModel):
        config = {**model.get_config(), "policy": "float32"}
        with dtype_policy_scope("float32"):
            clone = AestheticsModel.from_config(config)
    else:
        clone = keras.Model.from_config(fix(model.get_config()))
    clone.set_weights(model.get_weights())
    return clone


def _check_output(output: Path, fmt: str, model_path=None) -> None:
    """Refuses, before any work, an output that would destroy something the
    user has (the source model, a file of another kind) or cannot be written."""
    if model_path is not None and output.exists() and Path(model_path).exists():
        if os.path.samefile(output, model_path):
            raise ExportError(f"--output {output} is the model being exported; choose another name")
    if fmt != "savedmodel" and output.suffix.lower() != f".{fmt}":
        raise ExportError(f"--output {output}: a {fmt} export is a .{fmt} file (e.g. model.{fmt}); "
                          f"refusing another name, which could overwrite a file of another kind")
    if fmt == "savedmodel":
        if output.is_file():
            raise ExportError(f"{output} is a file; a SavedModel is a folder")
        if output.is_dir() and any(output.iterdir()):
            if (output / "saved_model.pb").is_file():
                pass  # an earlier export: replaced once the new one is complete
            else:
                raise ExportError(
                    f"{output} exists and is not a SavedModel folder; refusing to overwrite it"
                )
        if not output.name.isdigit():
            log.info(
                "TF Serving loads MODEL_BASE_PATH/<version>/saved_model.pb: export to a "
                "numbered folder (e.g. --output exports/aesthetics/1) to serve this"
            )
    elif output.is_dir():
        raise ExportError(f"{output} is a folder; give a file name (e.g. model.{fmt})")
    from aesthetics.paths import probe_writable

    probe_writable(output, "--output", ExportError)


def _check_image_model(model, model_path=None) -> None:
    """An exportable model takes (B, H, W, 3) images: anything else would fail
    deep inside the converters."""
    shapes = [tuple(t.shape) for t in getattr(model, "inputs", None) or []]
    if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][-1] != 3:
        name = model_path or getattr(model, "name", "the model")
        raise ExportError(f"{name}: not an image scoring model (inputs {shapes}; expected one "
                          f"(batch, height, width, 3) image input); train it with `aesthetics train`")


def export_savedmodel(model, output, recipe) -> None:
    import keras
    import tensorflow as tf

    width, scalar = model_outputs(model)
    size = recipe.input_shape[0]  # None for native-resolution recipes
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve_bytes(image_bytes):
        if not recipe.native:
            images = bytes_to_model_input(image_bytes, recipe)
            return score_outputs(model(images, training=False), scalar)

        # photos keep their own sizes: one model call per image
        def one(data):
            out = score_outputs(model(native_model_input(data, recipe)[None], training=False), scalar)
            return {k: v[0] for k, v in out.items()}

        spec = {"mean_score": tf.TensorSpec([], tf.float32)}
        if not scalar:
            spec.update(std_score=tf.TensorSpec([], tf.float32),
                        distribution=tf.TensorSpec([width], tf.float32))
        return tf.map_fn(one, image_bytes, fn_output_signature=spec)

    def serve_images(images):
        return score_outputs(model(images, training=False), scalar)

    archive.add_endpoint(
        DEFAULT_SIGNATURE, serve_bytes,
        input_signature=[tf.TensorSpec([None], tf.string, name=BYTES_INPUT)],
    )
    archive.add_endpoint(
        IMAGES_SIGNATURE, serve_images,
        input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=IMAGES_INPUT)],
    )
    archive.write_out(str(output), verbose=False)


def _float_function(model, size: int):
    import tensorflow as tf

    _, scalar = model_outputs(model)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=FILE_INPUT)])
    def serve(image):
        return score_outputs(model(image, training=False), scalar)

    return serve


def export_onnx(model, output, size: int, opset: int = ONNX_OPSET, metadata: Optional[dict] = None) -> None:
    """ONNX via tf2onnx; the metadata also goes into the file's metadata_props
    (key "aesthetics"), so a lone .onnx file still describes itself."""
    try:
        import onnx
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx and onnx: pip install 'aesthetics[onnx]'") from None

    from tf2onnx import constants

    supported = sorted(constants.OPSET_TO_IR_VERSION)
    if opset not in supported:
        raise ExportError(f"--opset {opset}: this tf2onnx writes opsets {supported[0]}..{supported[-1]} "
                          f"(default {ONNX_OPSET})")
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # its per-pass INFO chatter
    fn = _float_function(model, size)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=opset)
    if metadata:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "aesthetics", json.dumps(metadata)
    onnx.save(proto, str(output))


def export_tflite(model, output, size: int, quantize: Optional[str] = None) -> None:
    """float32 TFLite (or dynamic-range int8 weights with quantize="dynamic").

    Converted from a temporary SavedModel: `from_concrete_functions` on a Keras
    3 model keeps resource variables that the TFLite runtime cannot read."""
    import keras
    import tensorflow as tf

    _, scalar = model_outputs(model)
    with tempfile.TemporaryDirectory(prefix="aesthetics-tflite-") as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            DEFAULT_SIGNATURE,
            lambda image: score_outputs(model(image, training=False), scalar),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=FILE_INPUT)],
        )
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[DEFAULT_SIGNATURE])
        if quantize == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        Path(output).write_bytes(converter.convert())


def export_model(
    model,
    output,
    fmt: str,
    quantize: Optional[str] = None,
    model_path=None,
    opset: int = ONNX_OPSET,
) -> dict:
    """Exports a Keras scoring model; returns the metadata it wrote.

    Args:
        model: a keras.Model taking float32 RGB [0, 255] (B, S, S, 3).
        output: SavedModel folder (use a numbered version folder for TF
            Serving) or the .onnx / .tflite file.
        fmt: "savedmodel", "onnx" or "tflite".
        quantize: None, or "dynamic" (TFLite only): int8 weights.
        model_path: the `.keras` file the model came from, so the metadata can
            record the run folder's training data and metrics.
    """
    from aesthetics.models.scorer import recipe_of

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    if quantize is not None:
        if quantize not in QUANTIZE_MODES:
            raise ExportError(f"unknown quantization {quantize!r}; choose one of {QUANTIZE_MODES}")
        if fmt != "tflite":
            raise ExportError("--quantize is only supported for --format tflite")
    trained_policy = _mixed_policy(model)
    if trained_policy:
        log.info("model computes in %s; exporting a float32 copy of it", trained_policy)
        model = float32_model(model)
    if fmt == "onnx" and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 1):
        raise ExportError(f"--opset {opset!r}: expected a positive integer ONNX opset (default {ONNX_OPSET})")
    output = Path(output)
    _check_image_model(model, model_path)
    _check_output(output, fmt, model_path)
    recipe = recipe_of(model)
    size = recipe.input_shape[0]  # None: any size (native-resolution recipes)
    metadata = build_metadata(model, fmt, output, model_path=model_path, quantize=quantize)
    metadata["trained_dtype_policy"] = trained_policy or "float32"
    if fmt == "onnx":
        metadata["opset"] = opset
    # Written beside the target and moved into place when complete: a failed
    # or killed export never leaves half an artefact, nor destroys an earlier one.
    tmp = output.with_name(f".{output.name}.tmp{output.suffix}")
    _remove(tmp)
    try:
        if fmt == "savedmodel":
            export_savedmodel(model, tmp, recipe)
        elif fmt == "onnx":
            export_onnx(model, tmp, size, opset=opset, metadata=metadata)
        else:
            export_tflite(model, tmp, size, quantize=quantize)
        metadata["size_bytes"] = artefact_size(tmp)
        if fmt == "savedmodel":
            (tmp / "model.json").write_text(json.dumps(metadata, indent=2) + "\n")
            _remove(output)
            os.replace(tmp, output)
        else:
            os.replace(tmp, output)
            meta_file = metadata_path(output, fmt)
            meta_tmp = meta_file.with_name(f".{meta_file.name}.tmp")
            meta_tmp.write_text(json.dumps(metadata, indent=2) + "\n")
            os.replace(meta_tmp, meta_file)
    finally:
        _remove(tmp)
    log.info("exported %s (%s, %.1f MB); metadata in %s",
             output, fmt, metadata["size_bytes"] / 1e6, metadata_path(output, fmt))
    return metadata


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def artefact_size(path) -> int:
    """Bytes of a file, or of everything in a folder except our model.json."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "model.json")
