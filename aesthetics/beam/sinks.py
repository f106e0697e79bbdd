"""Sharded outputs: JSON Lines or CSV, one record per line, via WriteToText.

Each shard is a file `PREFIX-00000-of-00004.jsonl` (or `.csv`), in the
layout of `aesthetics predict --output x.jsonl / x.csv`, so
`aesthetics.inference.outputs.read_records` reads every shard:

    jsonl  one JSON object per line (`make_record` / `error_record`)
    csv    a header in every shard (Beam writes `header` at the top of each),
           then image_id, path, mean_score_prediction, std_score_prediction,
           error, p1..pN (the distribution; N from the model); several
           models: image_id, path, error, then per model NAME.mean_score_prediction,
           NAME.std_score_prediction, NAME.p1..NAME.pN (`RecordWriter`'s layout)

`bins` is what `aesthetics.inference.outputs.RecordWriter` takes: an int for
one model, {group name: bins} for several.
"""

from __future__ import annotations

import csv
import io
import json
import math

import apache_beam as beam

from aesthetics.errors import ConfigError
from aesthetics.inference.outputs import CSV_FIELDS

FORMATS = ("jsonl", "csv")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


SCORE_FIELDS = ("mean_score_prediction", "std_score_prediction")


def csv_fields(bins) -> list:
    """The CSV header's columns for `bins` (int: one model; dict: several)."""
    if isinstance(bins, dict):
        return ["image_id", "path", "error"] + [
            f"{g}.{f}" for g, n in bins.items()
            for f in list(SCORE_FIELDS) + [f"p{i}" for i in range(1, int(n) + 1)]]
    return CSV_FIELDS + [f"p{i}" for i in range(1, int(bins) + 1)]


def _cell(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite value in a record")  # records never carry NaN
    return "" if value is None else value


def _dist(values, bins: int) -> list:
    dist = list(values or [])
    return [dist[i] if i < len(dist) else "" for i in range(int(bins))]


def json_line(record: dict) -> str:
    """One record as a JSON line (what predict's .jsonl holds)."""
    return json.dumps(record, allow_nan=False, ensure_ascii=False)


def _csv_row(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def csv_header(bins) -> str:
    return _csv_row(csv_fields(bins))


def csv_line(record: dict, bins) -> str:
    """One record as a CSV row in predict's column layout (no line end:
    WriteToText adds it); `bins` a dict: the several-model layout."""
    if isinstance(bins, dict):
        row = [_cell(record.get(key)) for key in ("image_id", "path", "error")]
        for group, n in bins.items():
            scores = record.get(group) or {}
            row.extend(_cell(scores.get(key)) for key in SCORE_FIELDS)
            row.extend(_dist(scores.get("distribution"), n))
        return _csv_row(row)
    row = [_cell(record.get(key)) for key in CSV_FIELDS]
    row.extend(_dist(record.get("distribution"), bins))
    return _csv_row(row)


class WriteRecords(beam.PTransform):
    """records -> sharded text files under `output_prefix` (any FileSystems
    path: local, gs://, s3://, ...). Yields the names of the files written.

    Args:
        fmt: "jsonl" or "csv".
        bins: the model's distribution width (CSV columns p1..pN; 0: none),
            or {group name: width} for several models (columns NAME.*).
        num_shards: number of files; 0 lets the runner decide.
    """

    def __init__(self, output_prefix: str, fmt: str = "jsonl", bins=0, num_shards: int = 0):
        super().__init__()
        self.output_prefix = str(output_prefix)
        self.fmt = check_format(fmt)
        self.bins = {str(g): int(n) for g, n in bins.items()} if isinstance(bins, dict) else int(bins)
        self.num_shards = int(num_shards)

    def expand(self, records):
        if self.fmt == "csv":
            bins = self.bins
            lines = records | "ToCsv" >> beam.Map(lambda r: csv_line(r, bins))
            header = csv_header(bins)
        else:
            lines = records | "ToJson" >> beam.Map(json_line)
            header = None
        return lines | "Write" >> beam.io.WriteToText(
            self.output_prefix, file_name_suffix="." + self.fmt, num_shards=self.num_shards,
            header=header)
