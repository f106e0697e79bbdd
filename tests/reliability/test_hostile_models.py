"""Hostile model files: truncated, junk, of another kind or architecture,
and untrusted export metadata (`model.onnx.json`). Each is one clear line
(exit 2) or a correct result; a recipe read from a file is validated and
bounded before anything is allocated."""

import copy
import json
import os
import zipfile

import pytest

import hostile_inputs as h
from aesthetics.zoo import model_path

ZOO_ONNX = model_path("clive-mobilenet", "onnx")
ZOO_KERAS = model_path("clive-mobilenet", "keras")
META = json.loads(ZOO_ONNX.with_name("model.onnx.json").read_text())


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(2):
        h.write(folder, f"g{i}.jpg", h.jpeg_bytes(seed=i))
    return folder


def _recipe(**values):
    meta = copy.deepcopy(META)
    meta["recipe"].update(values)
    return json.dumps(meta)


def _without(*keys):
    meta = copy.deepcopy(META)
    for key in keys:
        meta.pop(key)
    return json.dumps(meta)


# metadata text -> needle of the one-line error
BAD_METADATA = {
    "empty": ("", "unreadable export metadata"), "binary": (b"\x00\xff junk", "unreadable export metadata"),
    "list": ("[1, 2]", "must be a JSON object"), "null": ("null", "must be a JSON object"),
    "deep": ("[" * 100000 + "]" * 100000, "nested too deeply"),
    "no_recipe": (_without("recipe"), "input.image_size"), "nothing": (_without("recipe", "input"), "no recipe"),
    "recipe_null": (json.dumps({**META, "recipe": None}), "expected an object"),
    "recipe_text": (json.dumps({**META, "recipe": "big"}), "expected an object"),
    "size_huge": (_recipe(image_size=10**9, resize="resize"), "image_size"),
    "size_negative": (_recipe(image_size=-5, resize="resize"), "image_size"),
    "size_text": (_recipe(image_size="abc"), "image_size"), "size_fraction": (_recipe(image_size=224.5), "image_size"),
    "size_bool": (_recipe(image_size=True), "image_size"),
    "size_nan": (_recipe(image_size=1.25).replace("1.25", "NaN"), "image_size"),
    "max_side_huge": (_recipe(max_side=10**12), "max_side"), "max_side_zero": (_recipe(max_side=0), "max_side"),
    "resize_bogus": (_recipe(resize="stretch"), "resize"), "output_bogus": (_recipe(output="logits"), "output"),
    "bins_zero": (_recipe(num_bins=0), "num_bins"), "bins_huge": (_recipe(num_bins=10**9), "num_bins"),
    "range_equal": (_recipe(score_range=[5, 5]), "score_range"), "range_text": (_recipe(score_range=["a", "b"]), "score_range"),
    "range_three": (_recipe(score_range=[1, 2, 3]), "score_range"),
    "range_inf": (_recipe(score_range=[0, 1.25]).replace("1.25", "Infinity"), "score_range"),
    "unknown_field": (_recipe(colour="blue"), "colour"), "legacy_text": (_recipe(legacy="yes"), "legacy"),
    "schema1_inf": (json.dumps({"input": {"image_size": 1.25}}).replace("1.25", "Infinity"), "input.image_size"),
    "schema1_text": (json.dumps({"input": {"image_size": "x"}}), "input.image_size"),
    "schema1_fraction": (json.dumps({"input": {"image_size": 224.7}}), "input.image_size"),
    "schema1_huge": (json.dumps({"input": {"image_size": 10**9}}), "image_size"),
    "schema1_null": (json.dumps({"input": {"image_size": None}}), "input.image_size"),
    "schema1_list": (json.dumps({"input": [1]}), "input.image_size"),
}


def _onnx_with(folder, name, metadata=None):
    d = folder / name
    d.mkdir()
    os.symlink(ZOO_ONNX, d / "model.onnx")
    if metadata is not None:
        (d / "model.onnx.json").write_bytes(metadata if isinstance(metadata, bytes) else metadata.encode())
    return d / "model.onnx"


