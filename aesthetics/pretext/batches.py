"""tf.data pipeline for self-supervised pretext training (issue 3).

Unlabelled photos -> batches of *groups*: one random crop of a photo, degraded
with ONE random kind (``aesthetics.pretext.degrade``) at ``levels_per_group``
distinct levels, sorted from the least to the most degraded::

    folder (recursive, find_images)
      -> decode once with Pillow (load_image; bad files skipped and reported
         in a DecodeReport with path + reason), downscale so the short side is
         at most `working_size` (antialiased bilinear; never upscaled), keep
         as uint8 in one flat in-memory buffer (a `PhotoBank`)
      -> per step s (pure TF ops, every random draw stateless, keyed by
         (seed, s)): pick `images_per_batch` photos, `crops_per_image` random
         crops from each (+ random horizontal flip), one kind per crop, L
         distinct levels in 0..5 per crop (sorted ascending; 0 = clean is in
         a group with probability L / 6), `degrade_batch`
      -> prefetch

Batch layout (B = images_per_batch * crops_per_image * levels_per_group;
groups are consecutive runs of L rows)::

    images           float32 (B, S, S, 3) RGB in [0, 255]   (model input)
    targets["score"]    int32 (B, 1)  level 0..5 (ranking: lower is better)
    targets["kind"]     int32 (B, 1)  index into DEGRADATION_NAMES, -1 when
                                      the row is clean (level 0: no kind)
    targets["level"]  float32 (B, 1)  level / 5 in [0, 1] (regression)
    targets["restored"] float32 (B, S, S, 3) the clean crop in [0, 1]
    targets["contrast"] int32 (B, 1)  contrastive class: 0 clean, 1 + kind * 5
                                      + level - 1 degraded, -1 none (see below)
    targets["distill"] float32 (B, 1) zeros (the distillation output is a
                                      distance to drive to 0)

Options (PretextOptions): `mix_probability` puts a second kind, at a random
level, under every row of a group (the rows still differ only in the graded
kind); `paired_groups` makes group g + K/2 repeat group g's kind and levels
on another crop, so the contrastive loss finds a positive for every class;
`shared_randomness` (default) gives the rows of a group one draw of the
kind's random parameters (motion-blur angle, hue and gamma direction, noise
pattern), so they differ only in strength (with independent draws a longer
motion blur along the edges was closer to the clean crop than a shorter one
across them on 14-18 % of crops: benchmarks/degradation_levels.py).

Because the batch is a pure function of (seed, step), the stream is
deterministic and a resumed run continues exactly where it stopped
(`start_step`).
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from aesthetics.pretext.degradation_ops import _example_seeds
from aesthetics.pretext.degrade import DEGRADATION_NAMES, NUM_LEVELS, degrade_batch
from aesthetics.data.images import DEFAULT_MAX_PIXELS, DecodeReport, ImageDecodeError, load_image
from aesthetics.errors import DataError


class NoUsablePhotoError(DataError, ValueError):
    """No photo of the folder can be pretrained on (a DataError, printed as one
    line by the CLI; a ValueError, as callers caught before)."""

log = logging.getLogger("aesthetics")

AUTOTUNE = tf.data.AUTOTUNE
_RNG_ALG = "philox"
TARGET_KEYS = ("score", "kind", "level", "restored", "contrast", "distill")


# --------------------------------------------------------------------------
# decoded photos in memory
# --------------------------------------------------------------------------


@dataclass
class PhotoBank:
    """Decoded photos, uint8, concatenated into one flat buffer.

    pixels: uint8 (total,) — photo i occupies pixels[offsets[i]:offsets[i] +
        h_i * w_i * 3] in row-major (H, W, 3) order. One flat buffer instead
        of a padded (N, Hmax, Wmax, 3) array: no memory lost to padding when
        aspect ratios differ.
    sizes: int32 (N, 2) — (height, width) of each photo.
    offsets: int64 (N,).
    paths: the source file of each photo.
    report: files that were skipped (path -> reason).
    """

    pixels: np.ndarray
    sizes: np.ndarray
    offsets: np.ndarray
    paths: list
    report: DecodeReport = field(default_factory=DecodeReport)

    def __len__(self):
        return len(self.paths)

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    def image(self, i: int) -> np.ndarray:
        h, w = (int(v) for v in self.sizes[i])
        start = int(self.offsets[i])
        return self.pixels[start : start + h * w * 3].reshape(h, w, 3)


def _downscale(image: np.ndarray, working_size: Optional[int]) -> np.ndarray:
    """Short side -> at most working_size (antialiased bilinear), uint8;
    None keeps the native resolution."""
    h, w = image.shape[:2]
    short = min(h, w)
    if working_size is None or short <= working_size:
        return image
    scale = working_size / short
    if h <= w:
        new = (working_size, max(working_size, int(round(w * scale))))
    else:
        new = (max(working_size, int(round(h * scale))), working_size)
    out = tf.image.resize(tf.cast(image, tf.float32), new, method="bilinear", antialias=True)
    return np.asarray(tf.cast(tf.round(tf.clip_by_value(out, 0.0, 255.0)), tf.uint8))


def load_photo_bank(
    paths: Sequence[str],
    working_size: Optional[int],
    min_size: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    report: Optional[DecodeReport] = None,
    workers: int = 4,
) -> PhotoBank:
    """Decodes `paths` once (Pillow, in threads) into a `PhotoBank`.

    Each photo is downscaled so its short side is at most `working_size`
    (never upscaled: upscaling would blur the "clean" references; None: kept
    at its native resolution, where the fine distortions live). Files that
    fail to decode, or whose short side is below `min_size` (the crop size),
    are skipped and recorded in `report`.
    """
    if working_size is not None and working_size < min_size:
        raise ValueError(f"working_size {working_size} is smaller than the crop size {min_size}")
    report = report if report is not None else DecodeReport()
    paths = [str(p) for p in paths]

    def one(path):
        try:
            image = load_image(path, max_pixels=max_pixels)
        except ImageDecodeError as e:
            return path, None, str(e)
        except Exception as e:  # never let one file stop the run
            return path, None, f"unexpected error: {type(e).__name__}: {e}"
        if min(image.shape[:2]) < min_size:
            return path, None, (
                f"too small: {image.shape[1]}x{image.shape[0]}, the short side must be "
                f">= the crop size {min_size}"
            )
        return path, _downscale(image, working_size), None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, paths))
    kept, arrays = [], []
    for path, image, error in results:
        if image is None:
            report.add(path, error)
        else:
            kept.append(path)
            arrays.append(np.ascontiguousarray(image, dtype=np.uint8))
    if not arrays:
        shown = "; ".join(f"{p}: {r}" for p, r in sorted(report.failures.items())[:3])
        raise NoUsablePhotoError(
            f"no usable photo among {len(paths)} file(s)"
            + (f"; {len(report)} skipped, e.g. {shown}" if len(report) else "")
        )
    sizes = np.array([a.shape[:2] for a in arrays], np.int32)
    lengths = np.array([a.size for a in arrays], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pixels = np.concatenate([a.reshape(-1) for a in arrays])
    return PhotoBank(pixels, sizes, offsets, kept, report)


# --------------------------------------------------------------------------
# batch construction (pure TF)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PretextOptions:
    """Shape of a pretext batch (see the module docstring)."""

    crop_size: int = 224
    images_per_batch: int = 4
    crops_per_image: int = 2
    levels_per_group: int = 4
    kind_ids: tuple = tuple(range(len(DEGRADATION_NAMES)))
    hflip: bool = True
    mix_probability: float = 0.0
    paired_groups: bool = False
    shared_randomness: bool = True

    def __post_init__(self):
        if not 2 <= self.levels_per_group <= NUM_LEVELS + 1:
            raise ValueError(
                f"levels_per_group must be in 2..{NUM_LEVELS + 1} (levels 0..{NUM_LEVELS} are "
                f"drawn without replacement), got {self.levels_per_group}"
            )
        if self.images_per_batch < 1 or self.crops_per_image < 1:
            raise ValueError("images_per_batch and crops_per_image must be >= 1")
        if not self.kind_ids:
            raise ValueError("at least one degradation kind is needed")
        if not 0.0 <= self.mix_probability <= 1.0:
            raise ValueError(f"mix_probability must be in [0, 1], got {self.mix_probability}")
        if self.mix_probability > 0 and len(self.kind_ids) < 2:
            raise ValueError("mixing degradations needs at least two kinds")
        if self.paired_groups and self.groups % 2:
            raise ValueError(f"paired groups need an even number of groups per batch, got {self.groups}")

    @property
    def groups(self) -> int:
        return self.images_per_batch * self.crops_per_image

    @property
    def batch_size(self) -> int:
        return self.groups * self.levels_per_group

    @classmethod
    def from_config(cls, p) -> "PretextOptions":
        return cls(
            crop_size=p.crop_size,
            images_per_batch=p.images_per_batch,
            crops_per_image=p.crops_per_image,
            levels_per_group=p.levels_per_group,
            kind_ids=kind_ids_from_names(p.kinds),
            hflip=p.hflip,
            mix_probability=float(p.mix_probability),
            paired_groups=p.contrastive_weight > 0,
            shared_randomness=bool(p.shared_randomness),
        )


def kind_ids_from_names(names) -> tuple:
    """Degradation names (None: all) -> their indices in DEGRADATION_NAMES."""
    if names is None:
        return tuple(range(len(DEGRADATION_NAMES)))
    unknown = [n for n in names if n not in DEGRADATION_NAMES]
    if unknown:
        raise ValueError(f"unknown degradation kind(s) {unknown}; known: {', '.join(DEGRADATION_NAMES)}")
    return tuple(DEGRADATION_NAMES.index(n) for n in names)


def _sub_seed(base, k):
    return tf.random.experimental.stateless_fold_in(base, k, alg=_RNG_ALG)


def bank_tensors(bank: PhotoBank):
    """(pixels uint8, sizes int32, offsets int64) tensors for `pretext_batch`."""
    return (
        tf.constant(bank.pixels),
        tf.constant(bank.sizes, tf.int32),
        tf.constant(bank.offsets, tf.int64),
    )


def pretext_batch(pixels, sizes, offsets, step, seed: int, options: PretextOptions):
    """One batch as a pure function of (seed, step); see the module docstring.

    pixels/sizes/offsets: a `PhotoBank`'s arrays as tensors (`bank_tensors`).
    Works eagerly too (the dataset runs it as a graph): same numbers.
    """
    S, L = options.crop_size, options.levels_per_group
    P, C = options.images_per_batch, options.crops_per_image
    K = P * C
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    n_photos = tf.shape(sizes)[0]

    # photos (with replacement), C crops from each
    photo = tf.random.stateless_uniform(
        [P], _sub_seed(base, 1), minval=0, maxval=n_photos, dtype=tf.int32, alg=_RNG_ALG
    )
    photo = tf.repeat(photo, C)  # (K,)
    hw = tf.gather(sizes, photo)  # (K, 2)
    u = tf.random.stateless_uniform([K, 2], _sub_seed(base, 2), alg=_RNG_ALG)
    room = tf.cast(hw - S + 1, tf.float32)
    origin = tf.minimum(tf.cast(tf.floor(u * room), tf.int32), hw - S)  # (K, 2) top-left

    # gather the crops from the flat buffer: exact pixels, no resampling
    r = tf.range(S, dtype=tf.int64)
    rows = tf.cast(origin[:, 0:1], tf.int64) + r[tf.newaxis]  # (K, S)
    cols = tf.cast(origin[:, 1:2], tf.int64) + r[tf.newaxis]
    width = tf.cast(hw[:, 1], tf.int64)
    start = tf.gather(offsets, photo)
    pix = (
        start[:, None, None] + (rows[:, :, None] * width[:, None, None] + cols[:, None, :]) * 3
    )  # (K, S, S)
    index = pix[..., tf.newaxis] + tf.range(3, dtype=tf.int64)  # (K, S, S, 3)
    crops = tf.cast(tf.gather(pixels, index), tf.float32) / 255.0
    if options.hflip:
        flip = tf.random.stateless_uniform([K], _sub_seed(base, 3), alg=_RNG_ALG) < 0.5
        crops = tf.where(flip[:, None, None, None], tf.reverse(crops, axis=[2]), crops)

    # one kind per crop, L distinct sorted levels per crop; paired groups:
    # group g + K/2 (another crop, of another photo when P > 1) copies group
    # g's kind and levels, so every (kind, level) of the batch has a positive
    # for the contrastive loss
    drawn = K // 2 if options.paired_groups else K
    kind_table = tf.constant(options.kind_ids, tf.int32)
    n_kinds = len(options.kind_ids)
    pick = tf.random.stateless_uniform(
        [drawn], _sub_seed(base, 4), minval=0, maxval=n_kinds, dtype=tf.int32, alg=_RNG_ALG
    )
    noise = tf.random.stateless_uniform([drawn, NUM_LEVELS + 1], _sub_seed(base, 5), alg=_RNG_ALG)
    levels = tf.cast(tf.sort(tf.argsort(noise, axis=1)[:, :L], axis=1), tf.int32)  # (drawn, L)
    if options.paired_groups:
        pick, levels = tf.concat([pick, pick], 0), tf.concat([levels, levels], 0)
    kinds = tf.gather(kind_table, pick)

    clean = tf.repeat(crops, L, axis=0)  # (B, S, S, 3)
    kinds_rep = tf.repeat(kinds, L)
    levels_flat = tf.reshape(levels, [-1])
    source = clean
    mixed_rep = tf.zeros_like(levels_flat, tf.bool)
    if options.mix_probability > 0:
        # a second kind (never the group's own) at a random level under every
        # row of the group: the rows still differ only in the graded kind, so
        # the ranking and level targets stay exact
        u = tf.random.stateless_uniform([K, 3], _sub_seed(base, 7), alg=_RNG_ALG)
        mixed = u[:, 0] < options.mix_probability
        offset = 1 + tf.cast(tf.floor(u[:, 1] * (n_kinds - 1)), tf.int32)
        second = tf.gather(kind_table, (pick + tf.minimum(offset, n_kinds - 1)) % n_kinds)
        second_level = tf.where(mixed, 1 + tf.cast(tf.floor(u[:, 2] * NUM_LEVELS), tf.int32), 0)
        source = degrade_batch(clean, tf.repeat(second, L), tf.repeat(tf.minimum(second_level, NUM_LEVELS), L),
                               seed=_sub_seed(base, 8))
        mixed_rep = tf.repeat(mixed, L)
    group_seeds = None
    if options.shared_randomness:  # one draw per group: its rows differ only in strength
        group_seeds = tf.repeat(_example_seeds(_sub_seed(base, 6), K), L, axis=0)
    degraded = degrade_batch(source, kinds_rep, levels_flat, seed=_sub_seed(base, 6), example_seeds=group_seeds)

    B = K * L
    images = tf.ensure_shape(degraded * 255.0, [B, S, S, 3])
    clean = tf.ensure_shape(clean, [B, S, S, 3])
    # contrastive classes: 0 = clean, 1 + kind * 5 + (level - 1) = a kind at a
    # level; the level-0 row of a mixed group (only the second kind) has none (-1)
    contrast = tf.where(levels_flat > 0, 1 + kinds_rep * NUM_LEVELS + levels_flat - 1,
                        tf.where(mixed_rep, -1, 0))
    targets = {
        "score": tf.reshape(levels_flat, [B, 1]),
        "kind": tf.reshape(tf.where(levels_flat > 0, kinds_rep, -1), [B, 1]),
        "level": tf.reshape(tf.cast(levels_flat, tf.float32) / NUM_LEVELS, [B, 1]),
        "restored": clean,
        "contrast": tf.reshape(contrast, [B, 1]),
        "distill": tf.zeros([B, 1], tf.float32),
    }
    return images, targets


@functools.lru_cache(maxsize=16)
def _batch_function(options: PretextOptions):
    """`pretext_batch` as a tf.function, traced once per process and options.

    Tracing the 17 degradation kinds takes seconds (tens on a loaded 2-core
    machine); a second dataset with the same options (a resumed run, an
    evaluation pass) reuses the traced graph.
    """
    signature = [
        tf.TensorSpec([None], tf.uint8),
        tf.TensorSpec([None, 2], tf.int32),
        tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([], tf.int64),
        tf.TensorSpec([], tf.int64),
    ]

    @tf.function(input_signature=signature)
    def batch(pixels, sizes, offsets, step, seed):
        return pretext_batch(pixels, sizes, offsets, step, seed, options)

    return batch


def make_pretext_dataset(
    bank: PhotoBank,
    options: PretextOptions,
    seed: int = 42,
    start_step: int = 0,
    num_steps: Optional[int] = None,
    keys: Sequence[str] = TARGET_KEYS,
) -> tf.data.Dataset:
    """(images, targets) batches for steps start_step, start_step + 1, ...

    `num_steps` None: endless. `keys`: which targets to keep (the outputs of
    the pretext model being trained). Deterministic for a given seed: step s
    always gives the same batch, whatever the parallelism.
    """
    if not len(bank):
        raise ValueError("empty photo bank")
    if int(bank.sizes.min()) < options.crop_size:
        raise ValueError(f"a photo of the bank is smaller than the crop size {options.crop_size}")
    unknown = set(keys) - set(TARGET_KEYS)
    if unknown:
        raise ValueError(f"unknown target(s) {sorted(unknown)}; known: {TARGET_KEYS}")
    pixels, sizes, offsets = bank_tensors(bank)
    end = np.iinfo(np.int64).max if num_steps is None else start_step + num_steps
    keys = tuple(keys)

    batch = _batch_function(options)
    seed_t = tf.constant(seed, tf.int64)

    def make(step):
        images, targets = batch(pixels, sizes, offsets, step, seed_t)
        return images, {k: targets[k] for k in keys}

    ds = tf.data.Dataset.range(start_step, end)
    ds = ds.map(make, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.prefetch(AUTOTUNE)
