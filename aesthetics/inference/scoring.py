"""Scoring image files: one streaming loop every backend goes through.

`iter_scored(scorer, paths)` decodes photos on a thread pool (Pillow releases
the GIL, so decoding the next batch overlaps the model's work on this one),
prepares them as the scorer's recipe says (`aesthetics.data.resize`, the
resize training validated with), batches same-shape photos, calls the scorer
and yields each batch's records (`aesthetics.inference.records`) as soon as
it is done; `predict` appends them to its output file and forgets them, so
memory does not grow with the number of files. A file that cannot be read,
decoded or named is one error record, never the end of the run.

A scorer is any callable float32 (B, H, W, 3) in [0, 255] -> (B, bins) or
(B, 1) with a `recipe` attribute: `KerasScorer` (here, for a Keras model),
`OnnxScorer`, `TFLiteScorer`, `SavedModelScorer` (`aesthetics.inference.backends`). The keras, savedmodel,
onnx and tflite backends therefore get the same pixels for the same file.

This module imports only numpy and Pillow (the ONNX path stays TF-free).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional, Sequence

import numpy as np

from aesthetics.constants import DEFAULT_BATCH_PIXELS, DEFAULT_MAX_PIXELS
from aesthetics.data.images import ImageDecodeError, load_image, load_image_legacy
from aesthetics.data.resize import draft_size, prepare_photo
from aesthetics.inference.batching import fits, image_pixels, image_shape
from aesthetics.inference.records import error_record, image_ids, make_record, printable_path
from aesthetics.models.recipe import Recipe


def load_for_model(path, recipe: Recipe, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode (Pillow, EXIF rotation, alpha on white) and prepare one file as
    `recipe` says (resize, centre crop or native size): float32 pixels."""
    return _load_uint8(path, recipe, max_pixels).astype(np.float32)


def _load_uint8(path, recipe: Recipe, max_pixels: int) -> np.ndarray:
    """`load_for_model` as uint8 (the photos waiting for their batch)."""
    if recipe.legacy:
        return load_image_legacy(path, recipe.image_size, max_pixels)
    image = load_image(path, max_pixels=max_pixels, draft=lambda w, h: draft_size(recipe, w, h))
    return prepare_photo(image, recipe)


def _loaded_in_order(paths, loader, workers: int, window: int):
    """Yields (index, image or None, error or None) in input order, decoding
    up to `window` files ahead on `workers` threads."""

    def safe(path):
        try:
            return loader(path), None
        except ImageDecodeError as e:
            return None, str(e)
        except Exception as e:  # one bad file never stops the run
            return None, f"unexpected error: {type(e).__name__}: {e}"

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        todo = iter(enumerate(paths))
        pending = deque((i, pool.submit(safe, p)) for i, p in itertools.islice(todo, window))
        while pending:
            i, future = pending.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], pool.submit(safe, nxt[1])))
            image, error = future.result()
            yield i, image, error
    finally:  # Ctrl-C: do not wait for the decodes queued ahead
        pool.shutdown(wait=False, cancel_futures=True)


def with_recipe(scorer, legacy: Optional[bool]):
    """`scorer.recipe`, with `legacy` (idealo's preprocessing) overriding its flag."""
    recipe = scorer.recipe
    if legacy is not None and bool(legacy) != recipe.legacy:
        recipe = dataclasses.replace(recipe, legacy=bool(legacy))
    return recipe


def iter_outputs(
    scorer,
    paths: Sequence,
    batch_size: int = 32,
    legacy: Optional[bool] = None,
    max_pixels: Optional[int] = None,
    workers: Optional[int] = None,
    batch_pixels: Optional[int] = None,
) -> Iterator[list[tuple]]:
    """The scoring loop: yields lists of ``(index, output_row, error)``, one
    list per model call (with the files that failed since the previous one:
    ``output_row`` None and ``error`` the reason); every path's index comes
    exactly once. Decoding runs in `workers` threads ahead of the model.

    Args:
        scorer: callable on float32 (B, H, W, 3) batches with a `recipe`
            (a scoring model, or any model the recipe prepares photos for,
            e.g. a feature extractor).
        paths: image files.
        batch_size: photos per model call (photos of different shapes, with
            a native-resolution recipe, are never batched together).
        legacy: override the recipe's idealo-preprocessing flag.
        max_pixels: refuse larger images (decompression bombs).
        workers: decoding threads (default: the CPU count, at most 8).
        batch_pixels: a model call takes photos up to this many pixels in
            all (default `DEFAULT_BATCH_PIXELS`; a larger photo goes alone),
            so memory is bounded by pixels, not by `batch_size` x photo size.
    """
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    batch_pixels = batch_pixels or DEFAULT_BATCH_PIXELS
    workers = workers or min(8, os.cpu_count() or 1)
    if hasattr(scorer, "load"):  # several models (inference.multi): a tuple of inputs per photo
        loader = lambda p: scorer.load(p, max_pixels)  # noqa: E731
    else:
        recipe = with_recipe(scorer, legacy)
        loader = lambda p: _load_uint8(p, recipe, max_pixels)  # noqa: E731
    images, index, done = [], [], []

    def run_batch() -> list[tuple]:
        try:
            stacked = _stacked(images)  # uint8 until here: 1/4 the memory
            pred = np.asarray(scorer(stacked), dtype=np.float32).reshape(len(images), -1)
            batch = [(i, row, None) for i, row in zip(index, pred)]
        except Exception as e:  # the runtime rejected the batch: its files fail, the run goes on
            reason = f"the model could not score this photo ({type(e).__name__}: {e})"
            batch = [(i, None, reason) for i in index]
        images.clear()
        index.clear()
        return batch

    window = max(2 * batch_size, 2 * workers)
    for i, image, error in _loaded_in_order(paths, loader, workers, window):
        if error is not None:
            done.append((i, None, error))
            if len(done) >= batch_size:  # failures piling up are handed on too
                yield done
                done = []
            continue
        if images and (image_shape(image) != image_shape(images[0])
                       or not fits(len(images), image_pixels(image), batch_size, batch_pixels)):
            # native-resolution recipes: a batch holds photos of one size, and
            # no more of them than the pixel budget allows (`inference.batching`)
            yield done + run_batch()  # handed on after every model call
            done = []
        images.append(image)
        index.append(i)
        if len(images) == batch_size:
            yield done + run_batch()
            done = []
    if images:
        done.extend(run_batch())
    if done:
        yield done


