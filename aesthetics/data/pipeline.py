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
from aesthetics.data.resize import resize_photo, square_draft_size

AUTOTUNE = tf.data.AUTOTUNE


@dataclass
class PipelineOptions:
    """What the pipeline does to each image (a subset of DataConfig).

    image_size: model input side.
    resize_to: training images are resized to resize_to^2, then cropped.
    eval_resize: "resize" (whole image squashed to image_size^2, NIMA) or
        "center_crop" (resize to resize_to^2, centre crop image_size^2).
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
    error text)."""

    empty = np.zeros((size, size, 3), np.uint8)

    def decode(path_bytes):
        path = path_bytes.decode("utf-8")
        try:
            if options.legacy:
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
    image.set_shape([size, size, 3])
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
        if crop:
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
    return ds.batch(batch_size).prefetch(AUTOTUNE)
