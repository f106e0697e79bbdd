"""Shared building blocks of the label readers.

Everything the four readers have in common: locating errors in a file
(:class:`_Where`), reading the text, splitting it into rows, vectorised
number parsing, vote-count and image-id checks, turning a MOS into a
Gaussian target (:func:`map_score_range`, :func:`gaussian_histogram`) and
assembling the label table (:func:`_finish_table`).  See
:mod:`aesthetics.data.labels` for the table's columns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

from aesthetics.distributions import distribution_mean_std
from aesthetics.errors import ConfigError, InputNotFoundError, LabelError

#: Std (in bins, i.e. on the 1..10 scale) used for MOS labels without a std.
DEFAULT_STD = 1.0

#: Floor applied to the std in :func:`gaussian_histogram` (never divide by 0).
MIN_STD = 0.05

#: Relative tolerance (fraction of the score span) for MOS range checks.
_RANGE_TOL = 1e-4

# An id "has an extension" when it ends in a dot plus 1-5 alphanumerics that
# are not all digits ("a.jpg", "x.JPEG"; but not "123" or "1.5").
_EXT_RE = re.compile(r"\.(?![0-9]+$)[A-Za-z0-9]{1,5}$")
# Control characters are never valid in a file name we are willing to open.
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# Matches somewhere in "/".join(ids) iff some id is not a plain file name.
_UNUSUAL_IDS_RE = re.compile(r"[^A-Za-z0-9_.\-/]|^/|//|/$|^\.|/\.|^$")


def _label_error(detail: str, path, line: Optional[int] = None,
                 record: Optional[int] = None) -> LabelError:
    """A :class:`~aesthetics.errors.LabelError` for a malformed label file.

    The message always starts with the file path and the 1-based line number
    (``"labels.csv:17: negative vote count -3 in column 4"``) or, for JSON
    records, the 0-based record index (``"labels.json: record 5: ..."``).
    The pieces are also available as attributes ``path``, ``line`` and
    ``record`` (``None`` when not applicable) and ``detail`` (the bare
    message).
    """
    path = str(path)
    if line is not None:
        msg = f"{path}:{line}: {detail}"
    elif record is not None:
        msg = f"{path}: record {record}: {detail}"
    else:
        msg = f"{path}: {detail}"
    err = LabelError(msg)
    err.detail, err.path, err.line, err.record = detail, path, line, record
    return err


class _Where:
    """Builds LabelErrors for one file; ``kind`` is "line" or "record"."""

    def __init__(self, path, kind: str = "line"):
        self.path = str(path)
        self.kind = kind

    def error(self, loc: Optional[int], detail: str) -> LabelError:
        if loc is None:
            return _label_error(detail, self.path)
        if self.kind == "record":
            return _label_error(detail, self.path, record=int(loc))
        return _label_error(detail, self.path, line=int(loc))

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
    low, high = _score_bounds((low, high))
    if low == high:
        raise ConfigError(f"score range {low:g}..{high:g}: low and high must differ")
    out = 1.0 + (np.asarray(scores, dtype=np.float64) - low) * ((num_bins - 1) / (high - low))
    return float(out) if out.ndim == 0 else out


def _score_bounds(score_range) -> Tuple[float, float]:
    """(low, high) of a user's score range as finite floats, else a
    ConfigError (a ValueError) saying what is wrong with it."""
    try:
        low, high = score_range
        low, high = float(low), float(high)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"score range must be two numbers LOW HIGH, got {score_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ConfigError(f"score range must be finite numbers, got {low:g}..{high:g}")
    return low, high


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


def _read_bytes(path) -> bytes:
    """The file's bytes; a missing file is an InputNotFoundError (a
    FileNotFoundError), a folder or unreadable file a LabelError naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputNotFoundError(f"label file not found: {path}") from None
    except OSError as e:
        raise _label_error(f"cannot read the label file ({e.strerror or e})", path) from None


def _read_text(path) -> str:
    """Read a UTF-8 text file (BOM tolerated) with a LabelError on bad bytes."""
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise _label_error(f"not valid UTF-8 text ({e.reason} at byte {e.start})", path, line=line) from None


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
    with np.errstate(over="ignore"):
        totals = counts.astype(np.float64).sum(axis=1)
    overflow = ~np.isfinite(totals)
    if overflow.any():
        r = int(np.argmax(overflow))
        raise where.error(locs[r], "vote counts too large: their sum overflows")
    zero = totals <= 0
    if zero.any():
        r = int(np.argmax(zero))
        raise where.error(locs[r], "all vote counts are zero (empty histogram)")


# ---------------------------------------------------------------------------
# MOS -> distribution (shared by the MOS readers)
# ---------------------------------------------------------------------------

def _mos_to_table(where: _Where, ids, mos: np.ndarray, std: Optional[np.ndarray], locs,
                  score_range, num_bins: int) -> pd.DataFrame:
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
        try:
            low, high = _score_bounds(score_range)
            mapped = map_score_range(mos, low, high, num_bins)  # low != high
        except ConfigError as e:
            raise ConfigError(f"{where.path}: {e}") from None
        lo, hi = min(low, high), max(low, high)
        tol = _RANGE_TOL * (hi - lo)
        out = (mos < lo - tol) | (mos > hi + tol)
        if out.any():
            r = int(np.argmax(out))
            raise where.error(locs[r], f"MOS {mos[r]:g} is outside the score range "
                                       f"{low:g}..{high:g}")
        mapped_std = None if std is None else std * _std_scale(low, high, num_bins)
    mapped = np.clip(mapped, 1.0, float(num_bins))
    if mapped_std is None:
        mapped_std = np.full_like(mapped, DEFAULT_STD)
    dist = gaussian_histogram(mapped, mapped_std, num_bins)

    extra = {"mos": mos.astype(np.float64)}
    if std is not None:
        extra["mos_std"] = std.astype(np.float64)
    extra["mos_mapped"] = mapped
    return _finish_table(where, ids, dist, locs, extra)
