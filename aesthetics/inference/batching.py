"""How photos are grouped into model calls: by shape and by a pixel budget.

One rule for every scoring path: the streaming loop over files
(`aesthetics.inference.scoring.iter_outputs`), in-memory arrays
(`aesthetics.Scorer.score`) and Beam batches (`aesthetics.beam.handler`).
A model call takes photos of one shape (native-resolution photos keep their
own sizes and cannot be stacked), at most `batch_size` of them, and no more
pixels in all than `batch_pixels` (default `DEFAULT_BATCH_PIXELS`), so
activation memory is bounded by pixels, not by batch size x photo size; a
photo larger than the budget is scored alone.

An "image" here is an (H, W, C) array, or a tuple of them (one input per
model of a group, `aesthetics.inference.multi`): its shape is then the tuple
of shapes and its pixels those of its largest input (each model's call is
bounded on its own).

numpy only (the ONNX path stays TF-free).
"""

from __future__ import annotations

from typing import Optional, Sequence

from aesthetics.constants import DEFAULT_BATCH_PIXELS


def image_pixels(image) -> int:
    """A photo's pixels as the budget counts them (a tuple: its largest input)."""
    parts = image if isinstance(image, tuple) else (image,)
    return max(part.shape[0] * part.shape[1] for part in parts)


def image_shape(image):
    """An image's shape, or the tuple of shapes of a tuple of inputs."""
    return tuple(part.shape for part in image) if isinstance(image, tuple) else image.shape


def fits(count: int, pixels: int, batch_size: Optional[int] = None,
         batch_pixels: Optional[int] = None) -> bool:
    """Whether a run of `count` same-shape photos takes one more photo of
    `pixels` pixels: always when the run is empty (a photo over the budget
    goes alone), else while the run stays within both bounds."""
    if count == 0:
        return True
    if batch_size is not None and count >= batch_size:
        return False
    return (count + 1) * pixels <= (batch_pixels or DEFAULT_BATCH_PIXELS)


def pixel_batches(images: Sequence, batch_size: Optional[int] = None,
                  batch_pixels: Optional[int] = None) -> list[list[int]]:
    """Indexes of `images` split into model calls: grouped by shape (groups
    in order of first appearance, input order within a group), each group cut
    into runs that `fits` allows. Every index appears exactly once."""
    groups: dict = {}
    for i, image in enumerate(images):
        groups.setdefault(image_shape(image), []).append(i)
    runs: list[list[int]] = []
    for indexes in groups.values():
        pixels = image_pixels(images[indexes[0]])
        run: list[int] = []
        for i in indexes:
            if not fits(len(run), pixels, batch_size, batch_pixels):
                runs.append(run)
                run = []
            run.append(i)
        runs.append(run)
    return runs
