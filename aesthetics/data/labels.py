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
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

from aesthetics.distributions import distribution_mean_std

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
    "resolve_images",
    "save_split",
    "load_split",
    "split_table",
]

#: Format names accepted by :func:`read_labels` (besides ``"auto"``).
LABEL_FORMATS = ("ava", "idealo_json", "mos_csv", "tid2013")

#: Std (in bins, i.e. on the 1..10 scale) used for MOS labels without a std.
DEFAULT_STD = 1.0

#: Floor applied to the std in :func:`gaussian_histogram` (never divide by 0).
MIN_STD = 0.05

#: Relative tolerance (fraction of the score span) for MOS range checks.
_RANGE_TOL = 1e-4

_IMAGE_COLUMNS = ("image", "image_name", "image_id", "filename", "file", "name", "path")
_MOS_COLUMNS = ("mos", "score", "mean")
_STD_COLUMNS = ("mos_std", "std", "sd", "stddev")

# An id "has an extension" when it ends in a dot plus 1-5 alphanumerics that
# are not all digits ("a.jpg", "x.JPEG"; but not "123" or "1.5").
_EXT_RE = re.compile(r"\.(?![0-9]+$)[A-Za-z0-9]{1,5}$")
# Control characters are never valid in a file name we are willing to open.
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# Matches somewhere in "/".join(ids) iff some id is not a plain file name.
_UNUSUAL_IDS_RE = re.compile(r"[^A-Za-z0-9_.\-/]|^/|//|/$|^\.|/\.|^$")


class LabelError(ValueError):
    """A label file is malformed.

    The message always starts with the file path and the 1-based line number
    (``"labels.csv:17: negative vote count -3 in column 4"``) or, for JSON
    records, the 0-based record index (``"labels.json: record 5: ..."``).
    The pieces are also available as attributes ``path``, ``line`` and
    ``record`` (``None`` when not applicable) and ``detail`` (the bare
    message).
    """

    def __init__(self, detail: str, path=None, line: Optional[int] = None,
                 record: Optional[int] = None):
        self.detail = detail
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        if self.path is None:
            msg = detail
        elif line is not None:
            msg = f"{self.path}:{line}: {detail}"
        elif record is not None:
            msg = f"{self.path}: record {record}: {detail}"
        else:
            msg = f"{self.path}: {detail}"
        super().__init__(msg)


class _Where:
    """Builds LabelErrors for one file; ``kind`` is "line" or "record"."""

    def __init__(self, path, kind: str = "line"):
        self.path = str(path)
        self.kind = kind

    def error(self, loc: Optional[int], detail: str) -> LabelError:
        if loc is None:
            return LabelError(detail, self.path)
        if self.kind == "record":
            return LabelError(detail, self.path, record=int(loc))
        return LabelError(detail, self.path, line=int(loc))

    def name(self, loc: int) -> str:
        """How to refer to another location inside a message."""
        return f"record {loc}" if self.kind == "record" else f"line {loc}"


# ---------------------------------------------------------------------------
# Distribution helpers
# ---------------------------------------------------------------------------

def gaussian_histogram(mean, std, num_bins: int = 10) -> np.ndarray:
    """Discretised normal distribution over the scores ``1..num_bins``.

    Bin ``i`` gets the normal probability mass of ``[i - 0.5, i + 0.5]``;
    the tails below 1.5 / above ``num_bins - 0.5`` are folded into the first
    / last bin, so the result sums to 1 (it is renormalised anyway).

    ``mean`` and ``std`` may be scalars or arrays (broadcast together); the
    result has shape ``broadcast_shape + (num_bins,)`` and dtype float64.
    ``std`` is floored at :data:`MIN_STD` so a zero std yields a (nearly)
    one-hot histogram instead of a division by zero.  Because of the tail
    folding the histogram's mean is pulled slightly towards the middle for
    means near 1 or ``num_bins``; for mid-range means it matches closely.
    Binning also adds about 1/12 to the variance (Sheppard), so the
    histogram's std is roughly ``sqrt(std**2 + 1/12)`` away from the ends.
    """
    num_bins = int(num_bins)
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError("gaussian_histogram: mean and std must be finite")
    std = np.maximum(std, MIN_STD)
    mean, std = np.broadcast_arrays(mean, std)
    edges = np.arange(1, num_bins, dtype=np.float64) + 0.5  # 1.5 .. num_bins-0.5
    cdf = ndtr((edges - mean[..., None]) / std[..., None])
    shape = cdf.shape[:-1] + (1,)
    cdf = np.concatenate([np.zeros(shape), cdf, np.ones(shape)], axis=-1)
    hist = np.diff(cdf, axis=-1)
    hist = np.clip(hist, 0.0, None)
    return hist / hist.sum(axis=-1, keepdims=True)


