#!/usr/bin/env python3
"""Regenerate the bundled sample data in ``aesthetics/sample_data/``.

The sample is 11 real photographs taken from Debian (bookworm) packages with
redistributable licenses, each downscaled to 320 px on the long side, plus
three degraded versions per photo and a *synthetic* MOS label file whose
scores are a fixed function of the degradation level (see ``mos_for``).

Usage (the exact commands used to build the shipped files)::

    mkdir -p /tmp/debs && cd /tmp/debs
    apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \\
        plasma-workspace-wallpapers python3-skimage python-matplotlib-data
    for f in *.deb; do d="x_${f%%_*}"; mkdir -p "$d"; dpkg -x "$f" "$d"; done
    cd /path/to/repo
    python contrib/sample_data/make_sample.py /tmp/debs/x_*

Each positional argument is the root of an unpacked ``.deb`` (the folder that
contains ``usr/``), or a folder in which those roots live; every source file is
looked up by its path inside the package (``usr/share/...``) under all of them.
The SHA-256 of every source file is checked, so a different package version
is reported instead of silently producing different images.

``--from-originals`` skips the Debian sources and rebuilds the degraded images,
labels and manifest from the already-shipped ``originals/`` folder.

Only Pillow and NumPy are used. Output is deterministic: the noise is drawn
from ``numpy.random.RandomState`` (a stream NumPy keeps stable) seeded from a
CRC-32 of the output name, and JPEG files are written with fixed settings, so
the same Pillow/libjpeg build reproduces the same bytes (built with
Pillow 13.0.0 with libjpeg-turbo 3.2.0 and LittleCMS 2.19, NumPy 2.4.6).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
import zlib
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageEnhance, ImageFilter, ImageOps

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "aesthetics" / "sample_data"

LONG_SIDE = 320          # px, long side of every shipped image
CLEAN_QUALITY = 92       # JPEG quality of every file except the JPEG-artefact ones
SUBSAMPLING = "4:2:0"    # written explicitly so the encoder settings are fixed

# ---------------------------------------------------------------------------
# Sources. `path` is the file's path inside the .deb; `sha256` is of that file
# in the package version named. Licenses/authors are those stated in the
# package's /usr/share/doc/<package>/copyright (and, where that file is only a
# blanket statement, the per-image note shipped inside the package).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    stem: str
    package: str
    version: str
    path: str
    sha256: str
    author: str
    license: str


SOURCES = [
    Source("greentock", "lomiri-wallpapers-16.04", "20.04.0-2",
           "usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg",
           "e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889",
           "Peter Nerlich (2018)", "CC-BY-SA-4.0"),
    Source("kleiber", "lomiri-wallpapers-20.04", "20.04.0-2",
           "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
           "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7",
           "Lukas Baubkus (2021)", "CC-BY-SA-3.0"),
    Source("colorful_cups", "plasma-workspace-wallpapers", "4:5.27.5-2",
           "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
           "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d",
           "Dmitri Popov", "GPL-2+ (debian/copyright); LGPL-3 (upstream metadata.json)"),
    Source("one_stands_out", "plasma-workspace-wallpapers", "4:5.27.5-2",
           "usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg",
           "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd",
           "Risto Saukonpää", "GPL-2+ (debian/copyright); LGPL-3 (upstream metadata.json)"),
    Source("kite", "plasma-workspace-wallpapers", "4:5.27.5-2",
           "usr/share/wallpapers/Kite/contents/images/2560x1600.jpg",
           "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8",
           "Risto Saukonpää", "GPL-2+ (debian/copyright); LGPL-3 (upstream metadata.json)"),
    Source("coffee", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/data/coffee.png",
           "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
           "Rachel Michetti", "CC0-1.0"),
    Source("chelsea", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/data/chelsea.png",
           "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
           "Stéfan van der Walt", "CC0-1.0"),
    Source("astronaut", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/data/astronaut.png",
           "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
           "NASA", "Public domain"),
    Source("rocket", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/data/rocket.jpg",
           "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
           "SpaceX", "Public domain"),
    Source("camera", "python3-skimage", "0.19.3-8",
           "usr/lib/python3/dist-packages/skimage/data/camera.png",
           "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
           "Lav Varshney", "CC0-1.0"),
    Source("grace_hopper", "python-matplotlib-data", "3.6.3-1",
           "usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
           "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
           "U.S. Navy (official portrait)", "Public domain; matplotlib license (debian/copyright)"),
]

# ---------------------------------------------------------------------------
# Degradations. Level 1 = mild, 2 = medium, 3 = strong. The parameters are
# tuned for 320 px images.
# ---------------------------------------------------------------------------

FAMILIES = ["blur", "jpeg", "noise", "exposure", "fade"]
PARAMS = {
    "blur": {1: 0.8, 2: 1.6, 3: 3.0},            # Gaussian blur radius (px)
    "jpeg": {1: 25, 2: 12, 3: 5},                # JPEG quality of the saved file
    "noise": {1: 7.0, 2: 16.0, 3: 32.0},         # Gaussian sigma, 0..255 scale, per channel
    "under": {1: 0.62, 2: 0.40, 3: 0.22},        # brightness factor (under-exposure)
    "over": {1: 1.5, 2: 2.0, 3: 2.8},            # brightness factor (over-exposure, clips)
    "fade": {1: (0.45, 0.80), 2: (0.15, 0.60), 3: (0.0, 0.40)},  # (colour, contrast) factors
}

# Synthetic MOS (0..100, CLIVE-like scale): a fixed value per level plus a
# per-photo offset in [-5, 5] derived from CRC-32 of the photo's stem.
MOS_BY_LEVEL = {0: 80.0, 1: 62.0, 2: 44.0, 3: 26.0}
MOS_STD = 12.0


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


def photo_offset(stem: str) -> int:
    """Per-photo MOS offset in [-5, 5], fixed by the photo's name."""
    return crc(stem) % 11 - 5


