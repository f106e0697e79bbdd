"""GraphAttentionAdjacency: a learnt, row-normalised adjacency between nodes."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class GraphAttentionAdjacency(keras.layers.Layer):
    """Edge weights of a fully connected graph, learnt attention-style and
    anchored on the embeddings' similarity::

        logits_ij = <h_i W_q, h_j W_k> / sqrt(units)      (learnt, if use_learned)
                  + s * <e_i, e_j>                        (similarity prior, if use_prior)
        A_ij      = softmax over j of logits_ij           (each row sums to 1; j = i included)

    `h` are the node states, `e` the nodes' fixed embeddings (unit vectors,
    or concatenations of them), `s` a learnt scale (initialised at
    `prior_scale`). The softmax is computed in float32.

    Args:
        units: width of the query and key projections.
        use_learned: include the learnt query-key term.
        use_prior: include the embedding-similarity term.
        prior_scale: the initial scale of the prior term.

    Call arguments:
        inputs: [nodes (B, N, F), embeddings (B, N, E)].

    Output shape: (B, N, N), float32.
    """

    def __init__(self, units=64, use_learned=True, use_prior=True, prior_scale=10.0, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        if not (use_learned or use_prior):
            raise ValueError("GraphAttentionAdjacency needs use_learned or use_prior")
        self.units = int(units)
        self.use_learned = bool(use_learned)
        self.use_prior = bool(use_prior)
        self.prior_scale = float(prior_scale)

    def build(self, input_shape):
        nodes, embeddings = input_shape
        if len(nodes) != 3 or len(embeddings) != 3 or nodes[-1] is None:
            raise ValueError(f"GraphAttentionAdjacency expects [(B, N, F), (B, N, E)], got {input_shape}")
        if self.use_learned:
            policy = self.dtype_policy
            self.query = keras.layers.Dense(self.units, use_bias=False, name="query", dtype=policy)
            self.key = keras.layers.Dense(self.units, use_bias=False, name="key", dtype=policy)
            self.query.build(nodes)
            self.key.build(nodes)
        if self.use_prior:
            self.scale = self.add_weight(name="prior_scale", shape=(),
                                         initializer=keras.initializers.Constant(self.prior_scale),
                                         dtype="float32", autocast=False)
        super().build(input_shape)

    def call(self, inputs):
        nodes, embeddings = inputs
        logits = 0.0
        if self.use_learned:
            q = ops.cast(self.query(nodes), "float32")
            k = ops.cast(self.key(nodes), "float32")
            logits = ops.einsum("bif,bjf->bij", q, k) / (self.units ** 0.5)
        if self.use_prior:
            e = ops.cast(embeddings, "float32")
            logits = logits + self.scale * ops.einsum("bie,bje->bij", e, e)
        return ops.softmax(logits, axis=-1)

    def compute_output_shape(self, input_shape):
        nodes = input_shape[0]
        return (nodes[0], nodes[1], nodes[1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "use_learned": self.use_learned, "use_prior": self.use_prior,
                       "prior_scale": self.prior_scale})
        return config
