"""GraphConvolution: one message-passing step over a weighted adjacency."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class GraphConvolution(keras.layers.Layer):
    """A graph convolution (Kipf & Welling) on a dense, row-normalised
    adjacency, with a residual connection and layer normalisation::

        m  = act(A (H W) + b)                 (B, N, units): messages from the neighbours
        H' = LayerNorm(H + m)                 residual when F == units, else LayerNorm(m)

    Args:
        units: output width.
        activation: a Keras activation name.
        residual: add the input when its width equals `units`.
        normalize: layer-normalise the output.

    Call arguments:
        inputs: [nodes (B, N, F), adjacency (B, N, N)] (rows of the adjacency
            summing to 1, e.g. `GraphAttentionAdjacency`).

    Output shape: (B, N, units).
    """

    def __init__(self, units=64, activation="gelu", residual=True, normalize=True, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.residual = bool(residual)
        self.normalize = bool(normalize)

    def build(self, input_shape):
        nodes, adjacency = input_shape
        if len(nodes) != 3 or len(adjacency) != 3 or nodes[-1] is None:
            raise ValueError(f"GraphConvolution expects [(B, N, F), (B, N, N)], got {input_shape}")
        policy = self.dtype_policy
        self.dense = keras.layers.Dense(self.units, name="dense", dtype=policy)
        self.dense.build(nodes)
        self._add_input = self.residual and int(nodes[-1]) == self.units
        if self.normalize:
            self.norm = keras.layers.LayerNormalization(name="norm", dtype=policy)
            self.norm.build(tuple(nodes[:-1]) + (self.units,))
        super().build(input_shape)

    def call(self, inputs):
        nodes, adjacency = inputs
        h = self.dense(nodes)
        messages = ops.einsum("bij,bjf->bif", ops.cast(adjacency, h.dtype), h)
        out = self.activation(messages)
        if self._add_input:
            out = out + nodes
        if self.normalize:
            out = self.norm(out)
        return out

    def compute_output_shape(self, input_shape):
        nodes = input_shape[0]
        return (nodes[0], nodes[1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": keras.activations.serialize(self.activation),
                       "residual": self.residual, "normalize": self.normalize})
        return config