def stack_distributions(dist) -> np.ndarray:
    """Stack a ``distribution`` column (or any sequence of 1-D arrays) into a
    2-D float array of shape ``(rows, num_bins)``; arrays pass through."""
    if isinstance(dist, pd.Series):
        dist = dist.to_numpy()
    if isinstance(dist, np.ndarray) and dist.dtype != object:
        return dist
    if len(dist) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(d) for d in dist])


def distribution_stats(dist) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and std of distributions over the scores ``1..num_bins``.

    ``dist`` is one distribution (1-D), a 2-D array (one per row) or a
    sequence / Series of 1-D arrays (e.g. ``table["distribution"]``).  Rows
    are normalised before use, so raw vote counts work too.  Returns
    ``(mean, std)`` as float64 arrays (0-d for a single distribution).
    """
    p = np.asarray(stack_distributions(dist), dtype=np.float64)
    return distribution_mean_std(p / p.sum(axis=-1, keepdims=True))


def map_score_range(scores, low: float, high: float, num_bins: int = 10):
    """Map scores linearly from ``[low, high]`` onto ``[1, num_bins]``.

    ``low -> 1`` and ``high -> num_bins``; ``low > high`` is allowed and
    flips the scale (for DMOS, where lower is better).  Values are not
    clipped.  Returns a float64 array (a Python float for scalar input).
    """
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)) or low == high:
        raise ValueError(f"invalid score range ({low}, {high})")
    out = 1.0 + (np.asarray(scores, dtype=np.float64) - low) * ((num_bins - 1) / (high - low))
    return float(out) if out.ndim == 0 else out


def _std_scale(low: float, high: float, num_bins: int) -> float:
    return (num_bins - 1) / abs(float(high) - float(low))


# ---------------------------------------------------------------------------
# Shared validation / table building
# ---------------------------------------------------------------------------

def _id_problem(image_id: str) -> Optional[str]:
    """Return why an (already stripped) id is unusable, or None if fine."""
    if not image_id:
        return "missing image id"
    if _CTRL_RE.search(image_id):
        return f"image id {image_id!r} contains control characters"
    if "\\" in image_id:
        return f"image id {image_id!r} contains a backslash (would escape the image folder on Windows)"
    if image_id.startswith("/"):
        return f"image id {image_id!r} is an absolute path; ids must be relative to the image folder"
    if _DRIVE_RE.match(image_id):
        return f"image id {image_id!r} starts with a drive letter; ids must be relative to the image folder"
    if "/" in image_id or image_id in (".", ".."):
        for part in image_id.split("/"):
            if part == "..":
                return f"image id {image_id!r} contains '..'; ids must stay inside the image folder"
            if part in ("", "."):
                return f"image id {image_id!r} has an empty or '.' path component"
    return None


def _finish_table(where: _Where, ids: Sequence[str], dist: np.ndarray,
                  locs: Sequence[int], extra: Optional[dict] = None) -> pd.DataFrame:
    """Validate ids / distributions and assemble the label table.

    ``dist`` is a float64 array (rows, num_bins) of non-negative, finite
    values with a positive sum per row (already checked by the caller).
    """
    locs = np.asarray(locs, dtype=np.int64)
    ids = list(ids)
    # One regex scan over all ids joined by "/": plain ids (AVA digits,
    # "t1.png", ...) need no per-id check.  Anything unusual (slashes, empty
    # ids, leading dots, non-ASCII, ...) triggers the exact per-id check.
    if _UNUSUAL_IDS_RE.search("/".join(ids)):
        for i, image_id in enumerate(ids):
            problem = _id_problem(image_id)
            if problem:
                raise where.error(locs[i], problem)
    _check_unique(where, ids, locs, "image id")
    has_ext = _EXT_RE.search
    paths = [x if has_ext(x) else x + ".jpg" for x in ids]
    _check_unique(where, paths, locs, "image path", ids)

    dist = dist / dist.sum(axis=1, keepdims=True)
    dist32 = dist.astype(np.float32)
    mean, std = distribution_stats(dist32)
    dist_col = pd.Series(list(dist32), dtype=object)
    data = {
        "image_id": pd.Series(ids, dtype=object),
        "path": pd.Series(paths, dtype=object),
        "distribution": dist_col,
        "mean": mean.astype(np.float64),
        "std": std.astype(np.float64),
        "source_line": locs,
    }
    if extra:
        data.update(extra)
    return pd.DataFrame(data)


def _check_unique(where: _Where, values: Sequence[str], locs, what: str, ids=None) -> None:
    seen = {}
    if len(set(values)) == len(values):
        return
    for i, v in enumerate(values):
        j = seen.setdefault(v, i)
        if j != i:
            if ids is None:
                detail = f"duplicate {what} {v!r} (first seen on {where.name(locs[j])})"
            else:
                detail = (f"image id {ids[i]!r} maps to the same file {v!r} as image id "
                          f"{ids[j]!r} on {where.name(locs[j])}")
            raise where.error(locs[i], detail)


def _read_text(path) -> str:
    """Read a UTF-8 text file (BOM tolerated) with a LabelError on bad bytes."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise LabelError(f"not valid UTF-8 text ({e.reason} at byte {e.start})", path, line=line) from None


