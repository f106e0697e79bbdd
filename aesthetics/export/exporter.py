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

import datetime
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Optional

log = logging.getLogger("aesthetics")

FORMATS = ("savedmodel", "onnx", "tflite")
QUANTIZE_MODES = ("dynamic",)
BYTES_INPUT = "image_bytes"  # `_bytes`: TF Serving's naming convention for binary strings
IMAGES_INPUT = "images"
FILE_INPUT = "image"  # ONNX / TFLite input name
DEFAULT_SIGNATURE = "serving_default"
IMAGES_SIGNATURE = "serving_images"
ONNX_OPSET = 17
METADATA_SCHEMA = 1

# First bytes of the formats the bytes signature decodes (tf.io.decode_image).
_MAGIC = {
    "JPEG": [b"\xff\xd8\xff"],
    "PNG": [b"\x89PNG\r\n\x1a\n"],
    "GIF": [b"GIF87a", b"GIF89a"],
    "BMP": [b"BM"],
}


# --------------------------------------------------------------------------
# metadata (TensorFlow-free)


def metadata_path(artefact, fmt: Optional[str] = None) -> Path:
    """Where the metadata of `artefact` lives: `DIR/model.json` for a
    SavedModel folder, `FILE.json` (e.g. `model.onnx.json`) for a file."""
    artefact = Path(artefact)
    if fmt == "savedmodel" or (fmt is None and artefact.is_dir()):
        return artefact / "model.json"
    return artefact.with_name(artefact.name + ".json")


def read_metadata(artefact) -> Optional[dict]:
    """The metadata written by `export_model` beside `artefact`, or None."""
    path = metadata_path(artefact)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("aesthetics")
    except PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib

        return tomllib.loads(pyproject.read_text())["project"]["version"]
    except Exception:  # not installed and not a checkout
        return "unknown"


def _scalars(d: dict) -> dict:
    return {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool)) or v is None}


def run_folder_info(model_path) -> dict:
    """Training data and validation metrics from the run folder of a model
    (`config.json` / `metrics.json` written by `aesthetics train` beside it)."""
    info: dict = {}
    if model_path is None:
        return info
    folder = Path(model_path).resolve().parent
    config_file, metrics_file = folder / "config.json", folder / "metrics.json"
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text())
            data = config.get("data", {})
            info["data"] = {
                k: data.get(k)
                for k in ("images", "labels", "label_format", "score_range", "split_file", "image_size")
                if k in data
            }
            info["model_config"] = _scalars(config.get("model", {}))
        except (ValueError, OSError) as e:
            log.warning("ignoring unreadable %s: %s", config_file, e)
    if metrics_file.is_file():
        try:
            info["metrics"] = _scalars(json.loads(metrics_file.read_text()))
        except (ValueError, OSError) as e:
            log.warning("ignoring unreadable %s: %s", metrics_file, e)
    return info


# Layer names only one keras.applications backbone family has, for models whose
# run folder (config.json) is not at hand.
_BACKBONE_MARKERS = {"conv_dw_1": "mobilenet", "block_1_expand": "mobilenet_v2"}


def _guess_backbone(model):
    """(backbone name, MobileNet width) from layer names, or (None, None)."""
    try:
        backbone = model.get_layer("backbone")
    except ValueError:
        return None, None
    names = {layer.name for layer in backbone.layers}
    for marker, name in _BACKBONE_MARKERS.items():
        if marker in names:
            # The first conv of both MobileNets has 32 * alpha filters.
            first = "conv1" if name == "mobilenet" else "Conv1"
            try:
                return name, backbone.get_layer(first).filters / 32
            except ValueError:
                return name, None
    return None, None


def _preprocess_mode(model) -> Optional[str]:
    for layer in model.layers:
        if type(layer).__name__ == "BackbonePreprocess":
            return layer.mode
    return None


def model_outputs(model):
    """(first output tensor's last dimension, is scalar head)."""
    out = model.outputs[0]
    width = int(out.shape[-1]) if len(out.shape) > 1 else 1
    return width, width == 1


def output_names(scalar: bool) -> list:
    return ["mean_score"] if scalar else ["mean_score", "std_score", "distribution"]


