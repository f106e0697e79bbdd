"""Streaming, resumable output files for `predict`: CSV, JSON Lines, JSON.

Records are appended as each batch is scored and flushed, so a killed run
(Ctrl-C, `kill -9`, a full disk) keeps everything it scored. Every complete
record ends with a newline, which is how a reader tells a whole record from
one cut off by a kill: `read_records` drops a last line with no newline
(a cut CSV row could otherwise read as a shorter, wrong number).

    .csv    header, then one row per file: image_id, path, mean, std, error,
            p1..pN (the distribution); a several-model run (records with a
            group per model) has image_id, path, error, then per model
            NAME.mean_score_prediction, NAME.std_score_prediction, NAME.p1..
            With `references=True` (reference-based scoring, a record's
            "reference" dict) three columns follow in either layout:
            reference_score, reference_method, reference_ids (the
            neighbours' ids in order, joined by `;`; in an id `%` is written
            `%25` and `;` `%3B`, so any id reads back exactly). The CSV keeps
            only these; the reference's std and the neighbours' scores,
            similarities and kinds are in the JSON formats, which keep every key.
    .jsonl  one JSON object per line
    .json   a JSON list, one record per line (idealo's NIMA output is a
            list too). While the run goes on the list is open: `[` and
            records ending in `,`; closing the writer ends the list, so a
            finished (or interrupted by Ctrl-C) file is valid JSON, and one
            cut by `kill -9` is still read back by `read_records`.

Resuming (`predict --resume`): `RecordWriter(path, bins, keep=records)`
rewrites the kept records atomically (temporary file + rename), then
appends. This module imports only the standard library.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Iterable, Optional

from aesthetics.errors import ConfigError, OutputError
from aesthetics.paths import probe_writable

OUTPUT_FORMATS = (".csv", ".jsonl", ".json")
CSV_FIELDS = ["image_id", "path", "mean_score_prediction", "std_score_prediction", "error"]
REFERENCE_FIELDS = ["reference_score", "reference_method", "reference_ids"]  # RecordWriter(references=True)


def output_format(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ConfigError(f"--output {path}: unknown format {suffix or '(none)'!r}; "
                          f"use one of {', '.join(OUTPUT_FORMATS)}")
    return suffix


def check_output_path(output, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuses, before any scoring, an output whose format is unknown, whose
    folder cannot be written (it is created), or that already holds results
    when neither `resume` nor `overwrite` says what to do with them."""
    output = Path(output)
    if output.is_dir():
        raise OutputError(f"--output {output} is a folder; give a file name")
    output_format(output)
    probe_writable(output, "--output")
    if output.exists() and not (resume or overwrite):
        count = len(read_records(output))
        if count:
            raise OutputError(
                f"--output {output} already holds {count} record(s); pass --resume to score only "
                f"the files it lacks, or --overwrite to start again"
            )
    return output


# ----------------------------------------------------------------------------- reading


def read_records(path, bad=None) -> list[dict]:
    """The records in a predict output (any of the formats; [] if missing or
    empty). A last line cut off by a kill is dropped; anything else that is
    not a record raises OutputError naming the file and line, or, when
    `bad` is given, is passed to ``bad(where, reason)`` ("line 7", "not
    JSON") and left out (the report's lenient reading). A file that is no
    predict output at all raises either way."""
    path = Path(path)
    if bad is None:
        def bad(where, reason):
            raise OutputError(f"{path}, {where}: not a predict record ({reason})")
    rejected = []

    def counted(where, reason):
        rejected.append((where, reason))
        bad(where, reason)

    records = _read(path, counted)
    if rejected and not records:
        where, reason = rejected[0]
        raise OutputError(f"{path}, {where}: not a predict record ({reason}); none of its "
                          f"{len(rejected)} item(s) is one: not a predict output")
    return records


