"""Training only the head on frozen features, then installing it."""

import numpy as np
import pytest

from aesthetics.config import ModelConfig
from aesthetics.models import Recipe, build_model
from aesthetics.sample_data import sample_images_dir
from aesthetics.training.frozen_head import extract_features, fit_head, install_head, predict_head


@pytest.fixture(scope="module")
def native_model():
    import keras

    keras.utils.set_random_seed(0)
    config = ModelConfig(backbone="mobilenet", alpha=0.25, backbone_weights=None, dropout=0.0,
                         options={"pooling": "mean_std", "pool_layers": ["conv_pw_11_relu"]})
    return build_model(config, recipe=Recipe(resize="native", max_side=64))


def test_features_come_in_input_order_and_bad_files_are_reported(native_model, tmp_path):
    files = sorted(str(p) for p in sample_images_dir().glob("*_q0.*"))[:3]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    feats, ok, failures = extract_features(native_model, [files[0], str(bad), files[1], files[2]])
    assert feats.shape == (3, 2 * (256 + 128)) and list(ok) == [0, 2, 3]  # mean+std of two maps
    assert list(failures) == [str(bad)]
    again, _, _ = extract_features(native_model, [files[2]])
    np.testing.assert_allclose(again[0], feats[2], atol=1e-5)


def test_installed_head_equals_the_fitted_one(native_model):
    rng = np.random.default_rng(0)
    feats = rng.normal(3.0, 2.0, (40, 768)).astype("float32")
    targets = rng.dirichlet(np.ones(10), 40).astype("float32")
    fit = fit_head(feats, targets, l2=0.03, learning_rate=3e-3, fixed_epochs=20, batch_size=40)
    assert fit.epochs == 20 and fit.kernel.shape == (768, 10)
    install_head(native_model, fit)
    head = native_model.get_layer("scores")
    np.testing.assert_allclose(np.asarray(head(feats)), predict_head(fit, feats), atol=1e-5)


def test_early_stopping_picks_the_epochs():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(50, 8)).astype("float32")
    targets = rng.dirichlet(np.ones(10), 50).astype("float32")
    fit = fit_head(feats, targets, epochs=15, patience=3)
    assert 1 <= fit.epochs <= 15 and "val_loss" in fit.history


def test_a_head_needs_features_and_a_nima_style_model():
    from aesthetics.errors import ConfigError, DataError
    from aesthetics.training.frozen_head import feature_model

    with pytest.raises(DataError):
        fit_head(np.zeros((2, 3)), np.zeros((2, 10)))
    import keras

    inputs = keras.Input((4,))
    with pytest.raises(ConfigError, match="head_dropout"):
        feature_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