@pytest.mark.parametrize("name", sorted(BAD_METADATA))
def test_untrusted_export_metadata_is_one_clear_line(tmp_path, photos, capsys, name):
    text, needle = BAD_METADATA[name]
    model = _onnx_with(tmp_path, name, text)
    result = h.run_cli(capsys, "predict", photos, "--model", model, "-q")
    line = h.assert_clear_error(result, needle)
    assert name in line  # names the model or its metadata file


@pytest.mark.parametrize("name, data", [
    ("random", os.urandom(4096)), ("empty", b""), ("text", b"hello"),
    ("truncated", ZOO_ONNX.read_bytes()[:100_000]), ("keras_bytes", ZOO_KERAS.read_bytes()[:200_000]),
])
def test_a_broken_onnx_file_is_one_clear_line(tmp_path, photos, capsys, name, data):
    model = tmp_path / f"{name}.onnx"
    model.write_bytes(data)
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--model", model, "-q"), "not a loadable ONNX model")


def test_a_metadata_path_that_is_a_folder_falls_back_to_the_embedded_copy(tmp_path, photos, capsys):
    model = _onnx_with(tmp_path, "dir_meta")
    (model.parent / "model.onnx.json").mkdir()
    rc, out, err = h.run_cli(capsys, "predict", photos, "--model", model, "-q")
    assert rc == 0 and out.count("±") == 2


def test_metadata_bins_that_disagree_with_the_model_are_refused(tmp_path, photos, capsys):
    model = _onnx_with(tmp_path, "bins5", _recipe(num_bins=5))
    result = h.run_cli(capsys, "predict", photos, "--model", model, "--output", tmp_path / "s.csv", "-q")
    h.assert_clear_error(result, "num_bins")


# ------------------------------------------------------------- .keras files


def _keras_variants(folder, good):
    data = good.read_bytes()
    out = {}
    for name, content in {"truncated": data[: len(data) // 2], "empty": b"", "random": os.urandom(1000),
                          "text": b"hello"}.items():
        (folder / f"{name}.keras").write_bytes(content)
        out[name] = (folder / f"{name}.keras", "not a .keras file")
    with zipfile.ZipFile(folder / "junk_zip.keras", "w") as z:
        z.writestr("junk.txt", "x")
    out["junk_zip"] = (folder / "junk_zip.keras", "not a loadable .keras model")
    with zipfile.ZipFile(folder / "bad_config.keras", "w") as z:
        z.writestr("config.json", "{not json")
        z.writestr("metadata.json", "{}")
    out["bad_config"] = (folder / "bad_config.keras", "not a loadable .keras model")
    with zipfile.ZipFile(folder / "foreign_class.keras", "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "System", "module": "os", "config": {}}))
        z.writestr("metadata.json", "{}")
    out["foreign_class"] = (folder / "foreign_class.keras", "foreign_class.keras")
    with zipfile.ZipFile(good) as zi, zipfile.ZipFile(folder / "no_weights.keras", "w") as zo:
        for item in zi.infolist():
            if not item.filename.endswith(".h5"):
                zo.writestr(item, zi.read(item))
    out["no_weights"] = (folder / "no_weights.keras", "not a loadable .keras model")
    with zipfile.ZipFile(good) as zi, zipfile.ZipFile(folder / "junk_weights.keras", "w") as zo:
        for item in zi.infolist():
            zo.writestr(item, b"junk" if item.filename.endswith(".h5") else zi.read(item))
    out["junk_weights"] = (folder / "junk_weights.keras", "not a loadable .keras model")
    (folder / "folder.keras").mkdir()
    out["folder"] = (folder / "folder.keras", "folder.keras")
    return out


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    from deploy_helpers import tiny_model

    folder = tmp_path_factory.mktemp("keras")
    tiny_model().save(folder / "good.keras")
    return folder, _keras_variants(folder, folder / "good.keras")


KERAS_CASES = ["truncated", "empty", "random", "text", "junk_zip", "bad_config", "foreign_class", "no_weights",
               "junk_weights", "folder"]


@pytest.mark.parametrize("name", KERAS_CASES)
@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "train_init_from"])
def test_a_broken_keras_file_is_one_clear_line_everywhere(keras_files, photos, tmp_path, capsys, name, command):
    folder, cases = keras_files
    path, needle = cases[name]
    if command == "predict":
        args = ["predict", photos, "--model", path, "-q"]
    else:
        images, labels = h.tiny_labelled_set(tmp_path, 4)
        args = {
            "evaluate": ["evaluate", "--model", path, "--images", images, "--labels", labels,
                         "--score-range", "0", "100", "--output", tmp_path / "m.json"],
            "export": ["export", "--model", path, "--format", "onnx", "--output", tmp_path / "m.onnx"],
            "train_init_from": ["train", "--images", images, "--labels", labels, "--output", tmp_path / "run",
                                *h.TINY_TRAIN, "--epochs", "1", "--init-from", path],
        }[command]
        if name == "folder" and command != "predict":
            needle = "not a .keras file"
    h.assert_clear_error(h.run_cli(capsys, *args), needle)


