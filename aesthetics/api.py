"""The one-call Python API.

    import aesthetics

    model = aesthetics.load()                 # the default shipped model
    model.score("photo.jpg")                  # -> one record
    model.score("photos/")                    # -> a record per image found (recursively)
    model.score([pil_image, "a.png", raw_bytes, uint8_array])
    model.mean_scores(batch)                  # -> (N,) numpy array
    model.distributions(batch)                # -> (N, 10) numpy array

A record is what `aesthetics predict` writes: ``image_id``, ``path`` (for
files), ``mean_score_prediction``, ``std_score_prediction`` and
``distribution`` (probabilities of the scores 1..10), or ``error`` (the
reason) for an input that could not be used: one bad input never costs the
others their scores, and only `AestheticsError`s leave the API (a bad
`batch_size` is a `ConfigError`). Arrays: uint8 as is, other integers 8-bit
or (up to 65535) 16-bit, floats on 0..1 when all values lie in [0, 1] and
on 0..255 otherwise; NaN/inf, out-of-range values, empty images and odd
shapes are error records (see `_rgb_from_array` and README "Python API").

`load(model)` takes a shipped model's name or alias (`aesthetics models`
lists them: `technical`, `aesthetic`), a `.keras` file, an exported `.onnx` /
`.tflite` file or SavedModel folder; `load(["technical", "aesthetic"])`
scores with both in one pass (a group of fields per model).
With the default backend ("auto") a shipped model runs in onnxruntime when it
is installed, so scoring needs no TensorFlow; otherwise in Keras.
"""

from __future__ import annotations

import io
import numbers
import os
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from aesthetics.errors import AestheticsError, ConfigError, InputNotFoundError

API_BACKENDS = ("auto", "keras", "onnx", "tflite", "savedmodel")


def load(model=None, backend: str = "auto", threads: Optional[int] = None):
    """A `Scorer` for `model`: None (the default shipped model), a shipped
    model's name or alias, or a path to a model file; a list of them gives a
    `MultiScorer` (every model in one pass, a group of fields per model)."""
    if isinstance(model, (list, tuple)):
        return MultiScorer(model, backend=backend, threads=threads)
    return Scorer(model, backend=backend, threads=threads)


