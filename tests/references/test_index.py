"""ReferenceIndex (search, add, files) and the graph inputs built from it."""

import json
import shutil

import numpy as np
import pytest

from aesthetics.errors import ConfigError, InputNotFoundError, ModelFileError
from aesthetics.references import graph as graph_module
from aesthetics.references import index as index_module
from aesthetics.references.graph import check_kinds, graph_inputs, knn_distribution, similarity_weights
from aesthetics.references.index import ReferenceIndex, faiss_available

DC, DS, BINS = 8, 4, 10
EMBEDDING = {"model": "mobilenet", "model_sha256": "0" * 64, "content_layer": "pool",
             "style_layer": "conv1", "content_dim": DC, "style_dim": DS}

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _index(n=30, seed=0, search="flat", start=0, embedding=None, sources=("labels.csv",)):
    rng = np.random.default_rng(seed)
    return ReferenceIndex([f"img{start + i}.jpg" for i in range(n)],
                          rng.dirichlet(np.ones(BINS), n), rng.normal(size=(n, DC)), rng.normal(size=(n, DS)),
                          dict(embedding or EMBEDDING), search, list(sources))


def _brute(queries, vectors, k):
    sims = _unit(queries) @ vectors.T
    rows = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return rows, np.take_along_axis(sims, rows, 1)


def _numpy_only(monkeypatch):
    monkeypatch.setattr(index_module, "faiss_available", lambda: False)


# ------------------------------------------------------------------ search


@pytest.mark.parametrize("backend", ["numpy", "faiss"])
def test_axis_references_are_found(backend, monkeypatch):
    """References along the axes (plus noise): a noisy axis query finds its own axis first."""
    if backend == "numpy":
        _numpy_only(monkeypatch)
    elif not faiss_available():
        pytest.skip("faiss-cpu is not installed")
    rng = np.random.default_rng(1)
    content = np.eye(DC) + rng.normal(0, 0.05, (DC, DC))
    style = np.eye(DS)[np.arange(DC) % DS] + rng.normal(0, 0.05, (DC, DS))
    index = ReferenceIndex([f"r{i}" for i in range(DC)], np.full((DC, BINS), 1 / BINS), content, style, EMBEDDING)
    queries = 3.0 * np.eye(DC)[[5, 2, 7]] + rng.normal(0, 0.05, (3, DC))  # scale must not matter
    rows, sims = index.neighbours(queries, "content", 1)
    assert rows.tolist() == [[5], [2], [7]] and rows.dtype == np.int64 and sims.dtype == np.float32
    assert (sims > 0.95).all()
    rows, _ = index.neighbours(np.eye(DS)[[1]], "style", 2)
    assert sorted(rows[0].tolist()) == [1, 5]  # the two references along style axis 1


@pytest.mark.parametrize("kind", ["content", "style"])
@pytest.mark.parametrize("k", [1, 5, 30])
def test_flat_search_is_brute_force(kind, k, monkeypatch):
    index = _index()
    queries = np.random.default_rng(2).normal(size=(7, DC if kind == "content" else DS))
    want_rows, want_sims = _brute(queries, index.vectors(kind), k)
    rows, sims = index.neighbours(queries, kind, k)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(sims, want_sims, atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-7).all()  # best first
    _numpy_only(monkeypatch)
    numpy_index = _index()
    assert type(numpy_index._searcher(kind)).__name__ == "_NumpySearcher"
    rows_np, sims_np = numpy_index.neighbours(queries, kind, k)
    np.testing.assert_array_equal(rows_np, want_rows)
    np.testing.assert_allclose(sims_np, want_sims, atol=1e-5)


def test_numpy_search_in_chunks(monkeypatch):
    _numpy_only(monkeypatch)
    monkeypatch.setattr(index_module, "CHUNK", 3)
    index = _index()
    queries = np.random.default_rng(3).normal(size=(10, DC))
    rows, sims = index.neighbours(queries, "content", 4)
    want_rows, want_sims = _brute(queries, index.content, 4)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(sims, want_sims, atol=1e-5)


