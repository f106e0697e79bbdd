"""The degradation operations and their level tables (used by
`aesthetics.pretext.degrade`, which documents them and holds the registry).

Every op is ``fn(images, params, seeds) -> images`` on a batch (n, H, W, 3)
in [0, 1] with one parameter and one stateless seed per example.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

REFERENCE_SIZE = 224

_LUMA = (0.299, 0.587, 0.114)
_AIRLIGHT = (0.90, 0.92, 0.95)
_UNSHARP_SIGMA = 1.0  # px at the reference size
# a fixed algorithm: the default "auto_select" may differ between CPU and XLA
_RNG_ALG = "philox"

# Level tables (levels 1..5).
_BLUR_SIGMA = (0.6, 1.0, 1.6, 2.5, 4.0)
_MOTION_LENGTH = (3.0, 5.0, 8.0, 12.0, 18.0)
_NOISE_SIGMA = (0.012, 0.025, 0.045, 0.075, 0.12)
_JPEG_QUALITY = (75.0, 45.0, 28.0, 16.0, 10.0)
_EV_UP = (0.15, 0.4, 0.75, 1.15, 1.7)
_EV_DOWN = (-0.2, -0.5, -0.85, -1.3, -2.0)
_CONTRAST_UP = (1.1, 1.28, 1.55, 1.95, 2.6)
_CONTRAST_DOWN = (0.9, 0.74, 0.56, 0.38, 0.2)
_SATURATION_UP = (1.2, 1.5, 2.0, 2.7, 4.0)
_SATURATION_DOWN = (0.82, 0.62, 0.42, 0.22, 0.0)
_HUE_DEGREES = (6.0, 12.0, 24.0, 45.0, 90.0)
_TEMPERATURE = (0.04, 0.08, 0.14, 0.22, 0.35)
_GAMMA = (1.08, 1.25, 1.55, 2.0, 2.8)
_VIGNETTE = (0.12, 0.25, 0.42, 0.62, 0.85)
_PIXELATE_BLOCK = (2.0, 3.0, 4.0, 6.0, 9.0)
_SHARPEN_AMOUNT = (0.5, 1.0, 2.0, 3.5, 6.0)
_HAZE_T = (0.95, 0.88, 0.78, 0.65, 0.5)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _as_batch(images):
    x = tf.convert_to_tensor(images)
    if x.dtype.is_integer:
        x = tf.image.convert_image_dtype(x, tf.float32)
    elif x.dtype != tf.float32:
        x = tf.cast(x, tf.float32)
    if x.shape.rank not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"images must have shape (B, H, W, 3) or (H, W, 3) with a static 3, got {x.shape}")
    if x.shape.rank == 3:
        return x[tf.newaxis], True
    return x, False


def _seed_tensor(seed):
    s = tf.convert_to_tensor(seed)
    if not s.dtype.is_integer:
        raise TypeError(f"seed must be an integer or an integer tensor of shape [2], got {s.dtype}")
    if s.dtype not in (tf.int32, tf.int64):
        s = tf.cast(s, tf.int64)
    if s.shape.rank == 0:
        s = tf.stack([s, tf.zeros_like(s)])
    return tf.reshape(s, [2])


def _example_seeds(seed, n):
    """One int32 [2] stateless seed per example (row i depends on seed and i)."""
    return tf.random.stateless_uniform(
        [n, 2], seed=seed, minval=None, maxval=None, dtype=tf.int32, alg=_RNG_ALG
    )


def _seed_uniform(seed_column):
    """Uniform [0, 1) from 24 bits of Philox-random int32s (e.g. a sub-seed)."""
    bits = tf.bitwise.bitwise_and(seed_column, 0xFFFFFF)
    return tf.cast(bits, tf.float32) / float(1 << 24)


def _seed_sign(seed_column):
    """+1 or -1 per example, from bit 24 of a sub-seed."""
    bit = tf.bitwise.bitwise_and(tf.bitwise.right_shift(seed_column, 24), 1)
    return tf.cast(2 * bit - 1, tf.float32)


def _col(v):
    """(n,) -> (n, 1, 1, 1) for broadcasting against images."""
    return v[:, tf.newaxis, tf.newaxis, tf.newaxis]


def _luma(x):
    return tf.tensordot(x, tf.constant(_LUMA, tf.float32), axes=[[3], [0]])[..., tf.newaxis]


def _pixel_scale(x):
    """Dynamic pixel scale relative to the reference resolution."""
    hw = tf.shape(x)[1:3]
    return tf.cast(tf.reduce_min(hw), tf.float32) / float(REFERENCE_SIZE)


def _static_radius(x, extent_at_reference):
    """Static kernel radius for an extent (px at the reference size)."""
    h, w = x.shape[1], x.shape[2]
    scale = 1.0 if (h is None or w is None) else min(h, w) / REFERENCE_SIZE
    radius = max(1, int(math.ceil(extent_at_reference * scale)))
    if h is not None and w is not None:
        radius = max(1, min(radius, min(h, w) - 1))  # reflect padding needs radius < size
    return radius


def _conv_per_example(x, kernels):
    """Depthwise 'same' convolution with a different kernel per example.

    The batch is folded into the channel axis, ``(n, H, W, C) -> (1, H, W, n*C)``,
    so one ``depthwise_conv2d`` applies example b's kernel to its channels.
    ``kernels``: a list of ``(n, kh, kw)`` kernels (odd static sizes) applied
    one after the other (e.g. the two passes of a separable blur); borders are
    reflect-padded.
    """
    shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    c = x.shape[3]
    y = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])
    for k in kernels:
        kh, kw = k.shape[1], k.shape[2]
        y = tf.pad(y, [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]], mode="REFLECT")
        filt = tf.transpose(tf.repeat(k, c, axis=0), [1, 2, 0])[..., tf.newaxis]
        y = tf.nn.depthwise_conv2d(y, filt, strides=[1, 1, 1, 1], padding="VALID")
    y = tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])
    y.set_shape(x.shape)
    return y


def _gaussian_kernels(sigma_px, radius):
    """(n,) sigmas in actual px -> (n, 2r+1) normalised 1-D Gaussian kernels.

    Pixel-integrated (erf differences) rather than point-sampled, so that
    sub-pixel sigmas (small levels on small images) still blur a little.
    """
    t = tf.range(-radius, radius + 1, dtype=tf.float32)[tf.newaxis]
    s = (math.sqrt(2.0) * tf.maximum(sigma_px, 1e-3))[:, tf.newaxis]
    k = 0.5 * (tf.math.erf((t + 0.5) / s) - tf.math.erf((t - 0.5) / s))
    return k / tf.reduce_sum(k, axis=1, keepdims=True)


def _separable_blur(x, sigma_px, radius):
    k = _gaussian_kernels(sigma_px, radius)
    return _conv_per_example(x, [k[:, tf.newaxis, :], k[:, :, tf.newaxis]])


# --------------------------------------------------------------------------
# the kinds: fn(images (n,H,W,3), params (n,), seeds (n,2)) -> images
# --------------------------------------------------------------------------


def _gaussian_blur(x, sigma, seeds):
    del seeds
    radius = _static_radius(x, 3.0 * max(_BLUR_SIGMA))
    return _separable_blur(x, sigma * _pixel_scale(x), radius)


def _motion_blur(x, length, seeds):
    """Anti-aliased straight line kernel of the given length at a random angle."""
    radius = _static_radius(x, 0.5 * max(_MOTION_LENGTH) + 1.0)
    half = 0.5 * length * _pixel_scale(x)  # (n,)
    theta = math.pi * _seed_uniform(seeds[:, 0])
    t = tf.range(-radius, radius + 1, dtype=tf.float32)
    yy, xx = tf.meshgrid(t, t, indexing="ij")
    cos = tf.cos(theta)[:, tf.newaxis, tf.newaxis]
    sin = tf.sin(theta)[:, tf.newaxis, tf.newaxis]
    along = xx * cos + yy * sin
    across = -xx * sin + yy * cos
    w_along = tf.clip_by_value(half[:, tf.newaxis, tf.newaxis] + 0.5 - tf.abs(along), 0.0, 1.0)
    w_across = tf.clip_by_value(1.0 - tf.abs(across), 0.0, 1.0)
    k = w_along * w_across
    k = k / tf.reduce_sum(k, axis=[1, 2], keepdims=True)
    return _conv_per_example(x, [k])


def _stateless_normal(shape, seed):
    """Standard normal noise by Box-Muller from Philox integers.

    ``tf.random.stateless_normal`` / float ``stateless_uniform`` give other
    numbers under XLA than with the CPU kernels, while full-range integers
    agree; building the floats from the integers keeps a seed's noise the
    same with and without ``jit_compile``.
    """
    bits = tf.random.stateless_uniform(
        tf.concat([[2], shape], 0), seed=seed, minval=None, maxval=None, dtype=tf.int32, alg=_RNG_ALG
    )
    u = _seed_uniform(bits)  # [0, 1), 24 bits
    radius = tf.sqrt(-2.0 * tf.math.log1p(-u[0]))  # log(1 - u), 1 - u in (0, 1]
    return radius * tf.cos((2.0 * math.pi) * u[1])


def _gaussian_noise(x, sigma, seeds):
    shape = tf.shape(x)[1:]
    noise = tf.map_fn(
        lambda s: _stateless_normal(shape, s),
        seeds,
        fn_output_signature=tf.TensorSpec(x.shape[1:], tf.float32),
    )
    return x + _col(sigma) * noise


def _jpeg(x, quality, seeds):
    del seeds
    q = tf.cast(tf.round(quality), tf.int32)
    y = tf.map_fn(
        lambda a: tf.image.adjust_jpeg_quality(a[0], a[1]),
        (tf.clip_by_value(x, 0.0, 1.0), q),
        fn_output_signature=tf.TensorSpec(x.shape[1:], tf.float32),
    )
    y.set_shape(x.shape)
    return y


def _exposure(x, ev, seeds):
    del seeds
    return x * _col(tf.pow(2.0, ev / 2.2))


def _contrast(x, factor, seeds):
    del seeds
    mean = tf.reduce_mean(_luma(x), axis=[1, 2, 3])
    return _col(mean) + _col(factor) * (x - _col(mean))


def _saturation(x, factor, seeds):
    del seeds
    gray = _luma(x)
    return gray + _col(factor) * (x - gray)


_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def _hue_shift(x, degrees, seeds):
    angle = degrees * (math.pi / 180.0) * _seed_sign(seeds[:, 1])
    cos, sin = tf.cos(angle), tf.sin(angle)
    one, zero = tf.ones_like(cos), tf.zeros_like(cos)
    rot = tf.stack(
        [tf.stack([one, zero, zero], -1), tf.stack([zero, cos, -sin], -1), tf.stack([zero, sin, cos], -1)],
        axis=1,
    )  # (n, 3, 3)
    m = tf.matmul(tf.matmul(tf.constant(_YIQ_TO_RGB)[tf.newaxis], rot), tf.constant(_RGB_TO_YIQ)[tf.newaxis])
    return tf.einsum("bhwc,bdc->bhwd", x, m)


def _color_temperature(x, amount, seeds):
    a = amount * _seed_sign(seeds[:, 1])  # > 0 warm, < 0 cool
    gains = tf.stack([1.0 + a, tf.ones_like(a), 1.0 - a], axis=-1)
    return x * gains[:, tf.newaxis, tf.newaxis, :]


def _gamma(x, g, seeds):
    exponent = tf.pow(g, _seed_sign(seeds[:, 1]))  # g or 1/g
    return tf.pow(tf.maximum(x, 0.0), _col(exponent))


def _vignette(x, strength, seeds):
    del seeds
    shape = tf.shape(x)
    h = tf.cast(shape[1], tf.float32)
    w = tf.cast(shape[2], tf.float32)
    yy = (tf.range(shape[1], dtype=tf.float32) + 0.5) - 0.5 * h
    xx = (tf.range(shape[2], dtype=tf.float32) + 0.5) - 0.5 * w
    r2 = (yy[:, tf.newaxis] ** 2 + xx[tf.newaxis, :] ** 2) / (0.25 * (h * h + w * w))
    mask = 1.0 - _col(strength) * r2[tf.newaxis, :, :, tf.newaxis]
    return x * mask


def _block_mean_1d(x, block, axis):
    """Mean over blocks of (fractional) size ``block`` (n,) along axis 1 or 2.

    Pixel i lies in block k = floor(i / b), covering [ceil(k b), ceil((k+1) b)).
    Sums come from a prefix sum (centred at 0.5 for precision).
    """
    length = tf.shape(x)[axis]
    b = tf.maximum(block, 1.0)[:, tf.newaxis]
    i = tf.range(length, dtype=tf.float32)[tf.newaxis]
    k = tf.floor((i + 1e-3) / b)
    start = tf.cast(tf.math.ceil(k * b - 1e-3), tf.int32)
    end = tf.minimum(tf.cast(tf.math.ceil((k + 1.0) * b - 1e-3), tf.int32), length)
    csum = tf.cumsum(x - 0.5, axis=axis)
    pad = [[0, 0]] * 4
    pad[axis] = [1, 0]
    csum = tf.pad(csum, pad)
    total = tf.gather(csum, end, axis=axis, batch_dims=1) - tf.gather(csum, start, axis=axis, batch_dims=1)
    count = tf.cast(end - start, tf.float32)
    count = count[:, :, tf.newaxis, tf.newaxis] if axis == 1 else count[:, tf.newaxis, :, tf.newaxis]
    return total / count + 0.5


def _pixelate(x, block, seeds):
    del seeds
    b = block * _pixel_scale(x)
    y = _block_mean_1d(_block_mean_1d(x, b, 1), b, 2)
    y.set_shape(x.shape)
    return y


def _oversharpen(x, amount, seeds):
    del seeds
    radius = _static_radius(x, 3.0 * _UNSHARP_SIGMA)
    sigma = tf.fill(tf.shape(amount), _UNSHARP_SIGMA) * _pixel_scale(x)
    return x + _col(amount) * (x - _separable_blur(x, sigma, radius))


def _haze(x, t, seeds):
    del seeds
    t = _col(t)
    return x * t + tf.constant(_AIRLIGHT, tf.float32) * (1.0 - t)


# --------------------------------------------------------------------------
