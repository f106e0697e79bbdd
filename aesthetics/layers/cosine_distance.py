"""One minus the cosine similarity of two feature vectors: how far a
student's features have turned away from a teacher's."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class CosineDistance(keras.layers.Layer):
    """`1 - cos(a, b)` per row, in float32.

    Self-supervised pretraining uses it to keep the encoder's pooled features
    close to those of a frozen copy of its ImageNet starting point
    (distillation: `pretrain.distill_weight`) while the pretext losses add
    sensitivity to degradations. The direction, not the length, is compared:
    a feature map that only rescales keeps a distance of 0.

    Args:
        epsilon: floor of each vector's norm (finite values and gradients
            for all-zero features).

    Call arguments:
        inputs: a list [a, b] of two tensors of the same shape (B, D).

    Output shape: (B, 1) float32, in [0, 2].
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if not float(epsilon) > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        a, b = (ops.cast(x, "float32") for x in inputs)
        norm_a = ops.maximum(ops.sqrt(ops.sum(ops.square(a), axis=-1, keepdims=True)), self.epsilon)
        norm_b = ops.maximum(ops.sqrt(ops.sum(ops.square(b), axis=-1, keepdims=True)), self.epsilon)
        return 1.0 - ops.sum((a / norm_a) * (b / norm_b), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([x.shape for x in inputs]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
