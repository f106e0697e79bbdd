"""AdaIN-style fusion: one path's vector modulates the other path's features."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aesthetics")
class AdaptiveFusion(keras.layers.Layer):
    """Adaptive instance normalisation with a learned, style-conditioned affine.

    Inputs ``[content, style]``: ``content`` is a feature map (B, H, W, C1) or
    a vector (B, C1) from one path, ``style`` a vector (B, C2) from the other.
    Two Dense layers predict a per-channel scale offset and shift from the
    style, ``gamma(s) = s Wg + bg`` and ``beta(s) = s Wb + bb``, both (B, C1).

    Feature map content (instance normalisation, then affine)::

        mu(x)    = mean of x over H, W          per example, per channel
        sigma(x) = sqrt(var of x over H, W + epsilon)
        out      = (1 + gamma(s)) * (x - mu(x)) / sigma(x) + beta(s)

    Vector content (a single "position" has no spatial statistics, so there
    is no normalisation; this is FiLM)::

        out = (1 + gamma(s)) * x + beta(s)

    Wg, bg, Wb, bb are zero-initialised, so at init the layer is plain instance
    normalisation of the content (maps) or the identity (vectors), and the
    style's influence is learned from there. Statistics and the affine are
    computed in float32 even under a mixed precision policy; the output is
    cast back to the compute dtype.

    With ``normalize_style``, the style vector is layer-normalised (zero
    mean, unit variance over its channels, no learned affine) before the two
    Dense layers, so gamma and beta depend on the style's pattern, not its
    magnitude: an unnormalised style that grows while the network trains
    (e.g. a global vector after a non-local block, once the backbone
    unfreezes) otherwise scales the learned modulation with it.

    Args:
        epsilon: added to the variance before the square root.
        normalize_style: layer-normalise the style vector first (see above).

    Input shape: [(B, H, W, C1) or (B, C1), (B, C2)]; H, W may be None.
    Output shape: the content's shape, (B, H, W, C1) or (B, C1).
    """

    def __init__(self, epsilon=1e-5, normalize_style=False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.normalize_style = bool(normalize_style)

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"AdaptiveFusion expects two inputs: [content, style], got shape {input_shape}"
            )
        content_shape, style_shape = (tuple(s) for s in input_shape)
        if len(content_shape) not in (2, 4):
            raise ValueError(
                f"content must be (B, C) or (B, H, W, C), got {content_shape}"
            )
        if len(style_shape) != 2:
            raise ValueError(f"style must be a vector (B, C), got {style_shape}")
        channels = content_shape[-1]
        if channels is None or style_shape[-1] is None:
            raise ValueError("the channel dimensions must be known")
        # Zero kernels and biases: the layer starts as plain normalisation.
        self.gamma, self.beta = (
            keras.layers.Dense(
                int(channels),
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name=name,
                dtype=self.dtype_policy,
            )
            for name in ("gamma", "beta")
        )
        self.gamma.build(style_shape)
        self.beta.build(style_shape)
        self._is_map = len(content_shape) == 4
        super().build(input_shape)

    def call(self, inputs):
        content, style = inputs
        x = ops.cast(content, "float32")
        if self.normalize_style:
            s = ops.cast(style, "float32")
            mean, variance = ops.moments(s, axes=(-1,), keepdims=True)
            style = ops.cast((s - mean) * ops.rsqrt(variance + self.epsilon), self.compute_dtype)
        gamma = ops.cast(self.gamma(style), "float32")
        beta = ops.cast(self.beta(style), "float32")
        if self._is_map:
            mean, variance = ops.moments(x, axes=(1, 2), keepdims=True)
            x = (x - mean) * ops.rsqrt(variance + self.epsilon)
            gamma = gamma[:, None, None, :]
            beta = beta[:, None, None, :]
        out = (1.0 + gamma) * x + beta
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "normalize_style": self.normalize_style})
        return config