def _split_rows(text: str):
    """Split text into whitespace-token rows; returns (rows, 1-based lines),
    skipping blank lines."""
    rows, lines = [], []
    for n, line in enumerate(text.split("\n"), 1):
        toks = line.split()
        if toks:
            rows.append(toks)
            lines.append(n)
    return rows, lines


def _no_rows_error(where: _Where, text: str) -> LabelError:
    n = text.count("\n") + 1 if text else 1
    return where.error(n, "file is empty (no label rows)")


def _parse_numeric(where: _Where, tokens: np.ndarray, locs, col_numbers, what: str,
                   dtype) -> np.ndarray:
    """Convert a 2-D array of string tokens to numbers, vectorised; on failure
    scan row by row to report the first bad token with line and column."""
    try:
        return tokens.astype(dtype)
    except (ValueError, OverflowError, TypeError):
        pass
    conv = int if np.dtype(dtype).kind in "iu" else float
    for r in range(tokens.shape[0]):
        for c in range(tokens.shape[1]):
            tok = tokens[r, c]
            try:
                conv(tok)
                np.array([tok]).astype(dtype)
            except (ValueError, OverflowError, TypeError):
                raise where.error(locs[r], f"cannot parse {what} {str(tok)!r} in column "
                                           f"{col_numbers[c]} as a number") from None
    raise where.error(None, f"cannot parse {what} values")  # pragma: no cover


def _check_counts(where: _Where, counts: np.ndarray, locs, col_of) -> None:
    """Vote histograms: finite, non-negative, not all zero.  ``col_of(c)``
    describes where column ``c`` of ``counts`` lives in the file."""
    bad = ~np.isfinite(counts)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise where.error(locs[r], f"non-finite vote count {counts[r, c]} in {col_of(c)}")
    neg = counts < 0
    if neg.any():
        r, c = np.argwhere(neg)[0]
        v = counts[r, c]
        v = int(v) if float(v).is_integer() else float(v)
        raise where.error(locs[r], f"negative vote count {v} in {col_of(c)}")
    zero = counts.sum(axis=1) <= 0
    if zero.any():
        r = int(np.argmax(zero))
        raise where.error(locs[r], "all vote counts are zero (empty histogram)")


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------

