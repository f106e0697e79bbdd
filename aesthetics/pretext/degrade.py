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

from aesthetics.pretext.degradation_ops import (  # noqa: F401
    _BLUR_SIGMA,
    _CONTRAST_DOWN,
    _CONTRAST_UP,
    _EV_DOWN,
    _EV_UP,
    _GAMMA,
    _HAZE_T,
    _HUE_DEGREES,
    _JPEG_QUALITY,
    _MOTION_LENGTH,
    _NOISE_SIGMA,
    _PIXELATE_BLOCK,
    _RNG_ALG,
    _SATURATION_DOWN,
    _SATURATION_UP,
    _SHARPEN_AMOUNT,
    _TEMPERATURE,
    _VIGNETTE,
    _as_batch,
    _col,
    _color_temperature,
    _contrast,
    _example_seeds,
    _exposure,
    _gamma,
    _gaussian_blur,
    _gaussian_noise,
    _haze,
    _hue_shift,
    _jpeg,
    _motion_blur,
    _oversharpen,
    _pixelate,
    _saturation,
    _seed_tensor,
    _vignette,
    REFERENCE_SIZE,
)

NUM_LEVELS = 5


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


def degrade_batch(images, kind_ids, levels, seed, method="partition", example_seeds=None):
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
        example_seeds: optional int32 (B, 2), one stateless seed per example
            instead of those derived from ``seed``: rows given the same seed
            draw the same random parameters (motion angle, hue sign, noise
            pattern...), so they differ only in their level.

    Returns:
        float32 tensor like ``images``, clipped to [0, 1]; example i equals
        ``degrade(images, DEGRADATION_NAMES[kind_ids[i]], levels[i], seed)[i]``.
    """
    x, squeeze = _as_batch(images)
    n = tf.shape(x)[0]
    num_kinds = len(_REGISTRY)
    kinds = tf.clip_by_value(_broadcast_per_example(kind_ids, n), 0, num_kinds - 1)
    levels = tf.clip_by_value(_broadcast_per_example(levels, n), 0, NUM_LEVELS)
    seeds = _example_seeds(_seed_tensor(seed), n) if example_seeds is None else tf.cast(example_seeds, tf.int32)
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
