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


def resize_photo(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, the whole photo squashed."""
    from PIL import Image

    if image.shape[0] == size and image.shape[1] == size:
        return np.ascontiguousarray(image, dtype=np.uint8)
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F").resize(
                (size, size), Image.BILINEAR, reducing_gap=None
            )
        )
        for c in range(3)
    ]
    out = np.stack(channels, axis=-1)
    return np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central size x size square of an (S, S, C) image (S >= size)."""
    off = (image.shape[0] - size) // 2
    return image[off : off + size, off : off + size]


def prepare_photo(image: np.ndarray, recipe) -> np.ndarray:
    """A decoded photo as a model with `recipe` takes it: (S, S, 3) uint8,
    resized (and centre-cropped for "center_crop" recipes)."""
    return center_crop(resize_photo(image, recipe.input_side), recipe.image_size)
