"""Decoding real-world image files into RGB uint8 arrays, robustly.

Photos in the wild come as JPEG/PNG/BMP/WebP/TIFF/GIF, rotated by EXIF tags,
in CMYK, 16-bit, palette, grayscale or with alpha, and sometimes truncated or
not images at all. `load_image` normalises all of them to an (H, W, 3) uint8
RGB array or raises `ImageDecodeError` with a reason; callers skip and report.

Pillow does the decoding (it covers every format above and releases the GIL
while decoding, so the tf.data map that calls it runs in parallel).
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from aesthetics.constants import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, MAX_ASPECT_RATIO  # noqa: F401
from aesthetics.errors import AestheticsError

# Nothing is changed at import. Truncated files fail because Pillow's
# ImageFile.LOAD_TRUNCATED_IMAGES is False by default (`load_image` refuses to
# run if someone switched it on); Pillow's bomb warning is silenced on first use.
_limit_lock = Lock()
_warning_filter_installed = False


def _allow_pillow_pixels(max_pixels: int) -> None:
    # Pillow refuses > 2 * MAX_IMAGE_PIXELS in Image.open, before our check can
    # run; raise its limit (never lower it) when the user allows more. Only ever
    # increasing it keeps this safe with many decoding threads.
    global _warning_filter_installed
    with _limit_lock:
        if not _warning_filter_installed:
            # We enforce our own pixel limit; the warning only precedes our refusal.
            warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
            _warning_filter_installed = True
        if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
            Image.MAX_IMAGE_PIXELS = max_pixels


class ImageDecodeError(AestheticsError):
    """An image file that cannot be used; the message says why."""


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite on white: transparent background reads as "paper", not black.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit integer or float grayscale: scale to 8 bits by the type's range.
        arr = np.asarray(img)
        if mode == "F":
            if not np.all(np.isfinite(arr)):
                raise ImageDecodeError("pixels are not finite numbers (NaN or inf in a float image)")
            arr = np.clip(arr, 0.0, 1.0 if arr.max() <= 1.0 else 255.0)
            scale = 255.0 if arr.max() <= 1.0 else 1.0
            arr8 = (arr * scale).round().astype(np.uint8)
        else:
            peak = 65535.0 if arr.max() > 255 else 255.0
            arr8 = (arr.astype(np.float64) * (255.0 / peak)).round().clip(0, 255)
            arr8 = arr8.astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB")
    if mode != "RGB":
        return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return img


def check_photo_shape(width: int, height: int) -> None:
    """Refuses (ImageDecodeError) an empty photo or one whose aspect ratio
    exceeds MAX_ASPECT_RATIO: the work it would cost is unbounded."""
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"empty image ({width}x{height})")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageDecodeError(f"aspect ratio {width}x{height} is beyond {MAX_ASPECT_RATIO}:1 "
                               "(a strip, not a photo; its enlarged input would be unbounded)")


def rgb_array(img: Image.Image, exif_transpose: bool = True) -> np.ndarray:
    """An opened (loaded) Pillow image as `load_image` returns a file: EXIF
    rotation applied (unless told not to), converted to (H, W, 3) uint8 RGB
    (alpha on white, 16-bit and float scaled, CMYK/palette converted)."""
    if exif_transpose:
        img = ImageOps.exif_transpose(img)
    return np.asarray(_to_rgb(img), dtype=np.uint8)


def resize_legacy(image: np.ndarray, size: int) -> np.ndarray:
    """idealo's resize: nearest-neighbour straight to size x size (uint8)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.NEAREST), dtype=np.uint8)


