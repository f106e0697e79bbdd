"""The pixel budget of a model call (`aesthetics.inference.batching`), the
one rule of predict's loop, `Scorer.score` on arrays and the Beam handler."""

import numpy as np
import pytest

from aesthetics.constants import DEFAULT_BATCH_PIXELS
from aesthetics.errors import ConfigError
from aesthetics.inference.batching import fits, image_pixels, image_shape, pixel_batches


def _images(*shapes):
    return [np.zeros(s, np.uint8) for s in shapes]


def test_runs_keep_one_shape_and_input_order():
    images = _images((4, 5, 3), (6, 6, 3), (4, 5, 3), (6, 6, 3), (2, 2, 3))
    assert pixel_batches(images) == [[0, 2], [1, 3], [4]]


def test_runs_stay_within_the_pixel_budget():
    images = _images(*[(10, 10, 3)] * 7)  # 100 pixels each
    assert pixel_batches(images, batch_pixels=300) == [[0, 1, 2], [3, 4, 5], [6]]
    assert pixel_batches(images, batch_pixels=299) == [[0, 1], [2, 3], [4, 5], [6]]
    assert pixel_batches(images, batch_size=2, batch_pixels=10**6) == [[0, 1], [2, 3], [4, 5], [6]]


def test_a_photo_over_the_budget_goes_alone():
    images = _images((20, 20, 3), (20, 20, 3), (5, 5, 3))
    assert pixel_batches(images, batch_pixels=100) == [[0], [1], [2]]
    assert fits(0, 10**9, batch_size=1, batch_pixels=1)
    assert not fits(1, 10**9, batch_pixels=1)


def test_default_budget_matches_the_documented_cuts():
    assert DEFAULT_BATCH_PIXELS == 2_000_000
    assert len(pixel_batches(_images(*[(500, 500, 3)] * 9))[0]) == 8
    assert len(pixel_batches(_images(*[(768, 1024, 3)] * 3))[0]) == 2
    assert len(pixel_batches(_images(*[(224, 224, 3)] * 40), batch_size=32)[0]) == 32


def test_tuples_of_inputs_count_their_largest_input():
    pair = (np.zeros((10, 10, 3), np.uint8), np.zeros((2, 2, 3), np.uint8))
    assert image_pixels(pair) == 100
    assert image_shape(pair) == ((10, 10, 3), (2, 2, 3))
    other = (np.zeros((10, 10, 3), np.uint8), np.zeros((3, 3, 3), np.uint8))
    assert pixel_batches([pair, other, pair, pair], batch_pixels=200) == [[0, 2], [3], [1]]


@pytest.fixture(scope="module")
def scorer():
    pytest.importorskip("onnxruntime")
    import aesthetics

    return aesthetics.load()  # the default shipped model (onnx when onnxruntime is installed)


def test_scorer_scores_do_not_depend_on_the_budget(scorer):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    arrays.insert(2, rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))  # a second shape
    default = scorer.score(arrays)
    tiny = scorer.score(arrays, batch_pixels=1)  # every photo alone
    assert [r["image_id"] for r in tiny] == [r["image_id"] for r in default]
    for a, b in zip(default, tiny):
        assert "error" not in a
        np.testing.assert_allclose(a["mean_score_prediction"], b["mean_score_prediction"], atol=1e-5)


def test_scorer_calls_follow_the_budget(scorer, monkeypatch):
    calls = []
    inner = scorer._scorer

    def counting(batch):
        calls.append(len(batch))
        return inner(batch)

    monkeypatch.setattr(scorer, "_scorer", counting)
    arrays = [np.full((64, 64, 3), 100 + k, np.uint8) for k in range(5)]
    prepared = scorer._prepare(arrays[0])  # the recipe may resize: count what the model gets
    scorer.score(arrays, batch_pixels=2 * prepared.shape[0] * prepared.shape[1])
    assert calls == [2, 2, 1]


def test_scorer_refuses_a_bad_budget(scorer):
    with pytest.raises(ConfigError, match="batch_pixels"):
        scorer.score(np.zeros((8, 8, 3), np.uint8), batch_pixels=0)
