"""What the report says about a set of records, before any HTML.

`summarise` gives the header's numbers (counts, mean, median, range);
`sections` decides which scored photos the contact sheet shows: all of
them, best first, or, with a `limit`, the best N and the worst N (a person
culling a large library looks at both ends; the middle is summarised by the
histogram, which always covers every photo).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

from aesthetics.inference.records import is_scored


@dataclass(frozen=True)
class Summary:
    """The header's numbers. Scores are None when nothing was scored."""

    total: int
    scored: int
    failed: int
    mean: Optional[float]
    median: Optional[float]
    best: Optional[float]
    worst: Optional[float]
    mean_std: Optional[float]  # the average uncertainty (std of the predicted distribution)
    skipped: int = 0  # records the report could not use (not counted in total)


def mean_score(record: dict, group: Optional[str] = None) -> Optional[float]:
    """The record's mean score, or its `group`'s (several models); None if it has none."""
    if group is not None:
        record = record.get(group)
        if not isinstance(record, dict):
            return None
    value = record.get("mean_score_prediction")
    return None if value is None else float(value)


def split_records(records: Sequence[dict], group: Optional[str] = None) -> tuple[list[dict], list[dict]]:
    """(scored records best first, the others in input order). A record
    without an error and without a score counts as failed ("no score").

    The order is `records.by_score`'s (score, then path), except that a
    record without "path" (an idealo-style JSON list has only image_id)
    sorts by its id instead of failing. With several models, `group` names
    the model whose score orders them (a record without it sorts last)."""

    def key(r):
        score = mean_score(r, group)
        return (score is None, -(score or 0.0), str(r.get("path") or r.get("image_id") or ""))

    scored = sorted((r for r in records if is_scored(r)), key=key)
    failed = [r for r in records if not is_scored(r)]
    return scored, failed


def summarise(scored: Sequence[dict], failed: Sequence[dict], group: Optional[str] = None,
              skipped: int = 0) -> Summary:
    """The header's numbers; with several models, the scores are `group`'s."""
    views = [r if group is None else r.get(group) for r in scored]
    views = [v for v in views if isinstance(v, dict) and v.get("mean_score_prediction") is not None]
    scores = [float(v["mean_score_prediction"]) for v in views]
    stds = [float(v["std_score_prediction"]) for v in views if v.get("std_score_prediction") is not None]
    return Summary(
        total=len(scored) + len(failed),
        scored=len(scored),
        failed=len(failed),
        mean=statistics.fmean(scores) if scores else None,
        median=statistics.median(scores) if scores else None,
        best=max(scores) if scores else None,
        worst=min(scores) if scores else None,
        mean_std=statistics.fmean(stds) if stds else None,
        skipped=skipped,
    )


def failure_reason(record: dict) -> str:
    return str(record.get("error") or "no score in the record")


@dataclass(frozen=True)
class Section:
    """A run of the contact sheet: its heading and the records, with the
    rank (1 = best) of the first one."""

    title: str
    first_rank: int
    records: Sequence[dict]


def sections(scored: Sequence[dict], limit: Optional[int] = None) -> tuple[list[Section], int]:
    """The contact sheet's sections and how many scored photos it leaves out.

    No scored photo: no section. limit None (or 2 * limit >= the number of
    photos): one section, every photo best first. Otherwise the best `limit` and the worst `limit`.
    """
    n = len(scored)
    if n == 0:
        return [], 0
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    if limit is None or 2 * limit >= n:
        return [Section("All photos, best first", 1, scored)], 0
    best = Section(f"Best {limit}", 1, scored[:limit])
    worst = Section(f"Worst {limit}", n - limit + 1, scored[n - limit :])
    return [best, worst], n - 2 * limit
