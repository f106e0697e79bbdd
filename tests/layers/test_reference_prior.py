"""ReferencePrior: the neighbours' distributions weighted by a softmax over similarity."""

import numpy as np
import pytest

from aesthetics.layers import ReferencePrior
from aesthetics.references.graph import knn_distribution
from harness import run_layer_test

B, M, BINS = 2, 5, 4


def _inputs(seed=0, b=B, m=M, bins=BINS):
    rng = np.random.default_rng(seed)
    sims = rng.uniform(-1.0, 1.0, (b, m)).astype("float32")
    dists = rng.dirichlet(np.ones(bins), (b, m)).astype("float32")
    return [sims, dists]


@pytest.mark.parametrize("trainable", [True, False], ids=["trainable_t", "fixed_t"])
def test_reference_prior_through_harness(trainable):
    layer = run_layer_test(
        ReferencePrior,
        {"temperature": 0.5, "trainable_temperature": trainable},
        _inputs(),
        (B, BINS),
        expected_num_trainable_weights=1 if trainable else 0,
        expected_num_non_trainable_weights=0 if trainable else 1,
        float32_outputs=(0,),  # computed in float32 under every policy
        atol=1e-5,
    )
    assert layer.get_config()["trainable_temperature"] is trainable


@pytest.mark.parametrize("temperature", [0.05, 0.3, 2.0])
def test_reference_prior_equals_knn_distribution(temperature):
    sims, dists = _inputs(seed=1, b=6, m=7, bins=10)
    got = np.asarray(ReferencePrior(temperature)([sims, dists]))
    np.testing.assert_allclose(got, knn_distribution(sims, dists, temperature), atol=1e-5)


def test_reference_prior_rows_sum_to_one():
    sims, dists = _inputs(seed=2, b=8, m=6, bins=10)
    out = np.asarray(ReferencePrior(0.1)([sims, dists]))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert (out >= 0).all()


def test_low_temperature_picks_the_most_similar_neighbour():
    sims, dists = _inputs(seed=3, b=5, m=6, bins=10)
    out = np.asarray(ReferencePrior(1e-4)([sims, dists]))
    best = dists[np.arange(len(sims)), sims.argmax(-1)]
    np.testing.assert_allclose(out, best, atol=1e-5)


def test_high_temperature_averages_the_neighbours():
    sims, dists = _inputs(seed=4)
    out = np.asarray(ReferencePrior(1e4)([sims, dists]))
    np.testing.assert_allclose(out, dists.mean(1), atol=1e-4)


def test_bad_temperature_and_shapes_raise():
    for t in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            ReferencePrior(t)
    with pytest.raises(ValueError, match="expects"):
        ReferencePrior().build([(2, 5, 1), (2, 5, 4)])