@needs_faiss
def test_numpy_and_faiss_flat_agree(monkeypatch):
    queries = np.random.default_rng(4).normal(size=(9, DC))
    faiss_index = _index(n=50, seed=4)
    assert type(faiss_index._searcher("content")).__name__ == "_FaissSearcher"
    faiss_rows, faiss_sims = faiss_index.neighbours(queries, "content", 6)
    _numpy_only(monkeypatch)
    numpy_rows, numpy_sims = _index(n=50, seed=4).neighbours(queries, "content", 6)
    np.testing.assert_array_equal(numpy_rows, faiss_rows)
    np.testing.assert_allclose(numpy_sims, faiss_sims, atol=1e-5)


@needs_faiss
def test_hnsw_finds_the_same_top1_on_easy_data():
    flat, hnsw = _index(n=200, seed=5), _index(n=200, seed=5, search="hnsw")
    queries = flat.content[::7] + np.random.default_rng(5).normal(0, 0.01, (29, DC))
    assert (hnsw.neighbours(queries, "content", 1)[0] == flat.neighbours(queries, "content", 1)[0]).all()
    assert hnsw._searcher("content").kind == "hnsw"


@pytest.mark.parametrize("search", ["flat", pytest.param("hnsw", marks=needs_faiss)])
def test_exclude_leaves_the_query_out(search):
    index = _index(n=12, seed=6, search=search)
    k = 4
    rows, sims = index.neighbours(index.content, "content", k, exclude=np.arange(12))
    assert rows.shape == sims.shape == (12, k)
    assert not (rows == np.arange(12)[:, None]).any()
    # exactly the self row is dropped: the rest is brute force without it
    full_rows, full_sims = _brute(index.content, index.content, k + 1)
    assert (full_rows[:, 0] == np.arange(12)).all()
    np.testing.assert_array_equal(rows, full_rows[:, 1:])
    np.testing.assert_allclose(sims, full_sims[:, 1:], atol=1e-5)
    # -1 (or a row that is not among the neighbours) excludes nothing
    plain_rows, _ = index.neighbours(index.content[:3], "content", k)
    kept, _ = index.neighbours(index.content[:3], "content", k, exclude=[-1, -1, -1])
    np.testing.assert_array_equal(kept, plain_rows)
    far = full_rows[0, -1]  # not among the query's k nearest
    np.testing.assert_array_equal(index.neighbours(index.content[:1], "content", k - 1, exclude=[far])[0],
                                  plain_rows[:1, :k - 1])


def test_k_and_dimension_errors():
    index = _index(n=5)
    assert index.neighbours(index.content, "content", 5)[0].shape == (5, 5)
    with pytest.raises(ConfigError, match="k=6"):
        index.neighbours(index.content, "content", 6)
    with pytest.raises(ConfigError, match="leaving the query out"):
        index.neighbours(index.content, "content", 5, exclude=np.arange(5))
    with pytest.raises(ConfigError, match="k=0"):
        index.neighbours(index.content, "content", 0)
    with pytest.raises(ConfigError, match="dimensions"):
        index.neighbours(index.style, "content", 2)
    with pytest.raises(ConfigError, match="embedding kind"):
        index.neighbours(index.content, "colour", 2)


def test_construction_normalises_and_checks():
    index = _index(n=4)
    np.testing.assert_allclose(np.linalg.norm(index.content, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(index.style, axis=1), 1.0, atol=1e-6)
    assert index.num_bins == BINS and len(index) == 4
    np.testing.assert_allclose(index.means, index.distributions @ np.arange(1, BINS + 1), atol=1e-5)
    with pytest.raises(ConfigError, match="appears twice"):
        ReferenceIndex(["a", "b", "a"], np.ones((3, 2)) / 2, np.eye(3), np.eye(3), EMBEDDING)
    with pytest.raises(ConfigError, match="search"):
        _index(search="ivf")


# ------------------------------------------------------------------ files


def _assert_same_index(a, b):
    assert a.ids == b.ids and a.embedding == b.embedding and a.search == b.search and a.sources == b.sources
    np.testing.assert_array_equal(a.distributions, b.distributions)
    for name in ("content", "style"):  # re-normalised on construction: equal up to an ulp
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-6)


