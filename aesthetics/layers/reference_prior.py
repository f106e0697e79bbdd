"""ReferencePrior: the neighbours' score distributions, weighted by similarity."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class ReferencePrior(keras.layers.Layer):
    """Similarity-weighted average of the neighbours' score distributions:
    k-nearest-neighbour regression with a softmax kernel::

        w     = softmax over M of (similarities / temperature)     (B, M)
        prior = sum over M of w * distributions                    (B, bins)

    `aesthetics.references.graph.knn_distribution` is the same formula in
    numpy (the k-NN scorer). Computed in float32 under any policy.

    Args:
        temperature: the softmax temperature (> 0); small values trust the
            nearest neighbour, large ones average all of them.
        trainable_temperature: learn log(temperature) (initialised from
            `temperature`).

    Call arguments:
        inputs: [similarities (B, M), distributions (B, M, bins)].

    Output shape: (B, bins), float32, rows summing to 1 when the inputs do.
    """

    def __init__(self, temperature=0.05, trainable_temperature=True, **kwargs):
        super().__init__(**kwargs)
        if not float(temperature) > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.trainable_temperature = bool(trainable_temperature)

    def build(self, input_shape):
        sims, dists = input_shape
        if len(sims) != 2 or len(dists) != 3:
            raise ValueError(f"ReferencePrior expects [(B, M), (B, M, bins)], got {input_shape}")
        self.log_temperature = self.add_weight(
            name="log_temperature", shape=(),
            initializer=keras.initializers.Constant(math.log(self.temperature)),
            trainable=self.trainable_temperature, dtype="float32", autocast=False)
        super().build(input_shape)

    def call(self, inputs):
        sims, dists = inputs
        sims = ops.cast(sims, "float32")
        weights = ops.softmax(sims / ops.exp(self.log_temperature), axis=-1)
        return ops.einsum("bm,bmk->bk", weights, ops.cast(dists, "float32"))

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][2])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature, "trainable_temperature": self.trainable_temperature})
        return config
