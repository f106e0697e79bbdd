"""`aesthetics report`: an HTML page of the photos in a predict output.

    aesthetics predict shoot/ --output scores.jsonl
    aesthetics report scores.jsonl --output report.html

The page (see `aesthetics.report`) has the counts and summary scores, a
score histogram, the photos best first as thumbnails with mean ± std, the
files that failed with their reasons, and links to `--explain` overlays.
Records the page cannot use (a score that is not a finite number, a path
that is not text, a line that is not a record: a file edited by hand or
written by another tool) are skipped and listed with a reason; the summary
line counts them.
A several-model output (`predict --model technical,aesthetic`, the default)
shows every model: a badge per model on each card, a histogram per model, a
scatter of the first two models' scores, and buttons to sort by either.
TensorFlow is never imported: the report only reads the scores and the photos.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aesthetics.cli.common import positive_int, require_path

REPORT_SUFFIXES = (".html", ".htm")


def register(sub, parents=()):
    p = sub.add_parser(
        "report",
        parents=list(parents),
        help="an HTML page of scored photos (from a predict output)",
        description="Write one self-contained HTML page for a predict output (.csv, .jsonl, "
        ".json): counts, mean and median score, a histogram, thumbnails best first with "
        "mean ± std, the files that failed and why, links to --explain overlays; for a "
        "several-model output, every model's score, a histogram per model and a scatter of "
        "two models' scores. Relative "
        "photo paths are looked up from the current folder, then from the scores file's folder.",
    )
    p.add_argument("scores", metavar="SCORES", help="a predict output: .csv, .jsonl or .json")
    p.add_argument("--output", help="the .html file to write (default: SCORES with .html)")
    p.add_argument("--title", help="the page's heading (default: 'Photo scores: <SCORES name>')")
    p.add_argument("--model", dest="model_label", metavar="NAME",
                   help="the model's name to show in the header (display only; nothing is scored)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="show only the best N and the worst N photos (the header and the "
                   "histogram still cover all); for large libraries")
    p.add_argument("--thumb-size", type=positive_int, default=256, metavar="PX",
                   help="the thumbnails' longest side in pixels (default 256)")
    p.add_argument("--sort-by", metavar="MODEL",
                   help="several-model outputs: the model whose score orders the photos "
                   "(and picks --limit's); default the first. The page can re-sort by any")
    p.add_argument("--no-explanations", dest="explanations", action="store_false",
                   help="do not link the records' explanation overlays")
    p.set_defaults(func=run, check=check, needs_tensorflow=False)


def check(args) -> None:
    """The scores file exists and has a known format; the output is an .html
    file whose folder can be written (and is not the scores file)."""
    from aesthetics.errors import ConfigError, OutputError
    from aesthetics.inference.outputs import output_format

    require_path(args.scores, "SCORES", "file")
    output_format(args.scores)  # ConfigError naming the suffix
    output = Path(args.output) if args.output else Path(args.scores).with_suffix(".html")
    if output.suffix.lower() not in REPORT_SUFFIXES:
        raise ConfigError(f"--output {output}: a report is an .html file")
    if output.is_dir():
        raise OutputError(f"--output {output} is a folder; give a file name")
    if not 16 <= args.thumb_size <= 2048:
        raise ConfigError(f"--thumb-size {args.thumb_size}: use 16..2048 pixels")
    folder = output.parent
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputError(f"--output {output}: {existing} is not a folder")
    args.report_path = output


def run(args) -> int:
    from aesthetics.errors import ConfigError, DataError
    from aesthetics.inference.records import is_scored
    from aesthetics.report import write_report
    from aesthetics.report.clean import clean_records, read_report_records
    from aesthetics.report.models import model_names

    # OutputError (one line) if nothing in it is a record; a bad record among good ones is skipped
    items = read_report_records(args.scores)
    if not items:
        raise DataError(f"{args.scores} holds no records: nothing to report")
    records, skipped = clean_records(items)
    if args.sort_by is not None and args.sort_by not in (names := model_names(records)):
        raise ConfigError(f"--sort-by {args.sort_by!r}: " + (
            f"not one of the models in {args.scores} ({', '.join(names)})" if names
            else f"{args.scores} holds one model's scores"))
    path = write_report(items, args.report_path, title=args.title, thumb_size=args.thumb_size,
                        explanations=args.explanations, limit=args.limit, model=args.model_label,
                        source=args.scores, sort_by=args.sort_by)
    scored = sum(1 for r in records if is_scored(r))
    note = ""
    if skipped:
        note = (f", {len(skipped)} skipped: records it cannot use, listed on the page"
                f"; the first: {skipped[0].reason}")
    print(f"aesthetics: wrote {path} ({scored} scored, {len(records) - scored} failed{note})",
          file=sys.stderr)
    return 0
