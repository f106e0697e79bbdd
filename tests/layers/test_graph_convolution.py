"""GraphConvolution: one message-passing step over a dense adjacency."""

import keras
import numpy as np
import pytest

from aesthetics.layers import GraphConvolution
from harness import randomize_weights, run_layer_test

B, N = 2, 5


def _inputs(f, seed=0, b=B, n=N):
    rng = np.random.default_rng(seed)
    nodes = rng.normal(size=(b, n, f)).astype("float32")
    logits = rng.normal(size=(b, n, n))
    adjacency = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    return [nodes, adjacency]


@pytest.mark.parametrize(
    "f,units,residual,normalize",
    [(6, 6, True, True), (4, 6, True, True), (6, 6, False, True), (6, 6, True, False), (4, 3, False, False)],
    ids=["residual+norm", "widen+norm", "no_residual+norm", "residual", "plain"],
)
def test_graph_convolution_through_harness(f, units, residual, normalize):
    layer = run_layer_test(
        GraphConvolution,
        {"units": units, "residual": residual, "normalize": normalize},
        _inputs(f),
        (B, N, units),
        expected_num_trainable_weights=2 + (2 if normalize else 0),  # dense kernel + bias, norm gamma + beta
        expected_num_non_trainable_weights=0,
        atol=1e-5,
    )
    assert layer._add_input is (residual and f == units)


@pytest.mark.parametrize("activation", ["relu", "gelu", "linear"])
def test_identity_adjacency_is_a_per_node_dense(activation):
    nodes, _ = _inputs(4, seed=1)
    eye = np.broadcast_to(np.eye(N, dtype="float32"), (B, N, N)).copy()
    layer = GraphConvolution(6, activation=activation, residual=False, normalize=False)
    layer([nodes, eye])
    randomize_weights(layer, seed=1, scale=0.5)
    want = keras.activations.get(activation)(layer.dense(nodes))
    np.testing.assert_allclose(np.asarray(layer([nodes, eye])), np.asarray(want), atol=1e-5)


def test_messages_average_the_neighbours():
    """A uniform adjacency gives every node the mean of the projected nodes."""
    nodes, _ = _inputs(4, seed=2)
    uniform = np.full((B, N, N), 1.0 / N, "float32")
    layer = GraphConvolution(3, activation="linear", residual=False, normalize=False)
    out = np.asarray(layer([nodes, uniform]))
    want = np.asarray(layer.dense(nodes)).mean(1, keepdims=True)
    np.testing.assert_allclose(out, np.broadcast_to(want, out.shape), atol=1e-5)


def test_residual_adds_the_input():
    nodes, adjacency = _inputs(5, seed=3)
    with_res = GraphConvolution(5, residual=True, normalize=False)
    without = GraphConvolution(5, residual=False, normalize=False)
    with_res([nodes, adjacency])
    without([nodes, adjacency])
    randomize_weights(with_res, seed=2)
    without.set_weights(with_res.get_weights())
    np.testing.assert_allclose(np.asarray(with_res([nodes, adjacency])),
                               np.asarray(without([nodes, adjacency])) + nodes, atol=1e-5)


@pytest.mark.parametrize("f,units,residual,normalize", [(6, 6, True, True), (4, 3, False, False)])
def test_node_permutation_equivariance(f, units, residual, normalize):
    nodes, adjacency = _inputs(f, seed=4)
    layer = GraphConvolution(units, residual=residual, normalize=normalize)
    layer([nodes, adjacency])
    randomize_weights(layer, seed=3)
    out = np.asarray(layer([nodes, adjacency]))
    perm = np.random.default_rng(5).permutation(N)
    out_p = np.asarray(layer([nodes[:, perm], adjacency[:, perm][:, :, perm]]))
    np.testing.assert_allclose(out_p, out[:, perm], atol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="units"):
        GraphConvolution(0)
    with pytest.raises(ValueError, match="expects"):
        GraphConvolution(4).build([(2, 5), (2, 5, 5)])
