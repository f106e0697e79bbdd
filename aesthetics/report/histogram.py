"""The report's score histogram, drawn as inline SVG in Python.

No JavaScript and no plotting library at view time: the page stays one file
that any browser (or an e-mail client) shows as it is. The bars are
coloured with the badges' scale (`scale.score_colour`), the mean and the
median are marked, and each bar has an SVG <title> ("5.25-5.50: 3 photos")
that browsers show on hover.

`bin_edges` picks a "nice" bin width (0.1, 0.2, 0.25, 0.5, 1 or 2 score
points) that gives at most `max_bins` bins over the scores' range, aligned on
multiples of the width, so bins read as 5.0-5.5, not 4.97-5.41.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from markupsafe import Markup, escape

from aesthetics.report.scale import score_colour

NICE_WIDTHS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0)

WIDTH, HEIGHT = 760, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 26, 34  # margins for the axes' labels


def bin_edges(scores: Sequence[float], max_bins: int = 36) -> list[float]:
    """Edges of equal-width bins covering `scores` (at least one bin)."""
    lo, hi = min(scores), max(scores)
    span = max(hi - lo, 1e-9)
    width = next((w for w in NICE_WIDTHS if span / w <= max_bins - 1), None)
    if width is None:  # scores beyond the usual 1..10: fall back to a power of ten
        width = 10 ** math.ceil(math.log10(span / (max_bins - 1)))
    start = math.floor(lo / width + 1e-9) * width
    count = max(1, math.floor((hi - start) / width + 1e-9) + 1)
    return [round(start + i * width, 6) for i in range(count + 1)]


def counts(scores: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Photos per bin [edge_i, edge_i+1); the top edge's bin is closed."""
    n = len(edges) - 1
    width = edges[1] - edges[0]
    out = [0] * n
    for s in scores:
        i = min(max(int(math.floor((s - edges[0]) / width + 1e-9)), 0), n - 1)
        out[i] += 1
    return out


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


def _tick_step(span: float) -> float:
    return next(step for step in (0.5, 1.0, 2.0, 5.0, 10.0, 1e9) if span / step <= 12)


def histogram_svg(
    scores: Sequence[float],
    mean: Optional[float] = None,
    median: Optional[float] = None,
    max_bins: int = 36,
    label: Optional[str] = None,
) -> Markup:
    """The histogram as an <svg> element, safe to insert into the page
    unescaped (every text in it is made here, from numbers, or escaped:
    `label`, the model's name in a several-model report). It has no
    xmlns: inline SVG in HTML needs none, and the page keeps no URL."""
    if not scores:
        return Markup('<p class="empty">No photo was scored.</p>')
    edges = bin_edges(scores, max_bins)
    heights = counts(scores, edges)
    peak = max(heights)
    x0, x1 = edges[0], edges[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(value: float) -> float:
        return LEFT + (value - x0) / (x1 - x0) * plot_w

    def y(count: float) -> float:
        return TOP + plot_h - count / peak * plot_h

    parts = [
        f'<svg class="histogram" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Histogram of {len(scores)} '
        f'{escape(label) + " " if label else ""}scores">'
    ]
    # horizontal grid lines with counts
    for count in sorted({0, peak, round(peak / 2)} if peak >= 2 else {0, peak}):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(count):.1f}" '
                     f'y2="{y(count):.1f}"/>')
        parts.append(f'<text class="ylabel" x="{LEFT - 6}" y="{y(count) + 4:.1f}" '
                     f'text-anchor="end">{count}</text>')
    for i, count in enumerate(heights):
        left, right = edges[i], edges[i + 1]
        colour = score_colour((left + right) / 2)
        gap = 1.0 if plot_w / len(heights) > 6 else 0.0
        bar_x, bar_w = x(left) + gap / 2, max(x(right) - x(left) - gap, 0.5)
        bar_label = f"{_fmt(left)}–{_fmt(right)}: {count} photo{'' if count == 1 else 's'}"
        parts.append(
            f'<rect class="bar" x="{bar_x:.1f}" y="{y(count):.1f}" width="{bar_w:.1f}" '
            f'height="{y(0) - y(count):.1f}" fill="{colour}"><title>{escape(bar_label)}</title></rect>'
        )
    step = _tick_step(x1 - x0)
    tick = math.ceil(x0 / step - 1e-9) * step
    while tick <= x1 + 1e-9:
        parts.append(f'<line class="tick" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{y(0):.1f}" '
                     f'y2="{y(0) + 5:.1f}"/>')
        parts.append(f'<text class="xlabel" x="{x(tick):.1f}" y="{y(0) + 18:.1f}" '
                     f'text-anchor="middle">{_fmt(tick)}</text>')
        tick += step
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    parts.append(f'<text class="axis-title" x="{WIDTH - RIGHT}" y="{HEIGHT - 2}" '
                 f'text-anchor="end">{escape(label) + " " if label else ""}score</text>')
    marks = [("mean", mean, -4, "end"), ("median", median, 4, "start")]
    if mean is not None and median is not None and mean > median:
        marks = [("mean", mean, 4, "start"), ("median", median, -4, "end")]
    for name, value, shift, anchor in marks:
        if value is None:
            continue
        parts.append(f'<line class="mark {name}" x1="{x(value):.1f}" x2="{x(value):.1f}" '
                     f'y1="{TOP - 6}" y2="{y(0):.1f}"/>')
        parts.append(f'<text class="mark-label {name}" x="{x(value) + shift:.1f}" y="{TOP - 10}" '
                     f'text-anchor="{anchor}">{name} {value:.2f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
