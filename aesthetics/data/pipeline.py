"""tf.data pipelines: file paths (+ targets) -> batches of model-ready images.

    paths, targets
      -> parallel decode and resize (Pillow via tf.numpy_function, GIL
         released; `aesthetics.data.resize.resize_photo`, the resize every
         predict backend uses, so validation and serving see the same
         pixels); bad files filtered out and recorded in a DecodeReport with
         path + reason
      -> uint8 cache in memory (optional; later epochs skip decoding)
      -> training: seeded shuffle, random crop, horizontal flip (stateless ops
         fed by Dataset.random, so runs are reproducible and epochs differ)
      -> batch -> prefetch

"native" (`eval_resize`): no resize at all. Photos keep their own size
(shrunk only above `max_side`, as the scoring recipe does); training takes
random image_size crops of them, validation the whole photo, batched with
photos of the same shape within the scoring loop's pixel budget.

Images leave the pipeline as float32 RGB in [0, 255]; the model's
`BackbonePreprocess` layer applies the backbone's own normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from aesthetics.data.images import (
    DEFAULT_MAX_PIXELS,
    DecodeReport,
    ImageDecodeError,
    load_image,
    load_image_legacy,
)
from aesthetics.constants import DEFAULT_BATCH_PIXELS, NATIVE_MAX_SIDE, NATIVE_MIN_SIDE
from aesthetics.data.resize import fit_photo, native_draft_size, resize_photo, square_draft_size

AUTOTUNE = tf.data.AUTOTUNE


@dataclass
class PipelineOptions:
    """What the pipeline does to each image (a subset of DataConfig).

    image_size: model input side.
    resize_to: training images are resized to resize_to^2, then cropped.
    eval_resize: "resize" (whole image squashed to image_size^2, NIMA),
        "center_crop" (resize to resize_to^2, centre crop image_size^2) or
        "native" (the photo's own size up to max_side; training crops of
        image_size^2).
    legacy: idealo NIMA preprocessing (nearest resize straight to image_size,
        no EXIF rotation) for their published weights.
    """

    image_size: int = 224
    resize_to: int = 256
    random_crop: bool = True
    hflip: bool = True
    eval_resize: str = "resize"
    max_pixels: int = DEFAULT_MAX_PIXELS
    cache: bool = True
    shuffle_buffer: int = 2048
    legacy: bool = False
    max_side: int = NATIVE_MAX_SIDE

    @property
    def native(self) -> bool:
        return self.eval_resize == "native" and not self.legacy

    @classmethod
    def from_data_config(cls, data, **overrides) -> "PipelineOptions":
        values = {
            "image_size": data.image_size,
            "resize_to": data.resize_to,
            "random_crop": data.random_crop,
            "hflip": data.hflip,
            "eval_resize": data.eval_resize,
            "max_pixels": data.max_pixels,
            "cache": data.cache,
            "shuffle_buffer": data.shuffle_buffer,
            "max_side": data.max_side,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_recipe(cls, recipe, **overrides) -> "PipelineOptions":
        """Evaluation options that prepare photos as a model's recipe says."""
        values = {
            "image_size": recipe.image_size,
            "resize_to": recipe.resize_to,
            "eval_resize": recipe.resize,
            "legacy": recipe.legacy,
            "max_side": recipe.max_side,
        }
        values.update(overrides)
        return cls(**values)


def resize_image(image, size: int):
    """Resizes an (H, W, 3) or (B, H, W, 3) image to size x size, float32.

    Bilinear with antialiasing: when shrinking big photos, plain bilinear
    aliases fine texture into noise, which is exactly what a quality model
    must not be shown. In-graph twin of `aesthetics.data.resize.resize_photo`
    for the SavedModel's encoded-bytes signature (equal up to float rounding).
    """
    image = tf.cast(image, tf.float32)
    out = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    return tf.clip_by_value(out, 0.0, 255.0)


def _decoder(report: DecodeReport, options: PipelineOptions, size: int):
    """Python side of the decode step: returns (image uint8 (size, size, 3),
    error text). Native: the photo at its own size (long side at most
    max_side; a short side under `size`, the training crop, enlarged to it)."""

    empty = np.zeros((size, size, 3), np.uint8)
    min_side = max(NATIVE_MIN_SIDE, size)

    def decode(path_bytes):
        path = path_bytes.decode("utf-8")
        try:
            if options.native:
                image = load_image(path, max_pixels=options.max_pixels,
                                   draft=lambda w, h: native_draft_size(options.max_side, w, h, min_side))
                image = fit_photo(image, options.max_side, min_side)
            elif options.legacy:
                image = load_image_legacy(path, options.image_size)
            else:
                # the same JPEG draft decode as predict (aesthetics.inference.scoring)
                image = load_image(path, max_pixels=options.max_pixels,
                                   draft=lambda w, h: square_draft_size(size, w, h))
                image = resize_photo(image, size)
            return image, b""
        except ImageDecodeError as e:
            report.add(path, str(e))
            return empty, str(e).encode("utf-8")
        except Exception as e:  # never let one file kill an epoch
            report.add(path, f"unexpected error: {type(e).__name__}: {e}")
            return empty, f"{type(e).__name__}: {e}".encode("utf-8")

    return decode


