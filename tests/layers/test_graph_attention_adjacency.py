"""GraphAttentionAdjacency: a learnt + similarity, row-normalised adjacency."""

import numpy as np
import pytest

from aesthetics.layers import GraphAttentionAdjacency
from harness import run_layer_test

B, N, F, E = 2, 5, 6, 4


def _inputs(seed=0, b=B, n=N, f=F, e=E):
    rng = np.random.default_rng(seed)
    nodes = rng.normal(size=(b, n, f)).astype("float32")
    emb = rng.normal(size=(b, n, e)).astype("float32")
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    return [nodes, emb]


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    w = np.exp(z)
    return w / w.sum(-1, keepdims=True)


@pytest.mark.parametrize(
    "learned,prior,n_weights",
    [(True, True, 3), (True, False, 2), (False, True, 1)],
    ids=["learned+prior", "learned", "prior"],
)
def test_graph_attention_adjacency_through_harness(learned, prior, n_weights):
    layer = run_layer_test(
        GraphAttentionAdjacency,
        {"units": 3, "use_learned": learned, "use_prior": prior, "prior_scale": 2.0},
        _inputs(),
        (B, N, N),
        expected_num_trainable_weights=n_weights,  # query + key kernels, the prior scale
        expected_num_non_trainable_weights=0,
        float32_outputs=(0,),  # the softmax is float32 under every policy
        atol=1e-5,
    )
    assert hasattr(layer, "query") is learned and hasattr(layer, "scale") is prior


@pytest.mark.parametrize("learned,prior", [(True, True), (True, False), (False, True)])
def test_rows_sum_to_one(learned, prior):
    layer = GraphAttentionAdjacency(4, use_learned=learned, use_prior=prior)
    a = np.asarray(layer(_inputs(seed=1, b=3, n=7)))
    assert a.shape == (3, 7, 7) and (a >= 0).all()
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_prior_only_is_softmax_of_scaled_similarity(scale):
    nodes, emb = _inputs(seed=2, b=3, n=6)
    a = np.asarray(GraphAttentionAdjacency(4, use_learned=False, prior_scale=scale)([nodes, emb]))
    want = _softmax(scale * np.einsum("bie,bje->bij", emb, emb))
    np.testing.assert_allclose(a, want, atol=1e-5)
    # the node states play no part without the learnt term
    a2 = np.asarray(GraphAttentionAdjacency(4, use_learned=False, prior_scale=scale)([nodes * 0 + 3.0, emb]))
    np.testing.assert_allclose(a2, want, atol=1e-5)


def test_learned_only_ignores_the_embeddings_and_matches_query_key():
    nodes, emb = _inputs(seed=3)
    layer = GraphAttentionAdjacency(3, use_prior=False)
    a = np.asarray(layer([nodes, emb]))
    q, k = nodes @ np.asarray(layer.query.kernel), nodes @ np.asarray(layer.key.kernel)
    np.testing.assert_allclose(a, _softmax(np.einsum("bif,bjf->bij", q, k) / np.sqrt(3)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer([nodes, -emb[:, ::-1]])), a, atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="use_learned or use_prior"):
        GraphAttentionAdjacency(4, use_learned=False, use_prior=False)
    for units in (0, -3):
        with pytest.raises(ValueError, match="units"):
            GraphAttentionAdjacency(units)
    with pytest.raises(ValueError, match="expects"):
        GraphAttentionAdjacency(4).build([(2, 5), (2, 5, 4)])
