"""ReferenceGCN: a query judged against its retrieved, rated references."""

import os

import keras
import numpy as np
import pytest

from aesthetics.models.reference_gcn import ReferenceGCN, ReferenceGCNConfig
from aesthetics.references.graph import INPUT_NAMES
from harness import check_model, randomize_weights

CONTENT, STYLE, K, HIDDEN, BINS = 6, 4, 3, 8, 10
EMBEDDING = {"model": "embedder.keras", "model_sha256": "ab" * 32, "content_layer": "pool",
             "style_layer": "block1", "content_dim": CONTENT, "style_dim": STYLE}


def _config(**overrides):
    kwargs = dict(content_dim=CONTENT, style_dim=STYLE, k=K, hidden=HIDDEN, num_bins=BINS,
                  dropout=0.1, embedding=dict(EMBEDDING))
    kwargs.update(overrides)
    return ReferenceGCNConfig(**kwargs)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _inputs(config, b=2, seed=0):
    """Each embedding is a unit content vector and a unit style vector side by side."""
    rng = np.random.default_rng(seed)
    m = config.neighbours

    def emb(*shape):
        return np.concatenate([_unit(rng.normal(size=shape + (config.content_dim,))),
                               _unit(rng.normal(size=shape + (config.style_dim,)))], -1).astype("float32")

    return {"query": emb(b), "neighbours": emb(b, m),
            "neighbour_distributions": rng.dirichlet(np.ones(config.num_bins), (b, m)).astype("float32"),
            "similarities": rng.uniform(0.2, 0.9, (b, m)).astype("float32")}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"gcn_layers": 0}, {"retrieve": ["content"]}, {"learned_adjacency": False},
     {"similarity_prior": False, "gcn_layers": 1}],
    ids=["default", "no_gcn", "content_only", "prior_adjacency", "learned_adjacency"],
)
def test_reference_gcn_through_harness(overrides):
    config = _config(**overrides)
    inputs = _inputs(config)
    model = check_model(lambda: ReferenceGCN(config), inputs, (2, BINS))
    assert type(model) is ReferenceGCN and sorted(model.input) == sorted(INPUT_NAMES)
    assert model.get_layer("neighbours").output.shape == (None, config.neighbours, config.dim)
    gcn = [layer.name for layer in model.layers if layer.name.startswith("gcn_")]
    assert len(gcn) == config.gcn_layers


def test_output_is_a_distribution():
    config = _config()
    model = ReferenceGCN(config)
    randomize_weights(model, seed=1, scale=0.5)
    out = np.asarray(model(_inputs(config, b=5, seed=1)))
    assert out.shape == (5, BINS) and out.dtype == np.float32 and (out >= 0).all()
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)


def test_keras_round_trip_keeps_the_reference_config(tmp_path):
    config = _config(retrieve=["style", "content"], temperature=0.2)
    model = ReferenceGCN(config, info={"trained_on": "tiny", "val_emd": 0.1})
    randomize_weights(model, seed=2)
    inputs = _inputs(config, b=3, seed=2)
    path = os.path.join(tmp_path, "gcn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is ReferenceGCN
    assert loaded.reference_config == config
    assert loaded.reference_config.embedding == EMBEDDING
    assert loaded.reference_config.retrieve == ["style", "content"]
    assert loaded.info == {"trained_on": "tiny", "val_emd": 0.1}
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-6)


def test_a_foreign_config_is_a_model_file_error():
    from aesthetics.errors import ModelFileError

    with pytest.raises(ModelFileError, match="reference model config"):
        ReferenceGCN({"content_dim": 6, "style_dim": 4, "not_an_option": 1})


@pytest.mark.parametrize("overrides", [{}, {"retrieve": ["content"], "gcn_layers": 1}])
def test_permuting_the_neighbours_leaves_the_output_unchanged(overrides):
    config = _config(**overrides)
    model = ReferenceGCN(config)
    randomize_weights(model, seed=3, scale=0.4)
    inputs = _inputs(config, b=4, seed=3)
    out = np.asarray(model(inputs))
    order = np.random.default_rng(4).permutation(config.neighbours)
    perm = np.empty_like(order)
    perm[order] = np.roll(order, -1)  # one random cycle: no neighbour stays in place
    assert (perm != np.arange(config.neighbours)).all()
    permuted = {"query": inputs["query"], **{k: inputs[k][:, perm] for k in INPUT_NAMES[1:]}}
    np.testing.assert_allclose(np.asarray(model(permuted)), out, atol=1e-5)
    # and it does depend on which neighbour carries which distribution
    shuffled = dict(inputs, neighbour_distributions=inputs["neighbour_distributions"][:, perm])
    assert np.abs(np.asarray(model(shuffled)) - out).max() > 1e-4


def test_short_fit_learns_the_most_similar_neighbours_distribution():
    """Target: the distribution of the most similar neighbour. The k-NN prior
    starts too warm (temperature 1) to pick it; training must lower the loss."""
    keras.utils.set_random_seed(0)
    config = _config(temperature=1.0, dropout=0.0, gcn_layers=1)
    data = _inputs(config, b=64, seed=5)
    rng = np.random.default_rng(6)
    data["similarities"] = rng.uniform(-1.0, 1.0, data["similarities"].shape).astype("float32")
    peaked = np.eye(BINS, dtype="float32")[rng.integers(0, BINS, data["similarities"].shape)]
    data["neighbour_distributions"] = 0.8 * peaked + 0.02  # sums to 1 with 10 bins
    target = data["neighbour_distributions"][np.arange(64), data["similarities"].argmax(-1)]
    model = ReferenceGCN(config)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="categorical_crossentropy", jit_compile=False)
    before = model.evaluate(data, target, verbose=0)
    history = model.fit(data, target, epochs=30, batch_size=16, verbose=0)
    after = model.evaluate(data, target, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert after < 0.7 * before, (before, after)
    temperature = float(np.exp(np.asarray(model.get_layer("prior").log_temperature)))
    assert temperature < 1.0  # it learnt to trust the nearest neighbour more
