"""Reader for idealo's JSON labels (``[{"image_id": ..., "label": [counts]}]``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from aesthetics.data.labels.table import (
    _Where,
    _check_counts,
    _finish_table,
    _label_error,
    _read_text,
)


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
        raise _label_error("file is empty (no label records)", path, line=1)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise _label_error(f"invalid JSON: {e.msg} (column {e.colno})", path, line=e.lineno) from None
    except RecursionError:
        raise _label_error("invalid JSON: nested too deeply", path) from None
    except ValueError as e:  # a number with more digits than Python reads
        raise _label_error(f"invalid JSON: {e}", path) from None
    if not isinstance(records, list):
        raise _label_error(f"expected a JSON array of records, found {type(records).__name__}",
                         path, line=1)
    if not records:
        raise _label_error("JSON array is empty (no label records)", path, line=1)

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
            if type(v) is int and v.bit_length() > 1000:  # float() would overflow
                raise where.error(i, f"vote count label[{k}] is too large ({len(str(v))} digits)")
        labels.append(label)
    counts = np.asarray(labels, dtype=np.float64)
    _check_counts(where, counts, range(len(ids)), lambda c: f"label[{c}] (score {c + 1})")
    return _finish_table(where, ids, counts, np.arange(len(ids)))
