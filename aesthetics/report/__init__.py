"""The HTML report of a set of scored photos (`aesthetics report`, `predict --report`).

    from aesthetics.report import write_report
    write_report("scores.jsonl", "report.html")           # or a list of records

One self-contained page: counts and summary scores, a score histogram, a
contact sheet of thumbnails best first (rank, mean ± std, file name), the
files that failed with their reasons, and links to `--explain` overlays.
Records of several models (`predict --model technical,aesthetic`) show every
model: a badge each per card, a histogram each, a scatter of the first two
models' scores with the quadrants where they disagree, sort buttons.

Modules: `page` (write_report: loading, links, streaming the template),
`thumbnails` (embedded JPEG thumbnails, placeholders), `histogram` (inline
SVG), `scale` (the score colour scale), `summary` (header numbers, which
photos the contact sheet shows), `models` and `scatter` (several models),
`templates/report.html.j2`.
Nothing here imports TensorFlow.
"""

from aesthetics.report.page import DEFAULT_THUMB_SIZE, write_report

__all__ = ["DEFAULT_THUMB_SIZE", "write_report"]