@pytest.mark.parametrize("search", ["flat", pytest.param("hnsw", marks=needs_faiss)])
def test_save_load_round_trip(search, tmp_path):
    index = _index(n=40, seed=7, search=search)
    queries = np.random.default_rng(7).normal(size=(6, DC))
    style_queries = np.random.default_rng(8).normal(size=(6, DS))
    before = index.neighbours(queries, "content", 5), index.neighbours(style_queries, "style", 3)
    index.save(tmp_path / "idx")
    files = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert files == (["content.faiss", "index.json", "style.faiss", "vectors.npz"] if search == "hnsw"
                     else ["index.json", "vectors.npz"])  # no temporary files left behind
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert meta["references"] == 40 and meta["bins"] == BINS and meta["search"] == search
    loaded = ReferenceIndex.load(tmp_path / "idx")
    _assert_same_index(index, loaded)
    if search == "hnsw":
        assert set(loaded._searchers) == {"content", "style"}  # the saved graphs, not rebuilt
    after = loaded.neighbours(queries, "content", 5), loaded.neighbours(style_queries, "style", 3)
    for (r1, s1), (r2, s2) in zip(before, after):
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_allclose(s1, s2, atol=1e-6)


def test_save_keeps_files_it_does_not_own(tmp_path):
    (tmp_path / "gcn.keras").write_text("model")
    _index(n=5).save(tmp_path)
    _index(n=6, seed=1).save(tmp_path)  # overwrite
    assert (tmp_path / "gcn.keras").read_text() == "model"
    assert len(ReferenceIndex.load(tmp_path)) == 6


# ------------------------------------------------------------------ adding


@pytest.mark.parametrize("search", ["flat", pytest.param("hnsw", marks=needs_faiss)])
@pytest.mark.parametrize("searched_first", [True, False], ids=["graph_built", "graph_not_built"])
def test_add_appends(search, searched_first, tmp_path):
    base = _index(n=20, seed=9, search=search)
    extra = _index(n=7, seed=10, search=search, start=100, sources=("labels.csv", "more.csv"))
    if searched_first:
        base.neighbours(base.content[:2], "content", 3)
        base.neighbours(base.style[:2], "style", 3)
    merged = base.add(extra)
    assert len(merged) == 27 and merged.ids == base.ids + extra.ids
    assert merged.sources == ["labels.csv", "more.csv"]
    for name in ("distributions", "content", "style"):
        np.testing.assert_allclose(getattr(merged, name),
                                   np.concatenate([getattr(base, name), getattr(extra, name)]), rtol=0, atol=1e-6)
    # the new references are found
    rows, _ = merged.neighbours(extra.content, "content", 1)
    np.testing.assert_array_equal(rows[:, 0], np.arange(20, 27))
    rows, _ = merged.neighbours(extra.style, "style", 1)
    np.testing.assert_array_equal(rows[:, 0], np.arange(20, 27))
    merged.save(tmp_path / "m")
    loaded = ReferenceIndex.load(tmp_path / "m")
    _assert_same_index(merged, loaded)
    if search == "hnsw":
        for kind in ("content", "style"):
            assert loaded._searchers[kind].index.ntotal == len(loaded) == 27
    # and it can grow again after loading
    again = loaded.add(_index(n=3, seed=11, search=search, start=200))
    again.save(tmp_path / "m")
    assert len(ReferenceIndex.load(tmp_path / "m")) == 30


def test_add_rejects_duplicates_and_other_recipes():
    base = _index(n=5)
    with pytest.raises(ConfigError, match="'img3.jpg'"):
        base.add(_index(n=3, seed=1, start=3))
    other = dict(EMBEDDING, model_sha256="f" * 64, style_layer="conv2")
    with pytest.raises(ConfigError, match="model_sha256, style_layer differ") as e:
        base.add(_index(n=3, seed=1, start=50, embedding=other))
    assert "'mobilenet'" in str(e.value)
    missing = {k: v for k, v in EMBEDDING.items() if k != "content_layer"}
    with pytest.raises(ConfigError, match="content_layer differ"):
        base.add(_index(n=3, seed=1, start=50, embedding=missing))
    fewer_bins = ReferenceIndex(["x"], [[0.5, 0.5]], np.ones((1, DC)), np.ones((1, DS)), EMBEDDING)
    with pytest.raises(ConfigError, match="score bins"):
        base.add(fewer_bins)
    assert len(base) == 5  # unchanged