def test_a_model_of_another_kind(tmp_path, photos, capsys):
    """A plain Keras model (not an image scorer): predict, export and
    --init-from refuse it in one line (its 8-wide input is no photo size)."""
    import keras

    plain = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    plain.save(tmp_path / "plain.keras")
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--model", tmp_path / "plain.keras", "-q"),
                         "image_size must be an integer in [32, 4096], got 8")
    h.assert_clear_error(h.run_cli(capsys, "export", "--model", tmp_path / "plain.keras", "--format", "onnx",
                                   "--output", tmp_path / "p.onnx"), "not an image scoring model")
    images, labels = h.tiny_labelled_set(tmp_path, 4)
    h.assert_clear_error(h.run_cli(capsys, "train", "--images", images, "--labels", labels, "--output", tmp_path / "r",
                                   *h.TINY_TRAIN, "--epochs", "1", "--init-from", tmp_path / "plain.keras"), "backbone")
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--model", tmp_path / "plain.keras",
                                   "--explain", tmp_path / "ex", "-q"), "backbone")


def test_init_from_a_different_architecture_is_one_clear_line(tmp_path, capsys):
    images, labels = h.tiny_labelled_set(tmp_path, 4)
    result = h.run_cli(capsys, "train", "--images", images, "--labels", labels, "--output", tmp_path / "r",
                       *h.TINY_TRAIN, "--epochs", "1", "--init-from", "clive-mobilenet")
    h.assert_clear_error(result, "does not match")


@pytest.mark.parametrize("name, data, backend", [
    ("random.tflite", os.urandom(500), "tflite"), ("empty.tflite", b"", "tflite"),
    ("saved_empty", None, "savedmodel"), ("saved_junk", b"junk", "savedmodel"),
])
def test_broken_tflite_and_savedmodel_exports(tmp_path, photos, capsys, name, data, backend):
    path = tmp_path / name
    if backend == "savedmodel":
        path.mkdir()
        if data is not None:
            (path / "saved_model.pb").write_bytes(data)
    else:
        path.write_bytes(data)
    result = h.run_cli(capsys, "predict", photos, "--model", path, "--backend", backend, "-q")
    h.assert_clear_error(result, "not a loadable")


@pytest.mark.parametrize("args, needle", [
    (["--alpha", "nan"], "model.alpha"), (["--alpha", "-1"], "model.alpha"), (["--alpha", "1e300"], "model.alpha"),
    (["--backbone", "foo"], "backbone"),
])
def test_bad_legacy_weights_options_are_one_clear_line(tmp_path, photos, capsys, args, needle):
    weights = tmp_path / "w.hdf5"
    weights.write_bytes(b"not hdf5")
    result = h.run_cli(capsys, "predict", photos, "--weights", weights, *args, "-q")
    h.assert_clear_error(result, needle)


def test_junk_legacy_weights_are_one_clear_line(tmp_path, photos, capsys):
    weights = tmp_path / "w.hdf5"
    weights.write_bytes(b"not hdf5")
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--weights", weights, "-q"), "HDF5")
