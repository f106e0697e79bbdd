"""Attention pooling: a learned saliency map weights the average over positions."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class SpatialAttention(keras.layers.Layer):
    """Pools a feature map with a learned softmax saliency map.

    A small conv head scores every position, a softmax over all H*W positions
    turns the scores into weights, and the output is the weighted sum::

        logits = conv1x1_1(act(conv1x1_h(x)))        (B, H, W, 1)
        a      = softmax over (H, W) of logits       (B, H, W, 1), sums to 1
        pooled = sum over (H, W) of a * x            (B, C)

    The softmax and the weighted sum are computed in float32 even under a
    mixed precision policy. With ``zero_init`` (the default) the logits
    conv starts at zero, so the logits are constant, ``a = 1 / (H*W)`` and
    the layer starts out as global average pooling.

    Args:
        hidden_units: width of the hidden 1x1 conv; None -> max(1, C // 2).
        activation: activation of the hidden conv: a Keras activation name or
            a registered activation function (stored by name in the config).
        return_attention: also return the attention map.
        zero_init: zero-initialise the kernel and bias of the logits conv
            (start as global average pooling); False: Glorot-uniform kernel.

    Input shape: (B, H, W, C); H, W may be None.
    Output shape: pooled (B, C) in the compute dtype; with
        ``return_attention=True`` a list [pooled (B, C), attention (B, H, W, 1)]
        with the attention map in float32.
    """

    def __init__(
        self,
        hidden_units=None,
        activation="relu",
        return_attention=False,
        zero_init=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_units is not None and int(hidden_units) < 1:
            raise ValueError(f"hidden_units must be >= 1, got {hidden_units}")
        self.hidden_units = None if hidden_units is None else int(hidden_units)
        self.activation = keras.activations.get(activation)
        self.return_attention = bool(return_attention)
        self.zero_init = bool(zero_init)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"SpatialAttention expects (B, H, W, C) with known C, got {input_shape}"
            )
        channels = int(input_shape[-1])
        hidden = self.hidden_units or max(1, channels // 2)
        policy = self.dtype_policy
        self.hidden = keras.layers.Conv2D(
            hidden, 1, activation=self.activation, name="hidden", dtype=policy
        )
        self.logits = keras.layers.Conv2D(
            1,
            1,
            kernel_initializer="zeros" if self.zero_init else "glorot_uniform",
            bias_initializer="zeros",
            name="logits",
            dtype=policy,
        )
        self.hidden.build(input_shape)
        self.logits.build(tuple(input_shape[:-1]) + (hidden,))
        super().build(input_shape)

    def call(self, inputs):
        logits = ops.cast(self.logits(self.hidden(inputs)), "float32")  # (B, H, W, 1)
        # softmax over both spatial axes, written out so no reshape is needed
        logits = logits - ops.stop_gradient(ops.max(logits, axis=(1, 2), keepdims=True))
        weights = ops.exp(logits)
        attention = weights / ops.sum(weights, axis=(1, 2), keepdims=True)
        pooled = ops.sum(attention * ops.cast(inputs, "float32"), axis=(1, 2))
        pooled = ops.cast(pooled, self.compute_dtype)
        if self.return_attention:
            return [pooled, attention]
        return pooled

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        pooled = (shape[0], shape[-1])
        if not self.return_attention:
            return pooled
        return [pooled, shape[:-1] + (1,)]

    def compute_output_spec(self, inputs):
        # not the default: the attention map is float32 under any policy
        shapes = self.compute_output_shape(inputs.shape)
        if not self.return_attention:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        return [
            keras.KerasTensor(shapes[0], dtype=self.compute_dtype),
            keras.KerasTensor(shapes[1], dtype="float32"),
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_units": self.hidden_units,
                "activation": keras.activations.serialize(self.activation),
                "return_attention": self.return_attention,
                "zero_init": self.zero_init,
            }
        )
        return config