def _ava_fast(text: str):
    """Vectorised AVA parse with pandas' C parser.  Returns (ids, numbers,
    lines) or None when anything looks off (the caller then re-parses line
    by line to report the exact error)."""
    locs = [n for n, ln in enumerate(text.split("\n"), 1) if ln and not ln.isspace()]
    if not locs:
        return None
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, dtype={1: str},
                         na_filter=False, quoting=csv.QUOTE_NONE, engine="c")
    except (ValueError, pd.errors.ParserError, OverflowError):
        return None
    if df.shape != (len(locs), 15):
        return None
    numeric_cols = [0] + list(range(2, 15))
    if not all(df[c].dtype == np.int64 for c in numeric_cols):
        return None
    nums = df[numeric_cols].to_numpy(dtype=np.int64)
    return [str(x) for x in df[1].tolist()], nums, np.asarray(locs, dtype=np.int64)


def _ava_slow(where: _Where, text: str):
    """Line-by-line AVA parse that raises a LabelError at the first bad line."""
    rows, locs = _split_rows(text)
    if not rows:
        raise _no_rows_error(where, text)
    lens = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    bad = lens != 15
    if bad.any():
        r = int(np.argmax(bad))
        raise where.error(locs[r], f"expected 15 whitespace-separated fields (index, image id, "
                                   f"10 vote counts, 2 semantic tags, challenge id), found {lens[r]}")
    tokens = np.array(rows)
    numeric_cols = [0] + list(range(2, 15))
    nums = _parse_numeric(where, tokens[:, numeric_cols], locs,
                          [c + 1 for c in numeric_cols], "field", np.int64)
    return tokens[:, 1].tolist(), nums, np.asarray(locs, dtype=np.int64)


def read_ava_txt(path, num_bins: int = 10) -> pd.DataFrame:
    """Read the official ``AVA.txt`` (15 whitespace-separated integers per row:
    index, image id, 10 vote counts for scores 1..10, semantic tag 1,
    semantic tag 2, challenge id).

    Returns the label table (see module docstring) with extra int columns
    ``semantic_tag_1``, ``semantic_tag_2`` and ``challenge_id``.  The format
    always has 10 vote columns, so ``num_bins`` must be 10.  The full
    255k-row file parses in about a second (pandas' C parser); malformed
    files are re-parsed line by line to name the offending line.
    """
    if int(num_bins) != 10:
        raise ValueError(f"AVA.txt has 10 vote columns; num_bins={num_bins} is not supported")
    where = _Where(path)
    text = _read_text(path)
    parsed = _ava_fast(text)
    if parsed is None:
        parsed = _ava_slow(where, text)
    ids, nums, locs = parsed
    counts = nums[:, 1:11]
    _check_counts(where, counts, locs, lambda c: f"column {c + 3}")
    tags = nums[:, 11:14]
    extra = {
        "semantic_tag_1": tags[:, 0],
        "semantic_tag_2": tags[:, 1],
        "challenge_id": tags[:, 2],
    }
    return _finish_table(where, ids, counts.astype(np.float64), locs, extra)


def read_idealo_json(path, num_bins: int = 10) -> pd.DataFrame:
    """Read idealo's JSON labels ``[{"image_id": "...", "label": [counts]}, ...]``.

    ``label`` must hold ``num_bins`` non-negative finite numbers (vote counts
    or an already normalised distribution).  Ids may be strings or integers.
    ``source_line`` is the 0-based index of the record in the array.
    """
    num_bins = int(num_bins)
    where = _Where(path, "record")
    text = _read_text(path)
    if not text.strip():
        raise LabelError("file is empty (no label records)", path, line=1)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise LabelError(f"invalid JSON: {e.msg} (column {e.colno})", path, line=e.lineno) from None
    if not isinstance(records, list):
        raise LabelError(f"expected a JSON array of records, found {type(records).__name__}",
                         path, line=1)
    if not records:
        raise LabelError("JSON array is empty (no label records)", path, line=1)

    ids, labels = [], []
    num_types = (int, float)
    for i, rec in enumerate(records):
        if type(rec) is not dict:
            raise where.error(i, f"expected an object with 'image_id' and 'label', "
                                 f"found {type(rec).__name__}")
        image_id = rec.get("image_id")
        if image_id is None:
            raise where.error(i, "missing image id ('image_id' key)")
        if type(image_id) is int:
            image_id = str(image_id)
        elif type(image_id) is not str:
            raise where.error(i, f"image_id must be a string, found {image_id!r}")
        ids.append(image_id.strip())
        label = rec.get("label")
        if type(label) is not list:
            raise where.error(i, f"'label' must be a list of {num_bins} numbers, found {label!r}")
        if len(label) != num_bins:
            raise where.error(i, f"'label' has {len(label)} values, expected {num_bins}")
        for k, v in enumerate(label):
            if type(v) not in num_types:
                raise where.error(i, f"cannot parse label[{k}] = {v!r} as a number")
        labels.append(label)
    counts = np.asarray(labels, dtype=np.float64)
    _check_counts(where, counts, range(len(ids)), lambda c: f"label[{c}] (score {c + 1})")
    return _finish_table(where, ids, counts, np.arange(len(ids)))


