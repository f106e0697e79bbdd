"""The Python API (`aesthetics.load(...).score`) given hostile inputs, as the
CLI is in test_hostile_cli.py: every case ends in a clear error record (or a
package error naming the argument) or a correct score, and the good inputs
beside a bad one are still scored. Real sample photos, the ONNX backend (no
TensorFlow)."""

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import aesthetics  # noqa: E402
from aesthetics.errors import AestheticsError, ConfigError, InputNotFoundError  # noqa: E402
from aesthetics.sample_data import sample_images_dir  # noqa: E402

PHOTO = sample_images_dir() / "camera_q0.jpg"
OTHER = sample_images_dir() / "chelsea_q0.jpg"


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Overrides the conftest fixture: nothing here builds a Keras model, so
    Keras (and TensorFlow) is never imported."""
    yield


@pytest.fixture(scope="module")
def scorer():
    return aesthetics.load(backend="onnx")


@pytest.fixture(scope="module")
def multi():
    return aesthetics.load(["technical", "aesthetic"], backend="onnx")


@pytest.fixture(scope="module")
def pixels():
    from aesthetics.data.images import load_image

    return load_image(PHOTO)


@pytest.fixture(scope="module")
def reference(scorer):
    return scorer.score(str(PHOTO))["mean_score_prediction"]


def _pil(path=PHOTO):
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return img.copy()


def _assert_scored(rec, expected=None):
    assert "error" not in rec, rec
    assert 1.0 <= rec["mean_score_prediction"] <= 10.0
    if expected is not None:
        assert rec["mean_score_prediction"] == pytest.approx(expected, abs=1e-4)


def _assert_good_beside(scorer, bad, reason):
    """[good file, bad, good PIL image]: two scores and one error record with
    `reason` in it, whatever the bad item is."""
    recs = scorer.score([str(PHOTO), bad, _pil(OTHER)])
    assert len(recs) == 3
    _assert_scored(recs[0])
    _assert_scored(recs[2])
    assert set(recs[1]) >= {"image_id", "error"} and "mean_score_prediction" not in recs[1]
    assert reason in recs[1]["error"], recs[1]
    means = scorer.mean_scores([str(PHOTO), bad, _pil(OTHER)])
    assert np.isfinite(means[[0, 2]]).all() and np.isnan(means[1])
    return recs[1]


# ---- batch_size and other arguments


BAD_BATCH_SIZES = [-1, 0, 1.5, 32.0, True, "8", None]


@pytest.mark.parametrize("batch_size", BAD_BATCH_SIZES, ids=repr)
@pytest.mark.parametrize("method", ["score", "mean_scores", "distributions"])
def test_a_bad_batch_size_is_a_config_error_naming_it(scorer, method, batch_size):
    with pytest.raises(ConfigError, match="batch_size"):
        getattr(scorer, method)([str(PHOTO)], batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [-1, 0, 2.0])
@pytest.mark.parametrize("method", ["score", "mean_scores"])
def test_a_bad_batch_size_is_refused_by_several_models_too(multi, method, batch_size):
    with pytest.raises(ConfigError, match="batch_size"):
        getattr(multi, method)([str(PHOTO)], batch_size=batch_size)


def test_batch_size_one_and_numpy_ints_score_every_kind(scorer, pixels, reference):
    for batch_size in (1, np.int64(2), 10_000):
        recs = scorer.score([str(PHOTO), pixels, _pil(), str(OTHER)], batch_size=batch_size)
        for rec in recs[:3]:
            _assert_scored(rec, reference)
        _assert_scored(recs[3])


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2"])
def test_bad_threads_are_a_config_error(threads):
    with pytest.raises(ConfigError, match="threads"):
        aesthetics.load(backend="onnx", threads=threads)


def test_an_empty_model_list_is_a_config_error():
    with pytest.raises(ConfigError, match="model"):
        aesthetics.load([])


# ---- value ranges: each convention gives the uint8 photo's score


def test_float_arrays_on_0_1_and_0_255_score_as_the_photo(scorer, pixels, reference):
    f = pixels.astype(np.float32)
    for name, x in {
        "float32 0..255": f,
        "float32 0..1": f / 255.0,
        "float64 0..1": pixels / 255.0,
        "float16 0..1": (f / 255.0).astype(np.float16),
    }.items():
        rec = scorer.score(x)
        assert "error" not in rec, (name, rec)
        assert rec["mean_score_prediction"] == pytest.approx(reference, abs=1e-4), name


def test_a_batch_on_0_1_is_taken_as_0_1_as_a_whole(scorer, pixels, reference):
    batch = np.stack([pixels, pixels]).astype(np.float32) / 255.0
    batch[1] *= 0.003  # a nearly black photo in the same 0..1 batch stays nearly black
    recs = scorer.score(batch)
    _assert_scored(recs[0], reference)
    _assert_scored(recs[1])
    assert recs[1]["mean_score_prediction"] < reference


def test_integer_arrays_8_and_16_bit(scorer, pixels, reference):
    for name, x in {
        "int64 0..255": pixels.astype(np.int64),
        "uint16 0..65535": pixels.astype(np.uint16) * 257,
        "int32 0..65535": pixels.astype(np.int32) * 257,
    }.items():
        rec = scorer.score(x)
        assert "error" not in rec, (name, rec)
        assert rec["mean_score_prediction"] == pytest.approx(reference, abs=1e-4), name


def test_gray_rgba_and_bool_arrays(scorer, pixels, reference):
    from PIL import Image

    gray = np.asarray(Image.fromarray(pixels).convert("L"))
    gray_ref = scorer.score(Image.fromarray(gray))["mean_score_prediction"]
    for x in (gray, gray[..., None], gray / 255.0):
        _assert_scored(scorer.score(x), gray_ref)
    opaque = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
    _assert_scored(scorer.score(opaque), reference)
    clear = np.dstack([pixels, np.zeros(pixels.shape[:2], np.uint8)])  # composited on white
    white = scorer.score(np.full_like(pixels, 255))["mean_score_prediction"]
    _assert_scored(scorer.score(clear), white)
    rgba = Image.fromarray(np.dstack([pixels, np.tile(np.arange(256, dtype=np.uint8), (512, 2))[
        :pixels.shape[0], :pixels.shape[1]]]), "RGBA")  # as a PIL image with alpha is
    assert scorer.score(np.asarray(rgba))["mean_score_prediction"] == pytest.approx(
        scorer.score(rgba)["mean_score_prediction"], abs=0.02)
    mask = pixels.mean(axis=-1) > 128
    _assert_scored(scorer.score(mask), scorer.score(mask.astype(np.uint8) * 255)["mean_score_prediction"])


# ---- bad arrays: an error record with a reason, good inputs beside still scored

BAD_ARRAYS = {
    "0x0 rgb": (np.zeros((0, 0, 3), np.uint8), "empty image"),
    "0x0 gray": (np.zeros((0, 0)), "empty image"),
    "0xN": (np.zeros((0, 50, 3), np.uint8), "empty image"),
    "Nx0": (np.zeros((50, 0, 3), np.float32), "empty image"),
    "NaN": (np.full((40, 40, 3), np.nan, np.float32), "finite"),
    "one inf": (np.where(np.eye(40, dtype=bool)[..., None], np.inf, 0.5) * np.ones(3), "finite"),
    "float > 255": (np.full((40, 40, 3), 300.0), "[0, 255]"),
    "float < 0": (np.full((40, 40, 3), -0.5), "[0, 1]"),
    "int < 0": (np.full((40, 40, 3), -1, np.int16), "[0, 255]"),
    "int > 65535": (np.full((40, 40, 3), 70000, np.int32), "65535"),
    "1-d": (np.zeros(30, np.uint8), "shape"),
    "0-d": (np.array(3.0), "shape"),
    "5-d": (np.zeros((1, 1, 8, 8, 3), np.uint8), "shape"),
    "2 channels": (np.zeros((5, 5, 2)), "shape"),
    "5 channels": (np.zeros((40, 40, 5), np.uint8), "shape"),
    "complex": (np.zeros((40, 40, 3), complex), "dtype"),
    "strings": (np.full((4, 4, 3), "a"), "dtype"),
    "objects": (np.full((4, 4, 3), None, object), "dtype"),
    "1 x 5000 strip": (np.zeros((1, 5000, 3), np.uint8), "aspect ratio"),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_a_bad_array_is_an_error_record_and_the_others_are_scored(scorer, case):
    bad, reason = BAD_ARRAYS[case]
    rec = scorer.score(bad)
    assert reason in rec["error"] and "mean_score_prediction" not in rec
    _assert_good_beside(scorer, bad, reason)


def test_a_zero_size_array_among_good_files_and_images(scorer, reference):
    recs = scorer.score([str(PHOTO), np.zeros((0, 0, 3), np.uint8), _pil()])
    assert ["error" in r for r in recs] == [False, True, False]
    _assert_scored(recs[0], reference)
    _assert_scored(recs[2], reference)
    assert recs[1]["image_id"] == "image_1" and "0x0" in recs[1]["error"]


def test_a_bad_image_in_a_4d_batch_costs_the_others_nothing(scorer, pixels, reference):
    batch = np.stack([pixels, pixels]).astype(np.float32)
    batch[0, 0, 0, 0] = np.nan
    recs = scorer.score(batch)
    assert "finite" in recs[0]["error"]
    _assert_scored(recs[1], reference)
    empty = scorer.score(np.zeros((2, 0, 0, 3), np.uint8))
    assert [("empty image" in r["error"]) for r in empty] == [True, True]
    assert scorer.score(np.zeros((0, 8, 8, 3), np.uint8)) == []


# ---- PIL images, bytes, unsupported types


def test_bad_pil_images_are_error_records(scorer):
    from PIL import Image

    _assert_good_beside(scorer, Image.new("RGB", (0, 0)), "empty image")
    _assert_good_beside(scorer, Image.new("L", (7, 0)), "empty image")
    _assert_good_beside(scorer, Image.fromarray(np.full((40, 40), np.nan, np.float32), "F"), "finite")
    closed = _pil()
    closed.close()
    _assert_good_beside(scorer, closed, "cannot use the PIL image")


def test_float_pil_images_follow_the_same_rule_as_float_arrays(scorer, pixels):
    from PIL import Image

    gray = np.asarray(Image.fromarray(pixels).convert("L")).astype(np.float32)
    for x in (gray, gray / 255.0):
        assert scorer.score(Image.fromarray(x, "F"))["mean_score_prediction"] == pytest.approx(
            scorer.score(x)["mean_score_prediction"], abs=1e-4)


@pytest.mark.parametrize("bad", [b"", b"junk", PHOTO.read_bytes()[:2000]], ids=["empty", "junk", "truncated"])
def test_bad_bytes_are_error_records(scorer, bad):
    rec = _assert_good_beside(scorer, bad, "")
    assert rec["error"]


@pytest.mark.parametrize("bad", [None, 3.5, {"a": 1}, [[1, 2], [3, 4]], object()],
                         ids=["None", "float", "dict", "nested list", "object"])
def test_unsupported_types_are_error_records(scorer, bad):
    _assert_good_beside(scorer, bad, "unsupported input type")
    recs = scorer.score(bad)  # a lone list is a list of inputs
    for rec in recs if isinstance(recs, list) else [recs]:
        assert "unsupported input type" in rec["error"]


# ---- paths: only the package's errors, never OSError/ValueError


@pytest.mark.parametrize("bad", ["/nonexistent/photo.jpg", "a\0b.jpg", "x" * 5000 + ".jpg"],
                         ids=["missing", "NUL byte", "name too long"])
def test_bad_file_paths_are_error_records(scorer, bad):
    rec = scorer.score(bad)
    assert rec["error"] and rec["path"]
    _assert_good_beside(scorer, bad, "")


def test_empty_folders_and_patterns_raise_alone_and_are_records_in_a_list(scorer, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a photo")
    for lone in (tmp_path / "empty", str(tmp_path / "nothing*.jpg"), ""):
        with pytest.raises(InputNotFoundError):
            scorer.score(lone)
    for bad, reason in ((tmp_path / "empty", "no images found"), (str(tmp_path / "nothing*.jpg"), "no such"),
                        ("", "empty path")):
        _assert_good_beside(scorer, bad, reason)
    assert issubclass(InputNotFoundError, AestheticsError)


def test_folders_and_globs_in_a_list_are_expanded(scorer, tmp_path):
    shutil.copy(PHOTO, tmp_path / "a.jpg")
    shutil.copy(OTHER, tmp_path / "photo[1].jpg")  # a literal name with glob characters is a file
    recs = scorer.score([tmp_path, str(tmp_path / "photo[1].jpg"), str(sample_images_dir() / "camera_q*.jpg")])
    assert len(recs) == 2 + 1 + 4 and all("error" not in r for r in recs)
    assert scorer.score(str(tmp_path / "photo[1].jpg"))["image_id"] == "photo[1]"


# ---- several models in one pass: the same rules


def test_several_models_keep_the_good_items_beside_bad_ones(multi):
    recs = multi.score([str(PHOTO), np.zeros((0, 0, 3), np.uint8), _pil(), np.full((9, 9, 3), np.nan),
                        "/nonexistent.jpg", None])
    assert ["error" in r for r in recs] == [False, True, False, True, True, True]
    for rec in (recs[0], recs[2]):
        assert {"technical", "aesthetic"} <= set(rec)
        assert rec["technical"]["mean_score_prediction"] == pytest.approx(
            recs[0]["technical"]["mean_score_prediction"], abs=1e-4)
    assert "empty image" in recs[1]["error"] and "finite" in recs[3]["error"]
    means = multi.mean_scores([str(PHOTO), np.zeros((0, 3)), _pil()])
    for name in ("technical", "aesthetic"):
        assert np.isfinite(means[name][[0, 2]]).all() and np.isnan(means[name][1])


def test_several_models_take_0_1_floats_and_strips(multi, pixels):
    a = multi.score(pixels)
    b = multi.score(pixels / 255.0)
    assert a["aesthetic"]["mean_score_prediction"] == pytest.approx(b["aesthetic"]["mean_score_prediction"], abs=1e-4)
    assert "aspect ratio" in multi.score(np.zeros((3, 3000), np.uint8))["error"]


def test_a_strip_is_refused_by_a_squashing_model_too(multi, pixels):
    aesthetic = multi.scorers[multi.names.index("aesthetic")]
    assert aesthetic.recipe.legacy  # idealo's resize, not prepare_photo
    recs = aesthetic.score([pixels, np.zeros((2, 2000, 3), np.uint8), np.zeros((0, 9), np.uint8)])
    _assert_scored(recs[0])
    assert "aspect ratio" in recs[1]["error"] and "empty image" in recs[2]["error"]
