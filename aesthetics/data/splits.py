"""Deterministic train/val splits of a label table, saved and loaded as JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Optional, Tuple

import numpy as np
import pandas as pd

from aesthetics.data.labels.table import _label_error, _read_text


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
        raise _label_error(f"invalid JSON: {e.msg} (column {e.colno})", path, line=e.lineno) from None
    except RecursionError:
        raise _label_error("JSON nested too deeply to be a split file", path, line=1) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("train", "val")):
        raise _label_error('expected a JSON object {"train": [...], "val": [...]}', path, line=1)
    train = [str(x) for x in data["train"]]
    val = [str(x) for x in data["val"]]
    return train, val