def _stacked(images):
    """float32 batch(es) of same-shape photos (a tuple of batches for a tuple per photo)."""
    if isinstance(images[0], tuple):
        return tuple(np.stack(parts).astype(np.float32) for parts in zip(*images))
    return np.stack(images).astype(np.float32)


def iter_scored(
    scorer,
    paths: Sequence,
    batch_size: int = 32,
    legacy: Optional[bool] = None,
    max_pixels: Optional[int] = None,
    workers: Optional[int] = None,
    ids: Optional[Sequence[str]] = None,
    batch_pixels: Optional[int] = None,
) -> Iterator[list[dict]]:
    """`iter_outputs` as records (`aesthetics.inference.records`): one list
    per model call, every path exactly one record; `ids` are the records'
    image ids (default `image_ids(paths)`)."""
    ids = list(ids) if ids is not None else image_ids(paths)
    record = getattr(scorer, "make_record", make_record)  # a model group's records have a group per model
    for batch in iter_outputs(scorer, paths, batch_size, legacy, max_pixels, workers, batch_pixels):
        yield [record(paths[i], ids[i], row) if error is None else error_record(paths[i], ids[i], error)
               for i, row, error in batch]


def score_paths(scorer, paths: Sequence, batch_size: int = 32, legacy: Optional[bool] = None,
                max_pixels: Optional[int] = None, workers: Optional[int] = None,
                batch_pixels: Optional[int] = None) -> list[dict]:
    """All records of `iter_scored`, in input order."""
    order = {printable_path(p): i for i, p in enumerate(paths)}
    records = [r for batch in iter_scored(scorer, paths, batch_size, legacy, max_pixels, workers,
                                          batch_pixels=batch_pixels)
               for r in batch]
    return sorted(records, key=lambda r: order[r["path"]])


class KerasScorer:
    """A Keras model behind the scoring loop (native-resolution recipes,
    whose photos keep their own sizes)."""

    def __init__(self, model, recipe: Recipe):
        self.model = model
        self.recipe = recipe
        self.image_size = recipe.image_size

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(images), np.float32).reshape(len(images), -1)


def output_rows(scorer, paths: Sequence, batch_size: int = 16, workers: Optional[int] = 2,
                max_pixels: Optional[int] = None, width: int = 0):
    """Every path through `scorer` (features, embeddings): (rows (N_ok, F)
    float32 in path order, the indices of the paths used, {path: reason}
    for the rest; `width` is F when no path could be used)."""
    from aesthetics.inference.records import printable_path

    rows, failures = {}, {}
    for batch in iter_outputs(scorer, paths, batch_size=batch_size, workers=workers, max_pixels=max_pixels):
        for i, row, error in batch:
            if error is None:
                rows[i] = row
            else:
                failures[printable_path(paths[i])] = error
    ok = sorted(rows)
    out = np.stack([rows[i] for i in ok]).astype(np.float32) if ok else np.zeros((0, width), np.float32)
    return out, np.array(ok, dtype=np.int64), failures


def as_scorer(model, recipe=None):
    """A scorer for a Keras model; anything else is taken to be one already."""
    if hasattr(model, "predict_on_batch"):  # a Keras model
        # lazy: models.scorer imports Keras, which this TF-free loop must not
        from aesthetics.models.scorer import recipe_of

        return KerasScorer(model, recipe or recipe_of(model))
    return model


def score_files(model, paths: Sequence, batch_size: int = 32, legacy: Optional[bool] = None,
                max_pixels: Optional[int] = None, recipe=None) -> list[dict]:
    """Records for image files scored by a Keras model (or a scorer), in
    input order; photos prepared as the model's recipe says."""
    return score_paths(as_scorer(model, recipe), paths, batch_size=batch_size, legacy=legacy,
                       max_pixels=max_pixels)
