"""The shipped aesthetic model (idealo's AVA NIMA, converted): idealo's
published scores, the `--weights` path, and every backend alike on real photos."""

import json

import numpy as np
import pytest

from aesthetics import zoo

PUBLISHED = {"42039": 5.228, "42040": 4.688, "42041": 5.287, "42042": 5.127, "42044": 5.795}


@pytest.fixture(scope="module")
def ava_photos(shared_dir):
    photos = sorted((shared_dir / "data" / "ava_sample" / "images").glob("*.jpg"))
    assert [p.stem for p in photos] == sorted(PUBLISHED)
    return photos


def test_idealos_published_scores_are_reproduced(ava_photos):
    import aesthetics

    scores = dict(zip((p.stem for p in ava_photos), aesthetics.load("aesthetic").mean_scores(ava_photos)))
    for name, published in PUBLISHED.items():
        # published with 3 decimals; 42040 (4:2:0 JPEG) is decoded by libjpeg-turbo, not
        # Pillow 5.0's IJG libjpeg 9b: 0.033 off (MODEL_CARD.md)
        assert scores[name] == pytest.approx(published, abs=0.035 if name == "42040" else 6e-4), name
    assert sorted(scores, key=scores.get) == sorted(PUBLISHED, key=PUBLISHED.get)  # same ranking


def test_the_weights_path_with_keras21_padding_gives_the_shipped_scores(shared_dir, ava_photos):
    from aesthetics.inference.loading import load_idealo_nima, load_model
    from aesthetics.inference.scoring import as_scorer, score_paths

    clive = sorted((shared_dir / "data" / "clive" / "images").glob("*"))[:12]
    photos = list(ava_photos) + clive
    weights = shared_dir / "weights" / "idealo_nima_mobilenet_aesthetic_ava.hdf5"
    converted = as_scorer(load_idealo_nima(weights, backbone="mobilenet_keras21"))
    shipped = as_scorer(load_model(zoo.model_path("nima-ava-mobilenet")))
    a = [r["mean_score_prediction"] for r in score_paths(converted, photos)]
    b = [r["mean_score_prediction"] for r in score_paths(shipped, photos)]
    assert np.abs(np.array(a) - np.array(b)).max() < 1e-5
    # today's MobileNet padding is what made the old path wrong
    modern = as_scorer(load_idealo_nima(weights, backbone="mobilenet"))
    c = [r["mean_score_prediction"] for r in score_paths(modern, ava_photos)]
    assert max(abs(x - PUBLISHED[p.stem]) for x, p in zip(c, ava_photos)) > 0.3


def test_the_nearest_resize_recipe_survives_a_savedmodel_export(tmp_path, ava_photos):
    """The bytes signature resizes in the graph: TF's nearest must pick
    Pillow's pixels, and the JPEG decode must match Pillow's."""
    import tensorflow as tf

    import aesthetics
    from aesthetics.export import export_model
    from aesthetics.inference.loading import load_model

    model = load_model(zoo.model_path("nima-ava-mobilenet"))
    assert model.recipe.legacy and model.recipe.image_size == 224
    export_model(model, tmp_path / "sm", "savedmodel")
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = served(image_bytes=tf.constant([p.read_bytes() for p in ava_photos]))
    expected = aesthetics.load("aesthetic", backend="keras").mean_scores(ava_photos)
    assert np.abs(out["mean_score"].numpy() - expected).max() < 1e-4
    meta = json.loads((tmp_path / "sm" / "model.json").read_text())
    assert meta["recipe"]["legacy"] is True


def test_every_backend_gives_the_same_scores(tmp_path, ava_photos, shared_dir):
    """keras, the shipped ONNX copy, a TFLite and a SavedModel export (scored
    through `predict`'s loop) agree within 1e-4 on real photos."""
    import aesthetics
    from aesthetics.export import export_model
    from aesthetics.inference.backends import load_scorer
    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_paths

    photos = list(ava_photos) + sorted((shared_dir / "data" / "clive" / "images").glob("*"))[:5]
    reference = aesthetics.load("aesthetic", backend="keras").mean_scores(photos)
    model = load_model(zoo.model_path("nima-ava-mobilenet"))
    export_model(model, tmp_path / "m.tflite", "tflite")
    export_model(model, tmp_path / "sm", "savedmodel")
    scorers = {"onnx": load_scorer("onnx", zoo.model_path("nima-ava-mobilenet", "onnx")),
               "tflite": load_scorer("tflite", tmp_path / "m.tflite"),
               "savedmodel": load_scorer("savedmodel", tmp_path / "sm")}
    for backend, scorer in scorers.items():
        scores = np.array([r["mean_score_prediction"] for r in score_paths(scorer, photos)])
        assert np.abs(scores - reference).max() < 1e-4, backend
