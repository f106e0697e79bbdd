"""Scoring image files with a Keras model: records for `predict` and `evaluate`.

A scoring model maps float32 RGB [0, 255] images to either a distribution
over score bins (B, num_bins) or a single quality score (B, 1), e.g. the
ranking head of a self-supervised model. Both become the same record:

    {"image_id": "42039", "path": "...", "mean_score_prediction": 5.31,
     "std_score_prediction": 1.42, "distribution": [10 floats]}

or, for a file that could not be used, {"image_id", "path", "error": reason}.
`image_id` and `mean_score_prediction` keep idealo's NIMA JSON compatible.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from aesthetics.distributions import distribution_mean_std

log = logging.getLogger("aesthetics")


def records_from_outputs(paths, outputs: dict, failures: dict) -> list[dict]:
    """Builds one record per input path, in input order.

    outputs: {index in paths: model output row}; failures: {path: reason}.
    """
    records = []
    for i, path in enumerate(paths):
        rec = {"image_id": Path(path).stem, "path": str(path)}
        row = outputs.get(i)
        if row is None:
            rec["error"] = failures.get(str(path), "not scored")
        elif not np.all(np.isfinite(row)):
            rec["error"] = "the model's output is not finite (NaN or inf): the model file is broken"
        elif row.shape[-1] == 1:  # scalar quality score (no distribution)
            rec["mean_score_prediction"] = float(row[0])
        else:
            mean, std = (float(v) for v in distribution_mean_std(row))
            rec["mean_score_prediction"] = mean
            rec["std_score_prediction"] = std
            rec["distribution"] = [round(float(p), 6) for p in row]
        records.append(rec)
    return records


def score_files(
    model,
    paths: Sequence[str],
    batch_size: int = 32,
    legacy: Optional[bool] = None,
    max_pixels: Optional[int] = None,
    recipe=None,
) -> list[dict]:
    """Scores image files with a Keras model; bad files become error records.

    The photos are prepared as the model's recipe says (`recipe_of(model)`:
    input size, resize or centre crop), i.e. as its training validated.
    `legacy` (idealo's nearest resize) overrides the recipe's flag when given.
    """
    import dataclasses

    from aesthetics.constants import DEFAULT_MAX_PIXELS
    from aesthetics.data.images import DecodeReport
    from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset
    from aesthetics.models.scorer import recipe_of

    recipe = recipe or recipe_of(model)
    if legacy is not None:
        recipe = dataclasses.replace(recipe, legacy=bool(legacy))
    if recipe.native:  # photos keep their own sizes: the shape-grouping numpy path
        from aesthetics.inference.backends import KerasScorer, score_files_numpy

        return score_files_numpy(KerasScorer(model, recipe), paths, batch_size=batch_size,
                                 max_pixels=max_pixels)
    options = PipelineOptions.from_recipe(
        recipe,
        cache=False,  # a folder of photos is read once; caching only costs memory
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
    )
    report = DecodeReport()
    ds = make_eval_dataset(paths, None, options, batch_size, report=report, with_index=True)
    outputs = {}
    for images, index in ds:
        # predict_on_batch runs a compiled graph: ~1.5x the eager call on CPU
        pred = np.asarray(model.predict_on_batch(images), dtype=np.float32)
        pred = pred.reshape(len(pred), -1)
        for i, row in zip(np.asarray(index), pred):
            outputs[int(i)] = row
    return records_from_outputs(paths, outputs, report.failures)


CSV_FIELDS = ["image_id", "path", "mean_score_prediction", "std_score_prediction", "error"]
OUTPUT_FORMATS = (".json", ".csv")


def check_output_path(output) -> Path:
    """Refuses an output whose format is unknown or whose folder cannot be
    written, before any scoring (creates the folder)."""
    from aesthetics.errors import ConfigError, OutputError

    output = Path(output)
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise ConfigError(f"--output {output}: unknown format {output.suffix or '(none)'!r}; "
                          f"use one of {', '.join(OUTPUT_FORMATS)}")
    if output.is_dir():
        raise OutputError(f"--output {output} is a folder; give a file name")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = output.with_name(f".{output.name}.probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputError(f"--output {output}: cannot write there ({e.strerror or e})") from None
    return output


def write_records(records: list[dict], output) -> None:
    """Writes records as JSON (a list) or CSV (chosen by the file extension)."""
    import os

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")  # atomic: a kill never leaves half a file
    if output.suffix.lower() == ".csv":
        bins = max((len(r.get("distribution", [])) for r in records), default=0)
        fields = CSV_FIELDS + [f"p{i}" for i in range(1, bins + 1)]
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for rec in records:
                row = {k: rec.get(k, "") for k in CSV_FIELDS}
                for i, p in enumerate(rec.get("distribution", []), 1):
                    row[f"p{i}"] = p
                writer.writerow(row)
    else:
        tmp.write_text(json.dumps(records, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, output)


def format_table(records: list[dict]) -> str:
    """Human-readable lines: mean +- std and the file (or its error)."""
    lines = []
    for rec in records:
        if "error" in rec:
            lines.append(f"   error       {rec['path']}: {rec['error']}")
        elif "std_score_prediction" in rec:
            lines.append(
                f"{rec['mean_score_prediction']:7.3f} ± {rec['std_score_prediction']:.3f}  {rec['path']}"
            )
        else:
            lines.append(f"{rec['mean_score_prediction']:7.3f}          {rec['path']}")
    return "\n".join(lines)