# ------------------------------------------------------------------ broken folders


def test_load_errors(tmp_path):
    with pytest.raises(InputNotFoundError, match="not a reference index"):
        ReferenceIndex.load(tmp_path / "nowhere")
    folder = tmp_path / "idx"
    _index(n=6).save(folder)
    meta_file = folder / "index.json"
    meta = json.loads(meta_file.read_text())

    meta_file.write_text("{not json")
    with pytest.raises(ModelFileError, match="index.json: unreadable"):
        ReferenceIndex.load(folder)
    meta_file.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not an aesthetics reference index"):
        ReferenceIndex.load(folder)
    meta_file.write_text(json.dumps([1, 2]))
    with pytest.raises(ModelFileError, match="not an aesthetics reference index"):
        ReferenceIndex.load(folder)
    meta_file.write_text(json.dumps(dict(meta, version=index_module.VERSION + 1)))
    with pytest.raises(ModelFileError, match="newer than this package reads"):
        ReferenceIndex.load(folder)
    meta_file.write_text(json.dumps(dict(meta, references=5)))
    with pytest.raises(ModelFileError, match="says 5 references, vectors.npz holds 6"):
        ReferenceIndex.load(folder)
    meta_file.write_text(json.dumps(meta))
    assert len(ReferenceIndex.load(folder)) == 6
    (folder / "vectors.npz").write_bytes(b"truncated")
    with pytest.raises(ModelFileError, match="vectors.npz: unreadable"):
        ReferenceIndex.load(folder)
    (folder / "vectors.npz").unlink()
    with pytest.raises(ModelFileError, match="vectors.npz: unreadable"):
        ReferenceIndex.load(folder)


def test_load_npz_without_an_array(tmp_path):
    folder = tmp_path / "idx"
    index = _index(n=4)
    index.save(folder)
    np.savez(folder / "vectors.npz", ids=np.array(index.ids), content=index.content, style=index.style)
    with pytest.raises(ModelFileError, match="vectors.npz: unreadable"):
        ReferenceIndex.load(folder)


@needs_faiss
def test_load_broken_hnsw_graphs(tmp_path):
    _index(n=8, search="hnsw").save(tmp_path / "a")
    _index(n=9, search="hnsw").save(tmp_path / "b")
    shutil.copy(tmp_path / "b" / "style.faiss", tmp_path / "a" / "style.faiss")
    with pytest.raises(ModelFileError, match="style.faiss: holds 9 vectors, the index 8"):
        ReferenceIndex.load(tmp_path / "a")
    (tmp_path / "a" / "style.faiss").write_bytes(b"broken")
    with pytest.raises(ModelFileError, match="style.faiss: unreadable"):
        ReferenceIndex.load(tmp_path / "a")
    (tmp_path / "a" / "style.faiss").unlink()
    with pytest.raises(ModelFileError, match="style.faiss: unreadable"):
        ReferenceIndex.load(tmp_path / "a")


def test_hnsw_without_faiss_is_a_config_error(tmp_path, monkeypatch):
    def no_faiss():
        raise ImportError("no faiss")

    monkeypatch.setattr(index_module, "_import_faiss", no_faiss)
    assert not faiss_available()
    with pytest.raises(ConfigError, match="faiss-cpu"):
        _index(n=4, search="hnsw").neighbours(np.ones((1, DC)), "content", 1)
    flat = _index(n=4)  # flat search falls back to numpy
    assert flat.neighbours(flat.content, "content", 1)[0][:, 0].tolist() == [0, 1, 2, 3]


# ------------------------------------------------------------------ graph inputs


