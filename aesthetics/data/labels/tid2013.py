"""Reader for TID2013's ``mos_with_names.txt`` (lines ``MOS NAME``, MOS on 0..9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aesthetics.data.labels.table import (
    _Where,
    _mos_to_table,
    _no_rows_error,
    _parse_numeric,
    _read_text,
    _split_rows,
)


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
    return _mos_to_table(where, tokens[:, 1].tolist(), mos, None, locs, score_range, num_bins)