def _mos_to_table(where: _Where, path, ids, mos: np.ndarray, std: Optional[np.ndarray], locs,
                  score_range, num_bins: int, extra_first: Optional[dict] = None) -> pd.DataFrame:
    """Shared tail of the MOS readers: range checks, mapping, Gaussian target."""
    num_bins = int(num_bins)
    bad = ~np.isfinite(mos)
    if bad.any():
        r = int(np.argmax(bad))
        raise where.error(locs[r], f"MOS is {mos[r]} (must be a finite number)")
    if std is not None:
        bad = ~np.isfinite(std) | (std < 0)
        if bad.any():
            r = int(np.argmax(bad))
            raise where.error(locs[r], f"std is {std[r]} (must be a finite number >= 0)")

    if score_range is None:
        lo, hi = 1.0, float(num_bins)
        tol = _RANGE_TOL * (hi - lo)
        out = (mos < lo - tol) | (mos > hi + tol)
        if out.any():
            r = int(np.argmax(out))
            imin, imax = int(np.argmin(mos)), int(np.argmax(mos))
            raise where.error(locs[r], (
                f"MOS {mos[r]:g} is outside 1..{num_bins} and no score range was given "
                f"(observed min {mos[imin]:g} on line {locs[imin]}, max {mos[imax]:g} on line "
                f"{locs[imax]}); pass --score-range LOW HIGH (score_range=(LOW, HIGH)) with the "
                f"scale of this dataset, e.g. --score-range 0 100"))
        mapped = mos.astype(np.float64)
        mapped_std = None if std is None else std.astype(np.float64)
    else:
        if len(score_range) != 2:
            raise ValueError(f"score_range must be (LOW, HIGH), got {score_range!r}")
        low, high = float(score_range[0]), float(score_range[1])
        mapped = map_score_range(mos, low, high, num_bins)  # validates low/high
        lo, hi = min(low, high), max(low, high)
        tol = _RANGE_TOL * (hi - lo)
        out = (mos < lo - tol) | (mos > hi + tol)
        if out.any():
            r = int(np.argmax(out))
            raise where.error(locs[r], f"MOS {mos[r]:g} is outside the score range "
                                       f"{score_range[0]:g}..{score_range[1]:g}")
        mapped_std = None if std is None else std * _std_scale(low, high, num_bins)
    mapped = np.clip(mapped, 1.0, float(num_bins))
    if mapped_std is None:
        mapped_std = np.full_like(mapped, DEFAULT_STD)
    dist = gaussian_histogram(mapped, mapped_std, num_bins)

    extra = dict(extra_first or {})
    extra["mos"] = mos.astype(np.float64)
    if std is not None:
        extra["mos_std"] = std.astype(np.float64)
    extra["mos_mapped"] = mapped
    return _finish_table(where, ids, dist, locs, extra)


