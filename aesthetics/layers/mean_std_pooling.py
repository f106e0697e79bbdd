"""Mean and standard deviation over positions: global pooling that keeps
how much a feature varies across the photo, not only its average."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class MeanStdPooling(keras.layers.Layer):
    """Concatenates the per-channel mean and standard deviation over (H, W).

    Technical quality is often local (noise in flat areas, blur in parts of
    the frame): the spread of a feature over positions carries it where the
    mean alone averages it away. Statistics are computed in float32 even under
    a mixed precision policy; any input size works (H, W may be None), so a
    fully convolutional backbone can score photos at native resolution.

    Args:
        epsilon: added to the variance before the square root (finite
            gradients for constant maps).

    Input shape: (B, H, W, C).
    Output shape: (B, 2 * C) float32: [mean (C), std (C)].
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if not float(epsilon) > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=(1, 2))
        var = ops.mean(ops.square(x - mean[:, None, None, :]), axis=(1, 2))
        std = ops.sqrt(var + self.epsilon)
        return ops.concatenate([mean, std], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (input_shape[0], None if channels is None else 2 * channels)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
