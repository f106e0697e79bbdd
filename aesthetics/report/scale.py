"""The report's score colour scale: one colour per score, from poor to good.

The badges under the thumbnails and the histogram's bars share it, so a
colour means the same score everywhere on the page. The stops follow
ColorBrewer's RdYlBu (red, orange, pale yellow, light blue, blue): it reads
as bad to good at a glance and stays distinguishable with red-green colour
blindness, unlike a red-to-green ramp. Colours are interpolated in linear
RGB between the stops; each badge gets black or white text, whichever has
more contrast (WCAG contrast ratio), so every number stays readable.

The scale spans the models' score range, 1..10, by default: the same score
has the same colour in every report. Pure Python: no matplotlib needed.
"""

from __future__ import annotations

from typing import Sequence

# (position in [0, 1], sRGB hex): ColorBrewer RdYlBu, 5 classes
STOPS: Sequence = (
    (0.00, "#d7191c"),
    (0.30, "#fdae61"),
    (0.50, "#ffffbf"),
    (0.70, "#abd9e9"),
    (1.00, "#2166ac"),  # RdYlBu's darker end blue (5-class #2c7bb6 fails white-text contrast)
)
SCORE_RANGE = (1.0, 10.0)


def _srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _linear_to_srgb(c: float) -> float:
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def _rgb(hex_colour: str) -> tuple:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


def colour_at(t: float) -> str:
    """The scale's colour at position t in [0, 1] (clipped), as #rrggbb."""
    t = min(max(float(t), 0.0), 1.0)
    for (t0, c0), (t1, c1) in zip(STOPS, STOPS[1:]):
        if t <= t1:
            f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            a = [_srgb_to_linear(c) for c in _rgb(c0)]
            b = [_srgb_to_linear(c) for c in _rgb(c1)]
            return _hex(_linear_to_srgb(x + f * (y - x)) for x, y in zip(a, b))
    return STOPS[-1][1]


def score_colour(score: float, lo: float = SCORE_RANGE[0], hi: float = SCORE_RANGE[1]) -> str:
    """Background colour for `score` on the scale spanning lo..hi."""
    return colour_at((float(score) - lo) / (hi - lo) if hi > lo else 0.5)


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of an sRGB colour (0 black .. 1 white)."""
    r, g, b = (_srgb_to_linear(c) for c in _rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 .. 21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with `background`: at least
    4.58:1 for any background, above WCAG AA's 4.5:1 for text."""
    return "#000000" if contrast(background, "#000000") >= contrast(background, "#ffffff") else "#ffffff"


def css_gradient(lo: float = SCORE_RANGE[0], hi: float = SCORE_RANGE[1]) -> str:
    """A CSS linear-gradient of the scale (for the legend)."""
    parts = ", ".join(f"{colour} {t * 100:.0f}%" for t, colour in STOPS)
    return f"linear-gradient(to right, {parts})"
