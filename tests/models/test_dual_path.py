"""Dual-path model (issue #4): ablations, the local-layer table, training and
export. Its layers are tested in tests/layers/."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aesthetics.config import ModelConfig
from aesthetics.catalog import BACKBONES, LOSSES
from aesthetics.losses.distribution import get_loss
from aesthetics.models import build_model
from aesthetics.models.backbones import accepts_alpha, build_backbone
from aesthetics.models.dual_path import (
    LOCAL_LAYERS,
    _fallback_local_tensor,
    _local_tensor,
    attention_model,
    build_dual_path,
    resolve_options,
)
from harness import check_model

SIZE = 64
TINY = dict(model="dual_path", backbone="mobilenet", alpha=0.25, backbone_weights=None)


def _cfg(**options):
    return ModelConfig(**TINY, options=options)


def _images(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")


def _randomize(layer, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    )


# ---------------------------------------------------------------- model


ABLATIONS = [
    {},
    {"use_non_local": False},
    {"use_adain": False},
    {"use_attention": False},
    {"use_local_path": False},
    {"adain_on": "map", "non_local_blocks": 2, "non_local_bn": True, "non_local_subsample": True},
    {"fusion_normalize_style": True, "feature_norm": True},
]


@pytest.mark.parametrize("options", ABLATIONS, ids=lambda o: ",".join(o) or "full")
def test_dual_path_through_harness(options):
    x = _images()
    model = check_model(lambda: build_dual_path(_cfg(**options), image_size=SIZE), x, (2, 10))
    out = np.asarray(model(x))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert model.output_names == ["scores"]
    assert model.get_layer("scores").dtype_policy.compute_dtype == "float32"
    names = {layer.name for layer in model.layers}
    local = options.get("use_local_path", True)
    assert ("local_attention" in names) == (local and options.get("use_attention", True))
    assert ("fusion" in names) == (local and options.get("use_adain", True))
    assert ("non_local_0" in names) == options.get("use_non_local", True)
    assert ("feature_norm" in names) == options.get("feature_norm", False)
    if "fusion" in names:
        assert model.get_layer("fusion").normalize_style == options.get("fusion_normalize_style", False)


@pytest.mark.parametrize("feature_norm", [False, True])
def test_feature_norm_keeps_the_softmax_out_of_saturation(feature_norm):
    """The divergence of issue 26: the global vector after the non-local block
    grows while training, the head's logits with it, the softmax saturates to
    one bin and its gradient vanishes. With feature_norm the scores do not
    depend on the scale of the fused features at all."""
    model = build_dual_path(_cfg(feature_norm=feature_norm), image_size=SIZE)
    head_input = model.get_layer("fuse_concat").output
    head = keras.Model(head_input, model.output)  # the fused features -> (feature_norm) -> scores
    features = np.random.default_rng(1).normal(1.0, 1.0, (4, head_input.shape[-1])).astype("float32")
    small, grown = np.asarray(head(features)), np.asarray(head(100.0 * features))
    if feature_norm:
        np.testing.assert_allclose(grown, small, atol=1e-3)  # LayerNorm epsilon
        assert grown.max() < 0.9
    else:
        assert grown.max() > 0.99  # saturated: one bin takes everything


def test_registered_and_backbone_has_two_outputs():
    model = build_model(_cfg(), image_size=SIZE)
    backbone = model.get_layer("backbone")
    local, deep = backbone.outputs
    assert tuple(local.shape) == (None, 4, 4, 128)  # conv_pw_11_relu, stride 16
    assert tuple(deep.shape) == (None, 2, 2, 256)  # stride 32
    n_trainable = len(model.trainable_weights)
    backbone.trainable = False  # what training phase 1 does
    assert 0 < len(model.trainable_weights) < n_trainable


def test_local_layer_option_and_errors():
    model = build_dual_path(_cfg(local_layer="conv_pw_7_relu"), image_size=SIZE)
    assert tuple(model.get_layer("backbone").outputs[0].shape) == (None, 4, 4, 128)
    model = build_dual_path(_cfg(local_layer="conv_pw_12:input"), image_size=SIZE)
    assert tuple(model.get_layer("backbone").outputs[0].shape) == (None, 2, 2, 128)
    with pytest.raises(ValueError, match="no layer"):
        build_dual_path(_cfg(local_layer="nope"), image_size=SIZE)
    with pytest.raises(ValueError, match="unknown option"):
        resolve_options({"use_nonlocal": False})
    with pytest.raises(ValueError, match="needs use_attention"):
        resolve_options({"adain_on": "map", "use_attention": False})
    with pytest.raises(ValueError, match="use_adain: expected true or false"):
        resolve_options({"use_adain": "false"})  # strict JSON types, as every config value
    assert set(LOCAL_LAYERS) >= {"mobilenet", "mobilenet_v2", "efficientnet_b0", "resnet50"}


def test_local_layer_fallback_for_backbones_not_in_the_table():
    backbone = build_backbone("mobilenet", (SIZE, SIZE, 3), weights=None, alpha=0.25)
    # skips the stride-2 block's ZeroPadding2D and lands on the table's choice
    assert _fallback_local_tensor(backbone) is backbone.get_layer(LOCAL_LAYERS["mobilenet"]).output


def test_local_layer_table_for_mobilenet_v2():
    cfg = ModelConfig(model="dual_path", backbone="mobilenet_v2", alpha=0.35, backbone_weights=None)
    model = build_dual_path(cfg, image_size=SIZE)
    local, deep = model.get_layer("backbone").outputs
    assert local.shape[1] == 2 * deep.shape[1] == 4


# Every entry of LOCAL_LAYERS, built with random weights at TABLE_SIZE px (the
# Inception/Xception family needs >= 75 px; the build cost does not depend on
# the size). Same-padding backbones give TABLE_SIZE / 16 = 6 at stride 16;
# the Inception stems use "valid" padding: 96 -> 47 -> 45 -> 22 -> 20 -> 9 -> 4
# (at 299 px the same arithmetic gives their documented 17x17 grid).
TABLE_SIZE = 96
STRIDE16_SIZE = {"inception_v3": 4, "inception_resnet_v2": 4}


@pytest.mark.parametrize("name", sorted(LOCAL_LAYERS))
def test_local_layer_table_entry_has_stride_16(name):
    alpha = 0.25 if accepts_alpha(name) else 1.0
    backbone = build_backbone(name, (TABLE_SIZE, TABLE_SIZE, 3), weights=None, alpha=alpha)
    layer_name, _, which = LOCAL_LAYERS[name].partition(":")
    assert which in ("", "input")
    layer = backbone.get_layer(layer_name)  # raises if the table names no layer
    local = layer.input if which == "input" else layer.output
    assert len(local.shape) == 4
    side = STRIDE16_SIZE.get(name, TABLE_SIZE // 16)
    assert tuple(local.shape[1:3]) == (side, side), f"{LOCAL_LAYERS[name]}: {local.shape}"
    final = backbone.output.shape[1]
    assert final < side  # the local map comes before the final stride-2 stage
    # the model builder picks the same tensor
    assert tuple(_local_tensor(backbone, name).shape) == tuple(local.shape)


def test_attention_model():
    x = _images(3)
    model = build_dual_path(_cfg(), image_size=SIZE)
    _randomize(model.get_layer("local_attention"), seed=3, scale=0.3)
    am = attention_model(model)
    assert am.output_names == ["scores", "attention_map"]
    scores, attention = (np.asarray(t) for t in am(x))
    assert attention.shape == (3, 4, 4, 1) and attention.dtype == np.float32
    np.testing.assert_allclose(attention.sum((1, 2, 3)), 1.0, atol=1e-5)
    np.testing.assert_allclose(scores, np.asarray(model(x)), atol=1e-6)
    for options in ({"use_attention": False}, {"use_local_path": False}):
        with pytest.raises(ValueError, match="local_attention"):
            attention_model(build_dual_path(_cfg(**options), image_size=SIZE))


def test_attention_model_after_keras_reload(tmp_path):
    x = _images()
    model = build_dual_path(_cfg(), image_size=SIZE)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    scores, attention = attention_model(loaded)(x)
    np.testing.assert_allclose(scores, np.asarray(model(x)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(attention).sum((1, 2, 3)), 1.0, atol=1e-5)


def test_local_backbone_weights_file(tmp_path):
    source = build_backbone("mobilenet", (SIZE, SIZE, 3), weights=None, alpha=0.25)
    path = tmp_path / "bb.weights.h5"
    source.save_weights(str(path))
    model = build_dual_path(ModelConfig(**{**TINY, "backbone_weights": str(path)}), image_size=SIZE)
    loaded = model.get_layer("backbone").get_weights()
    assert len(loaded) == len(source.get_weights())
    for a, b in zip(source.get_weights(), loaded):
        np.testing.assert_array_equal(a, b)
    # the two-output backbone's own weights file loads back into a fresh one
    path2 = tmp_path / "dual_bb.weights.h5"
    model.get_layer("backbone").save_weights(str(path2))
    cfg = ModelConfig(**{**TINY, "backbone_weights": str(path2)})
    other = build_dual_path(cfg, image_size=SIZE)
    for a, b in zip(loaded, other.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)


def _train_data():
    rng = np.random.default_rng(1)
    return _images(4), rng.dirichlet(np.ones(10), 4).astype("float32")


@pytest.fixture(scope="module")
def shared_model():
    return build_dual_path(_cfg(), image_size=SIZE)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_train_step_each_loss(name, shared_model):
    # eager, so each loss costs no graph trace (the traced path is tested below)
    x, y = _train_data()
    model = shared_model
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=get_loss(name), run_eagerly=True)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_train_step_graph_frozen_backbone():
    x, y = _train_data()
    model = build_dual_path(_cfg(), image_size=SIZE)
    backbone = model.get_layer("backbone")
    backbone.trainable = False
    before_backbone = [w.copy() for w in backbone.get_weights()]
    before_head = model.get_layer("fusion").get_weights()[0].copy()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=get_loss("emd"), jit_compile=False)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for a, b in zip(before_backbone, backbone.get_weights()):
        np.testing.assert_array_equal(a, b)  # frozen, BN statistics included
    assert np.abs(model.get_layer("fusion").get_weights()[0] - before_head).max() > 0


def _trained_looking_model():
    """A model whose zero-initialised parts are randomised, so the export
    comparison exercises the non-local, fusion and attention paths."""
    model = build_dual_path(_cfg(), image_size=SIZE)
    for name in ("non_local_0", "fusion", "local_attention"):
        _randomize(model.get_layer(name), seed=len(name), scale=0.1)
    return model


def test_export_saved_model(tmp_path):
    x = _images()
    model = _trained_looking_model()
    expected = np.asarray(model(x))
    path = str(tmp_path / "saved")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), expected, atol=1e-4)


def test_export_onnx():
    tf2onnx = pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    x = _images(3)
    model = _trained_looking_model()
    expected = np.asarray(model(x))
    spec = [tf.TensorSpec((None, SIZE, SIZE, 3), tf.float32, name="image")]
    fn = tf.function(lambda image: model(image, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
    session = ort.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(out, expected, atol=1e-4)
    # standard ops only
    assert all(node.domain in ("", "ai.onnx") for node in proto.graph.node)
