"""Native-resolution recipes: the whole photo at its own size, on every
backend and in the served bytes signature."""

import numpy as np
import pytest

from aesthetics.data.resize import fit_photo
from aesthetics.models import Recipe
from aesthetics.sample_data import sample_images_dir


def test_fit_photo_keeps_aspect_and_only_shrinks():
    photo = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    assert np.array_equal(fit_photo(photo, 1024), photo)
    assert fit_photo(photo, 250).shape == (150, 250, 3)
    assert fit_photo(photo[:20, :40], 1024).shape == (32, 64, 3)  # short side enlarged to 32


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    import keras

    from aesthetics.config import ModelConfig
    from aesthetics.models import build_model

    d = tmp_path_factory.mktemp("native")
    keras.utils.set_random_seed(0)
    config = ModelConfig(backbone="mobilenet", alpha=0.25, backbone_weights=None,
                         options={"pooling": "mean_std", "pool_layers": ["conv_pw_11_relu"]})
    model = build_model(config, recipe=Recipe(resize="native", max_side=96))
    from deploy_helpers import calibrate_batchnorm

    # random weights, made image-sensitive: BatchNorm statistics from data, a bold head
    calibrate_batchnorm(model, np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32"))
    head = model.get_layer("scores")
    head.kernel.assign(np.random.default_rng(1).normal(0, 0.5, head.kernel.shape).astype("float32"))
    model.save(d / "m.keras")
    # photos of several sizes and aspects, larger than max_side (resized) and smaller (kept)
    files = sorted(str(p) for p in sample_images_dir().glob("*_q0.jpg"))[:4]
    from PIL import Image

    Image.open(files[0]).resize((80, 56)).save(d / "small.png")
    return d, files + [str(d / "small.png")]


def test_native_model_has_no_fixed_size_and_scores_every_backend_alike(native):
    from aesthetics.export import export_model
    from aesthetics.inference.backends import load_scorer
    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_files, score_paths

    d, files = native
    model = load_model(d / "m.keras")
    assert model.input_shape == (None, None, None, 3) and model.recipe.native
    ref = {r["path"]: r["mean_score_prediction"] for r in score_files(model, files, batch_size=2)}
    assert len(ref) == len(files) and len(set(ref.values())) == len(files)
    for fmt, out in (("onnx", d / "m.onnx"), ("savedmodel", d / "sm" / "1"), ("tflite", d / "m.tflite")):
        meta = export_model(model, out, fmt)
        assert meta["recipe"]["resize"] == "native" and meta["input"]["image_size"] is None
        got = {r["path"]: r["mean_score_prediction"] for r in score_paths(load_scorer(fmt, out), files)}
        assert max(abs(got[f] - ref[f]) for f in files) < 1e-4, fmt


def test_served_bytes_take_photos_of_any_size(native):
    import tensorflow as tf

    from aesthetics.export import export_model
    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_files

    d, files = native
    model = load_model(d / "m.keras")
    export_model(model, d / "sm2" / "1", "savedmodel")
    signature = tf.saved_model.load(str(d / "sm2" / "1")).signatures["serving_default"]
    out = signature(image_bytes=tf.constant([open(f, "rb").read() for f in files]))
    ref = np.array([r["mean_score_prediction"] for r in score_files(model, files)])
    # TF's in-graph resize equals predict's Pillow resize up to float rounding
    assert np.abs(out["mean_score"].numpy() - ref).max() < 0.02
    assert out["distribution"].shape == (len(files), 10)
