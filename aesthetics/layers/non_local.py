"""Embedded-Gaussian non-local block (Wang et al., "Non-local Neural Networks", CVPR 2018)."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class NonLocalBlock(keras.layers.Layer):
    """Embedded-Gaussian non-local block: every position attends to every other.

    With ``x`` of shape (B, H, W, C), N = H*W query positions and M key/value
    positions (M = N, or about N/4 with ``subsample``)::

        theta = x Wt, phi = x Wp, g = x Wg          (1x1 convs, C -> Ci)
        A     = softmax_over_M(theta phi^T [/ sqrt(Ci)])    (B, N, M), float32
        y     = x + W(A g)                          (1x1 conv, Ci -> C)

    The logits, softmax and ``A g`` are computed in float32 even under a mixed
    precision policy (bfloat16 logits over hundreds of positions lose most of
    their resolution); the result is cast back to the compute dtype.

    The block starts as the identity: the kernel and bias of the output
    projection W are zero-initialised, or, with ``use_bn``, W keeps its default
    init and is followed by BatchNormalization whose gamma (and beta) start at
    zero (the paper's choice). Either way ``y == x`` before training.

    Args:
        inter_channels: Ci, width of theta/phi/g; None -> max(1, C // 2).
        subsample: max-pool (2x2, stride 2, "same" padding) phi and g, so keys
            and values come from a 2x coarser grid (4x fewer positions).
        scale: divide the logits by sqrt(Ci) (as in Transformers). Wang et al.
            do not scale; set False for the paper's exact form. Scaling keeps
            the softmax from saturating on wide, unnormalised backbone features.
        use_bn: follow W with zero-gamma BatchNormalization instead of
            zero-initialising W itself.

    Input shape: (B, H, W, C); H and W may be unknown (None) at build time,
        and B may be None.
    Output shape: (B, H, W, C), in the layer's compute dtype.
    """

    def __init__(
        self,
        inter_channels=None,
        subsample=True,
        scale=True,
        use_bn=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if inter_channels is not None and int(inter_channels) < 1:
            raise ValueError(f"inter_channels must be >= 1, got {inter_channels}")
        self.inter_channels = None if inter_channels is None else int(inter_channels)
        self.subsample = bool(subsample)
        self.scale = bool(scale)
        self.use_bn = bool(use_bn)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"NonLocalBlock expects (B, H, W, C) with known C, got {input_shape}"
            )
        channels = int(input_shape[-1])
        ci = self.inter_channels or max(1, channels // 2)
        self._ci = ci
        policy = self.dtype_policy
        self.theta = keras.layers.Conv2D(ci, 1, name="theta", dtype=policy)
        self.phi = keras.layers.Conv2D(ci, 1, name="phi", dtype=policy)
        self.g = keras.layers.Conv2D(ci, 1, name="g", dtype=policy)
        for layer in (self.theta, self.phi, self.g):
            layer.build(input_shape)
        inner_shape = tuple(input_shape[:-1]) + (ci,)
        if self.use_bn:
            self.w = keras.layers.Conv2D(channels, 1, use_bias=False, name="w", dtype=policy)
            self.w.build(inner_shape)
            self.bn = keras.layers.BatchNormalization(
                gamma_initializer="zeros", name="bn", dtype=policy
            )
            self.bn.build(tuple(input_shape))
        else:
            self.w = keras.layers.Conv2D(
                channels,
                1,
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name="w",
                dtype=policy,
            )
            self.w.build(inner_shape)
            self.bn = None
        if self.subsample:
            self.pool = keras.layers.MaxPooling2D(2, strides=2, padding="same", dtype=policy)
        super().build(input_shape)

    def call(self, inputs, training=None):
        x = inputs
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        ci = self._ci

        theta = self.theta(x)
        phi = self.phi(x)
        g = self.g(x)
        if self.subsample:
            phi = self.pool(phi)
            g = self.pool(g)

        theta = ops.reshape(ops.cast(theta, "float32"), (batch, -1, ci))  # (B, N, Ci)
        phi = ops.reshape(ops.cast(phi, "float32"), (batch, -1, ci))  # (B, M, Ci)
        g = ops.reshape(ops.cast(g, "float32"), (batch, -1, ci))  # (B, M, Ci)

        logits = ops.matmul(theta, ops.transpose(phi, (0, 2, 1)))  # (B, N, M)
        if self.scale:
            logits = logits * (1.0 / math.sqrt(ci))
        # softmax over keys, written out (also valid when M == 1)
        logits = logits - ops.stop_gradient(ops.max(logits, axis=-1, keepdims=True))
        weights = ops.exp(logits)
        attention = weights / ops.sum(weights, axis=-1, keepdims=True)
        y = ops.matmul(attention, g)  # (B, N, Ci)
        y = ops.reshape(y, (batch, height, width, ci))
        y = ops.cast(y, self.compute_dtype)

        z = self.w(y)
        if self.bn is not None:
            z = self.bn(z, training=training)
        return ops.cast(x, self.compute_dtype) + z

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "inter_channels": self.inter_channels,
                "subsample": self.subsample,
                "scale": self.scale,
                "use_bn": self.use_bn,
            }
        )
        return config
