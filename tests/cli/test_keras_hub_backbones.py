"""KerasHub backbones (issue 13) on a tiny CLIP preset with random weights,
saved as a local preset folder as a user's `save_to_preset` would: build,
save and load without the preset, train / predict / export through the CLI
on real photos, ONNX and TFLite parity, and the offline message."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("keras_hub")

from keras_hub_presets import (  # noqa: E402
    tiny_clip_preset,
    tiny_dinov2_preset,
    tiny_siglip_vision_preset,
    tiny_vit_preset,
)
from test_cli_e2e import ROOT, run_cli  # noqa: E402

from aesthetics.sample_data import sample_images_dir  # noqa: E402


@pytest.fixture(scope="module")
def clip_preset(tmp_path_factory):
    return tiny_clip_preset(tmp_path_factory.mktemp("clip") / "tiny_clip")


def _config(backbone, preset, **extra):
    from aesthetics.config import ModelConfig

    return ModelConfig(backbone=backbone, backbone_preset=str(preset), backbone_weights="preset", dropout=0.1, **extra)


@pytest.mark.parametrize("family", ["clip", "dinov2", "siglip", "vit"])
def test_a_saved_model_needs_no_preset(family, clip_preset, tmp_path):
    import keras

    from aesthetics.inference.loading import load_model
    from aesthetics.models import Recipe, build_model

    builders = {"dinov2": tiny_dinov2_preset, "siglip": tiny_siglip_vision_preset, "vit": tiny_vit_preset}
    preset = clip_preset if family == "clip" else builders[family](tmp_path / family)
    copy = shutil.copytree(preset, tmp_path / "preset")
    model = build_model(_config(family, copy), recipe=Recipe(image_size=32, resize_to=32))
    assert model.model_config.backbone_preset is None and model.model_config.backbone_config["family"] == family
    assert model.info["backbone_preset"] == "preset"
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = np.asarray(model(x))
    assert out.shape == (2, 10) and np.allclose(out.sum(1), 1, atol=1e-5)
    model.save(tmp_path / "m.keras")
    shutil.rmtree(copy)  # the file alone rebuilds the encoder
    keras.backend.clear_session()
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), out, atol=1e-6)


def test_the_preset_weights_are_used(clip_preset):
    """weights "preset" loads the preset's encoder; null starts from random."""
    import keras_hub

    from aesthetics.models import Recipe, build_model

    x = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    model = build_model(_config("clip", clip_preset), recipe=Recipe(image_size=32, resize_to=32))
    hub = keras_hub.models.CLIPBackbone.from_preset(str(clip_preset))
    pixels = (x / 255.0 - np.array([0.48145466, 0.4578275, 0.40821073])) / np.array(
        [0.26862954, 0.26130258, 0.27577711])
    expected = np.asarray(hub.get_vision_embeddings(pixels.astype("float32")))
    got = np.asarray(model.get_layer("backbone")(pixels.astype("float32")))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    random = build_model(_config("clip", clip_preset, ).__class__(
        backbone="clip", backbone_preset=str(clip_preset), backbone_weights=None), recipe=Recipe(image_size=32))
    assert not np.allclose(np.asarray(random.get_layer("backbone")(pixels.astype("float32"))), expected, atol=1e-3)


def test_bad_presets_are_clear(clip_preset, tmp_path, monkeypatch):
    import keras_hub

    from aesthetics.errors import AestheticsError, WeightsUnavailableError
    from aesthetics.models import Recipe, build_model

    with pytest.raises(AestheticsError, match="data.image_size"):
        build_model(_config("clip", clip_preset), recipe=Recipe(image_size=64))
    (tmp_path / "empty").mkdir()
    with pytest.raises(AestheticsError, match="not a KerasHub preset folder"):
        build_model(_config("clip", tmp_path / "empty"), recipe=Recipe(image_size=32))
    with pytest.raises(AestheticsError, match="backbone_preset"):
        build_model(_config("clip", None).__class__(backbone="clip"), recipe=Recipe(image_size=32))
    with pytest.raises(AestheticsError, match="holds a CLIPBackbone, not a vit backbone"):
        build_model(_config("vit", clip_preset), recipe=Recipe(image_size=32))

    def offline(*args, **kwargs):  # what KerasHub raises without network (requests' ConnectionError)
        raise ConnectionError("HTTPSConnectionPool(host='api.kaggle.com'): NameResolutionError")

    monkeypatch.setattr(keras_hub.models.Backbone, "from_preset", offline)
    with pytest.raises(WeightsUnavailableError, match="save_to_preset"):
        build_model(_config("clip", "clip_vit_base_patch16"), recipe=Recipe(image_size=224))


