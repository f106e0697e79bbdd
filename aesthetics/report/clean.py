"""The records a report can use, and why the others are skipped.

A scores file may have been edited by hand or written by another tool, so
one record may hold what no predict output does: a score that is text, NaN,
infinite or a list, a non-numeric std, a path that is not text, a
distribution that is not a list of numbers, something that is not a record
at all, or the same inside a several-model record's model groups. Such a
record is *skipped*: the page lists it with a one-line reason and shows
every other record as usual. One bad record never costs the page.

`clean_records` checks the records and returns clean copies of the usable
ones: every score a finite float, every text shown on the page encodable
(a lone surrogate from a JSON escape becomes ``\\xNN``), so nothing after it
needs to distrust a record. A record's optional "reference" (reference-based
scoring: score, std, method, neighbours) is only shown, never ranked by, so a
malformed one is dropped from the clean copy (the card shows no reference
line) instead of costing the record; see `_reference`. `read_report_records` reads a scores file like
`aesthetics.inference.outputs.read_records` with its `bad` hook: where the
strict reading refuses the whole file for one bad record (a line that is not
JSON, a value that is not an object, a CSV row whose score is not a number),
it keeps the other records and turns the bad one into a skipped entry. A file with no record in it at
all is still refused with `read_records`' one-line error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from aesthetics.inference.records import printable_path

MAX_SCORE = 1e9  # beyond any score scale; larger values would overflow the summaries
SKIPPED_SHOWN = 200  # the page lists at most this many skipped records (and counts the rest)


@dataclass(frozen=True)
class Skipped:
    """A record the report cannot use: what it is called and why."""

    name: str  # the file name, the id, or "record N" / "line N"
    path: str  # the path as the record has it ("" when it has no usable one)
    reason: str  # one line


@dataclass(frozen=True)
class Unreadable:
    """A line or item of a scores file that is not a record (from `read_report_records`)."""

    where: str  # "line 3", "record 3"
    reason: str


class _Bad(ValueError):
    pass


def _show(value, width: int = 40) -> str:
    """A value for a one-line reason: its repr, shortened, printable."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    text = printable_path(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _kind(value) -> str:
    names = {list: "a list", tuple: "a list", dict: "an object", str: "text", bool: "true/false",
             type(None): "null", int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _number(value, field: str) -> float:
    """A finite float from a number or numeric text; _Bad naming `field` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Bad(f"{field} is {_kind(value)}, not a number ({_show(value)})")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise _Bad(f"{field} is not a number ({_show(value)})") from None
    if not math.isfinite(number):
        raise _Bad(f"{field} is not finite ({_show(value)})")
    if abs(number) > MAX_SCORE:
        raise _Bad(f"{field} is out of any score range ({_show(value)})")
    return number


def _scores(group: dict, prefix: str = "") -> dict:
    """`group` with its mean, std and distribution checked and made floats."""
    out = dict(group)
    mean = group.get("mean_score_prediction")
    if mean is not None:
        out["mean_score_prediction"] = _number(mean, prefix + "mean_score_prediction")
    std = group.get("std_score_prediction")
    if std is not None:
        out["std_score_prediction"] = std = _number(std, prefix + "std_score_prediction")
        if std < 0:
            raise _Bad(f"{prefix}std_score_prediction is negative ({_show(group['std_score_prediction'])})")
    dist = group.get("distribution")
    if dist is not None:
        if not isinstance(dist, (list, tuple)):
            raise _Bad(f"{prefix}distribution is {_kind(dist)}, not a list of numbers ({_show(dist)})")
        out["distribution"] = [_number(p, prefix + "distribution value") for p in dist]
    return out


def _text(record: dict, field: str) -> Optional[str]:
    value = record.get(field)
    if value is None or isinstance(value, str):
        return None if value is None else printable_path(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field == "image_id":
        return str(value)  # a numeric id (another tool's JSON): still an id
    raise _Bad(f"{field} is {_kind(value)}, not text ({_show(value)})")


def _reference(value) -> Optional[dict]:
    """A clean copy of a record's "reference", or None when it is malformed
    (not an object, a score that is not a finite number, a std that is
    negative or no number, a method that is not text, neighbours that are
    not a list of objects each with a text (or numeric) "id" and optional
    numeric "score" / "similarity" and text "by")."""
    if not isinstance(value, dict):
        return None
    try:
        out = {"score": _number(value.get("score"), "reference score")}
        if value.get("std") is not None:
            out["std"] = _number(value["std"], "reference std")
            if out["std"] < 0:
                return None
        method = value.get("method")
        if method is not None and not isinstance(method, str):
            return None
        out["method"] = printable_path(method) if method else None
        neighbours = value.get("neighbours", [])
        if not isinstance(neighbours, (list, tuple)):
            return None
        out["neighbours"] = [_neighbour(n) for n in neighbours]
    except _Bad:
        return None
    return out


def _neighbour(value) -> dict:
    """One reference neighbour, cleaned; _Bad if it is malformed."""
    if not isinstance(value, dict):
        raise _Bad("reference neighbour is not an object")
    ident = value.get("id")
    if isinstance(ident, (int, float)) and not isinstance(ident, bool):
        ident = str(ident)  # a numeric id: still an id (as image_id)
    if not isinstance(ident, str):
        raise _Bad("reference neighbour id is not text")
    out = {"id": printable_path(ident)}
    for key in ("score", "similarity"):
        if value.get(key) is not None:
            out[key] = _number(value[key], f"reference neighbour {key}")
    by = value.get("by")
    if by is not None and not isinstance(by, str):
        raise _Bad("reference neighbour 'by' is not text")
    if by:
        out["by"] = printable_path(by)
    return out


def _clean(record: dict) -> dict:
    """A clean copy of one record, or _Bad with the reason it cannot be used."""
    out = {}
    for key, value in record.items():
        if not isinstance(key, str):  # only from a Python caller; JSON keys are text
            continue
        out[printable_path(key)] = value
    if "reference" in out:  # before the model groups: a malformed one is never taken for a group
        reference = _reference(out.pop("reference"))
        if reference is not None:
            out["reference"] = reference
    for field in ("path", "image_id"):
        if field in out:
            out[field] = _text(out, field)
    if "error" in out:  # a failed record: listed with its reason, its scores unused
        error = out["error"]
        out["error"] = printable_path(error if isinstance(error, str) else _show(error, 200)) if error else error
        return out
    explanation = out.get("explanation")
    if explanation is not None and not isinstance(explanation, str):
        out["explanation"] = None  # not a file name: the card links no overlay
    elif explanation:
        out["explanation"] = printable_path(explanation)
    top = {k: out[k] for k in ("mean_score_prediction", "std_score_prediction", "distribution") if k in out}
    out.update(_scores(top))
    for name, group in list(out.items()):
        if isinstance(group, dict) and "mean_score_prediction" in group:  # a model's group
            out[name] = _scores(group, f"{name}: ")
    return out


def _names(record: dict, index: int) -> tuple[str, str]:
    """(name, path) to list a skipped record by, from whatever text it holds."""
    path = record.get("path")
    image_id = record.get("image_id")
    path = printable_path(path) if isinstance(path, str) else ""
    image_id = printable_path(image_id) if isinstance(image_id, str) else ""
    name = Path(path).name if path else image_id
    return name or f"record {index}", path or image_id


def clean_records(items: Iterable) -> tuple[list[dict], list[Skipped]]:
    """(clean copies of the usable records, in order; the skipped ones with reasons).

    `items` are records (dicts), possibly with `Unreadable` entries from
    `read_report_records` or anything else a caller passed; everything that
    is not a usable record becomes a `Skipped`."""
    records, skipped = [], []
    for index, item in enumerate(items, 1):
        if isinstance(item, Unreadable):
            skipped.append(Skipped(item.where, "", item.reason))
            continue
        if isinstance(item, Mapping) and not isinstance(item, dict):
            item = dict(item)
        if not isinstance(item, dict):
            skipped.append(Skipped(f"record {index}", "",
                                   f"not a record: {_kind(item)} ({_show(item)})"))
            continue
        try:
            records.append(_clean(item))
        except _Bad as e:
            skipped.append(Skipped(*_names(item, index), str(e)))
        except (RecursionError, TypeError, ValueError) as e:  # anything else odd: skipped, not fatal
            skipped.append(Skipped(*_names(item, index), f"not a usable record ({type(e).__name__})"))
    return records, skipped


# ----------------------------------------------------------------------------- reading


def read_report_records(path) -> list:
    """The records of a scores file, with an `Unreadable` for each line or
    item that is not one (`read_records`' lenient reading). OutputError when
    the file holds no record at all, as `read_records` alone."""
    from aesthetics.inference.outputs import read_records

    unreadable: list = []
    records = read_records(path, bad=lambda where, reason: unreadable.append(Unreadable(where, reason)))
    return unreadable + records