def build_metadata(model, fmt: str, artefact, model_path=None, quantize=None) -> dict:
    import keras
    import tensorflow as tf

    from aesthetics.inference.scoring import model_image_size

    size = model_image_size(model)
    width, scalar = model_outputs(model)
    run = run_folder_info(model_path)
    model_config = run.get("model_config", {})
    guessed, guessed_alpha = _guess_backbone(model)
    backbone = model_config.get("backbone") or guessed
    alpha = model_config.get("alpha", guessed_alpha if backbone == guessed else None)
    if fmt == "savedmodel":
        inputs = {
            DEFAULT_SIGNATURE: {"name": BYTES_INPUT, "dtype": "string", "shape": [None],
                                "content": "encoded JPEG, PNG, GIF or BMP files"},
            IMAGES_SIGNATURE: {"name": IMAGES_INPUT, "dtype": "float32", "shape": [None, size, size, 3]},
        }
    else:
        inputs = {DEFAULT_SIGNATURE: {"name": FILE_INPUT, "dtype": "float32", "shape": [None, size, size, 3]}}
    meta = {
        "schema": METADATA_SCHEMA,
        "format": fmt,
        "artefact": Path(artefact).name,
        "quantization": quantize,
        "model": model.name,
        "source_model": str(model_path) if model_path else None,
        "input": {
            "image_size": size,
            "layout": "NHWC",
            "color": "RGB",
            "dtype": "float32",
            "range": [0, 255],
            "signatures": inputs,
        },
        "resize": {
            "method": "bilinear",
            "antialias": True,
            "aspect": "whole image squashed to image_size x image_size (no crop)",
            "then": "clip to [0, 255], round half to even to integer (uint8) values",
            "reference": "aesthetics.data.pipeline.resize_image",
            "in_graph": "serving_default signature only" if fmt == "savedmodel" else False,
        },
        "decode": (
            "serving_default decodes JPEG/PNG/GIF/BMP in the graph like predict (PNG alpha on "
            "white), but cannot apply EXIF orientation: send upright images"
            if fmt == "savedmodel"
            else "by the caller: RGB, EXIF orientation applied, alpha composited on white "
            "(aesthetics.data.images.load_image; `aesthetics predict` does this)"
        ),
        "backbone": backbone,
        "alpha": alpha,
        "preprocessing": {"mode": _preprocess_mode(model), "in_graph": True},
        "scores": {
            "kind": "scalar" if scalar else "distribution",
            "num_bins": None if scalar else width,
            "bins": None if scalar else list(range(1, width + 1)),
            "range": None if scalar else [1, width],
        },
        "outputs": output_names(scalar),
        "training": {k: v for k, v in run.items() if k != "model_config"} or None,
        "versions": {
            "aesthetics": package_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return meta


# --------------------------------------------------------------------------
# graph pieces


def score_outputs(pred, scalar: bool):
    """Model output -> {"mean_score", "std_score", "distribution"} (float32)."""
    import tensorflow as tf

    if isinstance(pred, (list, tuple)):
        pred = pred[0]
    pred = tf.cast(pred, tf.float32)
    if scalar:
        return {"mean_score": tf.reshape(pred, [-1])}
    bins = tf.range(1, tf.shape(pred)[-1] + 1, dtype=tf.float32)
    mean = tf.reduce_sum(pred * bins, axis=-1)
    var = tf.reduce_sum(pred * tf.square(bins), axis=-1) - tf.square(mean)
    std = tf.sqrt(tf.maximum(var, 0.0))
    return {"mean_score": mean, "std_score": std, "distribution": pred}


def _check_magic(image_bytes):
    """Asserts every element starts like a JPEG/PNG/GIF/BMP file: the error
    names the rule and the offending batch positions instead of a decoder
    message about one anonymous element."""
    import tensorflow as tf

    head = tf.strings.substr(image_bytes, 0, 8)
    ok = tf.zeros_like(image_bytes, dtype=tf.bool)
    for prefixes in _MAGIC.values():
        for prefix in prefixes:
            ok = ok | tf.equal(tf.strings.substr(head, 0, len(prefix)), prefix)
    bad = tf.reshape(tf.where(tf.logical_not(ok)), [-1])
    return tf.debugging.Assert(
        tf.reduce_all(ok),
        [
            "image_bytes must hold encoded JPEG, PNG, GIF or BMP files (REST: "
            '{"b64": base64 of the file}); elements at these batch positions are not:',
            bad,
        ],
        name="check_image_bytes",
    )


def decode_image_bytes(data):
    """One encoded image -> (H, W, 3) uint8 RGB, the pixels `load_image`
    (Pillow) gives:

    - JPEG with the accurate integer IDCT, libjpeg's ISLOW that Pillow uses
      (TF's default, INTEGER_FAST on x86, differs by up to ~20 levels);
    - PNG: gray expanded to RGB, transparency composited on white (Pillow's
      alpha_composite over white, in exact arithmetic);
    - GIF first frame, BMP via tf.io.decode_image.

    Not reproduced: EXIF orientation (the graph cannot read the EXIF tag; send
    upright images), GIF transparency, TIFF/WebP (not decodable in the graph).
    """
    import tensorflow as tf

    head = tf.strings.substr(data, 0, 8)

    def png():
        # Natural channels (1 gray, 2 gray+alpha, 3 RGB or palette, 4 RGBA or
        # palette with tRNS): channels=4 gives garbage alpha for a palette PNG
        # without transparency in TF 2.21.
        raw = tf.io.decode_png(data, channels=0)
        c = tf.shape(raw)[-1]
        rgb = tf.cond(c < 3, lambda: tf.image.grayscale_to_rgb(raw[..., :1]), lambda: raw[..., :3])
        a = tf.cond(
            tf.equal(c % 2, 0),
            lambda: raw[..., -1:],
            lambda: tf.fill(tf.concat([tf.shape(raw)[:2], [1]], 0), tf.constant(255, raw.dtype)),
        )
        rgb, a = tf.cast(rgb, tf.float32), tf.cast(a, tf.float32)
        # Pillow's alpha_composite over opaque white, in exact arithmetic
        # (exactly rgb where a = 255).
        out = tf.round((rgb * a + 255.0 * (255.0 - a)) / 255.0)
        return tf.cast(out, tf.uint8)

    def jpeg():
        return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")

    def other():
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    image = tf.case(
        [
            (tf.equal(head, _MAGIC["PNG"][0]), png),
            (tf.equal(tf.strings.substr(head, 0, 3), _MAGIC["JPEG"][0]), jpeg),
        ],
        default=other,
        exclusive=True,
    )
    image.set_shape([None, None, 3])
    return image


def bytes_to_model_input(image_bytes, size: int):
    """A batch of encoded images -> float32 [B, size, size, 3], the pixels the
    `predict` pipeline feeds the model (same resize function and rounding)."""
    import tensorflow as tf

    from aesthetics.data.pipeline import resize_image

    with tf.control_dependencies([_check_magic(image_bytes)]):
        image_bytes = tf.identity(image_bytes)

    def one(data):
        resized = resize_image(decode_image_bytes(data), size)
        return tf.cast(tf.cast(tf.round(resized), tf.uint8), tf.float32)

    return tf.map_fn(
        one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32)
    )


# --------------------------------------------------------------------------
# exporters


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

    clone = keras.Model.from_config(fix(model.get_config()))
    clone.set_weights(model.get_weights())
    return clone


def _check_output(output: Path, fmt: str) -> None:
    if fmt == "savedmodel":
        if output.is_file():
            raise ValueError(f"{output} is a file; a SavedModel is a folder")
        if output.is_dir() and any(output.iterdir()):
            if (output / "saved_model.pb").is_file():
                shutil.rmtree(output)  # replacing an earlier export
            else:
                raise ValueError(
                    f"{output} exists and is not a SavedModel folder; refusing to overwrite it"
                )
        if not output.name.isdigit():
            log.info(
                "TF Serving loads MODEL_BASE_PATH/<version>/saved_model.pb: export to a "
                "numbered folder (e.g. --output exports/aesthetics/1) to serve this"
            )
    elif output.is_dir():
        raise ValueError(f"{output} is a folder; give a file name (e.g. model.{fmt})")
    output.parent.mkdir(parents=True, exist_ok=True)


def export_savedmodel(model, output, size: int) -> None:
    import keras
    import tensorflow as tf

    _, scalar = model_outputs(model)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve_bytes(image_bytes):
        images = bytes_to_model_input(image_bytes, size)
        return score_outputs(model(images, training=False), scalar)

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
        raise RuntimeError("ONNX export needs tf2onnx and onnx: pip install 'aesthetics[onnx]'") from None

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
    from aesthetics.inference.scoring import model_image_size

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    if quantize is not None:
        if quantize not in QUANTIZE_MODES:
            raise ValueError(f"unknown quantization {quantize!r}; choose one of {QUANTIZE_MODES}")
        if fmt != "tflite":
            raise ValueError("--quantize is only supported for --format tflite")
    trained_policy = _mixed_policy(model)
    if trained_policy:
        log.info("model computes in %s; exporting a float32 copy of it", trained_policy)
        model = float32_model(model)
    output = Path(output)
    _check_output(output, fmt)
    size = model_image_size(model)
    metadata = build_metadata(model, fmt, output, model_path=model_path, quantize=quantize)
    metadata["trained_dtype_policy"] = trained_policy or "float32"
    if fmt == "onnx":
        metadata["opset"] = opset
    if fmt == "savedmodel":
        export_savedmodel(model, output, size)
    elif fmt == "onnx":
        export_onnx(model, output, size, opset=opset, metadata=metadata)
    else:
        export_tflite(model, output, size, quantize=quantize)
    metadata["size_bytes"] = artefact_size(output)
    meta_file = metadata_path(output, fmt)
    meta_file.write_text(json.dumps(metadata, indent=2) + "\n")
    log.info("exported %s (%s, %.1f MB); metadata in %s",
             output, fmt, metadata["size_bytes"] / 1e6, meta_file)
    return metadata


def artefact_size(path) -> int:
    """Bytes of a file, or of everything in a folder except our model.json."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "model.json")