def mos_for(stem: str, level: int) -> float:
    """The synthetic label: MOS_BY_LEVEL[level] + photo_offset(stem)."""
    return MOS_BY_LEVEL[level] + photo_offset(stem)


def families_for(index: int, grayscale: bool) -> list[str]:
    """The distortion family used at levels 1, 2, 3 of the index-th photo.

    Families rotate with the photo's index so that every family occurs at
    every level; a grayscale photo never gets the colour "fade".
    """
    pool = [f for f in FAMILIES if not (grayscale and f == "fade")]
    start = index % len(pool)
    return [pool[(start + k) % len(pool)] for k in range(3)]


def exposure_direction(stem: str) -> str:
    """'under' or 'over', fixed by the photo's name."""
    return "under" if crc(stem + ":exposure") % 2 == 0 else "over"


# ---------------------------------------------------------------------------


def find_source(roots: list[Path], rel: str) -> Path:
    candidates = []
    for root in roots:
        candidates.append(root / rel)
        if root.is_dir():
            candidates.extend(sorted(p / rel for p in root.iterdir() if p.is_dir()))
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"{rel} not found under any of: {', '.join(map(str, roots))}")


def to_srgb(im: Image.Image) -> Image.Image:
    """Apply EXIF orientation, convert embedded non-sRGB ICC profiles to sRGB, return RGB."""
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    if icc:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(src).strip()
        if "srgb" not in desc.lower():
            im = ImageCms.profileToProfile(
                im.convert("RGB"), src, ImageCms.createProfile("sRGB"),
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB")
    return im.convert("RGB")


def downscale(im: Image.Image) -> Image.Image:
    w, h = im.size
    s = LONG_SIDE / max(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return im.resize(size, Image.Resampling.LANCZOS)


def save_jpeg(im: Image.Image, path: Path, quality: int = CLEAN_QUALITY) -> None:
    im.save(path, "JPEG", quality=quality, subsampling=SUBSAMPLING,
            optimize=False, progressive=False)


def degrade(im: Image.Image, family: str, level: int, stem: str, name: str, grayscale: bool):
    """Return (image, jpeg_quality, description) for one degraded version."""
    if family == "blur":
        r = PARAMS["blur"][level]
        return im.filter(ImageFilter.GaussianBlur(r)), CLEAN_QUALITY, f"gaussian blur radius {r}"
    if family == "jpeg":
        q = PARAMS["jpeg"][level]
        return im.copy(), q, f"JPEG quality {q}"
    if family == "noise":
        sigma = PARAMS["noise"][level]
        rng = np.random.RandomState(crc(name))
        a = np.asarray(im, dtype=np.float64)
        # a black-and-white photo gets the same noise in all channels (no colour noise)
        shape = a.shape[:2] + (1,) if grayscale else a.shape
        a = a + rng.normal(0.0, sigma, size=shape)
        out = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
        return out, CLEAN_QUALITY, f"additive gaussian noise sigma {sigma:g}"
    if family == "exposure":
        d = exposure_direction(stem)
        f = PARAMS[d][level]
        label = "under-exposure" if d == "under" else "over-exposure"
        return ImageEnhance.Brightness(im).enhance(f), CLEAN_QUALITY, f"{label} brightness x{f:g}"
    if family == "fade":
        c, k = PARAMS["fade"][level]
        out = ImageEnhance.Contrast(ImageEnhance.Color(im).enhance(c)).enhance(k)
        return out, CLEAN_QUALITY, f"desaturation colour x{c:g} + contrast x{k:g}"
    raise ValueError(family)


def is_grayscale(im: Image.Image) -> bool:
    """True when the RGB channels agree to within JPEG rounding (a black-and-white photo)."""
    a = np.asarray(im, dtype=np.int16)
    return int(np.abs(a - a.mean(axis=2, keepdims=True)).max()) <= 3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="*", type=Path,
                    help="unpacked .deb roots (folders containing usr/), or folders holding them")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--from-originals", action="store_true",
                    help="rebuild images/, labels.csv, manifest.csv from the existing originals/")
    ap.add_argument("--no-verify", action="store_true", help="do not check source SHA-256 sums")
    args = ap.parse_args(argv)
    if not args.sources and not args.from_originals:
        ap.error("give the unpacked .deb folder(s), or --from-originals")

    out: Path = args.out
    orig_dir, img_dir = out / "originals", out / "images"
    orig_dir.mkdir(parents=True, exist_ok=True)

    # 1. originals: 320 px long side, sRGB, JPEG q92
    if not args.from_originals:
        for src in SOURCES:
            path = find_source(args.sources, src.path)
            digest = sha256(path.read_bytes()).hexdigest()
            if digest != src.sha256 and not args.no_verify:
                print(f"error: {path}: sha256 {digest} != expected {src.sha256} "
                      f"({src.package} {src.version}); use --no-verify to accept", file=sys.stderr)
                return 1
            with Image.open(path) as im:
                im.load()
                small = downscale(to_srgb(im))
            save_jpeg(small, orig_dir / f"{src.stem}.jpg")
            print(f"original  {src.stem + '.jpg':22s} {small.size[0]}x{small.size[1]}  <- {path}")

    # 2. degraded versions, decoded from the shipped originals
    if img_dir.exists():
        shutil.rmtree(img_dir)
    img_dir.mkdir(parents=True)
    labels, manifest = [], []
    for index, src in enumerate(SOURCES):
        orig_path = orig_dir / f"{src.stem}.jpg"
        with Image.open(orig_path) as im:
            clean = im.convert("RGB")
        q0 = f"{src.stem}_q0.jpg"
        shutil.copyfile(orig_path, img_dir / q0)  # the clean version, byte-identical
        labels.append((q0, mos_for(src.stem, 0)))
        manifest.append((q0, src.stem, 0, "none", "clean (copy of originals/%s.jpg)" % src.stem,
                         CLEAN_QUALITY, mos_for(src.stem, 0)))
        gray = is_grayscale(clean)
        for level, family in enumerate(families_for(index, gray), start=1):
            name = f"{src.stem}_q{level}.jpg"
            out_im, quality, desc = degrade(clean, family, level, src.stem, name, gray)
            save_jpeg(out_im, img_dir / name, quality)
            labels.append((name, mos_for(src.stem, level)))
            manifest.append((name, src.stem, level, family if family != "exposure"
                             else exposure_direction(src.stem) + "-exposure",
                             desc, quality, mos_for(src.stem, level)))

    # 3. labels (image,mos,mos_std) and a manifest saying how each file was made
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["image", "mos", "mos_std"])
        for name, mos in labels:
            w.writerow([name, f"{mos:.1f}", f"{MOS_STD:.1f}"])
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["image", "original", "level", "distortion", "parameters", "jpeg_quality", "mos"])
        for row in manifest:
            w.writerow([*row[:-1], f"{row[-1]:.1f}"])

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(labels)} labelled images, {len(SOURCES)} originals; {out} holds {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
