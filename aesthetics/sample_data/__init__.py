"""Bundled sample data: 11 real photos and 44 labelled quality versions of them.

The labels are **synthetic**: the MOS of each image is a fixed function of the
known strength of an artificial degradation (clean 80, mild 62, medium 44,
strong 26 on a 0..100 scale, plus a per-photo offset in [-5, 5]), not human
opinion scores. The sample exists so that "train -> evaluate -> predict" can
run in minutes with no download; see ``README.md`` in this folder for how it was
made, the sources and the licenses. Read the labels with
``score_range=(0, 100)``.

Example::

    from aesthetics.sample_data import sample_images_dir, sample_labels_path
    from aesthetics.data.labels import read_labels

    table = read_labels(sample_labels_path(), score_range=(0, 100))
    images = sample_images_dir()
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_DIR", "sample_images_dir", "sample_labels_path", "sample_originals_dir"]

#: Folder holding the sample data (inside the installed package).
SAMPLE_DIR = Path(__file__).parent


def sample_images_dir() -> Path:
    """Folder of the 44 labelled sample images (``<photo>_q0.jpg`` ... ``_q3.jpg``).

    ``_q0`` is the clean photo, ``_q1``/``_q2``/``_q3`` are mild / medium /
    strong degradations of it. File names match the ``image`` column of
    :func:`sample_labels_path`.
    """
    return SAMPLE_DIR / "images"


def sample_labels_path() -> Path:
    """Path of ``labels.csv`` (``image,mos,mos_std``; MOS on 0..100, synthetic).

    The scores are derived from the degradation level, not from human raters;
    pass ``score_range=(0, 100)`` when reading them.
    """
    return SAMPLE_DIR / "labels.csv"


def sample_originals_dir() -> Path:
    """Folder of the 11 clean photos (320 px long side), e.g. for a predict-on-a-folder demo."""
    return SAMPLE_DIR / "originals"
