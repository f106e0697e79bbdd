"""The one photo resize every scoring path uses (TensorFlow-free).

Training, validation, `predict` and `evaluate` on every backend (keras,
savedmodel, onnx, tflite) prepare photos with these functions, so a file
gets the same pixels, and the same score, whichever runtime scores it.

`resize_photo` is an antialiased bilinear resize (Pillow's BILINEAR filter:
a triangle kernel widened by the scale factor, half-pixel centres), computed
per channel in Pillow's float mode (its 8-bit mode rounds between the
horizontal and vertical passes), clipped and rounded half-to-even to uint8.
It equals `tf.image.resize(..., "bilinear", antialias=True)` up to float
rounding: measured, under 0.1% of values differ, by one level. Only the
SavedModel's encoded-bytes signature (TF Serving, which cannot run Python)
resizes with the TF op (`aesthetics.data.pipeline.resize_image`).
"""

from __future__ import annotations

import numpy as np

from aesthetics.constants import NATIVE_MIN_SIDE
from aesthetics.data.images import check_photo_shape


def _resample(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) -> (height, width, 3) uint8 through Pillow's float mode."""
    from PIL import Image

    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F").resize(
                (width, height), Image.BILINEAR, reducing_gap=None
            )
        )
        for c in range(3)
    ]
    return np.rint(np.clip(np.stack(channels, axis=-1), 0.0, 255.0)).astype(np.uint8)


def resize_photo(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, the whole photo squashed."""
    if image.shape[0] == size and image.shape[1] == size:
        return np.ascontiguousarray(image, dtype=np.uint8)
    return _resample(image, size, size)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central size x size square of an (S, S, C) image (S >= size)."""
    off = (image.shape[0] - size) // 2
    return image[off : off + size, off : off + size]


def fit_photo(image: np.ndarray, max_side: int, min_side: int = NATIVE_MIN_SIDE) -> np.ndarray:
    """The photo at its own aspect ratio, shrunk so its long side is at most
    `max_side` (enlarged if its short side is under `min_side`); unchanged,
    pixel for pixel, when it already fits."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if min(h, w) * scale < min_side:
        scale = min_side / min(h, w)
    if scale == 1.0:
        return np.ascontiguousarray(image, dtype=np.uint8)
    return _resample(image, max(1, round(w * scale)), max(1, round(h * scale)))


# Decode at >= 1.5x the final size: the resize after it still averages real
# pixels. (2x kept 12 MP photos from the 1/2 scale for a 1024 px native
# recipe: 0.3 s instead of 0.06 s a photo, benchmarks/RESULTS.md.)
DRAFT_MARGIN = 1.5


def draft_size(recipe, width: int, height: int):
    """The smallest decoded (width, height) that `prepare_photo` needs for a
    stored photo of width x height (with a margin), or None when any JPEG
    draft scale would be too small to help (see `load_image(draft=...)`)."""
    if recipe.legacy:
        return None
    if recipe.native:
        return native_draft_size(recipe.max_side, width, height)
    return square_draft_size(recipe.input_side, width, height)


def native_draft_size(max_side: int, width: int, height: int, min_side: int = NATIVE_MIN_SIDE):
    """`draft_size` for `fit_photo(image, max_side, min_side)`."""
    scale = min(1.0, max_side / max(width, height))
    if min(width, height) * scale < min_side:
        return None  # enlarged by fit_photo: decode it all
    return _worth_it((width * scale * DRAFT_MARGIN, height * scale * DRAFT_MARGIN), width, height)


def square_draft_size(side: int, width: int, height: int):
    """`draft_size` for a resize to side x side (each side needs the margin)."""
    return _worth_it((side * DRAFT_MARGIN, side * DRAFT_MARGIN), width, height)


def _worth_it(need, width: int, height: int):
    if need[0] * 2 > width or need[1] * 2 > height:
        return None  # not even a 1/2 scale would do
    return (int(np.ceil(need[0])), int(np.ceil(need[1])))


def prepare_photo(image: np.ndarray, recipe) -> np.ndarray:
    """A decoded photo as a model with `recipe` takes it, uint8: (S, S, 3)
    resized (and centre-cropped for "center_crop" recipes), or for "native"
    recipes the photo itself (shrunk to the recipe's `max_side`). An empty
    photo or one past MAX_ASPECT_RATIO raises ImageDecodeError."""
    check_photo_shape(image.shape[1], image.shape[0])
    if recipe.native:
        return fit_photo(image, recipe.max_side)
    return center_crop(resize_photo(image, recipe.input_side), recipe.image_size)
