"""Extension points from outside the package: a plugin module registers a
model and a loss with their option schemas; `aesthetics train` trains what a
config names, `predict` loads the model file (which imports the plugin), and
bad plugin options are refused before TensorFlow is imported."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from aesthetics.sample_data import sample_images_dir, sample_labels_path

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

PLUGIN = textwrap.dedent('''
    import keras
    from keras import ops

    from aesthetics import Option, register_loss, register_model


    @register_model("tiny_cnn", options={"width": Option("int", 4, low=1, high=64, doc="conv filters")},
                    description="two convolutions and a softmax head")
    def build_tiny_cnn(config, image_size):
        inputs = keras.Input((image_size, image_size, 3), name="image")
        x = keras.layers.Rescaling(1 / 255.0)(inputs)
        width = config.options.get("width", 4)
        features = keras.layers.Conv2D(width, 3, strides=2, activation="relu")(x)
        features = keras.layers.GlobalAveragePooling2D()(features)
        backbone = keras.Model(inputs, features, name="backbone")
        outputs = keras.layers.Dense(config.num_bins, activation="softmax", dtype="float32",
                                     name="scores")(backbone(inputs))
        return keras.Model(inputs, outputs, name="tiny_cnn")


    @keras.saving.register_keras_serializable(package="my_plugin")
    class ScaledMeanLoss(keras.losses.Loss):
        """scale * squared error of the mean score."""

        def __init__(self, scale=1.0, name="scaled_mean", **kwargs):
            super().__init__(name=name, **kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            bins = ops.arange(1, y_pred.shape[-1] + 1, dtype="float32")
            d = ops.sum(ops.cast(y_true, "float32") * bins, -1) - ops.sum(ops.cast(y_pred, "float32") * bins, -1)
            return self.scale * ops.square(d)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}


    register_loss("scaled_mean", ScaledMeanLoss, options={"scale": Option("float", 1.0, low=0)})
''')


def run_cli(*args, cwd, plugin_dir):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(plugin_dir)]), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "aesthetics", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture()
def plugin_setup(tmp_path):
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "my_plugin.py").write_text(PLUGIN)
    config = {
        "data": {"images": str(sample_images_dir()), "labels": str(sample_labels_path()),
                 "score_range": [0, 100], "image_size": 32, "resize_to": 40, "batch_size": 8},
        "model": {"model": "tiny_cnn", "plugins": ["my_plugin"], "options": {"width": 6},
                  "backbone_weights": None},
        "train": {"loss": "scaled_mean", "loss_options": {"scale": 0.5}, "epochs_head": 0, "epochs_full": 2,
                  "lr_full": 1e-3},
    }
    (tmp_path / "plugin.json").write_text(json.dumps(config))
    return tmp_path, plugin_dir


def test_a_plugin_model_and_loss_train_and_predict(plugin_setup):
    d, plugin_dir = plugin_setup
    p = run_cli("train", "--config", "plugin.json", "--output", "run", "--verbose", "0", cwd=d, plugin_dir=plugin_dir)
    assert p.returncode == 0, p.stderr
    assert "srcc" in json.loads(p.stdout)
    saved = json.loads((d / "run" / "config.json").read_text())
    assert saved["model"]["model"] == "tiny_cnn" and saved["train"]["loss_options"] == {"scale": 0.5}
    history = (d / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs

    # the model file names its plugin: a fresh process loads it without being told
    p = run_cli("predict", "--model", "run/model.keras", str(sample_images_dir()), "--output", "preds.json",
                "--backend", "keras", cwd=d, plugin_dir=plugin_dir)
    assert p.returncode == 0, p.stderr
    preds = [r for r in json.loads((d / "preds.json").read_text()) if "error" not in r]
    assert preds and all(1 <= r["mean_score_prediction"] <= 10 for r in preds)


@pytest.mark.parametrize("override, message", [
    ("model.options.width=0", "model.options.width: must be >= 1"),
    ("model.options.depth=2", "model.options.depth: unknown option of 'tiny_cnn'; it takes 'width'"),
    ("train.loss_options.scale=-1", "train.loss_options.scale: must be >= 0"),
    ('model.plugins=["no_such_plugin"]', "model.plugins[0]: cannot import plugin module 'no_such_plugin'"),
    ("model.plugins=[]", "model.model: unknown model 'tiny_cnn'"),
])
def test_plugin_options_are_checked_before_tensorflow(plugin_setup, override, message):
    d, plugin_dir = plugin_setup
    p = run_cli("train", "--config", "plugin.json", "--output", "run", "--set", override, cwd=d, plugin_dir=plugin_dir)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert not (d / "run").exists()


def test_registering_a_taken_name_is_refused_unless_replaced():
    from aesthetics import Option, register_loss
    from aesthetics.catalog import LOSSES

    with pytest.raises(ValueError, match="already registered"):
        register_loss("emd", object)
    with pytest.raises(TypeError, match="must be an Option"):
        register_loss("x_loss", object, options={"a": 1})
    try:
        register_loss("x_loss", object, options={"a": Option("int", 1)})
        register_loss("x_loss", object, options={"a": Option("int", 1)})  # the same again: fine
        assert LOSSES.get("x_loss").resolve_options({"a": 3}, "train.loss_options") == {"a": 3}
    finally:
        LOSSES.unregister("x_loss")
