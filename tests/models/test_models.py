"""Model builders and backbones. BackbonePreprocess is tested in
tests/layers/test_preprocess.py."""

import keras
import numpy as np
import pytest

from aesthetics.config import ModelConfig
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models import build_model
from aesthetics.models.backbones import build_backbone, canonical_backbone_name
from harness import check_model

TINY = dict(backbone="mobilenet", alpha=0.25, backbone_weights=None)


def test_nima_through_harness():
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    model = check_model(lambda: build_model(ModelConfig(**TINY), image_size=64), x, (2, 10))
    out = np.asarray(model(x))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert model.get_layer("scores").dtype_policy.compute_dtype == "float32"
    # the layers training and export rely on, wired image -> preprocess -> backbone
    preprocess = model.get_layer("preprocess")
    assert isinstance(preprocess, BackbonePreprocess) and preprocess.mode == "tf"
    backbone = model.get_layer("backbone")
    assert isinstance(backbone, keras.Model)
    assert tuple(backbone.output.shape) == (None, 2, 2, 256)  # MobileNet x0.25, stride 32
    assert backbone.get_layer("conv1").get_weights()[0].shape == (3, 3, 3, 8)
    # image -> preprocess -> backbone -> average pool -> scores, nothing else
    features = np.asarray(backbone(preprocess(x))).mean((1, 2))
    np.testing.assert_allclose(model.get_layer("scores")(features), out, atol=1e-5)
    n_trainable = len(model.trainable_weights)
    backbone.trainable = False  # what training phase 1 does
    assert 0 < len(model.trainable_weights) < n_trainable
    assert len(model.trainable_weights) == 2  # only the "scores" Dense kernel and bias


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
    assert len(b.get_weights()) == len(a.get_weights()) > 0
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # a fresh random build differs, so the comparison above can fail
    c = build_backbone("mobilenet", (32, 32, 3), weights=None, alpha=0.25)
    assert not np.array_equal(a.get_layer("conv1").get_weights()[0], c.get_layer("conv1").get_weights()[0])


def test_missing_weights_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="file not found"):
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
    backbone = model.get_layer("backbone")
    kernel = backbone.get_layer("conv1").get_weights()[0]
    assert kernel.shape == (3, 3, 3, 32)
    # every weight is the file's: loaded independently with plain Keras
    reference = keras.applications.MobileNet(
        weights=None, include_top=False, input_shape=(96, 96, 3)
    )
    reference.load_weights(str(path))
    loaded = backbone.get_weights()
    assert len(loaded) == len(reference.get_weights())
    for a, b in zip(reference.get_weights(), loaded):
        np.testing.assert_array_equal(a, b)
    # and not what a random init gives (the BN statistics start at 0 and 1)
    random = build_backbone("mobilenet", (96, 96, 3), weights=None)
    assert not np.allclose(kernel, random.get_layer("conv1").get_weights()[0])
    mean, variance = backbone.get_layer("conv1_bn").get_weights()[2:]
    assert np.abs(mean).max() > 0 and not np.allclose(variance, 1.0)
