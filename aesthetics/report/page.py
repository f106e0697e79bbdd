"""`write_report`: one self-contained HTML page for a set of score records.

The page is rendered from `templates/report.html.j2` with Jinja2's
`generate()`, which yields the page piece by piece: the contact sheet's cards
are a generator, each card's thumbnail is made when the template reaches it
(a few threads work ahead, see `thumbnails.thumbnails_in_order`) and written
out at once. So memory stays bounded by a handful of thumbnails, not by the
size of the library; 30,000 photos make a large file (10-25 KB each at the
default size) but not a large process.

Everything that comes from a record (file names, paths, error reasons) is
HTML-escaped by Jinja2's autoescaping; links are percent-encoded relative
paths, so a file named ``javascript:x.jpg`` stays a file. The page has no
external URL: thumbnails are data URIs, the histogram is inline SVG, the
styles are inline. It is written to a temporary file beside `output` and
moved into place (`os.replace`), so a reader never sees half a report and a
failed run leaves the previous report intact.

Records of several models (a group of fields per model, `predict --model
technical,aesthetic`) get the several-model page (see `models.py`): a badge
per model on each card, a histogram per model, the scatter plot of the
first two models (`scatter.py`), and sort buttons: a few lines of inline
script that re-order the cards already on the page by their `data-scores`
(nothing is fetched; without script the sheet stays in the first model's
order). One-model records render exactly the one-model page, with no script.

A record with a "reference" (reference-based scoring, cleaned by `clean.py`)
gets one more line on its card, `reference_line`'s "references (gcn): 5.90 ·
compared with ref_17 (6.1), ref_4 (5.4)", plain text the template escapes; the
header counts such photos.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence, Union
from urllib.parse import quote

from aesthetics.errors import OutputError
from aesthetics.report.clean import SKIPPED_SHOWN, clean_records, read_report_records
from aesthetics.report.histogram import histogram_svg
from aesthetics.report.models import card_scores, model_names, model_summaries, ranks, scatter_axes, sort_values
from aesthetics.report.scale import SCORE_RANGE, css_gradient, score_colour, text_colour
from aesthetics.report.scatter import Point, scatter_svg
from aesthetics.report.summary import Section, failure_reason, sections, split_records, summarise
from aesthetics.report.thumbnails import Thumbnail, thumbnails_in_order

log = logging.getLogger("aesthetics")

DEFAULT_THUMB_SIZE = 256
REFERENCE_SHOWN = 8  # neighbours named on a card's reference line (the rest are counted)
REFERENCE_ID_WIDTH = 40  # longer neighbour ids are shortened on the card
_environment = None


def _template():
    """The report template (the Jinja2 environment is made once)."""
    global _environment
    if _environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        _environment = Environment(
            loader=PackageLoader("aesthetics.report", "templates"),
            autoescape=True,  # every value from a record is escaped
            undefined=StrictUndefined,  # a typo in the template fails, not renders blank
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _environment.filters["thousands"] = lambda n: f"{int(n):,}"
        _environment.filters["score"] = lambda v: "–" if v is None else f"{float(v):.2f}"
    return _environment.get_template("report.html.j2")


@dataclass(frozen=True)
class Card:
    """One photo of the contact sheet, as the template shows it."""

    rank: int
    name: str  # the file name
    path: str  # the path as the record has it (the tooltip)
    score: float
    score_text: str  # "5.31 ± 1.42"
    badge: str  # background colour
    badge_text: str  # text colour on it
    photo_href: Optional[str]  # relative link to the photo, None if it is not there
    explanation_href: Optional[str]
    explanation_note: Optional[str]  # why an explanation is not linked
    thumbnail: Thumbnail
    scores: tuple = ()  # several models: a models.ModelScore per model
    sort_values: str = ""  # several models: the data-scores attribute
    reference: Optional[str] = None  # the reference line (`reference_line`), None without one


def href(target: Path, folder: Path) -> str:
    """A link from a page in `folder` to `target`: a percent-encoded relative
    path (":" encoded too, so no name can read as a URL scheme), or a
    file: URI where no relative path exists (another drive on Windows)."""
    try:
        rel = os.path.relpath(os.path.abspath(target), os.path.abspath(folder))
    except ValueError:
        return Path(os.path.abspath(target)).as_uri()
    return quote(Path(rel).as_posix(), safe="/")


def _resolver(bases: Sequence[Path]):
    """path in a record -> an existing file, or None. Relative paths are
    tried against each base (the current folder, where `predict` ran, then
    the records file's folder)."""

    def resolve(path) -> Optional[Path]:
        if not path:
            return None
        try:
            p = Path(path).expanduser()
        except (RuntimeError, TypeError, ValueError):  # "~nosuchuser/x", not a path at all
            return None
        candidates = [p] if p.is_absolute() else [base / p for base in bases]
        return next((c for c in candidates if _exists(c)), None)

    return resolve


def _exists(path: Path) -> bool:
    """Whether `path` exists; False for a name no file can have (too long,
    a NUL byte), which `Path.exists` raises for."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def score_text(record: dict) -> str:
    mean = float(record["mean_score_prediction"])
    std = record.get("std_score_prediction")
    return f"{mean:.2f} ± {float(std):.2f}" if std is not None else f"{mean:.2f}"


def reference_line(reference: dict) -> str:
    """A clean "reference"'s card line: "references (gcn): 5.90 ± 1.20 ·
    compared with ref_17 (6.1), ref_4 (5.4), … and 3 more". Plain text (the
    template escapes it)."""
    method = f" ({reference['method']})" if reference.get("method") else ""
    score = score_text({"mean_score_prediction": reference["score"], "std_score_prediction": reference.get("std")})
    text = f"references{method}: {score}"
    neighbours = reference.get("neighbours") or []
    if neighbours:
        shown = []
        for n in neighbours[:REFERENCE_SHOWN]:
            ident = n["id"] if len(n["id"]) <= REFERENCE_ID_WIDTH else n["id"][: REFERENCE_ID_WIDTH - 1] + "…"
            shown.append(f"{ident} ({n['score']:.1f})" if n.get("score") is not None else ident)
        more = len(neighbours) - len(shown)
        text += " · compared with " + ", ".join(shown) + (f", … and {more} more" if more else "")
    return text


def _cards(section: Section, thumbs: Iterator[Thumbnail], resolve, folder: Path,
           explanations: bool, names: Sequence[str] = (), rank_of: Optional[dict] = None) -> Iterator[Card]:
    for offset, rec in enumerate(section.records):
        path = str(rec.get("path") or rec.get("image_id") or "")
        photo = resolve(rec.get("path"))
        thumbnail = next(thumbs)
        expl_href = expl_note = None
        if explanations and rec.get("explanation"):
            overlay = resolve(rec["explanation"])
            if overlay is None:
                expl_note = "explanation file missing"
            else:
                expl_href = href(overlay, folder)
        scores = card_scores(rec, names, rank_of or {}) if names else ()
        if scores:  # several models: the first one's score is the card's (its order)
            first = scores[0]
            score, text, colour = first.score, first.text, first.badge
        else:
            score, text = float(rec["mean_score_prediction"]), score_text(rec)
            colour = score_colour(score)
        yield Card(
            rank=section.first_rank + offset,
            name=Path(path).name or path,
            path=path,
            score=float("nan") if score is None else score,
            score_text=text,
            badge=colour,
            badge_text=text_colour(colour),
            photo_href=href(photo, folder) if photo is not None and not thumbnail.is_placeholder else None,
            explanation_href=expl_href,
            explanation_note=expl_note,
            thumbnail=thumbnail,
            scores=scores,
            sort_values=sort_values(scores),
            reference=reference_line(rec["reference"]) if rec.get("reference") else None,
        )


def _load(records, source) -> tuple[list, Optional[Path]]:
    """The records as a list (as given: `clean_records` checks them), and
    the predict output they came from (if known)."""
    if isinstance(records, (str, os.PathLike)):
        source = Path(records)
        if not source.is_file():
            from aesthetics.errors import InputNotFoundError

            raise InputNotFoundError(f"scores file not found: {source}")
        return read_report_records(source), source
    if isinstance(records, (dict, bytes)):
        raise TypeError("records: give a list of score records (or a scores file's path), not one record")
    return list(records), Path(source) if source is not None else None


def write_report(
    records: Union[Iterable[dict], str, os.PathLike],
    output,
    title: Optional[str] = None,
    thumb_size: int = DEFAULT_THUMB_SIZE,
    explanations: bool = True,
    *,
    limit: Optional[int] = None,
    model: Optional[str] = None,
    source=None,
    workers: Optional[int] = None,
    sort_by: Optional[str] = None,
) -> Path:
    """Writes an HTML report of `records` to `output` and returns its path.

    Args:
        records: score records (`aesthetics predict`'s, see
            `aesthetics.inference.records`), or the path of a predict output
            (.csv, .jsonl, .json), read with `read_records`; relative photo
            paths are then looked up from the current folder, then from the
            file's folder.
        output: the .html file to write (its folder is created).
        title: the page's heading (default: "Photo scores", plus the scores
            file's name).
        thumb_size: the thumbnails' longest side, in pixels.
        explanations: link each photo's explain overlay (records with
            "explanation", from `predict --explain`).
        limit: show only the best `limit` and the worst `limit` photos in
            the contact sheet (the header and the histogram still cover all
            of them); None shows every photo.
        model: the model's name or file (or names), shown in the header.
        source: for a list of records, the predict output they were read
            from (shown in the header; its folder is searched for relative
            photo paths, as when `records` is that file's path).
        workers: threads making thumbnails (default: up to 4).
        sort_by: several-model records: the model whose score orders the
            contact sheet (and chooses `limit`'s photos); default the first.

    A photo that cannot be opened gets a placeholder and a note; failed
    records are listed with their reasons. Raises OutputError if the file
    cannot be written (the previous report, if any, is kept).
    """
    if thumb_size < 16 or thumb_size > 2048:
        raise ValueError(f"thumb_size must be in 16..2048, got {thumb_size}")
    items, source = _load(records, source)
    records, skipped = clean_records(items)  # a record the page cannot use is listed, not fatal
    bases = [Path.cwd()] + ([source.resolve().parent] if source is not None else [])
    output = Path(output)
    folder = output.resolve().parent
    names = model_names(records)  # [] for one-model records
    if sort_by is not None and names:
        if sort_by not in names:
            raise ValueError(f"sort_by {sort_by!r}: not one of the records' models ({', '.join(names)})")
        names = [sort_by] + [n for n in names if n != sort_by]
    primary = names[0] if names else None
    scored, failed = split_records(records, primary)
    summary = summarise(scored, failed, primary, skipped=len(skipped))
    parts, omitted = sections(scored, limit)
    resolve = _resolver(bases)
    thumbs = thumbnails_in_order(
        (resolve(r.get("path")) or r.get("path") for part in parts for r in part.records),
        size=thumb_size, workers=workers,
    )
    multi = _several_models(scored, names, parts) if names else {}
    scores = [] if names else [float(r["mean_score_prediction"]) for r in scored]
    context = dict(
        title=title or ("Photo scores" + (f": {source.name}" if source else "")),
        source=str(source) if source else None,
        model=model,
        generated=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=_version(),
        summary=summary,
        histogram=None if names else histogram_svg(scores, summary.mean, summary.median),
        gradient=css_gradient(),
        score_range=SCORE_RANGE,
        legend=[(v, score_colour(v), text_colour(score_colour(v))) for v in range(1, 11)],
        sections=[(part, _cards(part, thumbs, resolve, folder, explanations, names,
                                multi.get("rank_of"))) for part in parts],
        omitted=omitted,
        failed=[(Path(str(r.get("path") or "")).name or str(r.get("image_id") or ""),
                 str(r.get("path") or r.get("image_id") or ""), failure_reason(r)) for r in failed],
        skipped=skipped[:SKIPPED_SHOWN],
        skipped_more=max(len(skipped) - SKIPPED_SHOWN, 0),
        explained=sum(1 for r in scored if r.get("explanation")) if explanations else 0,
        referenced=sum(1 for r in scored if r.get("reference")),
        thumb_size=thumb_size,
        models=multi.get("models", []),
        scatter=multi.get("scatter"),
        quadrants=multi.get("quadrants", []),
        axes=multi.get("axes"),
    )
    try:
        _write_atomic(output, _template().generate(**context))
    finally:
        thumbs.close()  # stops the thumbnail threads if rendering failed midway
    if skipped:
        log.debug("the report skips %d record(s) it cannot use (listed on the page), e.g. %s: %s",
                    len(skipped), skipped[0].name, skipped[0].reason)
    log.debug("wrote the report of %d photo(s) to %s", summary.total, output)
    return output


def _several_models(scored: Sequence[dict], names: Sequence[str], parts: Sequence[Section]) -> dict:
    """What the several-model page adds: each model's numbers and histogram,
    the per-model ranks, and the scatter plot of the first two models (a dot
    links to its card where the contact sheet shows it)."""
    from aesthetics.report.summary import mean_score

    rank_of = ranks(scored, names)
    out = dict(models=model_summaries(scored, names), rank_of=rank_of)
    axes = scatter_axes(names)
    if axes is not None:
        shown = {id(r): part.first_rank + i for part in parts for i, r in enumerate(part.records)}
        points = []
        for r in scored:
            x, y = mean_score(r, axes[0]), mean_score(r, axes[1])
            if x is not None and y is not None:
                path = str(r.get("path") or r.get("image_id") or "")
                rank = shown.get(id(r))
                points.append(Point(x, y, Path(path).name or path, f"photo-{rank}" if rank else None))
        out["scatter"], out["quadrants"] = scatter_svg(points, *axes)
        out["axes"] = axes
    return out


def _version() -> str:
    from aesthetics import __version__

    return __version__


def _write_atomic(output: Path, pieces: Iterable[str]) -> None:
    """Streams `pieces` into a temporary file beside `output`, then renames it."""
    if output.is_dir():
        raise OutputError(f"report {output} is a folder; give a file name")
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            for piece in pieces:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
    except OSError as e:
        _remove(tmp)
        raise OutputError(f"cannot write the report {output} ({e.strerror or e})") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
