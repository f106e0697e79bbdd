"""Score records: what `predict`, `evaluate`, the API and the report share.

One record per input file::

    {"image_id": "42039", "path": "photos/42039.jpg",
     "mean_score_prediction": 5.31, "std_score_prediction": 1.42,
     "distribution": [10 floats]}

or, for a model with a single-score head, only "mean_score_prediction"; or,
for a file that could not be used, {"image_id", "path", "error": reason}.
`image_id` and `mean_score_prediction` keep idealo's NIMA JSON compatible.
The path identifies a file (resume, reports); the id is for people and file
names, so it is the stem when that is unique in the run, else the path
relative to the inputs' common folder (see `image_ids`).

This module imports only numpy (the ONNX path stays TensorFlow-free).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from aesthetics.distributions import distribution_mean_std

NON_FINITE_OUTPUT = "the model's output is not finite (NaN or inf): the model file is broken"


def printable_path(path) -> str:
    """`path` as text any output can hold: bytes that are not UTF-8 in a
    file name (Python keeps them as lone surrogates) become `\\xNN`."""
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # surrogates that did not come from a file name
            raw = text.encode("utf-8", "backslashreplace")
        return raw.decode("utf-8", "backslashreplace")


def image_ids(paths: Sequence) -> list[str]:
    """One id per path, distinct within the run and stable across runs of
    the same inputs: the stem where it is unique; where stems collide, the
    path relative to the common folder of the colliding files, without its
    suffix (with it, if that is still ambiguous: `a.jpg` beside `a.png`)."""
    paths = [printable_path(p) for p in paths]
    ids = [Path(p).stem for p in paths]
    clashing = _repeated(ids)
    if not clashing:
        return ids
    root = _common_folder([paths[i] for i in clashing])
    relative = {i: Path(os.path.relpath(os.path.abspath(paths[i]), root)).as_posix() for i in clashing}
    for i in clashing:
        ids[i] = str(Path(relative[i]).with_suffix(""))
    for i in _repeated(ids):
        ids[i] = relative[i]
    for n, i in enumerate(_repeated(ids), 1):  # still equal (a.jpg beside a.jpg.png): number them
        ids[i] = f"{ids[i]}~{n}"
    return ids


def _repeated(values) -> list[int]:
    """Indexes of the values that occur more than once, ignoring case (ids
    become file names, and macOS and Windows file names ignore case)."""
    counts: dict = {}
    for v in values:
        counts[v.casefold()] = counts.get(v.casefold(), 0) + 1
    return [i for i, v in enumerate(values) if counts[v.casefold()] > 1]


def _common_folder(paths) -> str:
    absolute = [os.path.abspath(p) for p in paths]
    if len(absolute) == 1:
        return os.path.dirname(absolute[0])
    return os.path.commonpath([os.path.dirname(p) for p in absolute])


def make_record(path, image_id: str, row) -> dict:
    """The record for one model output row ((bins,) probabilities or (1,))."""
    rec = {"image_id": image_id, "path": printable_path(path)}
    row = np.asarray(row, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(row)):
        rec["error"] = NON_FINITE_OUTPUT
    elif row.shape[-1] == 1:  # scalar quality score (no distribution)
        rec["mean_score_prediction"] = float(row[0])
    else:
        mean, std = (float(v) for v in distribution_mean_std(row))
        rec["mean_score_prediction"] = mean
        rec["std_score_prediction"] = std
        rec["distribution"] = [round(float(p), 6) for p in row]
    return rec


def error_record(path, image_id: str, reason: str) -> dict:
    return {"image_id": image_id, "path": printable_path(path), "error": printable_path(reason)}


def records_from_outputs(paths, outputs: dict, failures: dict, ids=None) -> list[dict]:
    """One record per input path, in input order.

    outputs: {index in paths: model output row}; failures: {path: reason}.
    """
    ids = ids or image_ids(paths)
    records = []
    for i, path in enumerate(paths):
        row = outputs.get(i)
        if row is None:
            records.append(error_record(path, ids[i], failures.get(str(path), "not scored")))
        else:
            records.append(make_record(path, ids[i], row))
    return records


def groups_of(record: dict) -> list[str]:
    """The model groups of a several-model record (`aesthetics.inference.multi`), in order."""
    return [k for k, v in record.items() if isinstance(v, dict) and "mean_score_prediction" in v]


def is_scored(record: dict) -> bool:
    if "error" in record:
        return False
    return record.get("mean_score_prediction") is not None or bool(groups_of(record))


def score_view(record: dict, group: str) -> dict:
    """A several-model record as a one-model record of `group` (what the
    ranking, selection and report code reads); other records as they are."""
    if "error" in record or group is None or group not in record:
        return record
    return {"image_id": record.get("image_id"), "path": record.get("path"), **record[group]}


def format_line(rec: dict) -> str:
    """One human-readable line: mean ± std and the file (or its error); a
    several-model record shows each model's mean by name."""
    if "error" in rec:
        return f"   error       {rec['path']}: {rec['error']}"
    groups = groups_of(rec)
    ref = rec.get("reference")
    ref = f"reference {ref['score']:6.3f}  " if isinstance(ref, dict) and isinstance(
        ref.get("score"), (int, float)) else ""  # predict --references
    if groups:
        scores = "  ".join(f"{g} {rec[g]['mean_score_prediction']:6.3f}" for g in groups)
        return f"{scores}  {ref}{rec['path']}"
    if rec.get("std_score_prediction") is not None:
        return f"{rec['mean_score_prediction']:7.3f} ± {rec['std_score_prediction']:.3f}  {ref}{rec['path']}"
    return f"{rec['mean_score_prediction']:7.3f}          {ref}{rec['path']}"


def format_table(records) -> str:
    return "\n".join(format_line(r) for r in records)


def by_score(records) -> list[dict]:
    """Scored records best first (ties by path, so the order is stable)."""
    return sorted((r for r in records if is_scored(r)), key=rank_key)


def rank_key(record: dict):
    """Best first; ties by path (or id, for records of other tools without a path)."""
    return (-record["mean_score_prediction"], str(record.get("path") or record.get("image_id") or ""))