def _match_column(header_lc, wanted: Optional[str], candidates, where: _Where, role: str,
                  header, header_line: int, required: bool = True) -> Optional[int]:
    if wanted is not None:
        key = wanted.strip().lower()
        if key in header_lc:
            return header_lc.index(key)
        raise where.error(header_line, f"{role} column {wanted!r} not found in header {header}")
    for cand in candidates:
        if cand in header_lc:
            return header_lc.index(cand)
    if required:
        raise where.error(header_line, (
            f"no {role} column in header {header}; expected one of {list(candidates)} "
            f"(case-insensitive; a header row is required) or pass {role}_column="))
    return None


def read_mos_csv(path, score_range=None, num_bins: int = 10, image_column: Optional[str] = None,
                 mos_column: Optional[str] = None, std_column: Optional[str] = None) -> pd.DataFrame:
    """Read a CSV of mean opinion scores (KonIQ / CLIVE style, header required).

    Columns are found case-insensitively (see module docstring) unless given
    explicitly.  ``score_range=(LOW, HIGH)`` maps MOS (and std, by the same
    factor) linearly onto ``1..num_bins``; without it all MOS must already
    be within ``[1, num_bins]``.  The target distribution is
    ``gaussian_histogram(mos_mapped, std_mapped)`` with std
    :data:`DEFAULT_STD` when there is no std column.  Extra columns:
    ``mos`` (raw), ``mos_std`` (raw, if present) and ``mos_mapped``.
    """
    where = _Where(path)
    text = _read_text(path)
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise _no_rows_error(where, text)
    head = lines[first]
    delim = ","
    if "," not in head:
        if "\t" in head:
            delim = "\t"
        elif ";" in head:
            delim = ";"

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, skipinitialspace=True)
    header, header_line, rows, locs = None, 0, [], []
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header, header_line = [c.strip() for c in row], reader.line_num
                continue
            rows.append(row)
            locs.append(reader.line_num)
    except csv.Error as e:
        raise LabelError(f"CSV syntax error: {e}", path, line=reader.line_num) from None
    header_lc = [h.lower() for h in header]
    ci = _match_column(header_lc, image_column, _IMAGE_COLUMNS, where, "image", header, header_line)
    mi = _match_column(header_lc, mos_column, _MOS_COLUMNS, where, "mos", header, header_line)
    si = _match_column(header_lc, std_column, _STD_COLUMNS, where, "std", header, header_line,
                       required=False)
    if not rows:
        raise where.error(header_line + 1, "no label rows after the header")
    ncol = len(header)
    for r, row in enumerate(rows):
        if len(row) != ncol:
            raise where.error(locs[r], f"expected {ncol} columns (as in the header), found {len(row)}")

    ids = [row[ci].strip() for row in rows]
    num_idx = [mi] + ([si] if si is not None else [])
    tokens = np.array([[row[k].strip() for k in num_idx] for row in rows], dtype=str)
    # Empty cells would otherwise make the vectorised cast fail without a location.
    nums = _parse_numeric(where, tokens, locs, [k + 1 for k in num_idx], "value", np.float64)
    mos = nums[:, 0]
    std = nums[:, 1] if si is not None else None
    return _mos_to_table(where, path, ids, mos, std, locs, score_range, num_bins)


def read_tid2013(path, score_range=(0.0, 9.0), num_bins: int = 10) -> pd.DataFrame:
    """Read TID2013's ``mos_with_names.txt`` (lines ``MOS NAME``, MOS on 0..9).

    The MOS is mapped from ``score_range`` (default ``(0, 9)``) onto
    ``1..num_bins`` and turned into a Gaussian histogram with the default std
    :data:`DEFAULT_STD` (TID2013 ships no per-image std).  ``score_range=None``
    means the MOS is already on ``1..num_bins``.  Extra columns: ``mos``,
    ``mos_mapped``.
    """
    where = _Where(path)
    text = _read_text(path)
    rows, locs = _split_rows(text)
    if not rows:
        raise _no_rows_error(where, text)
    for r, row in enumerate(rows):
        if len(row) != 2:
            raise where.error(locs[r], f"expected 2 whitespace-separated fields (MOS NAME), "
                                       f"found {len(row)}")
    tokens = np.array(rows)
    mos = _parse_numeric(where, tokens[:, :1], locs, [1], "MOS", np.float64)[:, 0]
    return _mos_to_table(where, path, tokens[:, 1].tolist(), mos, None, locs, score_range, num_bins)


