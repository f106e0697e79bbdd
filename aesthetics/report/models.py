"""Several models in one report: records with a group of fields per model.

`aesthetics predict --model technical,aesthetic` writes one record per photo
with a group per model (see `aesthetics.inference.multi`)::

    {"image_id": "42039", "path": "...",
     "technical": {"mean_score_prediction": 7.5, "std_score_prediction": 1.7, ...},
     "aesthetic": {"mean_score_prediction": 5.2, ...}}

The report then shows every model: each card has one named badge per model
(the same colour scale as a one-model report), the header has one row of
numbers and one histogram per model, a scatter plot (`scatter.py`) sets the
first two models against each other, and the contact sheet can be re-sorted
by any model's score in the browser. This module holds what the page needs
for that, before any HTML: the models' names, each card's scores, ranks
and the per-model summaries. Pure Python; nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from markupsafe import Markup

from aesthetics.inference.records import groups_of
from aesthetics.report.histogram import histogram_svg
from aesthetics.report.scale import score_colour, text_colour
from aesthetics.report.summary import Summary, mean_score, summarise

_TECHNICAL = re.compile(r"technical|clive|koniq|spaq|(^|[-_])iqa([-_]|$)", re.I)
_AESTHETIC = re.compile(r"aesthetic|(^|[-_])ava([-_]|$)|laion", re.I)


@dataclass(frozen=True)
class ModelScore:
    """One model's score on a card (`score` None: the record lacks it)."""

    name: str
    score: Optional[float]
    text: str  # "5.31 ± 1.42", or "–"
    badge: str
    badge_text: str
    rank: Optional[int]  # 1 = this model's best photo


@dataclass(frozen=True)
class ModelSummary:
    """One model's row of numbers and its histogram."""

    name: str
    summary: Summary
    histogram: Markup


def model_names(records: Sequence[dict]) -> list[str]:
    """The model groups of the records, in the order they first appear
    ([] for one-model records: the page is then exactly the one-model page)."""
    names: dict = {}
    for record in records:
        if "error" not in record:
            for name in groups_of(record):
                names.setdefault(name, None)
    return list(names)


def kind(name: str) -> Optional[str]:
    """"technical" or "aesthetic" when a model's name says which it judges
    (the zoo's aliases, CLIVE/KonIQ or AVA model names), else None."""
    if _TECHNICAL.search(name) and not _AESTHETIC.search(name):
        return "technical"
    if _AESTHETIC.search(name) and not _TECHNICAL.search(name):
        return "aesthetic"
    return None


def scatter_axes(names: Sequence[str]) -> Optional[tuple[str, str]]:
    """(x, y) models of the scatter plot: the first two models, with the
    technical one on x and the aesthetic one on y when their names say so;
    None with fewer than two models."""
    if len(names) < 2:
        return None
    x, y = names[0], names[1]
    if kind(x) == "aesthetic" and kind(y) == "technical":
        x, y = y, x
    return x, y


def ranks(scored: Sequence[dict], names: Sequence[str]) -> dict:
    """{model: {id(record): rank}}, rank 1 being that model's best photo
    (ties by path, as the contact sheet orders them)."""
    out = {}
    for name in names:
        have = [r for r in scored if mean_score(r, name) is not None]
        have.sort(key=lambda r: (-mean_score(r, name), str(r.get("path") or r.get("image_id") or "")))
        out[name] = {id(r): i for i, r in enumerate(have, 1)}
    return out


def score_text(group: Optional[dict]) -> str:
    if not isinstance(group, dict) or group.get("mean_score_prediction") is None:
        return "–"
    mean, std = float(group["mean_score_prediction"]), group.get("std_score_prediction")
    return f"{mean:.2f} ± {float(std):.2f}" if std is not None else f"{mean:.2f}"


def card_scores(record: dict, names: Sequence[str], rank_of: dict) -> tuple:
    """The card's badges, one per model, in the models' order."""
    out = []
    for name in names:
        score = mean_score(record, name)
        badge = score_colour(score) if score is not None else "#4a4d55"
        out.append(ModelScore(
            name=name, score=score, text=score_text(record.get(name)), badge=badge,
            badge_text=text_colour(badge), rank=rank_of.get(name, {}).get(id(record)),
        ))
    return tuple(out)


def sort_values(scores: Sequence[ModelScore]) -> str:
    """The card's data-scores attribute: each model's score, space-separated
    ("" for a missing one), which the page's sort buttons read."""
    return " ".join("" if s.score is None else f"{s.score:.4f}" for s in scores)


def model_summaries(scored: Sequence[dict], names: Sequence[str]) -> list[ModelSummary]:
    out = []
    for name in names:
        summary = summarise(scored, [], name)
        scores = [s for s in (mean_score(r, name) for r in scored) if s is not None]
        out.append(ModelSummary(name, summary, histogram_svg(scores, summary.mean, summary.median,
                                                             label=name)))
    return out