def test_graph_inputs_shapes_order_and_labels():
    index = _index(n=25, seed=12)
    rng = np.random.default_rng(12)
    content, style = _unit(rng.normal(size=(4, DC))), _unit(rng.normal(size=(4, DS)))
    k = 3
    hoods = graph_inputs(index, content, style, k)
    x = hoods.inputs
    assert tuple(x) == graph_module.INPUT_NAMES
    assert x["query"].shape == (4, DC + DS) and x["neighbours"].shape == (4, 2 * k, DC + DS)
    assert x["neighbour_distributions"].shape == (4, 2 * k, BINS) and x["similarities"].shape == (4, 2 * k)
    assert all(v.dtype == np.float32 for v in x.values())
    assert hoods.kinds == ["content"] * k + ["style"] * k and hoods.rows.shape == (4, 2 * k)
    np.testing.assert_allclose(x["query"], np.concatenate([content, style], 1), atol=1e-6)
    # content neighbours first, then style neighbours
    np.testing.assert_array_equal(hoods.rows[:, :k], _brute(content, index.content, k)[0])
    np.testing.assert_array_equal(hoods.rows[:, k:], _brute(style, index.style, k)[0])
    np.testing.assert_allclose(x["neighbours"][..., :DC], index.content[hoods.rows], atol=0)
    np.testing.assert_allclose(x["neighbours"][..., DC:], index.style[hoods.rows], atol=0)
    np.testing.assert_allclose(x["neighbour_distributions"], index.distributions[hoods.rows], atol=0)
    sims_c = np.einsum("qd,qmd->qm", content, x["neighbours"][:, :k, :DC])
    sims_s = np.einsum("qd,qmd->qm", style, x["neighbours"][:, k:, DC:])
    np.testing.assert_allclose(x["similarities"], np.concatenate([sims_c, sims_s], 1), atol=1e-5)


@pytest.mark.parametrize("kinds", [["content"], ["style"], ["style", "content"]])
def test_graph_inputs_kinds(kinds):
    index = _index(n=10, seed=13)
    hoods = graph_inputs(index, index.content[:2], index.style[:2], 2, kinds)
    assert hoods.kinds == [kind for kind in kinds for _ in range(2)]
    assert hoods.inputs["neighbours"].shape == (2, 2 * len(kinds), DC + DS)
    first = hoods.rows[:, 0]
    np.testing.assert_array_equal(first, [0, 1])  # a reference is its own nearest neighbour


def test_graph_inputs_exclude():
    index = _index(n=10, seed=14)
    hoods = graph_inputs(index, index.content, index.style, 3, exclude=np.arange(10))
    assert hoods.rows.shape == (10, 6)
    assert not (hoods.rows == np.arange(10)[:, None]).any()
    assert (hoods.inputs["similarities"] < 1 - 1e-4).all()


def test_knn_distribution_weights():
    sims = np.array([[0.9, 0.8, 0.1], [0.5, 0.5, 0.5]], "float32")
    dists = np.random.default_rng(15).dirichlet(np.ones(BINS), (2, 3)).astype("float32")
    for t in (0.05, 0.5):
        w = np.exp(sims / t) / np.exp(sims / t).sum(1, keepdims=True)
        np.testing.assert_allclose(similarity_weights(sims, t), w, atol=1e-6)
        np.testing.assert_allclose(knn_distribution(sims, dists, t), np.einsum("qm,qmb->qb", w, dists), atol=1e-6)
    np.testing.assert_allclose(similarity_weights(sims).sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(knn_distribution(sims, dists)[1], dists[1].mean(0), atol=1e-6)  # equal sims
    np.testing.assert_allclose(knn_distribution(sims, dists, 1e-4)[0], dists[0, 0], atol=1e-6)
    np.testing.assert_allclose(knn_distribution(sims, dists).sum(1), 1.0, atol=1e-5)
    assert np.isfinite(similarity_weights(np.array([[100.0, -100.0]]), 1e-3)).all()  # no overflow


def test_check_kinds():
    assert check_kinds(["content", "style"]) == ("content", "style")
    assert check_kinds(("style",)) == ("style",)
    for bad in ([], ["content", "content"], ["colour"], ["content", "Style"]):
        with pytest.raises(ConfigError, match="retrieve"):
            check_kinds(bad)
    with pytest.raises(ConfigError, match="model.retrieve"):
        check_kinds(["x"], key="model.retrieve")
    with pytest.raises(ConfigError, match="retrieve"):
        graph_inputs(_index(n=4), np.ones((1, DC)), np.ones((1, DS)), 1, ["content", "shape"])
