"""The reference score of photos: retrieve rated photos, then k-NN or the GCN.

`ReferenceScorer(index_folder)` loads an index (`aesthetics index build`),
the embedder it was built with, and its trained model when it has one
(`gcn.keras` in the folder, or `model=`), and gives each photo a
"reference" entry::

    {"score": 5.9, "std": 1.2, "method": "gcn",        # or "knn"
     "neighbours": [{"id": "ref_17", "score": 6.1, "similarity": 0.83, "by": "content"}, ...]}

`predict --references` adds it to every scored record (`records_referencer`);
`Scorer.score(x, references=...)` does the same in Python.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from aesthetics.distributions import distribution_mean_std
from aesthetics.errors import ConfigError, InputNotFoundError
from aesthetics.references.embed import index_embedder
from aesthetics.references.graph import DEFAULT_TEMPERATURE, KINDS, graph_inputs, knn_distribution
from aesthetics.references.index import ReferenceIndex

log = logging.getLogger("aesthetics")
GCN_FILE = "gcn.keras"
DEFAULT_K = 8
# a reference whose content and style embeddings both match the query's this
# closely is the query itself (or a copy of it): it is left out, as in training
SELF_SIMILARITY = 0.9999


class ReferenceScorer:
    """Reference scores against the index in `folder`.

    Args:
        folder: an index folder (`aesthetics index build`, or a reference_gcn
            run's `references/`).
        model: a trained reference_gcn `.keras` file; None: the folder's
            gcn.keras when present, else k-NN.
        method: "auto" (the GCN when there is one), "gcn" or "knn".
        k: neighbours per kind for k-NN (the GCN uses its own k).
        embedder: an `Embedder` already loaded for this index (tests, reuse).
    """

    def __init__(self, folder, model=None, method: str = "auto", k: Optional[int] = None, embedder=None):
        if method not in ("auto", "gcn", "knn"):
            raise ConfigError(f"reference method: expected auto, gcn or knn, got {method!r}")
        self.folder = Path(folder)
        self.index = ReferenceIndex.load(self.folder)
        model_path = Path(model) if model is not None else self.folder / GCN_FILE
        if model is not None and not model_path.is_file():
            raise InputNotFoundError(f"reference model not found: {model}")
        self.gcn = None
        if method != "knn" and model_path.is_file():
            self.gcn = _load_gcn(model_path, self.index)
        elif method == "gcn":
            raise InputNotFoundError(f"{self.folder} has no trained reference model ({GCN_FILE}); "
                                     "pass one, or use k-NN")
        self.method = "gcn" if self.gcn is not None else "knn"
        if self.gcn is not None:
            cfg = self.gcn.reference_config
            self.k, self.kinds, self.temperature = cfg.k, tuple(cfg.retrieve), cfg.temperature
        else:
            self.k, self.kinds, self.temperature = int(k or DEFAULT_K), KINDS, DEFAULT_TEMPERATURE
        if self.k + 1 > len(self.index):  # +1: room to leave the query itself out
            if self.gcn is not None:
                raise ConfigError(f"the reference model takes {self.k} neighbours per kind; the index "
                                  f"{self.folder} holds only {len(self.index)} references")
            self.k = len(self.index) - 1  # a small index: every other reference is a neighbour
            if self.k < 1:
                raise ConfigError(f"the index {self.folder} holds {len(self.index)} reference(s); k-NN needs 2")
        self.embedder = embedder or index_embedder(self.index.embedding, self.folder)

    def describe(self) -> str:
        return (f"{len(self.index)} references in {self.folder}, {self.method}, {self.k} per kind "
                f"({'+'.join(self.kinds)})")

    def for_vectors(self, vectors: np.ndarray) -> list[dict]:
        """One "reference" entry per embedding row (`Embedder` output)."""
        if not len(vectors):
            return []
        content, style = self.embedder.split(np.asarray(vectors, np.float32))
        itself = self.find_self(content, style)
        hoods = graph_inputs(self.index, content, style, self.k, self.kinds, exclude=itself)
        if self.gcn is not None:
            dists = np.asarray(self.gcn.predict(hoods.inputs, batch_size=256, verbose=0), np.float32)
        else:
            dists = knn_distribution(hoods.inputs["similarities"], hoods.inputs["neighbour_distributions"],
                                     self.temperature)
        mean, std = distribution_mean_std(dists)
        means = self.index.means
        out = []
        for q in range(len(dists)):
            neighbours = [{"id": self.index.ids[r], "score": round(float(means[r]), 4),
                           "similarity": round(float(s), 4), "by": kind}
                          for r, s, kind in zip(hoods.rows[q], hoods.inputs["similarities"][q], hoods.kinds)]
            entry = {"score": float(mean[q]), "std": float(std[q]), "method": self.method,
                     "neighbours": neighbours}
            if itself[q] >= 0:
                entry["left_out"] = self.index.ids[itself[q]]  # the photo itself is in the index
            out.append(entry)
        return out

    def find_self(self, content: np.ndarray, style: np.ndarray) -> np.ndarray:
        """Per query, the index row that is the query itself (content and
        style both at `SELF_SIMILARITY`), or -1."""
        rows, sims = self.index.neighbours(content, "content", 1)
        rows, sims = rows[:, 0], sims[:, 0]
        style_sims = np.einsum("qd,qd->q", self.index.style[rows], style / np.maximum(
            np.linalg.norm(style, axis=1, keepdims=True), 1e-12))
        return np.where((sims >= SELF_SIMILARITY) & (style_sims >= SELF_SIMILARITY), rows, -1)

    def for_paths(self, paths: Sequence, max_pixels: Optional[int] = None) -> tuple[list, dict]:
        """(an entry or None per path, {path: reason} for photos it could not embed)."""
        vectors, ok, failures = self.embedder.embed_paths(list(paths), max_pixels=max_pixels)
        entries: list = [None] * len(paths)
        for i, entry in zip(ok, self.for_vectors(vectors)):
            entries[int(i)] = entry
        return entries, failures

    def for_images(self, images: Sequence[np.ndarray]) -> list[dict]:
        return self.for_vectors(self.embedder.embed_images(images))


def _load_gcn(path: Path, index: ReferenceIndex):
    from aesthetics.inference.loading import load_model
    from aesthetics.models.reference_gcn import ReferenceGCN

    model = load_model(path)
    if not isinstance(model, ReferenceGCN):
        raise ConfigError(f"{path}: not a reference model (train one with \"model\": \"reference_gcn\")")
    embedding = model.reference_config.embedding
    keys = ("model_sha256", "content_layer", "style_layer", "content_dim", "style_dim")
    if any(embedding.get(k) != index.embedding.get(k) for k in keys):
        raise ConfigError(f"{path} was trained on embeddings of {embedding.get('model')!r}, the index holds "
                          f"those of {index.embedding.get('model')!r}: they do not fit together")
    if model.reference_config.num_bins != index.num_bins:
        raise ConfigError(f"{path} predicts {model.reference_config.num_bins} bins, the index has {index.num_bins}")
    return model


def as_reference_scorer(references) -> ReferenceScorer:
    """A `ReferenceScorer`, or an index folder to load one from."""
    if isinstance(references, ReferenceScorer):
        return references
    return ReferenceScorer(references)


def records_referencer(scorer: ReferenceScorer, max_pixels: Optional[int] = None):
    """``f(records)`` adding "reference" to each scored record that has a file
    (what `predict --references` runs on every batch before it is written).
    A photo the embedder cannot use keeps its scores and gets no reference."""

    def run(records):
        todo = [r for r in records if "error" not in r and r.get("path")]
        if not todo:
            return
        entries, failures = scorer.for_paths([r["path"] for r in todo], max_pixels=max_pixels)
        for rec, entry in zip(todo, entries):
            if entry is not None:
                rec["reference"] = entry
        for path, reason in failures.items():
            log.warning("no reference score for %s: %s", path, reason)

    return run
