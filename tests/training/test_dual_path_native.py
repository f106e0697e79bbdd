"""The dual-path model at native resolution trains on cached maps like the
NIMA model (benchmarks/clive_dual_path_native.py, issue 26): the split at
conv_pw_11_relu computes what the model computes, and training the head with
block_lr=0 leaves the backbone as it was."""

import json
import sys
from pathlib import Path

import keras
import numpy as np

from aesthetics.config import ModelConfig
from aesthetics.losses import get_loss
from aesthetics.models import Recipe, build_model
from aesthetics.training.partial_finetune import fit_top, predict_top, split_model

ROOT = Path(__file__).resolve().parents[2]


def _model(options=None, seed=0):
    keras.utils.set_random_seed(seed)
    config = ModelConfig(model="dual_path", backbone="mobilenet", alpha=0.25, backbone_weights=None, dropout=0.5,
                         options=options or {})
    return build_model(config, recipe=Recipe(resize="native", max_side=160, image_size=224, score_range=(0, 100)))


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _perturb_head(model, seed=1):
    """The zero-initialised parts (non-local W, attention logits, FiLM) made
    non-zero, so the check covers every path, not just the identity start."""
    rng = np.random.default_rng(seed)
    for name in ("non_local_0", "local_attention", "fusion"):
        layer = model.get_layer(name)
        layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in layer.get_weights()])


def test_stem_then_top_is_the_dual_path_model_at_native_size():
    model = _model()
    _perturb_head(model)
    split = split_model(model, "conv_pw_11_relu")
    assert model.recipe.resize == "native"
    x = _images((2, 112, 96, 3))  # not square, not the training size
    maps = np.asarray(split.stem(x))
    assert maps.shape == (2, 7, 6, 128)
    np.testing.assert_allclose(np.asarray(split.top(maps)), np.asarray(model(x)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(split.top(maps)).sum(axis=1), 1.0, atol=1e-5)
    assert split.features(maps).shape == (2, 128 + 256)  # [fused local, global]
    names = {layer.name for layer in split.head_layers}
    assert {"non_local_0", "local_attention", "fusion", "scores"} <= names


def test_head_only_fit_leaves_the_backbone_unchanged():
    model = _model()
    split = split_model(model, "conv_pw_11_relu")
    backbone = model.get_layer("backbone")
    before = [np.array(w) for w in backbone.weights]
    head_before = [np.array(w) for layer in split.head_layers for w in layer.trainable_weights]
    maps = [m for m in np.asarray(split.stem(_images((20, 96, 96, 3))))]
    flipped = [m[:, ::-1] for m in maps]
    targets = np.random.default_rng(0).dirichlet(np.ones(10), 20).astype(np.float32)
    # validation targets far from the start, so an epoch of training is kept
    val_targets = np.tile(np.eye(10, dtype=np.float32)[9], (4, 1))
    fit = fit_top(split, [maps[:16], flipped[:16]], targets[:16], maps[16:], val_targets, get_loss("emd"),
                  epochs=1, block_lr=0, head_lr=1e-2, batch_size=8, patience=5, seed=0)
    assert len(fit.val_losses) == 2 and fit.seconds_per_epoch > 0
    for w, b in zip(backbone.weights, before):
        np.testing.assert_array_equal(np.asarray(w), b)
    if fit.best_epoch == 1:  # the head did train
        head_after = [np.asarray(w) for layer in split.head_layers for w in layer.trainable_weights]
        assert any(not np.array_equal(a, b) for a, b in zip(head_after, head_before))
    assert predict_top(split.top, maps[16:]).shape == (4, 10)


def test_the_study_builds_every_variant_and_resumes(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks import clive_dual_path_native as study

    for name in study.VARIANTS:
        model = study.build(name, weights=None, alpha=0.25)
        split = split_model(model, study.AT)
        probe = study.norm_probe(split)
        maps = np.asarray(split.stem(_images((2, 96, 96, 3))))
        norms = study.probe_norms(probe, list(maps))
        assert norms and all(np.isfinite(v) for v in norms.values()), name
    results = tmp_path / "dual_path_native.jsonl"
    study.append_row(results, {"variant": "dual_path", "fold": 0, "srcc": 0.8, "plcc": 0.8, "minutes": 1,
                               "best_epoch": 3, "seconds_per_epoch": 10})
    rows = study.read_rows(results)
    assert study.pending(["dual_path", "mean_std_trained"], [0, 1], rows) == [
        ("dual_path", 1), ("mean_std_trained", 0), ("mean_std_trained", 1)]
    frozen = [{"variant": "frozen", "fold": 0, "srcc": 0.75, "plcc": 0.8, "minutes": 1}]
    text = study.table_text(rows, frozen)
    assert "dual_path" in text and "+0.050" in text
    assert json.loads(results.read_text())["variant"] == "dual_path"
