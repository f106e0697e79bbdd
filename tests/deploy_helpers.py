"""Shared by the deployment tests: one tiny model, exported once per test
process in every format (through the real `aesthetics export` command), a set
of generated images in every input format, and real photos when available."""

from __future__ import annotations

import atexit
import functools
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SIZE = 64


def calibrate_batchnorm(model, images) -> None:
    """Data-dependent BatchNorm statistics for a randomly initialised model.

    A random MobileNet's activations shrink ~1e-16 by the last block, so its
    outputs are a constant softmax and parity checks would compare nothing.
    Setting each BN's moving mean/variance to its input's statistics keeps
    activations O(1) and makes the scores depend on the image."""
    import keras

    backbone = model.get_layer("backbone")
    x = model.get_layer("preprocess")(images)
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            a = keras.ops.convert_to_numpy(keras.Model(backbone.input, layer.input)(x))
            layer.moving_mean.assign(a.mean((0, 1, 2)))
            layer.moving_variance.assign(a.var((0, 1, 2)) + 1e-3)


def tiny_model(seed: int = 0):
    """NIMA, MobileNet alpha 0.25, 64x64, random but image-sensitive weights."""
    import keras

    from aesthetics.config import ModelConfig
    from aesthetics.models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(
        ModelConfig(backbone="mobilenet", alpha=0.25, backbone_weights=None), image_size=SIZE
    )
    calib = np.random.default_rng(seed).uniform(0, 255, (8, SIZE, SIZE, 3)).astype("float32")
    calibrate_batchnorm(model, calib)
    return model


def scalar_model():
    """A small model with a (B, 1) score head (like a ranking head)."""
    import keras

    from aesthetics.layers.preprocess import BackbonePreprocess

    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3), name="image")
    x = BackbonePreprocess("tf", name="preprocess")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, name="score")(x)
    return keras.Model(inputs, outputs, name="ranker")


def _texture(rng, h, w):
    """A photo-like test image: gradients, blobs, edges and noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack(
        [
            255 * xx / max(w - 1, 1),
            255 * yy / max(h - 1, 1),
            127 + 100 * np.sin(xx / rng.uniform(3, 9)) * np.cos(yy / rng.uniform(3, 9)),
        ],
        -1,
    )
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < (min(h, w) / 4) ** 2] = rng.uniform(0, 255, 3)
    img += rng.normal(0, rng.uniform(2, 30), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_generated_images(folder) -> list[str]:
    """Images in every format the bytes signature takes, big and small."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    files = []

    def save(name, img, **kw):
        path = folder / name
        img.save(path, **kw)
        files.append(str(path))

    save("big.jpg", Image.fromarray(_texture(rng, 300, 420)), quality=90)
    save("portrait.jpg", Image.fromarray(_texture(rng, 257, 181)), quality=75, subsampling=0)
    save("progressive.jpg", Image.fromarray(_texture(rng, 200, 200)), quality=85, progressive=True)
    save("gray.jpg", Image.fromarray(_texture(rng, 120, 160)[..., 0], "L"), quality=90)
    save("tiny_upscaled.png", Image.fromarray(_texture(rng, 30, 40)))
    save("plain.png", Image.fromarray(_texture(rng, 150, 230)))
    rgba = np.dstack([_texture(rng, 140, 100), np.tile(np.linspace(0, 255, 100), (140, 1)).astype(np.uint8)])
    save("alpha.png", Image.fromarray(rgba, "RGBA"))
    save("gray.png", Image.fromarray(_texture(rng, 90, 90)[..., 1], "L"))
    save("picture.bmp", Image.fromarray(_texture(rng, 99, 131)))
    palette = Image.fromarray(_texture(rng, 110, 80)).quantize(64)
    save("palette.png", palette)
    save("palette_transparent.png", palette, transparency=5)
    la = np.dstack([_texture(rng, 70, 90)[..., 2], np.full((70, 90), 128, np.uint8)])
    save("gray_alpha.png", Image.fromarray(la, "LA"))
    gray16 = _texture(rng, 50, 64)[..., 0].astype(np.int32) * 257
    save("gray16.png", Image.fromarray(gray16).convert("I;16"))
    save("cmyk.jpg", Image.fromarray(_texture(rng, 100, 120)).convert("CMYK"), quality=90)
    frames = [Image.fromarray(_texture(rng, 60, 75)).quantize(32) for _ in range(2)]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    return files


def real_photos(n_jpg: int = 8, n_png: int = 4) -> list[str]:
    """A few real CLIVE photos (JPEG and lossless PNG) + the AVA sample; []
    when the shared data folder is absent."""
    clive = SHARED / "data" / "clive" / "images"
    if not clive.is_dir():
        return []
    files = sorted(clive.iterdir())
    jpgs = [str(f) for f in files if f.suffix.lower() == ".jpg"][:n_jpg]
    pngs = [str(f) for f in files if f.suffix.lower() == ".png"][:n_png]
    ava = sorted(str(f) for f in (SHARED / "data" / "ava_sample" / "images").glob("*.jpg"))
    return jpgs + pngs + ava[:2]


@functools.lru_cache(maxsize=None)
def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="aesthetics-deploy-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.lru_cache(maxsize=None)
def generated_images() -> tuple:
    return tuple(write_generated_images(workdir() / "generated"))


@functools.lru_cache(maxsize=None)
def trained_run() -> Path:
    """A model as `aesthetics train` leaves it: its provenance (`info`: data,
    validation metrics) inside the file. The folder also holds side files that
    contradict it: export must describe the model from the model alone."""
    import json

    d = workdir() / "run"
    d.mkdir()
    model = tiny_model()
    model.info = {
        **model.info,
        "data": {"labels": "labels.csv", "label_format": "mos_csv", "score_range": [0, 100]},
        "validation": {"n": 24, "srcc": 0.5, "plcc": 0.6},
    }
    model.save(d / "model.keras")
    (d / "config.json").write_text(json.dumps({"model": {"backbone": "resnet50", "alpha": 9}}))
    (d / "metrics.json").write_text(json.dumps({"n": 1, "srcc": -1.0}))
    return d / "model.keras"


EXPORTS = {
    "savedmodel": ("aesthetics/1", ["--format", "savedmodel"]),
    "onnx": ("model.onnx", ["--format", "onnx"]),
    "tflite": ("model.tflite", ["--format", "tflite"]),
    "tflite_dynamic": ("model_dynamic.tflite", ["--format", "tflite", "--quantize", "dynamic"]),
}


@functools.lru_cache(maxsize=None)
def export_path(key: str) -> Path:
    """The tiny model exported by the real `aesthetics export` command
    (in-process), once per test process and format."""
    from aesthetics.cli import main

    name, args = EXPORTS[key]
    path = workdir() / "exports" / name
    assert main(["-q", "export", "--model", str(trained_run()), "--output", str(path), *args]) == 0, key
    return path


def exported() -> dict:
    """{"keras", "savedmodel", "onnx", "tflite", "tflite_dynamic"} -> path."""
    return {"keras": trained_run(), **{key: export_path(key) for key in EXPORTS}}


def encode_png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
