import numpy as np
import pytest

from aesthetics.config import ModelConfig
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models import build_model
from aesthetics.models.backbones import build_backbone, canonical_backbone_name
from harness import check_layer, check_model

TINY = dict(backbone="mobilenet", alpha=0.25, backbone_weights=None)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch", "none"])
def test_backbone_preprocess_layer(mode):
    check_layer(
        lambda: BackbonePreprocess(mode),
        [(2, 8, 8, 3)],
        (2, 8, 8, 3),
        input_range=(0.0, 255.0),
        atol=1e-4,
        check_training=False,
    )


def test_preprocess_matches_keras_applications():
    import keras

    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    pairs = {
        "tf": keras.applications.mobilenet.preprocess_input,
        "caffe": keras.applications.resnet50.preprocess_input,
        "torch": keras.applications.densenet.preprocess_input,
    }
    for mode, fn in pairs.items():
        ours = np.asarray(BackbonePreprocess(mode)(x))
        np.testing.assert_allclose(ours, fn(x.copy()), atol=1e-4)


def test_nima_through_harness():
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    model = check_model(lambda: build_model(ModelConfig(**TINY), image_size=64), x, (2, 10))
    out = np.asarray(model(x))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert model.get_layer("backbone") is not None
    assert model.get_layer("scores").dtype_policy.compute_dtype == "float32"


@pytest.mark.parametrize(
    "name", ["mobilenet_v2", "efficientnet_b0", "resnet50", "inception_resnet_v2"]
)
def test_other_backbones_build(name):
    size = 75 if name == "inception_resnet_v2" else 32  # IRv2 needs >= 75 px
    cfg = ModelConfig(backbone=name, backbone_weights=None, alpha=1.0)
    model = build_model(cfg, image_size=size)
    out = model(np.zeros((1, size, size, 3), "float32"))
    assert out.shape == (1, 10)


def test_backbone_names_are_forgiving():
    assert canonical_backbone_name("MobileNetV2") == "mobilenet_v2"
    assert canonical_backbone_name("EfficientNetB0") == "efficientnet_b0"
    with pytest.raises(ValueError, match="unknown backbone"):
        canonical_backbone_name("alexnet")


def test_local_weights_file_roundtrip(tmp_path):
    a = build_backbone("mobilenet", (32, 32, 3), weights=None, alpha=0.25)
    path = tmp_path / "bb.weights.h5"
    a.save_weights(str(path))
    b = build_backbone("mobilenet", (32, 32, 3), weights=str(path), alpha=0.25)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_missing_weights_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        build_backbone("mobilenet", (32, 32, 3), weights=str(tmp_path / "nope.h5"), alpha=0.25)


def test_offline_imagenet_download_fails_clearly(monkeypatch):
    import keras

    from aesthetics.models import backbones

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://example/x.h5: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.applications.mobilenet.file_utils.get_file", no_network)
    with pytest.raises(backbones.WeightsUnavailableError, match="local file"):
        build_backbone("mobilenet", (128, 128, 3), weights="imagenet", alpha=0.25)


def test_shared_imagenet_weights_load(shared_dir):
    path = shared_dir / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
    cfg = ModelConfig(backbone="mobilenet", backbone_weights=str(path))
    model = build_model(cfg, image_size=96)
    kernel = model.get_layer("backbone").get_layer("conv1").get_weights()[0]
    assert np.abs(kernel).sum() > 0 and kernel.shape == (3, 3, 3, 32)