def _read(path: Path, bad) -> list[dict]:
    fmt = output_format(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise OutputError(f"{path}: cannot read it as a predict output ({e.strerror or e})") from None
    if not raw.strip():
        return []
    if fmt == ".json":
        try:  # a finished list, possibly written by another tool (any layout)
            data = json.loads(raw.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError
            data = None
        if isinstance(data, list):
            return [r for i, r in enumerate(data) if _checked(r, f"record {i + 1}", bad)]
        if data is not None:
            raise OutputError(f"{path}: not a predict output (a JSON {type(data).__name__}, not a list)")
    if b"\n" not in raw:  # not one whole line: not something predict wrote
        raise OutputError(f"{path}: not a predict output (no complete line)")
    # whole lines only: a kill may cut the last record, even inside a UTF-8 character
    raw = raw[: raw.rindex(b"\n") + 1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise OutputError(f"{path}: not a predict output (not UTF-8 text: {e.reason})") from None
    lines = text.split("\n")[:-1]  # whole lines only (the text ends with a newline)
    if fmt == ".csv":
        return _csv_records("\n".join(lines) + "\n", path, bad)
    records = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if fmt == ".json":
            if line in ("[", "]", ""):
                continue
            line = line.rstrip(",")
        elif not line:
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            bad(f"line {number}", "not JSON")
            continue
        if _checked(value, f"line {number}", bad):
            records.append(value)
    return records


def _checked(record, where: str, bad) -> bool:
    if not isinstance(record, dict):
        bad(where, f"not a record: a JSON {type(record).__name__}, not an object")
        return False
    if "path" not in record and "image_id" not in record:
        bad(where, "not a record: no path or image_id")
        return False
    return True


def _csv_records(text: str, path, bad) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "path" not in reader.fieldnames:
        raise OutputError(f"{path}: not a predict CSV (its header has no 'path' column)")
    groups = list(dict.fromkeys(f.rsplit(".", 1)[0] for f in reader.fieldnames
                                if f.endswith(".mean_score_prediction")))
    records = []
    for row in reader:
        rec = {"image_id": row.get("image_id") or "", "path": row.get("path") or ""}
        try:
            if row.get("error"):
                rec["error"] = row["error"]
            elif groups:
                for group in groups:
                    rec[group] = _csv_scores(row, reader.fieldnames, f"{group}.")
            else:
                rec.update(_csv_scores(row, reader.fieldnames, ""))
            if not row.get("error") and row.get("reference_score"):
                rec["reference"] = _csv_reference(row)
        except (TypeError, ValueError, KeyError):
            bad(f"line {reader.line_num} ({rec['path'] or rec['image_id']})", "a score that is not a number")
            continue
        records.append(rec)
    return records


def _csv_scores(row: dict, fields, prefix: str) -> dict:
    """mean, std and distribution of one model from a CSV row's columns
    named PREFIXmean_score_prediction, PREFIXstd_score_prediction, PREFIXp1.."""
    bins = sorted((f for f in fields if f.startswith(prefix) and f[len(prefix):][:1] == "p"
                   and f[len(prefix) + 1:].isdigit()), key=lambda f: int(f[len(prefix) + 1:]))
    out = {"mean_score_prediction": float(row[f"{prefix}mean_score_prediction"])}
    if row.get(f"{prefix}std_score_prediction"):
        out["std_score_prediction"] = float(row[f"{prefix}std_score_prediction"])
    dist = [float(row[b]) for b in bins if row.get(b)]
    if dist:
        out["distribution"] = dist
    return out


def _csv_reference(row: dict) -> dict:
    """A record's "reference" from a CSV row's reference_* columns (its
    score, method and neighbours' ids: what the CSV holds of it)."""
    ids = row.get("reference_ids") or ""
    return {"score": float(row["reference_score"]), "method": row.get("reference_method") or "",
            "neighbours": [{"id": _unescape_id(i)} for i in ids.split(";")] if ids else []}


def _escape_id(value) -> str:
    # `%` first, so a literal "%3B" in an id is not read back as ";"
    return str(value).replace("%", "%25").replace(";", "%3B")


def _unescape_id(text: str) -> str:
    # one pass: "%253B" (an id holding "%3B") becomes "%3B", not ";"
    return re.sub(r"%(25|3B)", lambda m: "%" if m.group(1) == "25" else ";", text)


# ----------------------------------------------------------------------------- writing


def _json_line(record: dict) -> str:
    return json.dumps(record, allow_nan=False, ensure_ascii=False)


class RecordWriter:
    """Appends records to a predict output, flushing after every `write`.

    Args:
        path: the output file (.csv, .jsonl or .json).
        bins: distribution bins, for the CSV's p1..pN columns (0: none); for
            a several-model run, {group name: bins} (CSV columns NAME.*).
        keep: records to start with (a resumed run's earlier results).
        references: the CSV gets the reference_score, reference_method and
            reference_ids columns (records' "reference"; see the module
            docstring). The JSON formats write "reference" either way.
    """

    def __init__(self, path, bins=0, keep: Iterable[dict] = (), references: bool = False):
        self.path = Path(path)
        self.format = output_format(self.path)
        self.groups = dict(bins) if isinstance(bins, dict) else None
        self.bins = 0 if self.groups is not None else int(bins)
        self.references = bool(references)
        self.count = 0
        if self.groups is not None:
            self._csv_fields = ["image_id", "path", "error"] + [
                f"{g}.{f}" for g, n in self.groups.items()
                for f in ["mean_score_prediction", "std_score_prediction"] + [f"p{i}" for i in range(1, n + 1)]]
        else:
            self._csv_fields = CSV_FIELDS + [f"p{i}" for i in range(1, self.bins + 1)]
        if self.references:
            self._csv_fields += REFERENCE_FIELDS
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as f:
                self._file = f
                self._start()
                self._append(list(keep))
                self._file.flush()
                os.fsync(f.fileno())
        except BaseException:  # a full disk or Ctrl-C: no half-written temporary file left
            self._file = None
            tmp.unlink(missing_ok=True)
            raise
        try:
            os.replace(tmp, self.path)  # a kill while rewriting keeps the old file
        except OSError as e:  # e.g. a read-only folder entry: the records are whole in tmp
            self._file = None
            raise OutputError(f"cannot replace {self.path} ({e.strerror or e}); its {self.count} record(s) "
                              f"are kept in {tmp}") from None
        self._file = self.path.open("a", encoding="utf-8", newline="")

    def _start(self) -> None:
        if self.format == ".csv":
            csv.writer(self._file, lineterminator="\n").writerow(self._csv_fields)
        elif self.format == ".json":
            self._file.write("[\n")

    def _append(self, records: list[dict]) -> None:
        if self.format == ".csv":
            writer = csv.DictWriter(self._file, fieldnames=self._csv_fields, lineterminator="\n",
                                    extrasaction="ignore")
            for rec in records:
                writer.writerow(self._csv_row(rec))
        else:
            tail = "," if self.format == ".json" else ""
            self._file.write("".join(_json_line(r) + tail + "\n" for r in records))
        self.count += len(records)

    def _csv_row(self, rec: dict) -> dict:
        if self.groups is None:
            row = {k: _csv_value(rec.get(k)) for k in CSV_FIELDS}
            for i, p in enumerate(rec.get("distribution") or [], 1):
                row[f"p{i}"] = p
        else:
            row = {k: _csv_value(rec.get(k)) for k in ("image_id", "path", "error")}
            for group in self.groups:
                scores = rec.get(group) or {}
                for key in ("mean_score_prediction", "std_score_prediction"):
                    row[f"{group}.{key}"] = _csv_value(scores.get(key))
                for i, p in enumerate(scores.get("distribution") or [], 1):
                    row[f"{group}.p{i}"] = p
        ref = rec.get("reference")
        if self.references and isinstance(ref, dict):  # anything else: empty cells
            neighbours = ref.get("neighbours") or []
            row["reference_score"] = _csv_value(ref.get("score"))
            row["reference_method"] = _csv_value(ref.get("method"))
            row["reference_ids"] = ";".join(_escape_id(n["id"]) for n in neighbours
                                            if isinstance(n, dict) and n.get("id") is not None)
        return row

    def write(self, records: list[dict]) -> None:
        """Appends and flushes (an OSError, e.g. a full disk, reaches the caller)."""
        if records:
            self._append(records)
            self._file.flush()

    def close(self) -> None:
        """Ends the file (a JSON list gets its `]`) and syncs it to disk."""
        if self._file is None:
            return
        f, self._file = self._file, None
        try:
            if self.format == ".json":
                f.flush()
                if self.count:  # drop the last record's ","
                    f.truncate(os.path.getsize(self.path) - 2)
                    f.write("\n")
                f.write("]\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()

    def abandon(self) -> None:
        """Closes the file as it is (after a failed write: nothing is added)."""
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class OutputLock:
    """One writer per output file: an exclusive advisory lock (`flock`) on
    `.NAME.lock` beside the output, held while a run writes it. A second run
    given the same output is refused at once, naming the first one's pid,
    instead of both appending and one losing its records. The kernel drops
    the lock when the process ends (kill -9 too), so no stale lock remains;
    the small lock file is left in place (deleting it would race). Without
    `fcntl` (Windows) no lock is taken."""

    def __init__(self, output):
        self.output = Path(output)
        self.path = self.output.with_name(f".{self.output.name}.lock")
        self._fd = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"--output {self.output}: cannot create its lock file {self.path} "
                              f"({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(f"--output {self.output} is being written by another run (pid {other}); "
                              "wait for it to finish, or give this run another --output") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite value in a record")  # records never carry NaN
    return value


def record_bins(records: list[dict]):
    """The `bins` of `RecordWriter` for these records: the longest
    distribution, or {group: its longest} for several-model records."""
    groups: dict = {}
    for r in records:
        for g in (k for k, v in r.items() if isinstance(v, dict) and "mean_score_prediction" in v):
            groups[g] = max(groups.get(g, 0), len(r[g].get("distribution") or []))
    if groups:
        return groups
    return max((len(r.get("distribution") or []) for r in records), default=0)


def record_references(records: list[dict]) -> bool:
    """The `references` of `RecordWriter` for these records: whether any
    has a "reference" (reference-based scoring)."""
    return any(isinstance(r.get("reference"), dict) for r in records)


def write_records(records: list[dict], output, bins=None, references: Optional[bool] = None) -> None:
    """Writes a whole list of records at once (atomically). `bins` and
    `references` (None: from the records, `record_bins` and
    `record_references`) are `RecordWriter`'s."""
    if bins is None:
        bins = record_bins(records)
    if references is None:
        references = record_references(records)
    RecordWriter(output, bins, keep=records, references=references).close()
