"""The reference index: rated photos, their embeddings, nearest-neighbour search.

A `ReferenceIndex` holds, for N rated reference photos, their ids, score
distributions (N, bins) and two L2-normalised embeddings from one embedder
model (`aesthetics.references.embed`):

    content  (N, Dc)  pooled deep features: what the photo shows
    style    (N, Ds)  channel mean and std of an early feature map: how it
                      looks (colour, contrast, texture), as style transfer
                      measures style

On disk an index is a folder::

    INDEX/
      index.json       format, count, the embedding recipe (embedder model and
                       its sha256, layers, dimensions), search kind, the
                       sources it was built from
      vectors.npz      ids, distributions, content, style
      content.faiss    (search "hnsw" only) the saved FAISS graphs, so loading
      style.faiss       and adding never rebuild them
      embedder.keras   (when the embedder is a file, not a shipped model) a copy
      gcn.keras        (optional) a trained reference GCN for this index

Search is cosine similarity (inner product of unit vectors): exact ("flat":
FAISS's IndexFlatIP when faiss-cpu is installed, else numpy in chunks, the
same results) or approximate ("hnsw": FAISS's HNSW graph, which scales to
millions of references; needs faiss-cpu, the `[references]` extra).

TF-free: numpy (and faiss when installed) only.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from aesthetics.errors import ConfigError, InputNotFoundError, ModelFileError

FORMAT = "aesthetics-reference-index"
VERSION = 1
KINDS = ("content", "style")
SEARCHES = ("flat", "hnsw")
HNSW_NEIGHBOURS = 32  # FAISS HNSW's M: links per node
CHUNK = 4096  # numpy search: query rows per matrix product


def _import_faiss():
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # "Loading faiss." on every run
    import faiss

    return faiss


def faiss_available() -> bool:
    try:
        _import_faiss()
    except ImportError:
        return False
    return True


def _require_faiss(why: str):
    try:
        faiss = _import_faiss()
    except ImportError:
        raise ConfigError(f"{why} needs FAISS: pip install 'aesthetics[references]' (faiss-cpu)") from None
    return faiss


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (an all-zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-30)  # only an all-zero row stays zero


@dataclass
class ReferenceIndex:
    """Rated reference photos and their embeddings (see the module docstring).

    Args:
        ids: one id per reference (unique).
        distributions: (N, bins) score distributions over 1..bins, rows summing to 1.
        content, style: (N, Dc), (N, Ds) embeddings (normalised on construction).
        embedding: the recipe the vectors came from: "model" (a shipped name or
            "embedder.keras"), "model_sha256", "content_layer", "style_layer",
            "content_dim", "style_dim"; a query must be embedded the same way.
        search: "flat" (exact) or "hnsw" (approximate, FAISS).
        sources: where the references came from (label files, image folders).
    """

    ids: list
    distributions: np.ndarray
    content: np.ndarray
    style: np.ndarray
    embedding: dict
    search: str = "flat"
    sources: list = field(default_factory=list)
    _searchers: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.ids = [str(i) for i in self.ids]
        self.distributions = np.asarray(self.distributions, dtype=np.float32).reshape(len(self.ids), -1)
        self.content = normalize_rows(np.asarray(self.content, dtype=np.float32).reshape(len(self.ids), -1))
        self.style = normalize_rows(np.asarray(self.style, dtype=np.float32).reshape(len(self.ids), -1))
        if self.search not in SEARCHES:
            raise ConfigError(f"search: expected one of {list(SEARCHES)}, got {self.search!r}")
        seen = set()
        for i in self.ids:
            if i in seen:
                raise ConfigError(f"reference id {i!r} appears twice (ids must be unique)")
            seen.add(i)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_bins(self) -> int:
        return int(self.distributions.shape[1])

    @property
    def means(self) -> np.ndarray:
        """(N,) mean scores on 1..bins."""
        return self.distributions @ np.arange(1, self.num_bins + 1, dtype=np.float32)

    def vectors(self, kind: str) -> np.ndarray:
        if kind not in KINDS:
            raise ConfigError(f"embedding kind: expected one of {list(KINDS)}, got {kind!r}")
        return self.content if kind == "content" else self.style

    def describe(self) -> dict:
        """What `aesthetics index info` prints."""
        means = self.means
        return {"references": len(self), "bins": self.num_bins, "search": self.search,
                "embedding": self.embedding, "sources": self.sources,
                "mean_score": {"min": float(means.min()), "mean": float(means.mean()),
                               "max": float(means.max())} if len(self) else None}

    # ------------------------------------------------------------------ search
    def neighbours(self, queries: np.ndarray, kind: str, k: int,
                   exclude: Optional[Sequence[int]] = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most similar references of each query row by `kind`:
        (rows (Q, k) int64, cosine similarities (Q, k) float32), best first.
        `exclude[q]` (a row of this index, or -1) is left out of query q's
        neighbours: leave-self-out when the queries are references themselves."""
        queries = normalize_rows(np.atleast_2d(queries))
        vectors = self.vectors(kind)
        if queries.shape[1] != vectors.shape[1]:
            raise ConfigError(f"{kind} queries have {queries.shape[1]} dimensions, the index "
                              f"{vectors.shape[1]}: they come from another embedder")
        extra = 1 if exclude is not None else 0
        if k < 1 or k + extra > len(self):
            raise ConfigError(f"k={k} neighbours{' (leaving the query out)' if extra else ''} needs more "
                              f"than the index's {len(self)} reference(s)")
        rows, sims = self._searcher(kind).search(queries, k + extra)
        if exclude is None:
            return rows, sims
        return _drop_excluded(rows, sims, np.asarray(exclude, dtype=np.int64), k)

    def _searcher(self, kind: str):
        if kind not in self._searchers:
            vectors = self.vectors(kind)
            if self.search == "hnsw":
                self._searchers[kind] = _FaissSearcher.hnsw(vectors)
            elif faiss_available():
                self._searchers[kind] = _FaissSearcher.flat(vectors)
            else:
                self._searchers[kind] = _NumpySearcher(vectors)
        return self._searchers[kind]

    # ------------------------------------------------------------------ adding
    def add(self, other: "ReferenceIndex") -> "ReferenceIndex":
        """A new index with `other`'s references appended (same embedding
        recipe; ids must stay unique). An HNSW graph is extended, not rebuilt."""
        if other.embedding != self.embedding:
            diff = sorted(k for k in set(self.embedding) | set(other.embedding)
                          if self.embedding.get(k) != other.embedding.get(k))
            raise ConfigError(f"the new references were embedded differently ({', '.join(diff)} differ): "
                              f"build them with the index's embedder, {self.embedding.get('model')!r}")
        if other.num_bins != self.num_bins:
            raise ConfigError(f"the new references have {other.num_bins} score bins, the index {self.num_bins}")
        clash = sorted(set(self.ids) & set(other.ids))
        if clash:
            raise ConfigError(f"{len(clash)} new reference id(s) are already in the index, e.g. {clash[0]!r}")
        merged = ReferenceIndex(self.ids + other.ids, np.concatenate([self.distributions, other.distributions]),
                                np.concatenate([self.content, other.content]),
                                np.concatenate([self.style, other.style]), dict(self.embedding),
                                self.search, self.sources + [s for s in other.sources if s not in self.sources])
        for kind in list(self._searchers):
            searcher = self._searchers[kind]
            if isinstance(searcher, _FaissSearcher) and searcher.kind == "hnsw":
                searcher.add(other.vectors(kind))  # the graph moves to the merged index
                merged._searchers[kind] = self._searchers.pop(kind)
        return merged

    # ------------------------------------------------------------------ files
    def save(self, folder) -> Path:
        """Writes the index folder (files replaced atomically); keeps files
        it does not own there (embedder.keras, gcn.keras)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".vectors.tmp.npz"
        np.savez(tmp, ids=np.array(self.ids, dtype=str), distributions=self.distributions,
                 content=self.content, style=self.style)
        os.replace(tmp, folder / "vectors.npz")
        if self.search == "hnsw":
            faiss = _require_faiss("an hnsw index")
            for kind in KINDS:
                searcher = self._searcher(kind)
                faiss.write_index(searcher.index, str(folder / f".{kind}.faiss.tmp"))
                os.replace(folder / f".{kind}.faiss.tmp", folder / f"{kind}.faiss")
        meta = {"format": FORMAT, "version": VERSION, "references": len(self), "bins": self.num_bins,
                "search": self.search, "embedding": self.embedding, "sources": self.sources,
                "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        tmp = folder / ".index.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder / "index.json")
        return folder

    @classmethod
    def load(cls, folder) -> "ReferenceIndex":
        """Reads an index folder; a missing or broken one raises a clear error."""
        folder = Path(folder)
        meta_file, vectors_file = folder / "index.json", folder / "vectors.npz"
        if not meta_file.is_file():
            raise InputNotFoundError(f"{folder}: not a reference index (no index.json; build one with "
                                     "`aesthetics index build`)")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelFileError(f"{meta_file}: unreadable ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{meta_file}: not an aesthetics reference index")
        if meta.get("version", 0) > VERSION:
            raise ModelFileError(f"{meta_file}: index format {meta['version']} is newer than this "
                                 f"package reads ({VERSION}); upgrade aesthetics")
        try:
            with np.load(vectors_file, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("ids", "distributions", "content", "style")}
        except (OSError, ValueError, KeyError) as e:
            raise ModelFileError(f"{vectors_file}: unreadable ({e})") from None
        if len(arrays["ids"]) != meta.get("references"):
            raise ModelFileError(f"{folder}: index.json says {meta.get('references')} references, "
                                 f"vectors.npz holds {len(arrays['ids'])} (a write was interrupted?)")
        index = cls(list(arrays["ids"]), arrays["distributions"], arrays["content"], arrays["style"],
                    meta.get("embedding") or {}, meta.get("search", "flat"), list(meta.get("sources") or []))
        if index.search == "hnsw":
            faiss = _require_faiss(f"{folder} (an hnsw index)")
            for kind in KINDS:
                try:
                    graph = faiss.read_index(str(folder / f"{kind}.faiss"))
                except RuntimeError as e:  # faiss reports a missing or broken file as RuntimeError
                    raise ModelFileError(f"{folder / (kind + '.faiss')}: unreadable ({e})") from None
                if graph.ntotal != len(index):
                    raise ModelFileError(f"{folder / (kind + '.faiss')}: holds {graph.ntotal} vectors, "
                                         f"the index {len(index)}")
                index._searchers[kind] = _FaissSearcher(graph, "hnsw")
        return index


def _drop_excluded(rows, sims, exclude, k):
    out_rows = np.empty((len(rows), k), dtype=np.int64)
    out_sims = np.empty((len(rows), k), dtype=np.float32)
    for q in range(len(rows)):
        keep = rows[q] != exclude[q]
        if not keep.all() or len(rows[q]) > k:
            r, s = rows[q][keep][:k], sims[q][keep][:k]
        else:
            r, s = rows[q][:k], sims[q][:k]
        out_rows[q], out_sims[q] = r, s
    return out_rows, out_sims


class _NumpySearcher:
    """Exact cosine search with numpy, in chunks of query rows."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def search(self, queries: np.ndarray, k: int):
        rows = np.empty((len(queries), k), dtype=np.int64)
        sims = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), CHUNK):
            s = queries[start:start + CHUNK] @ self.vectors.T
            top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else \
                np.tile(np.arange(s.shape[1]), (len(s), 1))
            top_s = np.take_along_axis(s, top, axis=1)
            order = np.lexsort((top, -top_s), axis=1)  # best first; ties by row, as FAISS does
            rows[start:start + CHUNK] = np.take_along_axis(top, order, axis=1)
            sims[start:start + CHUNK] = np.take_along_axis(top_s, order, axis=1)
        return rows, sims


class _FaissSearcher:
    def __init__(self, index, kind: str):
        self.index, self.kind = index, kind

    @classmethod
    def flat(cls, vectors):
        faiss = _require_faiss("flat search")
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, "flat")

    @classmethod
    def hnsw(cls, vectors):
        faiss = _require_faiss("an hnsw index")
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, "hnsw")

    def add(self, vectors):
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries, k: int):
        sims, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return rows.astype(np.int64), sims.astype(np.float32)
