"""Fine-tuning the last backbone blocks on cached maps: the split model
computes what the model computes, maps are cached as scoring prepares
photos, training restores its best epoch, and the study resumes."""

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from aesthetics.config import ModelConfig
from aesthetics.errors import ConfigError
from aesthetics.losses import get_loss
from aesthetics.models import Recipe, build_model
from aesthetics.sample_data import sample_images_dir
from aesthetics.training.partial_finetune import cache_maps, fit_top, predict_top, split_model

ROOT = Path(__file__).resolve().parents[2]


def _model(pool_layers=("conv_pw_11_relu",), seed=0):
    keras.utils.set_random_seed(seed)
    config = ModelConfig(model="nima", backbone="mobilenet", alpha=0.25, backbone_weights=None, dropout=0.0,
                         options={"pooling": "mean_std", "pool_layers": list(pool_layers)})
    return build_model(config, recipe=Recipe(resize="native", max_side=160, image_size=64))


def _images(shape=(2, 96, 80, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


@pytest.mark.parametrize("at", ["conv_pw_11_relu", "conv_pw_5_relu"])
def test_stem_then_top_is_the_model(at):
    model = _model()
    split = split_model(model, at)
    x = _images()
    maps = np.asarray(split.stem(x))
    np.testing.assert_allclose(np.asarray(split.top(maps)), np.asarray(model(x)), atol=1e-5)
    assert split.features(maps).shape == (2, 2 * 128 + 2 * 256)
    # the two halves share the model's weights: training one trains the other
    assert {id(v) for v in split.block_variables()} <= {id(v) for v in model.trainable_weights}
    bn = [layer for layer in split.block_layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bn and not any(layer.trainable for layer in bn)


def test_split_refuses_what_it_cannot_cut():
    with pytest.raises(ConfigError, match="no layer"):
        split_model(_model(), "conv_pw_99_relu")
    with pytest.raises(ConfigError, match="comes before"):  # the head pools conv_pw_11, cut after it
        split_model(_model(), "conv_pw_12_relu")


def test_cached_maps_are_the_stem_on_the_prepared_photo_and_its_mirror():
    from aesthetics.data.images import load_image
    from aesthetics.data.resize import prepare_photo

    model = _model()
    split = split_model(model)
    paths = sorted(str(p) for p in sample_images_dir().glob("*_q0.*"))[:3]
    plain, failures = cache_maps(split.stem, model.recipe, paths + ["/nonexistent.jpg"])
    mirrored, _ = cache_maps(split.stem, model.recipe, paths, flip=True)
    assert set(failures) == {3} and plain[3] is None
    for path, m, f in zip(paths, plain, mirrored):
        photo = prepare_photo(load_image(path), model.recipe).astype(np.float32)[None]
        assert m.dtype == np.float16 and m.shape[:2] == np.asarray(split.stem(photo)).shape[1:3]
        np.testing.assert_allclose(m, np.asarray(split.stem(photo))[0], atol=2e-2, rtol=1e-2)
        np.testing.assert_allclose(f, np.asarray(split.stem(photo[:, :, ::-1]))[0], atol=2e-2, rtol=1e-2)


def test_fit_top_trains_the_model_and_restores_its_best_epoch():
    model = _model()
    split = split_model(model)
    rng = np.random.default_rng(0)
    maps = [m for m in np.asarray(split.stem(_images((24, 64, 64, 3))))]
    targets = rng.dirichlet(np.ones(10), 24).astype(np.float32)
    before = np.asarray(model(_images((1, 64, 64, 3), seed=5)))
    fit = fit_top(split, [maps[:16], maps[:16]], targets[:16], maps[16:], targets[16:], get_loss("emd"),
                  epochs=3, block_lr=1e-2, head_lr=1e-2, batch_size=8, crop=2, patience=5, seed=0)
    assert len(fit.val_losses) == 4 and len(fit.train_losses) == 3
    assert fit.best_epoch == int(np.argmin(fit.val_losses))
    val = float(get_loss("emd")(targets[16:], predict_top(split.top, maps[16:])))
    assert val == pytest.approx(min(fit.val_losses), rel=1e-5)  # the best epoch's weights are back
    after = np.asarray(model(_images((1, 64, 64, 3), seed=5)))
    assert (fit.best_epoch > 0) == (not np.allclose(before, after))


def test_fit_top_with_nothing_to_train_is_refused():
    split = split_model(_model())
    maps = [np.zeros((4, 4, 128), np.float32)] * 8
    with pytest.raises(ConfigError, match="nothing to train"):
        fit_top(split, [maps], np.full((8, 10), 0.1, np.float32), maps, np.full((8, 10), 0.1, np.float32),
                get_loss("emd"), block_lr=0, head_lr=0, batch_size=4)


def test_the_study_resumes_from_its_results_file(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks import clive_finetune_study as study

    results = tmp_path / "finetune.jsonl"
    study.append_row(results, {"variant": "frozen", "fold": 0, "srcc": 0.7, "plcc": 0.7, "minutes": 1})
    study.append_row(results, {"variant": "partial_emd", "fold": 1, "srcc": 0.8, "plcc": 0.8, "minutes": 1})
    rows = study.read_rows(results)
    assert study.pending(["frozen", "partial_emd"], [0, 1], rows) == [("frozen", 1), ("partial_emd", 0)]
    assert "partial_emd" in study.table_text(rows)
    assert json.loads(results.read_text().splitlines()[0])["variant"] == "frozen"


def _dual_path_model(seed=0):
    keras.utils.set_random_seed(seed)
    config = ModelConfig(model="dual_path", backbone="mobilenet", alpha=0.25, backbone_weights=None, dropout=0.0,
                         options={})
    return build_model(config, recipe=Recipe(resize="native", max_side=160, image_size=64))


def test_split_exposes_the_tops_tensors_of_each_layer():
    split = split_model(_dual_path_model())
    maps = np.asarray(split.stem(_images()))
    probe = keras.Model(split.top.input, [split.layer_outputs["global_pool"], split.layer_outputs["conv_pw_13_relu"]])
    pooled, final = (np.asarray(t) for t in probe(maps))
    np.testing.assert_allclose(pooled, final.mean(axis=(1, 2)), atol=1e-5)  # the non-local block starts as identity


def test_fit_top_restores_the_heads_batchnorm_statistics_with_the_best_epoch():
    """The dual-path head has a BatchNormalization (local path) that trains in
    training mode: going back to epoch 0 must bring back its moving statistics."""
    model = _dual_path_model()
    split = split_model(model)
    maps = [m for m in np.asarray(split.stem(_images((24, 64, 64, 3))))]
    start = predict_top(split.top, maps[16:])
    bn = model.get_layer("local_reduce_bn")
    stats = [np.array(v) for v in bn.non_trainable_weights]
    targets = np.random.default_rng(0).dirichlet(np.ones(10), 24).astype(np.float32)
    # validation targets = the start's own predictions: epoch 0 has loss 0 and is the best
    seen = []  # on_epoch sees the model as each epoch left it, before the restore
    fit = fit_top(split, [maps[:16]], targets[:16], maps[16:], start, get_loss("emd"),
                  epochs=2, block_lr=0, head_lr=1e-2, batch_size=8, patience=5, seed=0,
                  on_epoch=lambda epoch: seen.append((epoch, float(np.abs(predict_top(split.top, maps[16:]) - start).max()))))
    assert fit.best_epoch == 0 and len(fit.val_losses) == 3
    assert [e for e, _ in seen] == [0, 1, 2] and seen[0][1] == 0 and seen[2][1] > 0
    for v, w in zip(bn.non_trainable_weights, stats):
        np.testing.assert_array_equal(np.asarray(v), w)
    np.testing.assert_allclose(predict_top(split.top, maps[16:]), start, atol=1e-6)


def test_fit_top_without_validation_trains_exactly_the_epochs_asked():
    model = _model()
    split = split_model(model)
    maps = [m for m in np.asarray(split.stem(_images((16, 64, 64, 3))))]
    targets = np.random.default_rng(1).dirichlet(np.ones(10), 16).astype(np.float32)
    before = [np.asarray(v).copy() for v in split.head_variables()]
    fit = fit_top(split, [maps], targets, None, None, get_loss("emd"), epochs=2, head_lr=1e-2, batch_size=8)
    assert fit.best_epoch == 2 and fit.val_losses == [] and len(fit.train_losses) == 2
    # nothing restored: the weights are the last epoch's
    assert any(not np.allclose(a, np.asarray(b)) for a, b in zip(before, split.head_variables()))
