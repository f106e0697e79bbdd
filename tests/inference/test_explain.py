"""Explanation maps (issue #4): Grad-CAM, attention maps, overlays, predict --explain."""

import json

import numpy as np
import pytest
from PIL import Image

from aesthetics.cli import main as cli_main
from aesthetics.config import ModelConfig
from aesthetics.inference.explain import (
    explain_maps,
    explain_records,
    overlay,
    render_explanation,
    resolve_method,
    score_title,
    upsample_map,
)
from aesthetics.models import build_model

SIZE = 64
TINY = dict(backbone="mobilenet", alpha=0.25, backbone_weights=None)


def _images(batch=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")


def _randomize_head(model, seed=0):
    """Non-trivial weights: He-initialised backbone convs (with the default init
    an untrained alpha-0.25 MobileNet's features vanish to ~1e-13) and random
    head weights (the attention logits conv starts at zero)."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.get_layer("backbone").layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            k = layer.kernel
            fan_in = int(np.prod(k.shape[:2])) * (1 if isinstance(layer, keras.layers.DepthwiseConv2D) else int(k.shape[2]))
            k.assign(rng.normal(0, np.sqrt(2.0 / fan_in), k.shape).astype("float32"))
    for layer in model.layers:
        if layer.name in ("backbone", "preprocess") or not layer.weights or "bn" in layer.name:
            continue
        layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.get_weights()])


def _photo(path, size=(50, 40), seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_gradcam_on_nima_shape_and_range():
    model = build_model(ModelConfig(model="nima", **TINY), image_size=SIZE)
    _randomize_head(model)
    assert resolve_method(model) == "gradcam"
    maps = explain_maps(model, _images(), batch_size=2)  # two batches
    assert maps.shape == (3, 2, 2) and maps.dtype == np.float32  # stride 32
    assert np.all(np.isfinite(maps)) and maps.min() >= 0.0 and maps.max() <= 1.0
    for m in maps:  # each map is either all zero (no positive evidence) or peaks at 1
        assert m.max() == 0.0 or np.isclose(m.max(), 1.0)
    assert np.isclose(maps.max(), 1.0)


def test_gradcam_matches_manual_gradient():
    import tensorflow as tf

    model = build_model(ModelConfig(model="nima", **TINY), image_size=SIZE)
    _randomize_head(model, seed=1)
    x = _images(2, seed=3)
    backbone, pre = model.get_layer("backbone"), model.get_layer("preprocess")
    feats = backbone(pre(x))
    with tf.GradientTape() as tape:
        tape.watch(feats)
        pooled = tf.reduce_mean(feats, axis=(1, 2))
        p = model.get_layer("scores")(pooled)
        mean = tf.reduce_sum(p * tf.range(1.0, 11.0), axis=-1)
    g = tape.gradient(mean, feats)
    cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * feats, -1)).numpy()
    cam = cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-30)
    np.testing.assert_allclose(explain_maps(model, x), cam, atol=1e-4)


def test_attention_map_for_dual_path():
    from aesthetics.models.dual_path import attention_model

    model = build_model(ModelConfig(model="dual_path", **TINY), image_size=SIZE)
    assert resolve_method(model) == "attention"
    # untrained: zero-init logits -> uniform attention -> all ones
    np.testing.assert_allclose(explain_maps(model, _images(2)), 1.0)
    _randomize_head(model)
    x = _images(2)
    maps = explain_maps(model, x)
    assert maps.shape == (2, 4, 4)  # stride-16 local grid
    assert maps.min() == 0.0 and np.isclose(maps.max(), 1.0)
    raw = np.asarray(attention_model(model)(x)[1])[..., 0]
    ordering = np.argsort(raw.reshape(2, -1), axis=1)
    np.testing.assert_array_equal(np.argsort(maps.reshape(2, -1), axis=1), ordering)


def test_dual_path_without_attention_falls_back_to_gradcam():
    model = build_model(ModelConfig(model="dual_path", **TINY, options={"use_attention": False}),
                        image_size=SIZE)
    _randomize_head(model)
    assert resolve_method(model) == "gradcam"
    with pytest.raises(ValueError, match="attention"):
        resolve_method(model, "attention")
    maps = explain_maps(model, _images(2))
    assert maps.shape == (2, 2, 2) and 0.0 <= maps.min() and maps.max() <= 1.0


def test_overlay():
    photo = np.full((30, 50, 3), 100, np.uint8)
    heat = np.zeros((2, 2), np.float32)
    heat[0, 0] = 1.0
    out = overlay(photo, heat, alpha=0.5)
    assert out.shape == (30, 50, 3) and out.dtype == np.uint8
    # inferno (the default, perceptually uniform): 1 -> pale yellow, 0 -> near black
    assert out[0, 0].astype(int).sum() > out[-1, -1].astype(int).sum() + 300
    assert out[0, 0, 0] > out[0, 0, 2] and out[-1, -1].max() <= 55
    jet = overlay(photo, heat, alpha=0.5, cmap="jet")  # any matplotlib colormap by name
    assert jet[0, 0, 0] > jet[0, 0, 2] and jet[-1, -1, 2] > jet[-1, -1, 0]
    np.testing.assert_array_equal(overlay(photo, heat, alpha=0.0), photo)
    with pytest.raises(ValueError):
        overlay(photo[..., 0], heat)


def test_upsampled_map_is_smooth_not_blocky():
    heat = np.zeros((2, 2), np.float32)
    heat[0, 0] = 1.0
    big = upsample_map(heat, 30, 50)
    assert big.shape == (30, 50) and big.dtype == np.float32
    assert 0.0 <= big.min() and big.max() <= 1.0  # bicubic overshoot clipped
    assert len(np.unique(np.round(big, 3))) > 50  # a gradient, not 4 blocks
    diagonal = big[np.arange(30), np.arange(30) * 49 // 29]
    assert diagonal[0] > 0.9 and diagonal[-1] < 0.1
    assert np.all(np.diff(diagonal[:20]) <= 1e-3)  # falls off monotonically from the peak
    assert diagonal[20:].max() < 0.05  # bicubic ringing beyond it stays invisible


def test_render_explanation_is_a_readable_figure():
    photo = np.zeros((40, 80, 3), np.uint8)
    photo[..., 0] = 200  # a pure red photo
    heat = np.zeros((2, 4), np.float32)
    heat[1, 3] = 1.0
    fig = render_explanation(photo, heat, title="x  ·  score 5.00 ± 1.00", method="gradcam", panel_px=200)
    assert fig.dtype == np.uint8 and fig.ndim == 3 and fig.shape[2] == 3
    height, width = fig.shape[:2]
    assert width > 2 * 200 and height > 100 and width > 2 * height  # two 200x100 panels side by side
    pixels = fig.reshape(-1, 3).astype(int)
    red = (np.abs(pixels - [200, 0, 0]).max(axis=1) <= 8).sum()
    assert red > 0.7 * 200 * 100  # the photo itself, left
    import matplotlib

    for level in (0.1, 0.5, 0.95):  # the colorbar shows the inferno ramp at full strength
        colour = np.array(matplotlib.colormaps["inferno"](level)[:3]) * 255
        assert (np.abs(pixels - colour).max(axis=1) <= 25).sum() > 10, level
    with pytest.raises(ValueError):
        render_explanation(photo[..., 0], heat)


def test_score_title():
    rec = {"image_id": "IMG_1", "path": "a/IMG_1.jpg", "mean_score_prediction": 5.3141,
           "std_score_prediction": 1.4249}
    assert score_title(rec) == "IMG_1  ·  score 5.31 ± 1.42"
    assert score_title({"image_id": "s", "mean_score_prediction": 0.5}) == "s  ·  score 0.50"
    assert score_title(None) == ""


def test_explain_records_skips_errors_and_dedups(tmp_path):
    model = build_model(ModelConfig(model="nima", **TINY), image_size=SIZE)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _photo(tmp_path / "a" / "x.png")
    _photo(tmp_path / "b" / "x.png", size=(2000, 100), seed=1)
    records = [
        {"image_id": "x", "path": str(tmp_path / "a" / "x.png"), "mean_score_prediction": 5.0},
        {"image_id": "x", "path": str(tmp_path / "b" / "x.png"), "mean_score_prediction": 5.0},
        {"image_id": "bad", "path": str(tmp_path / "bad.jpg"), "error": "cannot decode"},
    ]
    n = explain_records(model, records, tmp_path / "out", max_side=500, figure=False)
    assert n == 2 and "explanation" not in records[2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.png", "x_1.png"]
    # the bare blend: pixels aligned with the photo
    assert Image.open(records[0]["explanation"]).size == (50, 40)
    assert Image.open(records[1]["explanation"]).size == (500, 25)  # shrunk to max_side
    # the default: the figure (photo | map, colorbar, title), photo panels side by side
    assert explain_records(model, records[:1], tmp_path / "fig") == 1
    width, height = Image.open(records[0]["explanation"]).size
    assert records[0]["explanation"] == str(tmp_path / "fig" / "x.png") and width > 2 * height


def test_predict_cli_explain(tmp_path, capsys):
    model = build_model(ModelConfig(model="dual_path", **TINY), image_size=SIZE)
    _randomize_head(model)
    model.save(tmp_path / "m.keras")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(3):
        _photo(imgs / f"p{i}.jpg", seed=i)
    (imgs / "corrupt.jpg").write_bytes(b"not a jpeg")
    rc = cli_main(["predict", "--model", str(tmp_path / "m.keras"), str(imgs),
                   "--output", str(tmp_path / "preds.json"), "--explain", str(tmp_path / "expl")])
    assert rc == 0
    records = json.loads((tmp_path / "preds.json").read_text())
    good = [r for r in records if "error" not in r]
    assert len(good) == 3 and len(records) == 4
    assert sorted(p.name for p in (tmp_path / "expl").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    for r in good:
        assert r["explanation"] == str(tmp_path / "expl" / f"{r['image_id']}.png")
        width, height = Image.open(r["explanation"]).size  # the figure: photo | map + colorbar
        assert width > 2 * height
    assert "explanation" not in [r for r in records if "error" in r][0]


def test_predict_cli_explain_refuses_exported_models(tmp_path, capsys):
    (tmp_path / "m.onnx").write_bytes(b"x")
    _photo(tmp_path / "a.png")
    rc = cli_main(["predict", "--model", str(tmp_path / "m.onnx"), str(tmp_path / "a.png"),
                   "--explain", str(tmp_path / "expl")])
    assert rc == 2 and "--explain needs a .keras model" in capsys.readouterr().err
    assert not (tmp_path / "expl").exists()
