"""From embeddings to the inputs of a reference model: neighbours, graphs, k-NN.

For each query: its `k` content neighbours and `k` style neighbours in the
index (content first), with their embeddings, score distributions and their
cosine similarity to the query. `graph_inputs` returns them as the arrays a
`reference_gcn` model takes; `knn_distribution` is the model-free estimate
(a softmax over similarities weighting the neighbours' distributions), the
same formula as the model's `ReferencePrior` layer.

TF-free: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from aesthetics.errors import ConfigError
from aesthetics.references.index import KINDS, ReferenceIndex

INPUT_NAMES = ("query", "neighbours", "neighbour_distributions", "similarities")
DEFAULT_TEMPERATURE = 0.05  # cosine similarities of neighbours differ by a few hundredths


@dataclass
class Neighbourhoods:
    """The model inputs of Q queries and who their neighbours are."""

    inputs: dict  # INPUT_NAMES -> arrays: (Q, D), (Q, M, D), (Q, M, bins), (Q, M)
    rows: np.ndarray  # (Q, M) index rows of the neighbours
    kinds: list  # M entries: "content" or "style"


def check_kinds(kinds: Sequence[str], key: str = "retrieve") -> tuple:
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds) or len(set(kinds)) != len(kinds):
        raise ConfigError(f"{key}: expected a non-empty list of distinct {list(KINDS)}, got {list(kinds)}")
    return kinds


def graph_inputs(index: ReferenceIndex, content: np.ndarray, style: np.ndarray, k: int,
                 kinds: Sequence[str] = KINDS, exclude: Optional[Sequence[int]] = None) -> Neighbourhoods:
    """The neighbourhoods of queries with embeddings `content` (Q, Dc) and
    `style` (Q, Ds). `exclude[q]`: an index row left out of query q's
    neighbours (leave-self-out on the training references), or -1."""
    kinds = check_kinds(kinds)
    query = np.concatenate([content, style], axis=1).astype(np.float32)
    rows, sims, labels = [], [], []
    for kind in kinds:
        r, s = index.neighbours(content if kind == "content" else style, kind, k, exclude=exclude)
        rows.append(r)
        sims.append(s)
        labels += [kind] * k
    rows = np.concatenate(rows, axis=1)
    both = np.concatenate([index.content, index.style], axis=1)
    inputs = {"query": query, "neighbours": both[rows], "neighbour_distributions": index.distributions[rows],
              "similarities": np.concatenate(sims, axis=1).astype(np.float32)}
    return Neighbourhoods(inputs, rows, labels)


def similarity_weights(similarities: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """Softmax over the last axis of similarities / temperature."""
    z = np.asarray(similarities, np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    w = np.exp(z)
    return (w / w.sum(axis=-1, keepdims=True)).astype(np.float32)


def knn_distribution(similarities: np.ndarray, distributions: np.ndarray,
                     temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """(Q, bins): the neighbours' distributions weighted by `similarity_weights`."""
    w = similarity_weights(similarities, temperature)
    return np.einsum("qm,qmb->qb", w, np.asarray(distributions, np.float32)).astype(np.float32)
