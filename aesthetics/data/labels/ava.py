"""Reader for the official ``AVA.txt`` (vote histograms, 15 integers per row)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from aesthetics.data.labels.table import (
    _Where,
    _check_counts,
    _finish_table,
    _no_rows_error,
    _parse_numeric,
    _read_text,
    _split_rows,
)


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

    Returns the label table (see :mod:`aesthetics.data.labels`) with extra
    int columns ``semantic_tag_1``, ``semantic_tag_2`` and ``challenge_id``.  The format
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