class Scorer:
    """Scores images with one model (see the module docstring)."""

    def __init__(self, model=None, backend: str = "auto", threads: Optional[int] = None):
        from aesthetics.zoo import resolve_model

        if backend not in API_BACKENDS:
            raise ConfigError(f"backend: expected one of {list(API_BACKENDS)}, got {backend!r}")
        threads = _check_threads(threads)
        resolved = resolve_model(model, backend)
        self.name, self.path, self.backend = resolved.name, resolved.path, resolved.backend
        self._scorer = self._make_scorer(resolved.path, resolved.backend, threads)
        self.recipe = self._scorer.recipe

    @staticmethod
    def _make_scorer(path, backend, threads):
        if backend == "keras":
            from aesthetics.inference.loading import load_model
            from aesthetics.inference.scoring import as_scorer

            return as_scorer(load_model(path))
        from aesthetics.inference.backends import load_scorer

        return load_scorer(backend, path, threads=threads)

    def __repr__(self) -> str:
        return f"<aesthetics.Scorer {self.name} ({self.backend}): {self.recipe.describe()}>"

    # ---- inputs
    def _items(self, x):
        """(list of `_Item`, single?): what `x` holds, one item per image.
        A bad item is an item with an error (its record), never an exception;
        only a lone folder or pattern that holds no image raises."""
        if isinstance(x, (str, os.PathLike)):
            files = _expand(x)
            if files is None:
                return [_path_item(x)], True
            if isinstance(files, str):
                raise InputNotFoundError(files)
            return [_Item(Path(f).stem, f) for f in files], False
        if isinstance(x, np.ndarray) and x.ndim == 4:
            unit = _unit_range(x)  # one convention for the whole batch
            return [self._array_item(f"image_{i}", a, unit) for i, a in enumerate(x)], False
        if isinstance(x, (list, tuple)):
            out = []
            for i, item in enumerate(x):
                files = _expand(item) if isinstance(item, (str, os.PathLike)) else None
                if files is None:
                    out.append(self._one(item, i))
                elif isinstance(files, str):  # an empty folder or a pattern matching nothing
                    out.append(_Item(_stem(item), _printable(item), error=files))
                else:
                    out.extend(_Item(Path(f).stem, f) for f in files)
            return out, False
        return [self._one(x, 0)], True

    def _one(self, item, i):
        if isinstance(item, (str, os.PathLike)):
            return _path_item(item)
        if isinstance(item, (bytes, bytearray, memoryview)):
            return self._decoded_item(f"image_{i}", item)
        if isinstance(item, np.ndarray):
            return self._array_item(f"image_{i}", item)
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover (Pillow is a dependency)
            Image = None
        if Image is not None and isinstance(item, Image.Image):
            return self._pil_item(f"image_{i}", item)
        return _Item(f"image_{i}", error=f"unsupported input type {type(item).__name__}")

    def _decoded_item(self, image_id, data):
        from aesthetics.data.images import load_image

        try:
            return _Item(image_id, image=_checked_size(load_image(io.BytesIO(bytes(data)))))
        except AestheticsError as e:
            return _Item(image_id, error=str(e))

    def _pil_item(self, image_id, img):
        from aesthetics.data.images import rgb_array

        try:
            return _Item(image_id, image=_checked_size(rgb_array(img)))
        except AestheticsError as e:
            return _Item(image_id, error=str(e))
        except Exception as e:  # a lazily loaded file, a closed image, a plugin's own failure
            return _Item(image_id, error=f"cannot use the PIL image: {type(e).__name__}: {e}")

    def _array_item(self, image_id, a, unit=None):
        try:
            return _Item(image_id, image=_rgb_from_array(a, unit))
        except _BadInput as e:
            return _Item(image_id, error=str(e))

    def _prepare(self, image):
        from aesthetics.data.resize import prepare_photo

        if self.recipe.legacy:
            from aesthetics.data.images import check_photo_shape, resize_legacy

            check_photo_shape(image.shape[1], image.shape[0])  # as prepare_photo does: one rule for all
            return resize_legacy(image, self.recipe.image_size).astype(np.float32)
        return prepare_photo(image, self.recipe).astype(np.float32)

    # ---- scoring
    def score(self, x, batch_size: int = 32, batch_pixels: Optional[int] = None, references=None):
        """Records for `x` (see the module docstring): one record for a single
        image (a file path, PIL image, bytes, (H, W, 3) array), a list for a
        folder, a glob, a list or an (N, H, W, 3) batch. An input that cannot
        be used is a record with an ``error``; the others are still scored.
        A model call takes at most `batch_size` photos and `batch_pixels`
        pixels (default `DEFAULT_BATCH_PIXELS`, as `predict`): memory is
        bounded on large photos; scores do not depend on either.

        `references`: an index folder (`aesthetics index build`) or a
        `aesthetics.references.ReferenceScorer`; each scored record then
        gets a "reference" entry: the reference-based score and the rated
        photos it was compared with (loads TensorFlow; docs/REFERENCES.md)."""
        from aesthetics.inference.batching import pixel_batches
        from aesthetics.inference.records import make_record
        from aesthetics.inference.scoring import score_paths

        batch_size = _check_batch_size(batch_size)
        batch_pixels = _check_batch_pixels(batch_pixels)
        items, single = self._items(x)
        records: list = [None] * len(items)
        file_idx = [i for i, it in enumerate(items) if it.path is not None and it.error is None]
        if file_idx:
            recs = score_paths(self._scorer, [items[i].path for i in file_idx], batch_size=batch_size,
                               batch_pixels=batch_pixels)
            for i, rec in zip(file_idx, recs):
                records[i] = rec
        pending = []  # (index, prepared array)
        for i, it in enumerate(items):
            if records[i] is not None:
                continue
            if it.error is None:
                try:
                    pending.append((i, self._prepare(it.image)))
                    continue
                except AestheticsError as e:  # e.g. an empty image or a strip past the aspect bound
                    it = it._replace(error=str(e))
            records[i] = it.error_record()
        # one call per run of same-shape photos within both bounds (the rule of predict's loop)
        for run in pixel_batches([a for _, a in pending], batch_size, batch_pixels):
            out = self._scorer(np.stack([pending[k][1] for k in run]))
            for k, row in zip(run, out):
                i = pending[k][0]
                rec = make_record("", items[i].image_id, row)
                rec.pop("path")  # an in-memory image has no file
                records[i] = rec
        if references is not None:
            _add_references(references, items, records)
        return records[0] if single else records

    def distributions(self, x, batch_size: int = 32) -> np.ndarray:
        """(N, num_bins) probabilities; raises if an input cannot be scored."""
        recs = self.score(x, batch_size=batch_size)
        recs = [recs] if isinstance(recs, dict) else recs
        bad = [r for r in recs if "error" in r]
        if bad:
            raise AestheticsError(f"{len(bad)} input(s) could not be scored, e.g. "
                                  f"{bad[0].get('path') or bad[0]['image_id']}: {bad[0]['error']}")
        if self.recipe.output != "distribution":
            raise AestheticsError(f"model {self.name} outputs a single score, not a distribution")
        return np.array([r["distribution"] for r in recs], dtype=np.float32)

    def mean_scores(self, x, batch_size: int = 32) -> np.ndarray:
        """(N,) mean scores on 1..10 (NaN for inputs that could not be scored)."""
        recs = self.score(x, batch_size=batch_size)
        recs = [recs] if isinstance(recs, dict) else recs
        return np.array([r.get("mean_score_prediction", np.nan) for r in recs], dtype=np.float64)