def _require_regular_file(path) -> None:
    """A FIFO or device would block or stream forever: refuse anything but a file."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageDecodeError("file not found (or a link to nothing)") from None
    except OSError as e:
        raise ImageDecodeError(f"cannot open: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise ImageDecodeError("not a regular file (a FIFO, device or socket)")


def load_image(
    path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    exif_transpose: bool = True,
    draft=None,
) -> np.ndarray:
    """Decodes `path` into an (H, W, 3) uint8 RGB array.

    Args:
        path: image file (or a binary file object, e.g. io.BytesIO of
            encoded bytes).
        max_pixels: images with more pixels are refused (decompression bombs).
        exif_transpose: apply the EXIF orientation tag (what a viewer shows).
        draft: optional `(width, height) -> (width, height) or None`: the
            smallest decoded size the caller needs, given the stored size.
            A JPEG is then decoded at 1/2, 1/4 or 1/8 scale in the DCT
            domain (`Image.draft`) when that still covers it: several times
            cheaper for large photos. Scale and orientation are the stored
            (pre-EXIF-rotation) ones.

    Raises:
        ImageDecodeError: unreadable, unsupported, truncated or too large.
    """
    arr = decode_image(path, lambda img: rgb_array(img, exif_transpose), max_pixels, draft)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageDecodeError(f"unexpected decoded shape {arr.shape}")
    return arr


def decode_image(path, use, max_pixels: int = DEFAULT_MAX_PIXELS, draft=None):
    """Opens and decodes `path` once (first frame; `max_pixels` and `draft`
    as in `load_image`) and returns `use(image)` of the loaded Pillow image:
    several conversions of one decode (e.g. one photo for two models). Any
    failure, in decoding or in `use`, is an ImageDecodeError with a reason."""
    path = path if hasattr(path, "read") else os.fspath(path)
    if not hasattr(path, "read"):
        _require_regular_file(path)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise ImageDecodeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on in this process: truncated files would "
            "decode silently into grey; switch it off to score"
        )
    _allow_pillow_pixels(max_pixels)
    try:
        img = Image.open(path)
        with img:
            w, h = img.size
            check_photo_shape(w, h)  # before the decode: a 1 x 100000 strip costs nothing then
            if w * h > max_pixels:
                raise ImageDecodeError(
                    f"too large: {w}x{h} = {w * h} pixels > limit {max_pixels} "
                    f"(raise data.max_pixels to allow it)"
                )
            img.seek(0)  # first frame of GIF/TIFF/WebP animations
            if draft is not None and img.format in ("JPEG", "MPO"):  # MPO: cameras' multi-picture JPEG
                need = draft(w, h)
                if need is not None:
                    img.draft("RGB" if img.mode == "RGB" else None, need)
            img.load()
            return use(img)
    except ImageDecodeError:
        raise
    except FileNotFoundError:
        raise ImageDecodeError("file not found") from None
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(f"too large: {e}") from None
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image file Pillow can identify") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
        raise ImageDecodeError(f"cannot decode: {e}") from None


def legacy_rgb(img: Image.Image) -> np.ndarray:
    """idealo's `load_img` pixels of a loaded Pillow image: `convert("RGB")`
    (no EXIF rotation, transparency dropped), (H, W, 3) uint8."""
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def load_image_legacy(path, size: int = 224, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """idealo's NIMA preprocessing: `keras.utils.load_img(path, target_size)`,
    i.e. RGB conversion, no EXIF rotation, nearest-neighbour resize straight
    to size x size. Used with their published weights for identical scores.
    `path` may be a binary file object too; `max_pixels` as in `load_image`."""
    return decode_image(path, lambda img: resize_legacy(legacy_rgb(img), size), max_pixels)


@dataclass
class DecodeReport:
    """Thread-safe record of files skipped during a run: path -> reason."""

    failures: dict = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add(self, path: str, reason: str) -> None:
        with self._lock:
            self.failures[str(path)] = reason

    def __len__(self):
        return len(self.failures)

    def summary(self, limit: int = 10) -> str:
        items = sorted(self.failures.items())
        lines = [f"skipped {len(items)} unreadable image(s):"]
        lines += [f"  {p}: {r}" for p, r in items[:limit]]
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more")
        return "\n".join(lines)


def find_images(inputs, recursive: bool = False) -> list[str]:
    """Expands files, folders and glob patterns into a sorted list of image paths.

    Files named explicitly are kept whatever their extension or kind (a bad
    file, a FIFO, a dangling link is reported as an error record by the
    scorer, not silently ignored); folder and glob members are filtered by
    `IMAGE_EXTENSIONS`. Raises InputNotFoundError for an input that matches
    nothing.
    """
    from aesthetics.errors import InputNotFoundError

    out: list[str] = []
    for item in inputs:
        item = os.fspath(item)
        p = Path(item)
        try:
            if p.is_dir():
                it = p.rglob("*") if recursive else p.iterdir()
                out += [str(f) for f in it if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
                continue
            if p.exists() or p.is_symlink():  # a file, FIFO, device or a dangling/looping link
                out.append(str(p))
                continue
            matches = glob.glob(item, recursive=recursive)
        except OSError as e:  # a name too long, a folder that cannot be listed
            raise InputNotFoundError(f"no such file, folder or pattern: {item[:200]} "
                                     f"({e.strerror or e})") from None
        except ValueError as e:  # e.g. an embedded NUL byte
            raise InputNotFoundError(f"not a usable path: {item[:200]!r} ({e})") from None
        if not matches:
            raise InputNotFoundError(f"no such file, folder or pattern: {item[:200]}")
        out += [m for m in matches if Path(m).is_file() and Path(m).suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(dict.fromkeys(out))  # de-duplicate, keep deterministic order
