"""Scoring a library into an output file: streamed, resumable, never lost.

`stream_to_output` runs `iter_scored` and appends every batch's records to a
`RecordWriter` as it finishes. What can go wrong, and what then happens:

* Ctrl-C or SIGTERM: the writer is closed (a JSON list gets its `]`), so the
  file is valid and holds every record scored so far; `--resume` finishes it.
* `kill -9` or a crash: every flushed batch is on disk; `read_records` drops
  a record cut in half; `--resume` finishes it.
* writing fails (disk full, permissions changed): the records that could not
  be written are kept in memory and handed back (`predict` prints them), and
  the run ends with an OutputError saying so.

`plan_resume` decides what a resumed run keeps: every scored record already
in the output (once per path), and the error records of files that are not
among this run's inputs; files that failed before are tried again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from aesthetics.inference.outputs import RecordWriter, read_records, record_references
from aesthetics.errors import OutputError
from aesthetics.inference.records import groups_of, image_ids, is_scored, printable_path
from aesthetics.inference.scoring import iter_scored

log = logging.getLogger("aesthetics")


@dataclasses.dataclass
class RunSummary:
    """What a scoring run did."""

    total: int  # input files
    kept: int = 0  # scored records kept from an earlier run (resume)
    scored: int = 0
    failed: int = 0
    seconds: float = 0.0
    output: Optional[Path] = None
    write_error: Optional[str] = None
    unsaved: list = dataclasses.field(default_factory=list)  # records the file could not take
    interrupted: bool = False

    @property
    def rate(self) -> float:
        return (self.scored + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        parts = [f"scored {self.scored} photo(s)", f"{self.failed} failed"]
        if self.kept:
            parts.append(f"{self.kept} already in {self.output}")
        text = ", ".join(parts) + f" in {self.seconds:.1f} s ({self.rate:.1f} photos/s)"
        if self.output is not None and self.write_error is None:
            text += f"; results in {self.output}"
        return text


def plan_resume(output, paths: Sequence, groups: Optional[Sequence[str]] = None) -> tuple[list[dict], list[int]]:
    """(records to keep from `output`, indexes of `paths` still to score).
    `groups`: the model groups of a several-model run (None: one model); an
    output scored by another set of models is refused (its records would
    not line up)."""
    inputs = {_same_file(p) for p in paths}
    kept: dict = {}
    foreign = []  # records without a path (another tool's JSON): kept as they are
    records = read_records(output)
    written = next((groups_of(r) for r in records if is_scored(r)), None)
    if written is not None and written != list(groups or []):
        by = f"the models {', '.join(written)}" if written else "one model"
        now = f"the models {', '.join(groups)}" if groups else "one model"
        raise OutputError(f"--resume: {output} was scored by {by}, this run scores with {now}; "
                          "resume with the same --model, or pass --overwrite")
    for rec in records:
        path = rec.get("path")
        if not path:
            foreign.append(rec)
            continue
        key = _same_file(path)  # `photos/a.jpg` and `$PWD/photos/a.jpg` are one file
        if is_scored(rec) or (key not in kept and key not in inputs):
            kept[key] = rec  # a later scored record of a path wins
    keep = foreign + list(kept.values())
    done = {k for k, r in kept.items() if is_scored(r)}
    todo = [i for i, p in enumerate(paths) if _same_file(p) not in done]
    return keep, todo


def _same_file(path) -> str:
    return os.path.normpath(os.path.abspath(printable_path(path)))


def stream_to_output(
    scorer,
    paths: Sequence,
    output=None,
    resume: bool = False,
    bins: int = 0,
    batch_size: int = 32,
    legacy: Optional[bool] = None,
    max_pixels: Optional[int] = None,
    workers: Optional[int] = None,
    batch_pixels: Optional[int] = None,
    on_batch: Optional[Callable[[list], None]] = None,
    before_write: Optional[Callable[[list], None]] = None,
    on_plan: Optional[Callable[[int], None]] = None,
    references: bool = False,
) -> RunSummary:
    """Scores `paths` into `output` (if given), batch by batch.

    Args:
        on_batch: called with each batch's records after they are written
            (printing, progress, ranking).
        before_write: called with each batch first (e.g. adding explanation
            overlays to the records).
        on_plan: called with the number of files left to score (after resume).
        references: a CSV output gets the reference_* columns (records'
            "reference", from reference-based scoring, added e.g. by
            `before_write`); also on when resuming an output whose kept
            records have one, so a resume does not drop them.
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into it by the caller)
    propagates after the output is closed; `summary.interrupted` is set on
    the summary attached to it as `exc.summary`.
    """
    ids = image_ids(paths)  # of all inputs, so a resumed run gives the same ids
    groups = getattr(scorer, "names", None)  # a ScorerGroup's model groups
    keep, todo = plan_resume(output, paths, groups) if (output is not None and resume) else ([], range(len(paths)))
    summary = RunSummary(total=len(paths), kept=sum(is_scored(r) for r in keep),
                         output=Path(output) if output is not None else None)
    references = references or record_references(keep)
    writer = RecordWriter(output, bins, keep=keep, references=references) if output is not None else None
    if on_plan is not None:
        on_plan(len(todo))
    start = time.perf_counter()
    batches = iter_scored(scorer, [paths[i] for i in todo], batch_size=batch_size, legacy=legacy,
                          max_pixels=max_pixels, workers=workers, ids=[ids[i] for i in todo],
                          batch_pixels=batch_pixels)
    try:
        for batch in batches:
            if before_write is not None:
                before_write(batch)
            if writer is not None:
                try:
                    writer.write(batch)
                except (OSError, ValueError) as e:
                    summary.write_error = f"{type(e).__name__}: {e}" if not isinstance(e, OSError) \
                        else (e.strerror or str(e))
                    log.error("could not write %s (%s); the remaining scores are kept in memory "
                              "and printed", output, summary.write_error)
                    writer.abandon()  # no `]` after what may be half a record
                    writer = None
            if summary.write_error is not None:
                summary.unsaved.extend(batch)
            for rec in batch:
                if is_scored(rec):
                    summary.scored += 1
                else:
                    summary.failed += 1
            if on_batch is not None:
                on_batch(batch)
    except KeyboardInterrupt as e:
        summary.interrupted = True
        e.summary = summary
        raise
    finally:
        batches.close()  # stops the decoding threads now, also after Ctrl-C in a callback
        summary.seconds = time.perf_counter() - start
        if writer is not None:
            try:
                writer.close()
            except OSError as e:
                summary.write_error = e.strerror or str(e)
    return summary
