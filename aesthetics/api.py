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
reason) for an input that could not be used.

`load(model)` takes a shipped model's name or alias (`aesthetics models`
lists them: `technical`, `aesthetic`), a `.keras` file, an exported `.onnx` /
`.tflite` file or SavedModel folder; `load(["technical", "aesthetic"])`
scores with both in one pass (a group of fields per model).
With the default backend ("auto") a shipped model runs in onnxruntime when it
is installed, so scoring needs no TensorFlow; otherwise in Keras.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional

import numpy as np

from aesthetics.errors import AestheticsError, ConfigError

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
        """(list of (id, path or None, array-or-None, error-or-None), single?)"""
        from aesthetics.data.images import find_images

        if isinstance(x, (str, os.PathLike)):
            p = Path(x)
            if p.is_dir() or any(c in str(x) for c in "*?["):
                files = find_images([str(x)], recursive=True)
                if not files:
                    from aesthetics.errors import InputNotFoundError

                    raise InputNotFoundError(f"no images found in {x}")
                return [self._file_item(f) for f in files], False
            return [self._file_item(str(x))], True
        if isinstance(x, np.ndarray) and x.ndim == 4:
            return [self._array_item(f"image_{i}", a) for i, a in enumerate(x)], False
        if isinstance(x, (list, tuple)):
            out = []
            for i, item in enumerate(x):
                out.extend(self._items(item)[0] if isinstance(item, (str, os.PathLike))
                           and Path(item).is_dir() else [self._one(item, i)])
            return out, False
        return [self._one(x, 0)], True

    def _one(self, item, i):
        if isinstance(item, (str, os.PathLike)):
            return self._file_item(str(item))
        if isinstance(item, (bytes, bytearray, memoryview)):
            return self._decoded_item(f"image_{i}", lambda: io.BytesIO(bytes(item)))
        if isinstance(item, np.ndarray):
            return self._array_item(f"image_{i}", item)
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover (Pillow is a dependency)
            Image = None
        if Image is not None and isinstance(item, Image.Image):
            return self._pil_item(f"image_{i}", item)
        return (f"image_{i}", None, None, f"unsupported input type {type(item).__name__}")

    def _file_item(self, path):
        return (Path(path).stem, path, None, None)

    def _decoded_item(self, image_id, opener):
        from aesthetics.data.images import ImageDecodeError, load_image

        try:
            return (image_id, None, load_image(opener()), None)
        except ImageDecodeError as e:
            return (image_id, None, None, str(e))

    def _pil_item(self, image_id, img):
        from aesthetics.data.images import rgb_array

        try:
            return (image_id, None, rgb_array(img), None)
        except (OSError, ValueError) as e:
            return (image_id, None, None, f"cannot use the PIL image: {e}")

    def _array_item(self, image_id, a):
        a = np.asarray(a)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=-1)
        if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
            return (image_id, None, None, f"expected an (H, W, 3) RGB array, got shape {a.shape}")
        if a.shape[-1] == 1:
            a = np.repeat(a, 3, axis=-1)
        a = a[..., :3]
        if a.dtype != np.uint8:
            a = a.astype(np.float64)
            if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 255:
                return (image_id, None, None, "array values must be RGB in [0, 255]")
            a = np.rint(a).astype(np.uint8)
        return (image_id, None, a, None)

    def _prepare(self, image):
        from aesthetics.data.resize import prepare_photo

        if self.recipe.legacy:
            from aesthetics.data.images import resize_legacy

            return resize_legacy(image, self.recipe.image_size).astype(np.float32)
        return prepare_photo(image, self.recipe).astype(np.float32)

    # ---- scoring
    def score(self, x, batch_size: int = 32):
        """Records for `x` (see the module docstring): one record for a single
        image (a file path, PIL image, bytes, (H, W, 3) array), a list for a
        folder, a glob, a list or an (N, H, W, 3) batch."""
        from aesthetics.inference.records import make_record
        from aesthetics.inference.scoring import score_paths

        items, single = self._items(x)
        records: list = [None] * len(items)
        file_idx = [i for i, it in enumerate(items) if it[1] is not None]
        if file_idx:
            recs = score_paths(self._scorer, [items[i][1] for i in file_idx], batch_size=batch_size)
            for i, rec in zip(file_idx, recs):
                records[i] = rec
        pending = []  # (index, prepared array)
        for i, (image_id, path, image, error) in enumerate(items):
            if path is not None:
                continue
            if error is not None:
                records[i] = {"image_id": image_id, "error": error}
            else:
                pending.append((i, self._prepare(image)))
        for start in range(0, len(pending), batch_size):
            chunk = pending[start:start + batch_size]
            for group in _same_shape_groups(chunk):
                out = self._scorer(np.stack([a for _, a in group]))
                for (i, _), row in zip(group, out):
                    rec = make_record("", items[i][0], row)
                    rec.pop("path")  # an in-memory image has no file
                    records[i] = rec
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

        self.scorers = [Scorer(m, backend=backend, threads=threads) for m in models]
        self.names = [group_name(m) for m in models]
        self._group = ScorerGroup(list(zip(self.names, (s._scorer for s in self.scorers))))

    def __repr__(self) -> str:
        return f"<aesthetics.MultiScorer {', '.join(self.names)}>"

    def score(self, x, batch_size: int = 32):
        """Records for `x` (any input `Scorer.score` takes)."""
        from aesthetics.inference.scoring import score_paths

        items, single = self.scorers[0]._items(x)
        records: list = [None] * len(items)
        files = [i for i, it in enumerate(items) if it[1] is not None]
        for i, rec in zip(files, score_paths(self._group, [items[i][1] for i in files], batch_size=batch_size)):
            records[i] = rec
        memory = [i for i, it in enumerate(items) if it[1] is None]
        for i in memory:
            if items[i][3] is not None:
                records[i] = {"image_id": items[i][0], "error": items[i][3]}
        arrays = [i for i in memory if records[i] is None]
        per_model = [s.score([items[i][2] for i in arrays], batch_size=batch_size) for s in self.scorers]
        for k, i in enumerate(arrays):
            parts = [recs[k] for recs in per_model]
            bad = next((p for p in parts if "error" in p), None)
            records[i] = {"image_id": items[i][0], "error": bad["error"]} if bad else {
                "image_id": items[i][0], **{n: {f: v for f, v in p.items() if f != "image_id"}
                                            for n, p in zip(self.names, parts)}}
        return records[0] if single else records

    def mean_scores(self, x, batch_size: int = 32) -> dict:
        """{model name: (N,) mean scores} (NaN where an input could not be scored)."""
        recs = self.score(x, batch_size=batch_size)
        recs = [recs] if isinstance(recs, dict) else recs
        return {n: np.array([r[n]["mean_score_prediction"] if n in r else np.nan for r in recs], np.float64)
                for n in self.names}


def _same_shape_groups(chunk):
    groups: dict = {}
    for item in chunk:
        groups.setdefault(item[1].shape, []).append(item)
    return list(groups.values())
