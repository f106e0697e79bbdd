"""`ReferenceGCN`: a query photo judged against rated reference photos.

The SSMR idea (semantic- and style-based multiple-reference learning): a
person judges a photo against similar photos they have seen. The query and
its 2k retrieved references (k by content, k by style; see
`aesthetics.references.graph`) are the nodes of a graph:

    prior  = ReferencePrior(similarities, neighbour distributions)      the k-NN estimate
    node_i = embed(embedding_i) + score_embed(distribution_i)          references: their own
                                                                       distribution; the query: the prior
    A      = GraphAttentionAdjacency(nodes, embeddings)                 learnt + similarity edges
    nodes  = GraphConvolution(nodes, A)                                 x gcn_layers
    output = softmax(Dense([node_query, prior]))                        (B, num_bins), float32

KerasHub's functional-subclass pattern: the constructor builds the graph
from `reference_config` (`ReferenceGCNConfig` as a dict), `get_config`
returns it, so a `.keras` file says how many neighbours of which kind it
takes and which embedder produced its inputs (`reference_config["embedding"]`).

Inputs (a dict, `aesthetics.references.graph.INPUT_NAMES`):
    query                   (B, D)          D = content_dim + style_dim
    neighbours              (B, M, D)       M = k * len(retrieve)
    neighbour_distributions (B, M, num_bins)
    similarities            (B, M)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import keras

from aesthetics.errors import ModelFileError
from aesthetics.layers.graph_attention_adjacency import GraphAttentionAdjacency
from aesthetics.layers.graph_convolution import GraphConvolution
from aesthetics.layers.reference_prior import ReferencePrior


@dataclass
class ReferenceGCNConfig:
    """The recipe of a reference model (the `reference_gcn` options, plus
    what the index says: dimensions and the embedding record)."""

    content_dim: int
    style_dim: int
    k: int = 8
    retrieve: list = field(default_factory=lambda: ["content", "style"])
    num_bins: int = 10
    hidden: int = 128
    gcn_layers: int = 2
    learned_adjacency: bool = True
    similarity_prior: bool = True
    temperature: float = 0.05
    dropout: float = 0.2
    embedding: dict = field(default_factory=dict)

    @property
    def neighbours(self) -> int:
        return self.k * len(self.retrieve)

    @property
    def dim(self) -> int:
        return self.content_dim + self.style_dim


def _config(value) -> ReferenceGCNConfig:
    if isinstance(value, ReferenceGCNConfig):
        return value
    try:
        return ReferenceGCNConfig(**value)
    except TypeError as e:
        raise ModelFileError(f"not a reference model config: {e}") from None


@keras.saving.register_keras_serializable(package="aesthetics")
class ReferenceGCN(keras.Model):
    """The reference model (see the module docstring).

    Args:
        reference_config: a `ReferenceGCNConfig` or its dict.
        info: JSON-serialisable provenance (training data, metrics).

    Call arguments: a dict of the four inputs. Output: (B, num_bins) float32
    probabilities.
    """

    def __init__(self, reference_config, info=None, **kwargs):
        config = _config(reference_config)
        m, d, bins, h = config.neighbours, config.dim, config.num_bins, config.hidden
        inputs = {
            "query": keras.Input((d,), name="query"),
            "neighbours": keras.Input((m, d), name="neighbours"),
            "neighbour_distributions": keras.Input((m, bins), name="neighbour_distributions"),
            "similarities": keras.Input((m,), name="similarities"),
        }
        prior = ReferencePrior(config.temperature, name="prior")(
            [inputs["similarities"], inputs["neighbour_distributions"]])
        embed = keras.layers.Dense(h, name="embed")
        score_embed = keras.layers.Dense(h, name="score_embed")
        query_node = keras.layers.Add(name="query_node")([embed(inputs["query"]), score_embed(prior)])
        query_node = keras.layers.Reshape((1, h), name="query_node_row")(query_node)
        reference_nodes = keras.layers.Add(name="reference_nodes")(
            [embed(inputs["neighbours"]), score_embed(inputs["neighbour_distributions"])])
        nodes = keras.layers.Concatenate(axis=1, name="nodes")([query_node, reference_nodes])
        embeddings = keras.layers.Concatenate(axis=1, name="node_embeddings")(
            [keras.layers.Reshape((1, d), name="query_row")(inputs["query"]), inputs["neighbours"]])
        # two unit vectors per node: their dot product is in [-2, 2]; halve it to a cosine
        embeddings = keras.layers.Rescaling(0.5 ** 0.5, name="embedding_scale")(embeddings)
        for i in range(config.gcn_layers):
            adjacency = GraphAttentionAdjacency(h, use_learned=config.learned_adjacency,
                                                use_prior=config.similarity_prior,
                                                name=f"adjacency_{i}")([nodes, embeddings])
            nodes = GraphConvolution(h, name=f"gcn_{i}")([nodes, adjacency])
        query_state = keras.layers.Reshape((h,), name="query_state")(
            keras.layers.Cropping1D((0, m), name="query_out")(nodes))
        features = keras.layers.Concatenate(name="head_features")([query_state, prior])
        features = keras.layers.Dropout(config.dropout, name="head_dropout")(features)
        scores = keras.layers.Dense(bins, activation="softmax", dtype="float32", name="scores")(features)
        super().__init__(inputs=inputs, outputs=scores, **kwargs)
        self.reference_config = config
        self.info = dict(info or {})

    def get_config(self):
        return {"reference_config": dataclasses.asdict(self.reference_config), "info": self.info,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
