"""idealo's NIMA weights (Keras 2 HDF5) load and score exactly like their code.

We write a Keras 2 HDF5 file of idealo's layout with the `tf-keras` package
(MobileNet(pooling="avg") + Dropout(0.75) + Dense(10, softmax), as in their
`Nima` class), score images their way in a separate process, and compare with
`aesthetics predict --weights FILE`.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tf_keras", reason="tf-keras (test extra) writes the Keras 2 file")

IDEALO_SIDE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tf_keras as K
    weights, out, *images = sys.argv[1:]
    base = K.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.25, weights=None,
                                    include_top=False, pooling="avg")
    x = K.layers.Dropout(0.75)(base.output)
    x = K.layers.Dense(10, activation="softmax")(x)
    model = K.models.Model(base.inputs, x)
    rng = np.random.default_rng(0)  # non-trivial weights, like a trained file
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save_weights(weights)  # .hdf5 -> Keras 2 HDF5 format
    # idealo's predict path: load_img(target_size) (nearest), img_to_array, preprocess_input
    batch = np.stack([K.utils.img_to_array(K.utils.load_img(p, target_size=(224, 224))) for p in images])
    probs = model.predict(K.applications.mobilenet.preprocess_input(batch), verbose=0)
    means = (probs * np.arange(1, 11)).sum(1)
    json.dump({"means": means.tolist(), "probs": probs.tolist()}, open(out, "w"))
    """
)


def test_idealo_weights_give_identical_predictions(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i, size in enumerate([(300, 200), (224, 224), (640, 480)]):
        p = tmp_path / f"photo{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), np.uint8)).save(p)
        paths.append(str(p))
    weights = tmp_path / "weights_mobilenet_aesthetic_test.hdf5"
    ref_file = tmp_path / "ref.json"
    subprocess.run([sys.executable, "-c", IDEALO_SIDE, str(weights), str(ref_file), *paths],
                   check=True, capture_output=True)
    ref = json.loads(ref_file.read_text())

    from aesthetics.cli import main

    out = tmp_path / "preds.json"
    assert main(["predict", "--weights", str(weights), "--backbone", "mobilenet", "--alpha", "0.25",
                 "--output", str(out), *paths]) == 0
    preds = json.loads(out.read_text())
    ours = np.array([r["mean_score_prediction"] for r in preds])
    np.testing.assert_allclose(ours, ref["means"], atol=1e-4)
    np.testing.assert_allclose([r["distribution"] for r in preds], ref["probs"], atol=1e-5)
    assert [r["image_id"] for r in preds] == ["photo0", "photo1", "photo2"]


def test_wrong_backbone_for_weights_is_clear(tmp_path):
    import h5py

    from aesthetics.inference.loading import load_idealo_nima
    from aesthetics.models.legacy import WeightsFormatError

    path = tmp_path / "w.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense_1"]
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        g["dense_1/kernel:0"] = np.zeros((7, 10), "float32")
        g["dense_1/bias:0"] = np.zeros((10,), "float32")
    with pytest.raises(WeightsFormatError, match="right backbone"):
        load_idealo_nima(path, alpha=0.25)