class MultiScorer:
    """Several models in one pass: `score` gives one record per image with a
    group of fields per model, named as given (`load(["technical",
    "aesthetic"])` -> records with "technical" and "aesthetic" groups; see
    `aesthetics.inference.multi`). Files are decoded once for all models."""

    def __init__(self, models, backend: str = "auto", threads: Optional[int] = None):
        from aesthetics.inference.multi import ScorerGroup, group_name

        if not models:
            raise ConfigError("model: expected at least one model in the list")
        self.scorers = [Scorer(m, backend=backend, threads=threads) for m in models]
        self.names = [group_name(m) for m in models]
        self._group = ScorerGroup(list(zip(self.names, (s._scorer for s in self.scorers))))

    def __repr__(self) -> str:
        return f"<aesthetics.MultiScorer {', '.join(self.names)}>"

    def score(self, x, batch_size: int = 32, batch_pixels: Optional[int] = None):
        """Records for `x` (any input `Scorer.score` takes; the same rules)."""
        from aesthetics.inference.scoring import score_paths

        batch_size = _check_batch_size(batch_size)
        batch_pixels = _check_batch_pixels(batch_pixels)
        items, single = self.scorers[0]._items(x)
        records: list = [None] * len(items)
        files = [i for i, it in enumerate(items) if it.path is not None and it.error is None]
        for i, rec in zip(files, score_paths(self._group, [items[i].path for i in files], batch_size=batch_size,
                                                  batch_pixels=batch_pixels)):
            records[i] = rec
        for i, it in enumerate(items):
            if it.error is not None:
                records[i] = it.error_record()
        arrays = [i for i, r in enumerate(records) if r is None]
        per_model = [s.score([items[i].image for i in arrays], batch_size=batch_size, batch_pixels=batch_pixels)
                     for s in self.scorers]
        for k, i in enumerate(arrays):
            parts = [recs[k] for recs in per_model]
            bad = next((p for p in parts if "error" in p), None)
            records[i] = {"image_id": items[i].image_id, "error": bad["error"]} if bad else {
                "image_id": items[i].image_id, **{n: {f: v for f, v in p.items() if f != "image_id"}
                                                  for n, p in zip(self.names, parts)}}
        return records[0] if single else records

    def mean_scores(self, x, batch_size: int = 32) -> dict:
        """{model name: (N,) mean scores} (NaN where an input could not be scored)."""
        recs = self.score(x, batch_size=batch_size)
        recs = [recs] if isinstance(recs, dict) else recs
        return {n: np.array([r[n].get("mean_score_prediction", np.nan) if isinstance(r.get(n), dict)
                             else np.nan for r in recs], np.float64)
                for n in self.names}


# ---- input checks (module level: MultiScorer shares them)

class _Item(NamedTuple):
    """One input image: a file (`path`), a decoded (H, W, 3) uint8 `image`,
    or an `error` (the reason it cannot be used)."""

    image_id: str
    path: Optional[str] = None
    image: Optional[np.ndarray] = None
    error: Optional[str] = None

    def error_record(self) -> dict:
        rec = {"image_id": self.image_id}
        if self.path is not None:
            rec["path"] = self.path
        rec["error"] = self.error
        return rec


class _BadInput(AestheticsError, ValueError):
    """An in-memory image that cannot be used (always made an error record)."""


def _add_references(references, items, records) -> None:
    """Adds "reference" to every scored record (files embedded from their
    path, in-memory photos from their pixels)."""
    from aesthetics.references.scoring import as_reference_scorer

    scorer = as_reference_scorer(references)
    scored = [i for i, r in enumerate(records) if "error" not in r]
    files = [i for i in scored if items[i].path is not None]
    if files:
        entries, _ = scorer.for_paths([items[i].path for i in files])
        for i, entry in zip(files, entries):
            if entry is not None:
                records[i]["reference"] = entry
    arrays = [i for i in scored if items[i].path is None and items[i].image is not None]
    if arrays:
        for i, entry in zip(arrays, scorer.for_images([items[i].image for i in arrays])):
            records[i]["reference"] = entry


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_batch_pixels(batch_pixels) -> Optional[int]:
    if batch_pixels is None:
        return None
    if isinstance(batch_pixels, bool) or not isinstance(batch_pixels, numbers.Integral) or batch_pixels < 1:
        raise ConfigError(f"batch_pixels: expected a positive integer or None, got {batch_pixels!r}")
    return int(batch_pixels)


def _check_threads(threads) -> Optional[int]:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ConfigError(f"threads: expected a positive integer or None, got {threads!r}")
    return int(threads)