# ---------------------------------------------------------------------------
# Format detection / dispatch
# ---------------------------------------------------------------------------

def _is_int(tok: str) -> bool:
    try:
        int(tok)
        return True
    except ValueError:
        return False


def _is_float(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def detect_format(path) -> str:
    """Guess the label format of ``path`` (one of :data:`LABEL_FORMATS`).

    ``.json`` -> ``idealo_json``; ``.csv``/``.tsv`` -> ``mos_csv``; otherwise
    the first non-empty line decides: 15 integer fields -> ``ava``; a number
    and a name -> ``tid2013``; ``[`` -> ``idealo_json``; a delimited header
    with image and MOS columns -> ``mos_csv``.  Raises :class:`LabelError`
    when nothing fits (and ``FileNotFoundError`` for a missing file).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".json":
        return "idealo_json"
    if ext in (".csv", ".tsv"):
        return "mos_csv"
    with open(p, "rb") as f:
        head = f.read(65536)
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.split("\n")
    if len(head) == 65536 and len(lines) > 1:
        lines = lines[:-1]  # last line may be cut off
    lineno, first = None, None
    for n, ln in enumerate(lines, 1):
        if ln.strip():
            lineno, first = n, ln.strip()
            break
    if first is None:
        raise LabelError("file is empty; cannot detect the label format", path, line=1)
    if first.startswith("["):
        return "idealo_json"
    toks = first.split()
    if len(toks) == 15 and all(_is_int(t) for t in toks):
        return "ava"
    if len(toks) == 2 and _is_float(toks[0]) and not _is_float(toks[1]):
        return "tid2013"
    for delim in (",", "\t", ";"):
        if delim in first:
            cols = [c.strip().strip('"').lower() for c in first.split(delim)]
            if any(c in _IMAGE_COLUMNS for c in cols) and any(c in _MOS_COLUMNS for c in cols):
                return "mos_csv"
    shown = first if len(first) <= 80 else first[:77] + "..."
    raise LabelError(
        f"cannot detect the label format from {shown!r} (expected AVA.txt rows of 15 integers, "
        f"TID2013 'MOS NAME' lines, idealo JSON or a CSV with a header); "
        f"pass the format explicitly, one of {', '.join(LABEL_FORMATS)}", path, line=lineno)


def read_labels(path, fmt: str = "auto", score_range=None, num_bins: int = 10) -> pd.DataFrame:
    """Read any supported label file into the label table.

    ``fmt`` is ``"auto"`` (see :func:`detect_format`) or one of
    :data:`LABEL_FORMATS`.  ``score_range=(LOW, HIGH)`` applies to the MOS
    formats (``mos_csv``, ``tid2013``; TID2013 defaults to (0, 9)); giving
    it for a vote-count format is an error.
    """
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in LABEL_FORMATS:
        raise ValueError(f"unknown label format {fmt!r}; expected 'auto' or one of {LABEL_FORMATS}")
    if fmt in ("ava", "idealo_json"):
        if score_range is not None:
            raise ValueError(f"score_range only applies to MOS formats, not {fmt!r} vote counts")
        reader = read_ava_txt if fmt == "ava" else read_idealo_json
        return reader(path, num_bins=num_bins)
    if fmt == "mos_csv":
        return read_mos_csv(path, score_range=score_range, num_bins=num_bins)
    if score_range is None:
        return read_tid2013(path, num_bins=num_bins)
    return read_tid2013(path, score_range=score_range, num_bins=num_bins)


# ---------------------------------------------------------------------------
# Images on disk and train/val splits
# ---------------------------------------------------------------------------

def _list_dir(folder: str):
    """One scandir: (exact name set, lower-case name -> actual name)."""
    exact, lower = set(), {}
    try:
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    if not entry.is_file():
                        continue
                except OSError:
                    continue
                exact.add(entry.name)
                lower.setdefault(entry.name.lower(), entry.name)
    except (FileNotFoundError, NotADirectoryError):
        pass
    return exact, lower


def resolve_images(table: pd.DataFrame, image_dir) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """Locate each row's image under ``image_dir``.

    Adds an absolute ``filepath`` column and returns ``(found, missing)``
    (both with a fresh index; in ``missing`` ``filepath`` is where the file
    was expected).  Each folder is listed once with ``os.scandir`` instead
    of stat-ing every file, so 255k rows take well under a second.  When the
    exact name is absent a case-insensitive match is used (label
    ``"1000.jpg"`` finds ``1000.JPG``).  Raises ``FileNotFoundError`` when
    ``image_dir`` is not a directory.
    """
    root = os.path.abspath(os.fspath(image_dir))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root}")
    listings = {}
    filepaths, found = [], np.zeros(len(table), dtype=bool)
    for i, rel in enumerate(table["path"].tolist()):
        sub, _, name = rel.rpartition("/")
        listing = listings.get(sub)
        if listing is None:
            listing = listings[sub] = _list_dir(os.path.join(root, sub) if sub else root)
        exact, lower = listing
        if name in exact:
            actual = name
        else:
            actual = lower.get(name.lower())
        if actual is None:
            filepaths.append(os.path.join(root, rel))
        else:
            found[i] = True
            filepaths.append(os.path.join(root, sub, actual) if sub else os.path.join(root, actual))
    out = table.copy()
    out["filepath"] = pd.Series(filepaths, index=out.index, dtype=object)
    return out[found].reset_index(drop=True), out[~found].reset_index(drop=True)


def split_table(table: pd.DataFrame, val_fraction: float = 0.2,
                seed: int = 42, group_pattern: Optional[str] = None
                ) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/val split of a label table.

    The rows are ordered by ``image_id`` (so the input order does not
    matter), permuted with ``numpy.random.default_rng(seed).permutation``
    and the first ``round(n * val_fraction)`` become validation.  Returns
    ``(train, val)``, each in the input's row order with a fresh index.

    ``group_pattern``: a regular expression whose first group, searched in
    ``image_id``, names the group an image belongs to (e.g. ``"^(i\\d+)_"``
    for TID2013's reference images, ``"^(.*)_q\\d"`` for the bundled
    sample). Whole groups go to one side, so distorted versions of one photo
    never sit on both sides of the split; the permutation is then over
    groups and ``val_fraction`` is the share of groups. Ids that do not
    match form their own group.
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    ids = table["image_id"].astype(str).tolist()
    if group_pattern:
        regex = re.compile(group_pattern)
        keys = []
        for image_id in ids:
            m = regex.search(image_id)
            keys.append(m.group(1) if m and m.groups() else image_id)
    else:
        keys = ids
    groups = sorted(set(keys))
    perm = np.random.default_rng(seed).permutation(len(groups))
    n_val = int(round(len(groups) * float(val_fraction)))
    val_groups = {groups[i] for i in perm[:n_val]}
    is_val = np.array([k in val_groups for k in keys], dtype=bool)
    return (table[~is_val].reset_index(drop=True), table[is_val].reset_index(drop=True))


def save_split(path, train_ids: Iterable, val_ids: Iterable) -> None:
    """Write a split as JSON ``{"train": [...], "val": [...]}`` (ids as
    strings).  Raises ``ValueError`` if an id is in both lists."""
    train = [str(x) for x in train_ids]
    val = [str(x) for x in val_ids]
    both = set(train) & set(val)
    if both:
        raise ValueError(f"{len(both)} image ids are in both train and val, e.g. {sorted(both)[0]!r}")
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"train": train, "val": val}, f, indent=0)
        f.write("\n")
    os.replace(tmp, p)


def load_split(path) -> Tuple[list, list]:
    """Read a split written by :func:`save_split`; returns ``(train_ids,
    val_ids)`` as lists of str.  Raises :class:`LabelError` on a malformed
    file."""
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LabelError(f"invalid JSON: {e.msg} (column {e.colno})", path, line=e.lineno) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("train", "val")):
        raise LabelError('expected a JSON object {"train": [...], "val": [...]}', path, line=1)
    train = [str(x) for x in data["train"]]
    val = [str(x) for x in data["val"]]
    return train, val
