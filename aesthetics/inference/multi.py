"""Several models in one pass: each photo decoded once, every model fed its
own recipe's input, one record per photo with a group of fields per model.

    {"image_id": "42039", "path": "photos/42039.jpg",
     "technical": {"mean_score_prediction": 5.9, "std_score_prediction": 1.3, "distribution": [...]},
     "aesthetic": {"mean_score_prediction": 5.2, "std_score_prediction": 1.4, "distribution": [...]}}

(a file that could not be used: {"image_id", "path", "error"}). A group is
named after the model as the user named it (`--model technical,aesthetic`).
The scoring loop (`scoring.iter_outputs`) runs a `ScorerGroup` like any
scorer: it asks it to `load` a photo (a tuple of inputs, one per model) and
to score a batch (a tuple of batches), and `make_record` builds the record.

Decoding once: a JPEG is decoded at the finest DCT scale any of the
non-legacy models needs; each model's input is then made from that decode as
its recipe says. A model that alone would have decoded a large JPEG at a
reduced scale may see slightly different pixels here (its input is
downscaled from a finer decode). A model with idealo's preprocessing (nearest
resize of the full decode) decodes at full scale when it runs alone, so its
scores are idealo's; beside other models it accepts a decode at 1/2 scale at
most, because a full decode of a 12 MP JPEG costs 5x the rest (0.52 vs 0.07 s
a photo, issue 28). Its score change from that, measured on 24 photos
enlarged to 4032 px: mean 0.008, max 0.031 on 1..10 (at 1/4 scale it was
0.031 and 0.076, so it stops at 1/2). Imports only
numpy and the TF-free data modules.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from aesthetics.data.images import decode_image, legacy_rgb, resize_legacy, rgb_array
from aesthetics.data.resize import draft_size, prepare_photo
from aesthetics.errors import ConfigError
from aesthetics.inference.records import NON_FINITE_OUTPUT, make_record, printable_path

GROUP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def group_name(label: str) -> str:
    """A model's label (a zoo name or alias, or a file) as a field-group
    name: the alias or name itself, or a file's stem, with anything but
    letters, digits, '_' and '-' turned into '_'."""
    from pathlib import Path

    text = str(label)
    if "/" in text or "\\" in text or "." in Path(text).name:
        text = Path(text).stem
    text = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    return text if text[:1].isalpha() else f"m_{text}"


def _finest(needs):
    """The largest of the decoded sizes the models need (None: full scale)."""
    if any(n is None for n in needs):
        return None
    return (max(n[0] for n in needs), max(n[1] for n in needs))


def load_for_recipes(path, recipes: Sequence, max_pixels: int) -> tuple:
    """One decode of `path`, then each recipe's uint8 input, in order."""
    exact = [r for r in recipes if not r.legacy]
    # beside other models a legacy recipe accepts at most a 1/2-scale decode
    legacy = (lambda w, h: (-(-w // 2), -(-h // 2))) if len(exact) < len(recipes) else None
    draft = None
    if exact:
        draft = lambda w, h: _finest([draft_size(r, w, h) for r in exact]  # noqa: E731
                                     + ([legacy(w, h)] if legacy else []))

    def inputs(img):
        upright = None
        out = []
        for recipe in recipes:
            if recipe.legacy:
                out.append(resize_legacy(legacy_rgb(img), recipe.image_size))
            else:
                if upright is None:
                    upright = rgb_array(img, exif_transpose=True)
                out.append(prepare_photo(upright, recipe))
        return tuple(out)

    return decode_image(path, inputs, max_pixels, draft)


class ScorerGroup:
    """Named scorers run together (see the module docstring).

    Args:
        named: [(group name, scorer)], each scorer a callable on float32
            batches with a `recipe` (any backend).
    """

    def __init__(self, named: Sequence[tuple]):
        names = [name for name, _ in named]
        if len(named) < 2:
            raise ConfigError("a model group needs at least two models")
        for name in names:
            if not GROUP_NAME.match(name):
                raise ConfigError(f"--model: {name!r} cannot name a group of fields (letters, digits, _ and -)")
        if len(set(n.casefold() for n in names)) != len(names):
            raise ConfigError(f"--model: each model needs its own name, got {names}")
        self.names = names
        self.scorers = [scorer for _, scorer in named]
        self.recipes = [s.recipe for s in self.scorers]
        self.recipe = self.recipes[0]  # what single-model code paths read
        self.widths = [r.num_bins if r.output == "distribution" else 1 for r in self.recipes]

    @property
    def bins(self) -> dict:
        """Group name -> distribution bins (0: a single-score model)."""
        return {n: (w if w > 1 else 0) for n, w in zip(self.names, self.widths)}

    def load(self, path, max_pixels: int) -> tuple:
        return load_for_recipes(path, self.recipes, max_pixels)

    def __call__(self, batches: tuple) -> np.ndarray:
        outputs = []
        for scorer, batch, width in zip(self.scorers, batches, self.widths):
            outputs.append(np.asarray(scorer(batch), dtype=np.float32).reshape(len(batch), width))
        return np.concatenate(outputs, axis=1)

    def make_record(self, path, image_id: str, row) -> dict:
        record = {"image_id": image_id, "path": printable_path(path)}
        start = 0
        for name, width in zip(self.names, self.widths):
            part = make_record(path, image_id, row[start:start + width])
            start += width
            if "error" in part:
                return {**record, "error": f"{name}: {NON_FINITE_OUTPUT}"}
            record[name] = {k: v for k, v in part.items() if k not in ("image_id", "path")}
        return record
