"""The several-model report's scatter plot: one model's score against another's.

Inline SVG made in Python, like the histogram: one dot per scored photo, x
the first model's mean score (the technical one, when the names say which),
y the second's. Dashed lines at each model's median split the plot into four
quadrants, each relative to this set of photos (the two models score on
scales of their own: AVA aesthetic scores sit around 5, technical ones
spread wider):

    low x, high y   "beautiful but flawed"           (technical x, aesthetic y)
    high x, low y   "technically fine but unappealing"

are where the two judgements disagree: the photos a person should look at
first. Those two quadrants are tinted and labelled, their dots coloured,
and `scatter_svg` also returns each quadrant's count and the few photos
furthest into it. Models with other names get neutral labels ("high x,
low y"). A dot links to its card (``#photo-RANK``) when the contact sheet
shows that photo, and has a <title> (file name and both scores) that
browsers show on hover. Every text from a record is escaped here.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 440
LEFT, RIGHT, TOP, BOTTOM = 52, 18, 18, 46
EXAMPLES = 5  # photos listed per quadrant where the models disagree

# quadrant key -> (tint, dot colour); "hl" = high x, low y
COLOURS = {"hl": ("#fdae61", "#f59a3c"), "lh": ("#c2a5f0", "#b48cf2"), "hh": (None, "#9da1ab"),
           "ll": (None, "#9da1ab")}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    name: str  # the file name (hover text; escaped here)
    anchor: Optional[str]  # "photo-12": the card's id, None if the sheet does not show it


@dataclass(frozen=True)
class Quadrant:
    key: str  # "hl", "lh", "hh", "ll"
    label: str
    count: int
    flagged: bool  # the models disagree here: look first
    colour: str
    examples: tuple  # ((name, anchor or None), ...), furthest into the quadrant first


def quadrant_labels(x_name: str, y_name: str) -> dict:
    from aesthetics.report.models import kind

    if kind(x_name) == "technical" and kind(y_name) == "aesthetic":
        return {"hl": "technically fine but unappealing", "lh": "beautiful but flawed",
                "hh": "good on both", "ll": "weak on both"}
    return {"hl": f"high {x_name}, low {y_name}", "lh": f"low {x_name}, high {y_name}",
            "hh": "high on both", "ll": "low on both"}


def _range(values: Sequence[float]) -> tuple[float, float]:
    """An axis range on half points covering `values`, at least 1 point wide."""
    lo, hi = math.floor(min(values) * 2) / 2, math.ceil(max(values) * 2) / 2
    if hi - lo < 1:
        mid = (lo + hi) / 2
        lo, hi = math.floor((mid - 0.5) * 2) / 2, math.ceil((mid + 0.5) * 2) / 2
    return lo, hi


def _ticks(lo: float, hi: float) -> list[float]:
    step = next(s for s in (0.5, 1.0, 2.0, 5.0, 1e9) if (hi - lo) / s <= 10)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 6) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}"


def _quadrant(p: Point, mx: float, my: float) -> str:
    return ("h" if p.x > mx else "l") + ("h" if p.y > my else "l")


def scatter_svg(points: Sequence[Point], x_name: str, y_name: str) -> tuple[Markup, list[Quadrant]]:
    """The plot as an <svg> element (safe to insert unescaped), and its
    quadrants: the two where the models disagree first."""
    if not points:
        return Markup('<p class="empty">No photo has both scores.</p>'), []
    mx = statistics.median(p.x for p in points)
    my = statistics.median(p.y for p in points)
    labels = quadrant_labels(x_name, y_name)
    x0, x1 = _range([p.x for p in points])
    y0, y1 = _range([p.y for p in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def X(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * plot_w

    def Y(v: float) -> float:
        return TOP + plot_h - (v - y0) / (y1 - y0) * plot_h

    xn, yn = escape(x_name), escape(y_name)
    parts = [f'<svg class="scatter" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{yn} score against {xn} score of {len(points)} photos">']
    # the two quadrants where the models disagree: tinted, labelled in their outer corner
    corners = {"lh": (X(x0), Y(y1), X(mx), Y(my), LEFT + 6, TOP + 16, "start"),
               "hl": (X(mx), Y(my), X(x1), Y(y0), WIDTH - RIGHT - 6, TOP + plot_h - 8, "end")}
    for key, (ax, ay, bx, by, tx, ty, anchor) in corners.items():
        parts.append(f'<rect class="quadrant {key}" x="{ax:.1f}" y="{ay:.1f}" width="{bx - ax:.1f}" '
                     f'height="{by - ay:.1f}" fill="{COLOURS[key][0]}" fill-opacity="0.10"/>')
        parts.append(f'<text class="quadrant-label {key}" x="{tx}" y="{ty}" text-anchor="{anchor}" '
                     f'style="fill: {COLOURS[key][1]}">{escape(labels[key])}</text>')
    parts.append(f'<text class="quadrant-label other" x="{WIDTH - RIGHT - 6}" y="{TOP + 16}" '
                 f'text-anchor="end">{escape(labels["hh"])}</text>')
    parts.append(f'<text class="quadrant-label other" x="{LEFT + 6}" y="{TOP + plot_h - 8}" '
                 f'text-anchor="start">{escape(labels["ll"])}</text>')
    for t in _ticks(x0, x1):
        parts.append(f'<line class="grid" x1="{X(t):.1f}" x2="{X(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}"/>')
        parts.append(f'<text class="xlabel" x="{X(t):.1f}" y="{TOP + plot_h + 18}" '
                     f'text-anchor="middle">{_fmt(t)}</text>')
    for t in _ticks(y0, y1):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{Y(t):.1f}" y2="{Y(t):.1f}"/>')
        parts.append(f'<text class="ylabel" x="{LEFT - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    parts.append(f'<line class="median" x1="{X(mx):.1f}" x2="{X(mx):.1f}" y1="{TOP}" y2="{TOP + plot_h}">'
                 f'<title>median {xn} score {mx:.2f}</title></line>')
    parts.append(f'<line class="median" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{Y(my):.1f}" y2="{Y(my):.1f}">'
                 f'<title>median {yn} score {my:.2f}</title></line>')
    parts.append(f'<text class="axis-title" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" '
                 f'text-anchor="middle">{xn} score →</text>')
    parts.append(f'<text class="axis-title" transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">{yn} score →</text>')
    counts = {key: 0 for key in COLOURS}
    for p in points:
        key = _quadrant(p, mx, my)
        counts[key] += 1
        title = escape(f"{p.name}: {x_name} {p.x:.2f}, {y_name} {p.y:.2f}")
        dot = (f'<circle class="point {key}" cx="{X(p.x):.1f}" cy="{Y(p.y):.1f}" r="4.5" '
               f'fill="{COLOURS[key][1]}"><title>{title}</title></circle>')
        parts.append(f'<a href="#{escape(p.anchor)}">{dot}</a>' if p.anchor else dot)
    parts.append("</svg>")
    quadrants = []
    for key in ("hl", "lh", "hh", "ll"):
        flagged = key in ("hl", "lh")
        examples = ()
        if flagged:
            sign = 1 if key == "hl" else -1  # how far into the quadrant: x above and y below the medians
            inside = [p for p in points if _quadrant(p, mx, my) == key]
            inside.sort(key=lambda p: -sign * ((p.x - mx) - (p.y - my)))
            examples = tuple((p.name, p.anchor) for p in inside[:EXAMPLES])
        quadrants.append(Quadrant(key, labels[key], counts[key], flagged, COLOURS[key][1], examples))
    return Markup("".join(parts)), quadrants