def _decode_and_resize(path, size, report, options):
    if options.legacy:
        size = options.image_size  # idealo's loader resizes straight to the input
    image, error = tf.numpy_function(
        _decoder(report, options, size), [path], [tf.uint8, tf.string], stateful=False
    )
    # uint8 (rounded by resize_photo): 4x smaller cache, what any 8-bit pipeline sees
    image.set_shape([None, None, 3] if options.native else [size, size, 3])
    error.set_shape([])
    return image, tf.equal(tf.strings.length(error), 0)


def _base_dataset(paths, extras, size, report, options, deterministic=True, shard=None):
    ds = tf.data.Dataset.from_tensor_slices((list(paths),) + tuple(extras))
    if shard is not None:  # (count, index): this worker's files, before any decoding
        ds = ds.shard(*shard)

    def load(path, *rest):
        image, ok = _decode_and_resize(path, size, report, options)
        return (image, ok) + rest

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    ds = ds.filter(lambda image, ok, *rest: ok)
    ds = ds.map(lambda image, ok, *rest: (image,) + rest)
    if options.cache:
        ds = ds.cache()
    return ds


def make_training_dataset(
    paths: Sequence[str],
    targets: np.ndarray,
    options: PipelineOptions,
    batch_size: int,
    seed: int = 42,
    report: Optional[DecodeReport] = None,
    shard: Optional[tuple] = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """(image float32 [B, S, S, 3] in [0,255], target [B, num_bins]) batches,
    shuffled and augmented, deterministic for a given seed. `shard` =
    (count, index) keeps every count-th file from index (one worker's part
    of a distributed run; see aesthetics.training.distribute).

    `repeat`: an endless stream of full batches, reshuffled at each pass
    (fit it with `steps_per_epoch`). Training uses it: a dataset whose
    length Keras cannot know (unreadable files are filtered out) makes
    Keras 3 run one extra, empty optimizer step at the end of every epoch
    (measured: 6 optimizer iterations for 2 epochs of 2 batches; Adam then
    moves the weights on zero gradients), and under a distribution strategy
    a last partial batch would leave a replica an empty share."""
    report = report if report is not None else DecodeReport()
    if options.native:  # crops of the photo itself (centre crops without random_crop)
        crop, size = True, options.image_size
    else:
        crop = options.random_crop and options.resize_to > options.image_size
        size = options.resize_to if crop else options.image_size
    targets = np.asarray(targets, np.float32)
    ds = _base_dataset(paths, (targets,), size, report, options, shard=shard)
    ds = ds.shuffle(
        min(options.shuffle_buffer, max(len(paths), 1)),
        seed=seed,
        reshuffle_each_iteration=True,
    )
    if repeat:
        ds = ds.repeat()
    # Per-element seeds for stateless ops: reproducible, yet new every epoch.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds))

    def augment(pair, seed_pair):
        image, target = pair
        image = tf.cast(image, tf.float32)
        if options.native and not options.random_crop:
            image = _center_crop(image, options.image_size)
        elif crop:
            image = tf.image.stateless_random_crop(
                image, (options.image_size, options.image_size, 3), seed=seed_pair
            )
        if options.hflip:
            image = tf.image.stateless_random_flip_left_right(image, seed=seed_pair[::-1])
        return image, target

    ds = ds.map(augment, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=repeat).prefetch(AUTOTUNE)


def make_eval_dataset(
    paths: Sequence[str],
    targets: Optional[np.ndarray],
    options: PipelineOptions,
    batch_size: int,
    report: Optional[DecodeReport] = None,
    with_index: bool = False,
) -> tf.data.Dataset:
    """Deterministic batches in file order (files that fail are dropped).

    Yields (image, target) or, with `with_index`, (image, index) where index
    is the position in `paths`, so callers can match outputs to files.
    """
    report = report if report is not None else DecodeReport()
    center_crop = options.eval_resize == "center_crop" and not options.legacy
    size = options.resize_to if center_crop else options.image_size
    if options.native:  # the scoring recipe's photo: enlarged only below NATIVE_MIN_SIDE
        size = NATIVE_MIN_SIDE
    extras = []
    if with_index:
        extras.append(np.arange(len(paths), dtype=np.int64))
    if targets is not None:
        extras.append(np.asarray(targets, np.float32))
    ds = _base_dataset(paths, extras, size, report, options)

    def finish(image, *rest):
        image = tf.cast(image, tf.float32)
        if center_crop:
            off = (options.resize_to - options.image_size) // 2
            image = image[off : off + options.image_size, off : off + options.image_size]
        return (image,) + rest

    ds = ds.map(finish, num_parallel_calls=AUTOTUNE)
    if options.native:
        return _batch_by_shape(ds, batch_size).prefetch(AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def _center_crop(image, size: int):
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    top, left = (h - size) // 2, (w - size) // 2
    return image[top:top + size, left:left + size]


def _batch_by_shape(ds, batch_size: int, batch_pixels: int = DEFAULT_BATCH_PIXELS):
    """Batches of photos of one shape (native photos differ in size), at most
    `batch_size` of them and no more pixels than the scoring loop's budget
    (a larger photo alone). Order changes only across shapes."""

    def key(image, *rest):
        shape = tf.cast(tf.shape(image), tf.int64)
        return shape[0] * 1_000_003 + shape[1]

    def window(k):
        h, w = k // 1_000_003, k % 1_000_003
        return tf.clip_by_value(tf.constant(batch_pixels, tf.int64) // tf.maximum(h * w, 1), 1, batch_size)

    return ds.group_by_window(key, lambda k, d: d.batch(batch_size), window_size_func=window)
