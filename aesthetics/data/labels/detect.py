"""Label format detection and the :func:`read_labels` dispatcher."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aesthetics.constants import LABEL_FORMATS
from aesthetics.data.labels.ava import read_ava_txt
from aesthetics.data.labels.idealo_json import read_idealo_json
from aesthetics.data.labels.mos_csv import _IMAGE_COLUMNS, _MOS_COLUMNS, read_mos_csv
from aesthetics.data.labels.table import _label_error, _read_bytes
from aesthetics.errors import ConfigError
from aesthetics.data.labels.tid2013 import read_tid2013


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
    if not p.is_file():
        _read_bytes(p)  # InputNotFoundError / LabelError naming the file
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError:
        head = _read_bytes(p)[:65536]  # raises the same errors, naming the file
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
        raise _label_error("file is empty; cannot detect the label format", path, line=1)
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
    raise _label_error(
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
        raise ConfigError(f"unknown label format {fmt!r}; expected 'auto' or one of {LABEL_FORMATS}")
    if fmt in ("ava", "idealo_json"):
        if score_range is not None:
            raise ConfigError(
                f"{path}: a score range (--score-range, data.score_range) only applies to MOS "
                f"label files (mos_csv, tid2013); this one holds {fmt} vote counts")
        reader = read_ava_txt if fmt == "ava" else read_idealo_json
        return reader(path, num_bins=num_bins)
    if fmt == "mos_csv":
        return read_mos_csv(path, score_range=score_range, num_bins=num_bins)
    if score_range is None:
        return read_tid2013(path, num_bins=num_bins)
    return read_tid2013(path, score_range=score_range, num_bins=num_bins)