def test_train_predict_export_through_the_cli(clip_preset, tmp_path):
    images = sample_images_dir()
    labels = images.parent / "labels.csv"
    p = run_cli("train", "--images", str(images), "--labels", str(labels), "--score-range", "0", "100",
                "--output", "run", "--set", "model.backbone=clip", "--set", f"model.backbone_preset={clip_preset}",
                "--set", "model.backbone_weights=preset", "--set", "data.image_size=32", "--set", "data.resize_to=36",
                "--set", "train.epochs_head=1", "--set", "train.epochs_full=1", "--set", "data.batch_size=8",
                "--verbose", "0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["n"] > 0
    for fmt, out in (("onnx", "m.onnx"), ("tflite", "m.tflite"), ("savedmodel", "sm")):
        p = run_cli("export", "--model", "run/model.keras", "--format", fmt, "--output", out, cwd=tmp_path)
        assert p.returncode == 0, p.stderr
    scores = {}
    for backend, model in (("keras", "run/model.keras"), ("onnx", "m.onnx"), ("tflite", "m.tflite"),
                           ("savedmodel", "sm")):
        p = run_cli("predict", str(images), "--model", model, "--backend", backend, "--output", f"{backend}.jsonl",
                    cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        scores[backend] = {r["path"]: r["mean_score_prediction"]
                           for r in map(json.loads, (tmp_path / f"{backend}.jsonl").read_text().splitlines())}
    assert len(scores["keras"]) == len(list(images.iterdir()))
    # explained: a ViT backbone has no feature map, so the map is the pixels' gradient saliency
    p = run_cli("predict", str(images / "astronaut_q0.jpg"), "--model", "run/model.keras", "--explain", "why",
                "--output", "why.jsonl", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "why" / "astronaut_q0.png").stat().st_size > 1000
    for backend in ("onnx", "tflite", "savedmodel"):
        diff = max(abs(scores[backend][k] - scores["keras"][k]) for k in scores["keras"])
        assert diff < 1e-3, (backend, diff)
    import aesthetics  # the Python API scores with it too

    photo = str(images / "astronaut_q0.jpg")
    assert aesthetics.load(str(tmp_path / "run" / "model.keras")).score(photo)["mean_score_prediction"] == \
        pytest.approx(scores["keras"][photo], abs=1e-4)


def test_gradient_saliency_follows_the_pixels_that_matter(clip_preset):
    """The "gradient" map is high where changing pixels changes the score: a
    model that scores only the top-left quarter's brightness lights up there."""
    import keras

    from aesthetics.inference.explain import explain_maps, resolve_method
    from aesthetics.models import Recipe, build_model

    model = build_model(_config("clip", clip_preset), recipe=Recipe(image_size=32, resize_to=32))
    assert resolve_method(model) == "gradient"
    image = keras.Input((64, 64, 3))
    quarter = keras.layers.Cropping2D(((0, 32), (0, 32)))(image)
    score = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(quarter))
    toy = keras.Model(image, score)
    maps = explain_maps(toy, np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32"),
                        method="gradient")
    assert maps.shape == (1, 4, 4)
    assert maps[0, :2, :2].min() > 0.5 and maps[0, 2:, :].max() == 0 and maps[0, :, 2:].max() == 0


def test_the_clip_configs_validate():
    from aesthetics.config import load_config

    config = load_config(ROOT / "configs" / "clip_staged.json")
    assert config.model.backbone == "clip" and [s["optimizer"] for s in config.train.stages] == \
        ["adam", "adamw", "adam", "sgd"]
    laion = load_config(ROOT / "configs" / "clip_laion_head.json")
    assert laion.train.cache_features and laion.model.options["head_hidden"] == [1024, 128, 64, 16]


def test_laion_head_on_cached_clip_embeddings(clip_preset, tmp_path):
    images = sample_images_dir()
    p = run_cli("train", "--config", str(ROOT / "configs" / "clip_laion_head.json"), "--images", str(images),
                "--labels", str(images.parent / "labels.csv"), "--output", "run",
                "--set", f"model.backbone_preset={clip_preset}", "--set", "data.image_size=32",
                "--set", "data.resize_to=32", "--set", "train.epochs_head=5",
                "--set", "model.options={\"head_hidden\": [16, 8]}", "--verbose", "0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert list((tmp_path / "run").glob("features_*.npz")) and json.loads(p.stdout)["n"] == 9


def test_zero_shot_equals_clip_iqa(clip_preset, tmp_path):
    """`aesthetics zero-shot`'s score is 1 + 9 softmax(CLIP's image-text logits)[good],
    computed by KerasHub's own CLIP on the same pixels; the .keras file needs no
    text encoder and exports to ONNX with the same scores."""
    import keras_hub
    from PIL import Image

    from aesthetics.inference.loading import load_model
    from aesthetics.models.clip_zero_shot import token_ids_of

    prompts = ["good photo", "bad photo"]
    p = run_cli("zero-shot", "--preset", str(clip_preset), "--output", "zs.keras", "--prompts", *prompts, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    model = load_model(tmp_path / "zs.keras")
    assert model.recipe.output == "score" and model.info["zero_shot"]["prompts"] == prompts

    photo = sample_images_dir() / "astronaut_q0.jpg"
    x = np.asarray(Image.open(photo).convert("RGB").resize((32, 32), Image.BILINEAR), np.float32)[None]
    hub = keras_hub.models.CLIPBackbone.from_preset(str(clip_preset))
    pre = keras_hub.models.CLIPPreprocessor.from_preset(str(clip_preset))
    pixels = ((x / 255.0 - np.array([0.48145466, 0.4578275, 0.40821073])) /
              np.array([0.26862954, 0.26130258, 0.27577711])).astype("float32")
    logits = np.asarray(hub({"images": pixels, "token_ids": token_ids_of(pre, prompts)})["vision_logits"])
    p_good = np.exp(logits[0, 0]) / np.exp(logits[0]).sum()
    assert float(np.asarray(model(x))[0, 0]) == pytest.approx(1 + 9 * p_good, abs=1e-4)

    p = run_cli("export", "--model", "zs.keras", "--format", "onnx", "--output", "zs.onnx", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    scores = {}
    for model_file in ("zs.keras", "zs.onnx"):
        p = run_cli("predict", str(sample_images_dir()), "--model", model_file, "--output", f"{model_file}.jsonl",
                    cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        scores[model_file] = {r["path"]: r["mean_score_prediction"] for r in
                              map(json.loads, (tmp_path / f"{model_file}.jsonl").read_text().splitlines())}
    assert all(1 <= s <= 10 for s in scores["zs.keras"].values())
    assert max(abs(scores["zs.onnx"][k] - v) for k, v in scores["zs.keras"].items()) < 1e-3

    p = run_cli("zero-shot", "--preset", str(clip_preset), "--output", "x.keras", "--prompts", "only", cwd=tmp_path)
    assert p.returncode == 2 and "at least two" in p.stderr


def test_a_broken_encoder_record_is_a_model_file_error():
    from aesthetics.errors import ModelFileError
    from aesthetics.models import Recipe, build_model
    from aesthetics.config import ModelConfig

    for record in ({"family": "clip"}, {"family": "clip", "encoder": {"class_name": "Nope", "config": {}}}):
        with pytest.raises(ModelFileError, match="backbone_config"):
            build_model(ModelConfig(backbone="clip", backbone_config=record, backbone_weights=None),
                        recipe=Recipe(image_size=32))
