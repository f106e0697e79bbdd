"""Draws every degradation kind at levels 0..5 as a PNG grid.

    python benchmarks/make_degradation_figure.py [--image PATH] [--output docs/degradations.png]

One row per kind (see ``aesthetics.pretext.degrade``), columns: clean, then
levels 1..5, each tile labelled with its level parameter and PSNR against
the clean tile. Tiles are drawn 1:1 (no display resampling): the photo is
resized so its shorter side is ``--size`` px and centre-cropped, and then
degraded at that size (spatial parameters are rescaled from the 224 px
reference, as in the training pipeline).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_IMAGE = ROOT.parent / "shared" / "data" / "pristine" / "picosdeeuropa_by_Aitzol_Berasategi.jpg"


def load_square(path, size):
    import tensorflow as tf

    img = tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
    img = tf.image.convert_image_dtype(img, tf.float32)
    h, w = int(img.shape[0]), int(img.shape[1])
    s = size / min(h, w)
    img = tf.image.resize(img, [max(size, round(h * s)), max(size, round(w * s))], antialias=True)
    return tf.clip_by_value(tf.image.resize_with_crop_or_pad(img, size, size), 0.0, 1.0)


def _fmt(v):
    return f"{v:g}" if abs(v) >= 0.1 or v == 0 else f"{v:.3f}".rstrip("0")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(DEFAULT_IMAGE), help="photo to degrade (default: %(default)s)")
    ap.add_argument("--output", default=str(ROOT / "docs" / "degradations.png"))
    ap.add_argument("--size", type=int, default=128, help="tile size in px (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import tensorflow as tf

    from aesthetics.pretext.degrade import DEGRADATIONS, NUM_LEVELS, degrade

    clean = load_square(args.image, args.size)

    tile, gap, title_h, left = args.size, 6, 30, 170
    rows, cols = len(DEGRADATIONS), NUM_LEVELS + 1
    width = left + cols * (tile + gap)
    height = 50 + rows * (tile + title_h + gap)
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fig.text(
        0.5,
        1 - 12 / height,
        f"aesthetics.pretext.degrade: level 0 (clean) to {NUM_LEVELS}, {tile} px tiles\n"
        f"{Path(args.image).name}; label: level parameter, PSNR vs clean",
        ha="center",
        va="top",
        fontsize=11,
    )
    for r, (name, deg) in enumerate(DEGRADATIONS.items()):
        # one image per call, so every level of a random kind (noise, motion
        # angle, warm/cool...) uses the same per-example randomness
        out = np.stack([degrade(clean, name, lv, seed=[args.seed, 0]).numpy() for lv in range(cols)])
        top = 50 + r * (tile + title_h + gap) + title_h
        fig.text(4 / width, 1 - (top + tile / 2 - 10) / height, name, fontsize=11, weight="bold", va="center")
        fig.text(
            4 / width,
            1 - (top + tile / 2 + 12) / height,
            textwrap.fill(deg.param_doc, 30),
            fontsize=7.5,
            va="top",
            wrap=True,
        )
        for c in range(cols):
            x0 = left + c * (tile + gap)
            ax = fig.add_axes([x0 / width, 1 - (top + tile) / height, tile / width, tile / height])
            ax.imshow(out[c], interpolation="nearest")
            ax.set_axis_off()
            if c == 0:
                label = "clean"
            else:
                psnr = float(tf.image.psnr(out[c], clean, 1.0))
                label = f"L{c}: {_fmt(deg.levels[c - 1])}   {psnr:.1f} dB"
            fig.text(
                (x0 + tile / 2) / width, 1 - (top - 4) / height, label, ha="center", va="bottom", fontsize=8.5
            )
    out_path = Path(args.output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # RGB (no alpha channel) keeps the PNG about a quarter smaller
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(rgb)).save(out_path, optimize=True)
    print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
