"""Graded synthetic image degradations for self-supervised quality pretraining.

In the style of Pfister et al. 2021 ("Self-supervised multi-task pretraining
improves image aesthetic assessment"): a clean photo is degraded by one of a
fixed set of *kinds*, each at one of five *levels* of strength, and a network
is pretrained to tell (or rank) the results.

Everything here is pure TensorFlow and runs inside ``tf.data`` on batches:

* images are float32 in [0, 1], shape ``(B, H, W, 3)`` (a single
  ``(H, W, 3)`` image is accepted too and returned unbatched);
* no ``tf.py_function`` and no Python loop over images; the output is clipped
  to [0, 1] and stays float32;
* the *level* (0 = clean, 1..5) is data: it is looked up with ``tf.gather`` in
  a constant table, so one traced graph serves every level; the *kind* given
  to :func:`degrade_batch` is data too (an int32 index into
  :data:`DEGRADATION_NAMES`);
* randomness (noise, motion-blur angle, the direction of the two-sided kinds)
  comes only from stateless ops keyed by an explicit ``seed`` (an int or an
  integer tensor of shape [2]): the same seed gives the same output. Each
  example gets its own sub-seed from its position in the batch, so example
  ``i`` of ``degrade_batch(x, kinds, levels, seed)`` equals example ``i`` of
  ``degrade(x, DEGRADATION_NAMES[kinds[i]], levels[i], seed)``;
* :func:`degrade` with any kind but ``jpeg`` also compiles with XLA
  (``jit_compile=True``) and gives the same numbers as without it; ``jpeg``
  uses ``tf.image.adjust_jpeg_quality`` (one image at a time, through
  ``tf.map_fn`` inside the graph), which has no XLA kernel, so
  :func:`degrade_batch` (which always contains it) does not compile either.

Reference resolution
--------------------
Spatial parameters (blur sigma, motion length, pixelate block, unsharp
radius) are given in pixels of a ``REFERENCE_SIZE`` = 224 px image (the
model's input size) and are multiplied by ``min(H, W) / 224``, so a level
looks the same relative to the image content at any size: at 224 px crops
the numbers below are literal pixels, on a 448 px image they are doubled.
Per-pixel kinds (noise sigma, JPEG quality, all photometric kinds) are not
rescaled; JPEG works on fixed 8x8 blocks, so it is relatively stronger on
small images. The kernel support of the blurs is sized from the static image
shape; with unknown static height/width it assumes 224 px.

Level table (level 0 is always the clean image)
-----------------------------------------------
===================  ========================================  =====  =====  =====  =====  =====
kind                 parameter                                    L1     L2     L3     L4     L5
===================  ========================================  =====  =====  =====  =====  =====
gaussian_blur        Gaussian sigma, px @224                     0.6    1      1.6    2.5    4
motion_blur          line length, px @224 (random angle)         3      5      8      12     18
gaussian_noise       noise sigma (per channel, [0, 1] units)     0.012  0.025  0.045  0.075  0.12
jpeg                 JPEG quality                                75     45     28     16     10
brightness_up        exposure, EV stops                          0.15   0.4    0.75   1.15   1.7
brightness_down      exposure, EV stops                          -0.2   -0.5   -0.85  -1.3   -2
contrast_up          contrast factor around the mean luma        1.1    1.28   1.55   1.95   2.6
contrast_down        contrast factor around the mean luma        0.9    0.74   0.56   0.38   0.2
saturation_up        saturation factor                           1.2    1.5    2      2.7    4
saturation_down      saturation factor                           0.82   0.62   0.42   0.22   0
hue_shift            hue rotation, degrees (random sign)         6      12     24     45     90
color_temperature    red/blue gain offset (random warm/cool)     0.04   0.08   0.14   0.22   0.35
gamma                exponent g: y = x**g or x**(1/g) (random)   1.08   1.25   1.55   2      2.8
vignette             corner darkening (fraction)                 0.12   0.25   0.42   0.62   0.85
pixelate             block size, px @224                         2      3      4      6      9
oversharpen          unsharp-mask amount (sigma 1 px @224)       0.5    1      2      3.5    6
haze                 transmission t toward the airlight          0.95   0.88   0.78   0.65   0.5
===================  ========================================  =====  =====  =====  =====  =====

Definitions: luma is Rec.601 (0.299, 0.587, 0.114). Exposure is applied in
linear light assuming a 2.2 display gamma, i.e. ``y = x * 2**(EV / 2.2)``.
``hue_shift`` rotates the chroma plane of YIQ (luma is kept); its sign is
random per example. ``color_temperature`` multiplies (R, B) by
``(1 + a, 1 - a)`` (warm) or ``(1 - a, 1 + a)`` (cool), chosen at random per
example. ``gamma`` uses ``g`` or ``1 / g`` (darker or washed-out mid-tones)
at random per example. ``vignette`` multiplies by ``1 - s * r**2`` with ``r``
the distance from the centre normalised to 1 at the corners. ``pixelate``
replaces each (possibly fractional-size) block by its mean, i.e. area
downsampling followed by nearest upsampling. ``oversharpen`` is
``x + amount * (x - blur(x))``. ``haze`` is ``x * t + A * (1 - t)`` with a
bright, slightly blue airlight ``A = (0.90, 0.92, 0.95)``.

With these tables level 1 is barely visible and level 5 clearly bad
(``docs/degradations.png``, drawn by ``benchmarks/make_degradation_figure.py``),
and the PSNR against the clean image strictly decreases with the level for
every kind. On 128-224 px photos level 1 is typically above 30 dB PSNR;
exceptions: ``jpeg`` and ``pixelate`` on strongly textured content
(~27-30 dB: block artefacts cost PSNR there while staying hard to see), and
the global photometric kinds on very bright or saturated photos (~28-30 dB
for a change that is hard to notice without the reference). Level 5 is
typically below 27 dB; ``tests/pretext/test_degrade.py`` checks these bounds on a
real and on a synthetic image.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import tensorflow as tf

__all__ = [
    "REFERENCE_SIZE",
    "NUM_LEVELS",
    "Degradation",
    "DEGRADATIONS",
    "DEGRADATION_NAMES",
    "degrade",
    "degrade_batch",
    "random_degradation_params",
]

REFERENCE_SIZE = 224
NUM_LEVELS = 5

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


@dataclasses.dataclass(frozen=True)
class Degradation:
    """One kind of degradation.

    ``fn(images, params, seeds) -> images`` works on a batch ``(n, H, W, 3)``
    with one parameter per example (``params``: float32 ``(n,)``, the values
    of ``levels``) and one stateless seed per example (``seeds``: int32
    ``(n, 2)``); it may return values outside [0, 1] (the callers clip).
    ``stochastic`` marks kinds whose output depends on the seed.
    """

    name: str
    fn: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]
    levels: tuple
    param_doc: str
    stochastic: bool = False


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
# registry
# --------------------------------------------------------------------------

_REGISTRY = [
    Degradation("gaussian_blur", _gaussian_blur, _BLUR_SIGMA, "Gaussian sigma in px at 224 px"),
    Degradation(
        "motion_blur", _motion_blur, _MOTION_LENGTH, "line kernel length in px at 224 px, random angle", True
    ),
    Degradation(
        "gaussian_noise", _gaussian_noise, _NOISE_SIGMA, "additive noise sigma (image in [0, 1])", True
    ),
    Degradation("jpeg", _jpeg, _JPEG_QUALITY, "JPEG quality (0-100)"),
    Degradation("brightness_up", _exposure, _EV_UP, "exposure change in EV stops"),
    Degradation("brightness_down", _exposure, _EV_DOWN, "exposure change in EV stops"),
    Degradation("contrast_up", _contrast, _CONTRAST_UP, "contrast factor around the mean luma"),
    Degradation("contrast_down", _contrast, _CONTRAST_DOWN, "contrast factor around the mean luma"),
    Degradation("saturation_up", _saturation, _SATURATION_UP, "saturation factor (1 = unchanged)"),
    Degradation("saturation_down", _saturation, _SATURATION_DOWN, "saturation factor (0 = grey)"),
    Degradation("hue_shift", _hue_shift, _HUE_DEGREES, "hue rotation in degrees, random sign", True),
    Degradation(
        "color_temperature",
        _color_temperature,
        _TEMPERATURE,
        "red/blue gain offset a: (1+a, 1, 1-a) warm or (1-a, 1, 1+a) cool, random",
        True,
    ),
    Degradation("gamma", _gamma, _GAMMA, "gamma exponent g, applied as g or 1/g at random", True),
    Degradation("vignette", _vignette, _VIGNETTE, "darkening at the corners (fraction)"),
    Degradation("pixelate", _pixelate, _PIXELATE_BLOCK, "block size in px at 224 px"),
    Degradation("oversharpen", _oversharpen, _SHARPEN_AMOUNT, "unsharp-mask amount (sigma 1 px at 224 px)"),
    Degradation("haze", _haze, _HAZE_T, "transmission t toward a bright airlight (1 = clear)"),
]

DEGRADATIONS: dict[str, Degradation] = {d.name: d for d in _REGISTRY}
DEGRADATION_NAMES: tuple[str, ...] = tuple(DEGRADATIONS)


# (num_kinds, NUM_LEVELS + 1): column 0 (clean) repeats level 1 so that the
# (discarded) computation for level 0 stays well defined.
_PARAM_TABLE = np.array([(d.levels[0],) + tuple(d.levels) for d in _REGISTRY], np.float32)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def _apply_nonempty(fn, x, params, seeds):
    """fn on a possibly empty sub-batch (convolutions cannot take n = 0)."""
    return tf.cond(tf.shape(x)[0] > 0, lambda: fn(x, params, seeds), lambda: x)


def _broadcast_per_example(v, n, dtype=tf.int32):
    v = tf.cast(tf.convert_to_tensor(v), dtype)
    return tf.broadcast_to(tf.reshape(v, [-1]), [n]) if v.shape.rank == 0 else tf.reshape(v, [n])


def _kind_index(kind):
    if isinstance(kind, (int, np.integer)):
        if not 0 <= int(kind) < len(DEGRADATION_NAMES):
            raise ValueError(f"kind index {kind} out of range")
        return int(kind)
    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(DEGRADATION_NAMES)}")
    return DEGRADATION_NAMES.index(kind)


def degrade(images, kind, level, seed):
    """Degrades images with one kind at a given level.

    Args:
        images: float32 (B, H, W, 3) or (H, W, 3) in [0, 1].
        kind: a name from ``DEGRADATION_NAMES`` (or its index; an int32 tensor
            is routed to :func:`degrade_batch`).
        level: int or int tensor, scalar or one per example, 0 (clean) .. 5.
        seed: int or integer tensor of shape [2] (stateless randomness).

    Returns:
        float32 tensor like ``images``, clipped to [0, 1].
    """
    if tf.is_tensor(kind):
        return degrade_batch(images, kind, level, seed)
    k = _kind_index(kind)
    fn = _REGISTRY[k].fn
    x, squeeze = _as_batch(images)
    n = tf.shape(x)[0]
    levels = tf.clip_by_value(_broadcast_per_example(level, n), 0, NUM_LEVELS)
    params = tf.gather(tf.constant(_PARAM_TABLE[k]), levels)
    seeds = _example_seeds(_seed_tensor(seed), n)
    y = _apply_nonempty(fn, x, params, seeds)
    y = tf.clip_by_value(tf.where(_col(levels) > 0, y, x), 0.0, 1.0)
    y.set_shape(x.shape)
    return y[0] if squeeze else y


def degrade_batch(images, kind_ids, levels, seed, method="partition"):
    """Degrades each example with its own kind and level.

    Args:
        images: float32 (B, H, W, 3) or (H, W, 3) in [0, 1].
        kind_ids: int32 (B,) (or scalar) indices into ``DEGRADATION_NAMES``.
        levels: int32 (B,) (or scalar), 0 (clean) .. 5.
        seed: int or integer tensor of shape [2].
        method: ``"partition"`` (default, faster: each kind runs once on the
            sub-batch that needs it, via ``tf.dynamic_partition`` /
            ``tf.dynamic_stitch``) or ``"switch"`` (``tf.map_fn`` over
            examples with ``tf.switch_case``), kept for comparison; see
            ``benchmarks/bench_degrade.py`` (1.2-1.5x in favour of
            "partition" on a 2-core CPU). Neither compiles with XLA (the
            ``jpeg`` branch is always part of the graph); use it in
            ``tf.data``, not inside a jit-compiled train step.

    Returns:
        float32 tensor like ``images``, clipped to [0, 1]; example i equals
        ``degrade(images, DEGRADATION_NAMES[kind_ids[i]], levels[i], seed)[i]``.
    """
    x, squeeze = _as_batch(images)
    n = tf.shape(x)[0]
    num_kinds = len(_REGISTRY)
    kinds = tf.clip_by_value(_broadcast_per_example(kind_ids, n), 0, num_kinds - 1)
    levels = tf.clip_by_value(_broadcast_per_example(levels, n), 0, NUM_LEVELS)
    seeds = _example_seeds(_seed_tensor(seed), n)
    table = tf.constant(_PARAM_TABLE)
    params = tf.gather_nd(table, tf.stack([kinds, levels], axis=1))
    branch = tf.where(levels > 0, kinds, num_kinds)  # num_kinds = clean

    if method == "partition":
        parts = num_kinds + 1
        x_parts = tf.dynamic_partition(x, branch, parts)
        p_parts = tf.dynamic_partition(params, branch, parts)
        s_parts = tf.dynamic_partition(seeds, branch, parts)
        i_parts = tf.dynamic_partition(tf.range(n), branch, parts)
        outs = [_apply_nonempty(d.fn, x_parts[j], p_parts[j], s_parts[j]) for j, d in enumerate(_REGISTRY)]
        outs.append(x_parts[num_kinds])
        y = tf.dynamic_stitch(i_parts, outs)
    elif method == "switch":

        def one(args):
            img, b, p, s = args
            img, p, s = img[tf.newaxis], p[tf.newaxis], s[tf.newaxis]
            branches = [(lambda f=d.fn: f(img, p, s)[0]) for d in _REGISTRY]
            branches.append(lambda: img[0])
            return tf.switch_case(b, branches)

        spec = tf.TensorSpec(x.shape[1:], tf.float32)
        y = tf.map_fn(one, (x, branch, params, seeds), fn_output_signature=spec)
    else:
        raise ValueError(f"method must be 'partition' or 'switch', got {method!r}")
    y = tf.clip_by_value(y, 0.0, 1.0)
    y.set_shape(x.shape)
    return y[0] if squeeze else y


def random_degradation_params(batch_size, seed, num_kinds=None, max_level=NUM_LEVELS, min_level=1):
    """Random (kind_ids, levels) for a batch, both int32 (batch_size,).

    Kinds are uniform over the first ``num_kinds`` entries of
    ``DEGRADATION_NAMES`` (all by default), levels uniform in
    [min_level, max_level] (pass ``min_level=0`` to include clean images).
    Stateless: the same seed gives the same draw.
    """
    seed = _seed_tensor(seed)
    num_kinds = len(DEGRADATION_NAMES) if num_kinds is None else num_kinds
    kind_seed = tf.random.experimental.stateless_fold_in(seed, 1, alg=_RNG_ALG)
    level_seed = tf.random.experimental.stateless_fold_in(seed, 2, alg=_RNG_ALG)
    kind_ids = tf.random.stateless_uniform(
        [batch_size], kind_seed, minval=0, maxval=num_kinds, dtype=tf.int32, alg=_RNG_ALG
    )
    levels = tf.random.stateless_uniform(
        [batch_size],
        level_seed,
        minval=min_level,
        maxval=tf.cast(max_level, tf.int32) + 1,
        dtype=tf.int32,
        alg=_RNG_ALG,
    )
    return kind_ids, levels
