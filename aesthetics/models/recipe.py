"""The recipe a scoring model carries: how a photo becomes its input and what
its output means.

Every consumer of a model (predict, evaluate, explain, export, the ONNX and
TFLite backends) reads this instead of guessing from layer names or side
files, so they all reproduce the preprocessing the training validated with.
This module is TensorFlow-free: the ONNX path reads the same recipe from an
export's `model.json`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

from aesthetics.constants import (
    MAX_BINS,
    MAX_SIDE,
    MIN_IMAGE_SIZE,
    NATIVE_MAX_SIDE,
    NATIVE_MIN_SIDE,
    NIMA_IMAGE_SIZE,
    NIMA_RESIZE_TO,
    NUM_BINS,
    RECIPE_RESIZE_POLICIES,
)
from aesthetics.errors import ModelFileError

OUTPUT_KINDS = ("distribution", "score")
# Bounds for recipes read from files (the limits config validation uses,
# from aesthetics.constants): an absurd size must not allocate gigabytes
# before anything else can complain.
MAX_IMAGE_SIDE = MAX_SIDE


@dataclass(frozen=True)
class Recipe:
    """How to feed and read a scoring model.

    image_size: side of the square model input (pixels); for "native" the
        side the model was designed around (unused when preparing photos).
    resize: a `RECIPE_RESIZE_POLICIES` name: "resize" squashes the whole
        photo to image_size^2 (NIMA); "center_crop" resizes to resize_to^2
        and crops the centre image_size^2; "native" keeps the photo's own
        size and aspect (a model with input (None, None, 3)), shrinking it
        only when its long side exceeds `max_side` (and enlarging photos
        whose short side is under 32 px).
    resize_to: intermediate side for "center_crop" (and the training crops).
    max_side: long-side cap of "native" (bounds the compute per photo).
    legacy: idealo NIMA preprocessing (nearest resize straight to
        image_size, no EXIF rotation) for their published weights.
    output: "distribution" (B, num_bins) probabilities over scores
        1..num_bins, or "score" (B, 1) unbounded quality score (e.g. a
        self-supervised ranking head).
    num_bins: score bins of a distribution output.
    score_range: [low, high] of the labels the model was trained on, mapped
        onto 1..num_bins (e.g. [0, 100] for a MOS; [high, low] for a DMOS,
        where lower is better); None when the labels were already on
        1..num_bins. Lets a user map scores back.
    """

    image_size: int = NIMA_IMAGE_SIZE
    resize: str = "resize"
    resize_to: int = NIMA_RESIZE_TO
    legacy: bool = False
    max_side: int = NATIVE_MAX_SIDE
    output: str = "distribution"
    num_bins: int = NUM_BINS
    score_range: Optional[tuple] = None

    def __post_init__(self):
        problems = _problems(self)
        if problems:
            raise ModelFileError("invalid model recipe: " + "; ".join(problems))

    @property
    def native(self) -> bool:
        return self.resize == "native" and not self.legacy

    @property
    def input_side(self) -> Optional[int]:
        """Side the photo is resized to before any crop (None for native)."""
        if self.native:
            return None
        return self.resize_to if self.resize == "center_crop" and not self.legacy else self.image_size

    @property
    def input_shape(self) -> tuple:
        """The model's input shape without the batch: (S, S, 3) or (None, None, 3)."""
        side = None if self.native else self.image_size
        return (side, side, 3)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["score_range"] = list(self.score_range) if self.score_range is not None else None
        return d

    @classmethod
    def from_dict(cls, values: dict, where: str = "recipe") -> "Recipe":
        values = checked_fields(cls, values, where)
        if values.get("score_range") is not None:
            sr = values["score_range"]
            if not isinstance(sr, (list, tuple)) or len(sr) != 2:
                raise ModelFileError(f"{where}: score_range must be [low, high], got {sr!r}")
            values["score_range"] = tuple(sr)
        try:
            return cls(**values)
        except ModelFileError as e:
            raise ModelFileError(f"{where}: {e}") from None
        except TypeError as e:
            raise ModelFileError(f"{where}: {e}") from None

    @classmethod
    def from_data_config(cls, data, num_bins: int = NUM_BINS, output: str = "distribution") -> "Recipe":
        """The recipe of a model trained with a `DataConfig`: what its
        validation pass used."""
        return cls(
            image_size=int(data.image_size),
            resize=data.eval_resize,
            max_side=int(getattr(data, "max_side", NATIVE_MAX_SIDE)),
            resize_to=max(int(data.resize_to), int(data.image_size)),
            output=output,
            num_bins=int(num_bins),
            score_range=tuple(data.score_range) if data.score_range else None,
        )

    def describe(self) -> str:
        if self.legacy:
            return f"nearest resize to {self.image_size}x{self.image_size} (idealo legacy)"
        if self.resize == "center_crop":
            return (f"resize to {self.resize_to}x{self.resize_to}, centre crop "
                    f"{self.image_size}x{self.image_size}")
        if self.resize == "native":
            return f"whole photo at native resolution (long side at most {self.max_side} px)"
        return f"whole photo resized to {self.image_size}x{self.image_size}"


def checked_fields(cls, values, where: str) -> dict:
    """`values` as a dict whose keys are all fields of the dataclass `cls`
    (what a model file may hold), else a ModelFileError naming `where`."""
    if not isinstance(values, dict):
        raise ModelFileError(f"{where}: expected an object, got {type(values).__name__}")
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ModelFileError(f"{where}: unknown field(s) {sorted(unknown)}")
    return dict(values)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _problems(r: Recipe) -> list:
    out = []
    if not _is_int(r.image_size) or not MIN_IMAGE_SIZE <= r.image_size <= MAX_IMAGE_SIDE:
        out.append(f"image_size must be an integer in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIDE}], got {r.image_size!r}")
    if r.resize not in RECIPE_RESIZE_POLICIES:
        out.append(f"resize must be one of {list(RECIPE_RESIZE_POLICIES)}, got {r.resize!r}")
    if not _is_int(r.max_side) or not NATIVE_MIN_SIDE <= r.max_side <= 2 * MAX_IMAGE_SIDE:
        out.append(f"max_side must be an integer in [{NATIVE_MIN_SIDE}, {2 * MAX_IMAGE_SIDE}], got {r.max_side!r}")
    if not _is_int(r.resize_to) or not MIN_IMAGE_SIZE <= r.resize_to <= MAX_IMAGE_SIDE:
        out.append(f"resize_to must be an integer in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIDE}], got {r.resize_to!r}")
    elif r.resize == "center_crop" and _is_int(r.image_size) and r.resize_to < r.image_size:
        out.append(f"resize_to ({r.resize_to}) must be >= image_size ({r.image_size}) for center_crop")
    if not isinstance(r.legacy, bool):
        out.append(f"legacy must be true/false, got {r.legacy!r}")
    if r.output not in OUTPUT_KINDS:
        out.append(f"output must be one of {list(OUTPUT_KINDS)}, got {r.output!r}")
    if not _is_int(r.num_bins) or not 1 <= r.num_bins <= MAX_BINS:
        out.append(f"num_bins must be an integer in [1, {MAX_BINS}], got {r.num_bins!r}")
    if r.score_range is not None:
        sr = r.score_range
        ok = (len(sr) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    and math.isfinite(v) for v in sr) and sr[0] != sr[1])
        if not ok:  # low > high flips the scale (DMOS)
            out.append(f"score_range must be [low, high], finite and low != high, got {list(sr)!r}")
    return out