def _printable(path) -> str:
    from aesthetics.inference.records import printable_path

    return printable_path(os.fspath(path))


def _stem(path) -> str:
    try:
        return Path(os.fspath(path)).stem or "input"
    except (TypeError, ValueError):  # pragma: no cover (a PathLike returning bytes)
        return "input"


def _safe(test, path) -> bool:
    try:
        return bool(test(Path(path)))
    except (OSError, ValueError):  # a name too long, an embedded NUL byte, no permission
        return False


def _expand(x):
    """None when `x` names one file (or what is meant as one: a missing file
    is that file's error record), the image files under a folder or matching
    a glob pattern, or a str (the reason) when there are none."""
    from aesthetics.data.images import find_images

    try:
        s = os.fspath(x)
    except TypeError:
        return None
    if isinstance(s, bytes):
        return None  # a bytes path: the file's record says what is wrong with it
    if s == "":
        return "empty path"
    is_dir = _safe(Path.is_dir, s)
    if not is_dir and (_safe(Path.exists, s) or not any(c in s for c in "*?[")):
        return None  # a file (a literal name with glob characters included) or a missing one
    try:
        files = find_images([s], recursive=True)
    except AestheticsError as e:
        return str(e)
    return files or f"no images found in {_printable(s)}"


def _path_item(x) -> _Item:
    try:
        s = os.fspath(x)
    except TypeError as e:  # pragma: no cover (os.PathLike always gives str or bytes)
        return _Item("input", error=f"not a usable path: {e}")
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    if s == "":
        return _Item("input", error="empty path")
    return _Item(_stem(s), s)


def _unit_range(a: np.ndarray) -> Optional[bool]:
    """For a float array: whether its finite values all lie in [0, 1] (the
    0..1 convention); None for other dtypes."""
    if a.dtype.kind != "f" or a.size == 0:
        return None
    finite = a[np.isfinite(a)]
    return bool(finite.size == 0 or finite.max() <= 1.0)


def _checked_size(image: np.ndarray) -> np.ndarray:
    if image.ndim < 2 or image.shape[0] == 0 or image.shape[1] == 0:
        raise _BadInput(f"empty image ({image.shape[1] if image.ndim > 1 else 0}x{image.shape[0]} pixels)")
    return image


def _rgb_from_array(a, unit: Optional[bool] = None) -> np.ndarray:
    """An array image as an (H, W, 3) uint8 RGB array, or `_BadInput` (the
    reason). The rules (README, "Python API"):

    - shapes (H, W) and (H, W, 1) are gray, (H, W, 3) RGB, (H, W, 4) RGBA
      (composited on white, as a PIL or file image with alpha is);
    - uint8 and bool (False black, True white) are taken as they are;
    - other integer types: values in 0..255 as 8-bit, values up to 65535 as
      16-bit (scaled by 255/65535, as a 16-bit PNG is); negative or larger
      values are refused;
    - float types: NaN or infinite values are refused; values in [0, 1] are
      the 0..1 convention (scaled by 255), values in [0, 255] the 0..255
      one; negative or larger values are refused. For an (N, H, W, C)
      batch the convention is the whole batch's (`unit`).
    """
    a = np.asarray(a)
    shape = a.shape
    if a.dtype.kind not in "buif":
        raise _BadInput(f"unsupported array dtype {a.dtype} (expected uint8, another integer or a float type)")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise _BadInput(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image array, got shape {shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise _BadInput(f"empty image ({a.shape[1]}x{a.shape[0]} pixels, array shape {shape})")
    if a.dtype == np.uint8:
        pass
    elif a.dtype.kind == "b":
        a = a.astype(np.uint8) * np.uint8(255)
    elif a.dtype.kind in "ui":
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise _BadInput(f"integer array values must be in [0, 255] (8-bit) or [0, 65535] (16-bit), "
                            f"got {lo}..{hi}")
        a = a.astype(np.uint8) if hi <= 255 else np.rint(a * (255.0 / 65535.0)).astype(np.uint8)
    else:
        f = a.astype(np.float64)
        if not np.all(np.isfinite(f)):
            raise _BadInput("array values are not all finite numbers (NaN or inf)")
        lo, hi = float(f.min()), float(f.max())
        if lo < 0 or hi > 255:
            raise _BadInput(f"float array values must be in [0, 1] or [0, 255], got {lo:g}..{hi:g}")
        if (hi <= 1.0) if unit is None else unit:
            f = f * 255.0
        a = np.rint(f).astype(np.uint8)
    if a.shape[-1] == 4:  # composite on white, as `aesthetics.data.images.rgb_array` does
        alpha = a[..., 3:].astype(np.float32) / 255.0
        a = np.rint(a[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    elif a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a
