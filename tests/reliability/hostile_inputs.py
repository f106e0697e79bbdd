"""Hostile inputs for the reliability suite: tiny files built on the fly.

Each maker writes one file (or folder, link, FIFO) under a folder and
returns its path. Shared by the test modules of tests/reliability/ and by
`python -m tests.reliability.hostile_inputs` style probing scripts.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RNG = np.random.default_rng(0)


def photo(h=48, w=64, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "RGB")


def jpeg_bytes(h=48, w=64, seed=0) -> bytes:
    buf = io.BytesIO()
    photo(h, w, seed).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(h=48, w=64, seed=0) -> bytes:
    buf = io.BytesIO()
    photo(h, w, seed).save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (a decompression bomb when large)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 16))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def gif_without_frames() -> bytes:
    # header, logical screen 10x10 without a colour table, then the trailer at once
    return b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + b";"


def tiff_bytes(mode: str, size=(40, 30), fill=None) -> bytes:
    if mode == "F":
        arr = RNG.random((size[1], size[0])).astype(np.float32) if fill is None else np.full((size[1], size[0]), fill, np.float32)
        img = Image.fromarray(arr)
    elif mode == "I;16":
        img = Image.fromarray(RNG.integers(0, 65535, (size[1], size[0]), dtype=np.uint16))
    else:
        img = photo(size[1], size[0]).convert(mode)
    buf = io.BytesIO()
    img.save(buf, "TIFF")
    return buf.getvalue()


def encoded(mode: str, fmt: str, size=(40, 30), **save) -> bytes:
    img = photo(size[1], size[0]).convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def gray16_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 65535, (30, 40), dtype=np.uint16)).save(buf, "PNG")
    return buf.getvalue()


def animated_gif() -> bytes:
    frames = [photo(20, 20, s).convert("P") for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def jpeg_with_orientation(value: int) -> bytes:
    img = photo(30, 40)
    exif = Image.Exif()
    exif[0x0112] = value
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def jpeg_with_junk_exif() -> bytes:
    data = jpeg_bytes()
    junk = b"Exif\x00\x00" + os.urandom(64)
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    return data[:2] + app1 + data[2:]


# name -> bytes (None: made by a special case below). Every one must end as
# an error record or a correct score, never stop the run.
BAD_IMAGE_BYTES = {
    "empty.jpg": b"",
    "truncated.jpg": jpeg_bytes()[: len(jpeg_bytes()) // 2],
    "truncated_header.jpg": jpeg_bytes()[:20],
    "truncated.png": png_bytes()[: len(png_bytes()) // 2],
    "bomb.png": png_with_size(100_000, 100_000),
    "zero_width.png": png_with_size(0, 10),
    "no_frames.gif": gif_without_frames(),
    "text.jpg": b"this is not a photo\n",
    "html.png": b"<html><body>404 not found</body></html>",
    "random.jpg": RNG.bytes(2048),
    "bad_crc.png": png_bytes()[:30] + b"\x00\x00" + png_bytes()[32:],
    "only_magic.jpg": b"\xff\xd8\xff",
    "only_magic.png": b"\x89PNG\r\n\x1a\n",
}

# Strips past MAX_ASPECT_RATIO (32:1): an error record each, decided from the
# header before decoding (a 1 x 100000 PNG took about a minute to score when
# its short side was enlarged to 32 px).
STRIP_IMAGE_BYTES = {
    "wide_4000x1.png": encoded("RGB", "PNG", size=(4000, 1)),
    "tall_1x3000.png": encoded("RGB", "PNG", size=(1, 3000)),
    "strip_100000x1.png": encoded("RGB", "PNG", size=(100_000, 1)),
    "wide_3300x100.jpg": encoded("RGB", "JPEG", size=(3300, 100)),
}

# Odd but real images: every one must get a finite score.
ODD_IMAGE_BYTES = {
    "mode_I16.tif": tiff_bytes("I;16"),
    "mode_F.tif": tiff_bytes("F"),
    "mode_CMYK.tif": tiff_bytes("CMYK"),
    "mode_1.tif": tiff_bytes("1"),
    "mode_LA.tif": tiff_bytes("LA"),
    "mode_RGBA.tif": tiff_bytes("RGBA"),
    "mode_P.tif": tiff_bytes("P"),
    "mode_I.tif": tiff_bytes("I"),
    "mode_YCbCr.tif": tiff_bytes("YCbCr"),
    "mode_LAB.tif": tiff_bytes("LAB"),
    "cmyk.jpg": encoded("CMYK", "JPEG"),
    "gray.jpg": encoded("L", "JPEG"),
    "rgba.png": encoded("RGBA", "PNG"),
    "palette.png": encoded("P", "PNG"),
    "palette_transparent.png": encoded("P", "PNG", transparency=0),
    "gray16.png": gray16_png(),
    "image.bmp": encoded("RGB", "BMP"),
    "image.webp": encoded("RGB", "WEBP"),
    "animated.gif": animated_gif(),
    "one_pixel.png": encoded("RGB", "PNG", size=(1, 1)),
    "wide_32x1.png": encoded("RGB", "PNG", size=(320, 10)),  # exactly at the bound: scored
    "orientation_6.jpg": jpeg_with_orientation(6),
    "orientation_99.jpg": jpeg_with_orientation(99),
    "orientation_0.jpg": jpeg_with_orientation(0),
    "junk_exif.jpg": jpeg_with_junk_exif(),
    "UPPER.JPG": jpeg_bytes(seed=3),
    "jpeg_named.png": jpeg_bytes(),
    "png_named.jpg": png_bytes(),
}

# File names a user's library may hold; content: a good JPEG.
ODD_NAMES = [
    "new\nline.jpg", 'quo"te.jpg', "apos'trophe.jpg", "com,ma.jpg", "-leading-dash.jpg",
    "--output.jpg", "sp ace.jpg", "[glob]*.jpg", "tab\there.jpg", "ünïcödé.jpg", "emoji_📷.jpg",
    "semi;colon.jpg", "back\\slash.jpg", "percent%20.jpg", "a" * 200 + ".jpg", ".hidden.jpg",
    "no_extension", "two.dots..jpg", "carriage\rreturn.jpg",
]
NON_UTF8_NAME = b"latin1_\xe9\xff.jpg"


def write(folder: Path, name, data: bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    with open(os.fsencode(path), "wb") as f:
        f.write(data)
    return path


def special_files(folder: Path) -> dict:
    """Things that are not regular readable files: name -> path."""
    folder = Path(folder)
    out = {}
    d = folder / "folder.jpg"
    d.mkdir()
    out["folder.jpg"] = d
    fifo = folder / "fifo.jpg"
    os.mkfifo(fifo)
    out["fifo.jpg"] = fifo
    loop = folder / "loop.jpg"
    os.symlink("loop.jpg", loop)
    out["loop.jpg"] = loop
    dangling = folder / "dangling.jpg"
    os.symlink("does-not-exist.jpg", dangling)
    out["dangling.jpg"] = dangling
    locked = write(folder, "no_permission.jpg", jpeg_bytes(seed=7))
    os.chmod(locked, 0)
    out["no_permission.jpg"] = locked
    return out


# ------------------------------------------------------------------ the CLI


def run_cli(capsys, *args):
    """`aesthetics ARGS` in this process: (exit code, stdout, stderr)."""
    import logging

    from aesthetics.cli import main

    capsys.readouterr()
    root = logging.getLogger()
    for handler in list(root.handlers):  # basicConfig binds to the current (captured) stderr
        root.removeHandler(handler)
    try:
        rc = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args])
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clear_error(result, *needles):
    """Exit 2, no traceback, and the last stderr line is the one error line
    (`aesthetics: error: ...` or argparse's `aesthetics CMD: error: ...`)
    holding every needle."""
    rc, _, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err, err
    assert lines, "nothing on stderr"
    errors = [line for line in lines if line.startswith("aesthetics") and ": error:" in line]
    assert errors == [lines[-1]], err
    for needle in needles:
        assert str(needle) in lines[-1], (needle, lines[-1])
    return lines[-1]


def tiny_labelled_set(folder: Path, n: int = 8) -> tuple:
    """n small photos and a MOS CSV (0..100) for them: (images folder, labels file)."""
    images = Path(folder) / "images"
    images.mkdir(parents=True)
    rows = ["image,mos"]
    for i in range(n):
        write(images, f"p{i}.jpg", jpeg_bytes(seed=i))
        rows.append(f"p{i}.jpg,{10 + 80 * i / max(1, n - 1):.1f}")
    labels = Path(folder) / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return images, labels


TINY_TRAIN = ["--set", "model.alpha=0.25", "--set", "data.image_size=64", "--set", "data.resize_to=72",
              "--backbone-weights", "none", "--set", "data.batch_size=4", "--set", "train.epochs_head=0",
              "--score-range", "0", "100", "--verbose", "0", "-q"]
