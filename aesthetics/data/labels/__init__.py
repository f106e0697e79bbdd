"""Label readers for image aesthetic / quality datasets.

Every reader in this module returns the same pandas DataFrame, the
**label table**, whose first columns are, in this order:

``image_id`` (str)
    The id exactly as written in the label file (surrounding whitespace
    removed), e.g. AVA ``"953619"``, CLIVE ``"t1.png"``, TID2013
    ``"i01_01_1.bmp"``.
``path`` (str)
    File name, relative to an image folder, under which the image is looked
    up.  Ids without a file extension (AVA, idealo) get ``".jpg"`` appended
    (``"953619" -> "953619.jpg"``); ids that already carry an extension are
    used as is.  Ids may contain ``/``-separated sub-folders, but never
    anything that could leave the image folder (absolute paths, ``..``,
    drive letters, backslashes): such ids are rejected at read time.
``distribution`` (object)
    One ``numpy.float32`` array of length ``num_bins`` (10) per row: a
    probability distribution over the scores ``1..num_bins``, summing to 1.
    This is the training target.
``mean``, ``std`` (float)
    Mean and standard deviation of ``distribution`` on the ``1..num_bins``
    scale (``mean = sum_i p_i * i``).
``source_line`` (int)
    Where the row came from: the 1-based line number for text formats
    (AVA, CSV, TID2013); for JSON the 0-based index of the record in the
    top-level array.  Used in error messages.

Readers may append extra, format-specific columns after these.

Supported formats (see :data:`LABEL_FORMATS`)
---------------------------------------------
``"ava"``
    The official ``AVA.txt``: whitespace separated, 15 integer fields per
    row: index, image id, 10 vote counts for the scores 1..10, semantic tag
    1, semantic tag 2, challenge id.  The distribution is the normalised
    vote histogram.  Extra columns: ``semantic_tag_1``, ``semantic_tag_2``,
    ``challenge_id`` (int; tag 0 means "no tag").
``"idealo_json"``
    idealo's JSON: ``[{"image_id": "953619", "label": [10 counts]}, ...]``.
    The distribution is the normalised ``label`` (non-negative numbers;
    already normalised labels work too).
``"mos_csv"``
    A CSV file with a header row, one image per row, a mean opinion score
    and optionally its standard deviation (KonIQ-10k, LIVE Challenge /
    CLIVE, SPAQ, ... style), e.g. ``image,mos,mos_std``.  Column names are
    matched case-insensitively: image among ``image, image_name, image_id,
    filename, file, name, path``; MOS among ``mos, score, mean``; std among
    ``mos_std, std, sd, stddev`` (override with ``image_column=`` etc.).
    Comma, semicolon and tab delimiters are recognised from the header.
``"tid2013"``
    TID2013's ``mos_with_names.txt``: lines ``MOS NAME`` such as
    ``5.51429 i01_01_1.bmp``, MOS on 0..9.

MOS formats: how a scalar score becomes a distribution
-----------------------------------------------------
The MOS is first mapped linearly from its native ``score_range=(LOW,
HIGH)`` onto ``1..num_bins`` (:func:`map_score_range`; the std is scaled by
the same factor).  ``LOW > HIGH`` is allowed and flips the scale, which is
what you want for DMOS-style labels where lower is better.  Without
``score_range`` the MOS values must already lie in ``[1, num_bins]``;
otherwise a :class:`LabelError` asks for ``--score-range LOW HIGH``.
(Caveat: KonIQ-10k's ``MOS`` column is on 1..5, which passes that check;
pass ``score_range=(1, 5)`` for it.)

The target is then :func:`gaussian_histogram` of the mapped mean and std:
a normal distribution integrated over the bins ``[i-0.5, i+0.5]`` with the
tails folded into the first and last bin.  When there is no std column a
default std of :data:`DEFAULT_STD` (1.0 on the 1..10 scale) is used.  The
table's ``mean``/``std`` are those of the returned *distribution*, so they
differ slightly from the mapped MOS (tail folding pulls extreme scores
towards the middle); the exact mapped score is kept in ``mos_mapped`` and
the raw values in ``mos`` (and ``mos_std`` when present).

Validation
----------
Every reader checks every row and raises :class:`LabelError` -- whose
message always names the file and the line (or JSON record) -- for: wrong
column count, unparsable numbers, negative vote counts, all-zero
histograms, NaN/inf, missing or unsafe image ids, duplicate image ids (both
lines are named), MOS outside ``score_range`` and empty files.  Blank lines
and a trailing newline are fine.  Parsing is vectorised (numpy) with a
per-line fallback that only runs to locate an error, so the 255k rows of
``AVA.txt`` parse in about a second.

Modules
-------
:mod:`~aesthetics.data.labels.table` (shared parsing, checks and table
building, the MOS -> distribution helpers), one module per reader
(:mod:`~aesthetics.data.labels.ava`,
:mod:`~aesthetics.data.labels.idealo_json`,
:mod:`~aesthetics.data.labels.mos_csv`,
:mod:`~aesthetics.data.labels.tid2013`) and
:mod:`~aesthetics.data.labels.detect` (:func:`detect_format`,
:func:`read_labels`).  :class:`LabelError` is
:class:`aesthetics.errors.LabelError` and :data:`LABEL_FORMATS` is
:data:`aesthetics.constants.LABEL_FORMATS`.  Matching a table to files on
disk lives in :mod:`aesthetics.data.files` and train/val splits in
:mod:`aesthetics.data.splits`; both are re-exported here for compatibility.
"""

from __future__ import annotations

from aesthetics.constants import LABEL_FORMATS
from aesthetics.data.labels.ava import read_ava_txt
from aesthetics.data.labels.detect import detect_format, read_labels
from aesthetics.data.labels.idealo_json import read_idealo_json
from aesthetics.data.labels.mos_csv import read_mos_csv
from aesthetics.data.labels.table import (
    DEFAULT_STD,
    MIN_STD,
    distribution_stats,
    gaussian_histogram,
    map_score_range,
    stack_distributions,
)
from aesthetics.data.labels.tid2013 import read_tid2013
from aesthetics.errors import LabelError

__all__ = [
    "LabelError",
    "LABEL_FORMATS",
    "DEFAULT_STD",
    "MIN_STD",
    "read_labels",
    "read_ava_txt",
    "read_idealo_json",
    "read_mos_csv",
    "read_tid2013",
    "detect_format",
    "gaussian_histogram",
    "distribution_stats",
    "stack_distributions",
    "map_score_range",
]
