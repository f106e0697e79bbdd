"""Reader for CSV files of mean opinion scores (KonIQ-10k, CLIVE, SPAQ style)."""

from __future__ import annotations

import csv
import io
from typing import Optional

import numpy as np
import pandas as pd

from aesthetics.data.labels.table import (
    _Where,
    _label_error,
    _mos_to_table,
    _no_rows_error,
    _parse_numeric,
    _read_text,
)

# Header names recognised (case-insensitively) for each role; also used by
# format detection.
_IMAGE_COLUMNS = ("image", "image_name", "image_id", "filename", "file", "name", "path")
_MOS_COLUMNS = ("mos", "score", "mean")
_STD_COLUMNS = ("mos_std", "std", "sd", "stddev")


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

    Columns are found case-insensitively (see :mod:`aesthetics.data.labels`)
    unless given explicitly.  ``score_range=(LOW, HIGH)`` maps MOS (and std,
    by the same factor) linearly onto ``1..num_bins``; without it all MOS
    must already be within ``[1, num_bins]``.  The target distribution is
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
        raise _label_error(f"CSV syntax error: {e}", path, line=reader.line_num) from None
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
    return _mos_to_table(where, ids, mos, std, locs, score_range, num_bins)
