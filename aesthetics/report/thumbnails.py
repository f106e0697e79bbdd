"""Thumbnails for the report: small JPEGs embedded as base64 data URIs.

The report is one self-contained HTML file, so every thumbnail travels inside
it (``data:image/jpeg;base64,...``). They are made one at a time, while the
page is written (see `thumbnails_in_order`), so a library of 30,000 photos
never holds more than a few encoded thumbnails in memory.

Speed matters for large shoots: JPEGs are decoded at a reduced scale
(Pillow's `draft`, which lets libjpeg skip most of the work: a 24 MP photo
decodes at 1/8 size), then EXIF-rotated (what a viewer shows) and shrunk
with an antialiasing filter. A photo that cannot be opened (moved, deleted,
truncated, not an image) gets a neutral placeholder and a short reason; it
never raises, because one lost file must not cost the whole report.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

from PIL import Image, ImageOps

JPEG_QUALITY = 82  # small files (10-25 KB at 256 px) with no visible blocking at thumbnail size
# The report refuses to decode photos above this many pixels (decompression bombs); real
# photos, even 100 MP ones, are far below it, and JPEGs are decoded reduced anyway.
MAX_PIXELS = 400_000_000


@dataclass(frozen=True)
class Thumbnail:
    """One embedded image: a data URI, its pixel size, and, for a
    placeholder, the reason the photo could not be shown."""

    uri: str
    width: int
    height: int
    note: Optional[str] = None

    @property
    def is_placeholder(self) -> bool:
        return self.note is not None


def placeholder(size: int, note: str) -> Thumbnail:
    """A square grey tile with a crossed-out frame (inline SVG): it keeps the
    grid's rhythm where a photo could not be read; `note` says why."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 100 100"><rect width="100" height="100" fill="#3a3c42"/>'
        '<rect x="30" y="34" width="40" height="32" rx="3" fill="none" stroke="#8a8d96" '
        'stroke-width="3"/><circle cx="42" cy="45" r="4" fill="#8a8d96"/>'
        '<path d="M34 62l12-10 8 6 6-5 8 9" fill="none" stroke="#8a8d96" stroke-width="3"/>'
        '<path d="M24 76L76 24" stroke="#c96f6f" stroke-width="4"/></svg>'
    )
    # The xmlns is an identifier, not a resource: base64 keeps it (and every
    # other literal) out of the page's text, so the page has no URL at all.
    data = base64.b64encode(svg.encode("ascii")).decode("ascii")
    return Thumbnail(f"data:image/svg+xml;base64,{data}", size, size, note)


def _reason(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return "photo not found"
    if isinstance(error, IsADirectoryError):
        return "a folder, not a photo"
    if isinstance(error, PermissionError):
        return "photo not readable (permission denied)"
    if isinstance(error, Image.DecompressionBombError):
        return "photo too large to preview"
    if isinstance(error, OSError) and type(error).__name__ == "UnidentifiedImageError":
        return "not an image Pillow can read"
    text = str(error).strip() or type(error).__name__
    return f"photo could not be read ({text[:120]})"


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency becomes white (as the scorer sees it)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return ImageOps.autocontrast(img.convert("F").convert("L")).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def make_thumbnail(path, size: int = 256) -> Thumbnail:
    """The photo at `path`, EXIF-rotated and shrunk to fit `size` x `size`
    (never enlarged), as a JPEG data URI; a placeholder if it cannot be read."""
    if path is None or str(path) == "":
        return placeholder(size, "no file name in the record")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb / EXIF warnings: the result is what matters
            with Image.open(os.fspath(path)) as img:
                if img.width * img.height > MAX_PIXELS:
                    return placeholder(size, "photo too large to preview")
                img.seek(0)  # first frame of animations
                if img.format == "JPEG":
                    # decode at >= 2x the target (scale 1/2..1/8), so the final shrink still antialiases
                    img.draft("RGB", (2 * size, 2 * size))
                img.load()
                img = ImageOps.exif_transpose(img)
                img = _to_rgb(img)
                img.thumbnail((size, size), Image.LANCZOS, reducing_gap=3.0)
                buffer = io.BytesIO()
                img.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    except Exception as e:  # noqa: BLE001 -- a broken photo must never stop the report
        return placeholder(size, _reason(e))
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(f"data:image/jpeg;base64,{data}", img.width, img.height)


def thumbnails_in_order(
    paths: Iterable,
    size: int = 256,
    workers: Optional[int] = None,
    make: Callable = make_thumbnail,
) -> Iterator[Thumbnail]:
    """Thumbnails of `paths`, in order, made by a few threads ahead of the
    consumer (Pillow releases the GIL while decoding and encoding).

    At most ``2 * workers`` thumbnails exist at once, however many paths
    there are: the report streams each one into the page and drops it.
    ``workers=1`` makes them in the calling thread.
    """
    workers = workers or min(4, os.cpu_count() or 1)
    if workers <= 1:
        for path in paths:
            yield make(path, size)
        return
    ahead = 2 * workers
    pending: list = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thumbnail") as pool:
        for path in paths:
            pending.append(pool.submit(make, path, size))
            if len(pending) >= ahead:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
