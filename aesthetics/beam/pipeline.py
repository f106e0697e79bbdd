"""The scoring pipeline: file pattern -> records -> sharded JSONL / CSV.

`ScorePhotos` is the composite transform (usable inside a larger pipeline);
`run_pipeline` builds a pipeline around it from Beam pipeline options and
runs it. Everything distributed is Beam's: `MatchFiles` + `ReadMatches`
(FileSystems: local, gs://, s3://, hdfs://, azfs://), `Reshuffle` (spreads
the matched files over workers before the expensive decode), `RunInference`
(batching, model sharing per process, metrics), `WriteToText` (sharding).

Every matched file gives exactly one record: a score, or an error record
with the reason: an undecodable file; a photo the model failed on (see
`handler.run_by_shape`); or, should a whole batch raise anyway, every photo
of it, from RunInference's dead-letter output.

Several models (`model="technical,aesthetic"`, `--model A,B`): each photo is
decoded once into one input per model, `AestheticsOnnxGroupHandler` runs
all the models on it, and its record has a group of fields per model
(`ScorerGroup.make_record`), as `predict --model A,B` writes; the CSV has
`NAME.mean_score_prediction`, ... columns. One model keeps its flat record.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from aesthetics.beam.decode import ERRORS, DecodePhoto
from aesthetics.beam.handler import DEFAULT_BATCH_SIZE, AestheticsOnnxGroupHandler, AestheticsOnnxHandler
from aesthetics.beam.ids import CollidingIds, image_id
from aesthetics.beam.model_files import ZOO_PREFIX, describe_model, is_local, model_labels
from aesthetics.beam.sinks import FORMATS, WriteRecords, check_format
from aesthetics.constants import DEFAULT_MAX_PIXELS
from aesthetics.errors import InputNotFoundError
from aesthetics.inference.multi import ScorerGroup
from aesthetics.inference.records import error_record, make_record

__all__ = ["FORMATS", "ScorePhotos", "run_pipeline"]
_LOG = logging.getLogger(__name__)
LOCAL_RUNNERS = ("DirectRunner", "PrismRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner",
                 "InteractiveRunner", "FnApiRunner")


class _RecipeOnly:
    """What `ScorerGroup.make_record` reads of a scorer: its recipe (the
    records are made away from the models, so no session is carried)."""

    def __init__(self, recipe):
        self.recipe = recipe

    def __call__(self, images):  # pragma: no cover - never scores
        raise TypeError("records only")


def record_maker(names, recipes) -> ScorerGroup:
    """The several-model record builder (`.make_record`) for these groups."""
    return ScorerGroup([(name, _RecipeOnly(recipe)) for name, recipe in zip(names, recipes)])


def _scored(element, colliding: dict, maker=None) -> dict:
    path, result = element
    if isinstance(result.inference, str):  # the model failed on this photo: the reason
        return error_record(path, image_id(path, colliding), result.inference)
    if maker is not None:
        return maker.make_record(path, image_id(path, colliding), result.inference)
    return make_record(path, image_id(path, colliding), result.inference)


def _undecodable(element, colliding: dict) -> dict:
    path, reason = element
    return error_record(path, image_id(path, colliding), reason)


def _failed_batch(element, colliding: dict):
    """RunInference's dead letter, (batch of (path, image), (type, repr,
    traceback)) -> one error record per photo of the batch."""
    batch, (_, message, _) = element
    for path, _ in batch:
        yield error_record(path, image_id(path, colliding), f"the model could not score this photo ({message})")


class ScorePhotos(beam.PTransform):
    """PBegin -> PCollection of records (dicts), one per file matching `pattern`.

    Args:
        pattern: a file pattern for Beam's FileSystems (`photos/*.jpg`,
            `gs://bucket/photos/**`); every match is scored, non-images
            become error records.
        handler: the `AestheticsOnnxHandler` to score with, or an
            `AestheticsOnnxGroupHandler` for several models (records with a
            group of fields per model).
        recipe: the model's recipe (how to prepare photos), a list of them
            for a group handler; default: read from the handler's model(s).
        max_pixels: files with more pixels are refused (as `predict`).
    """

    def __init__(self, pattern: str, handler, recipe=None, max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__()
        self.pattern = str(pattern)
        self.handler = handler
        self.maker = None
        if isinstance(handler, AestheticsOnnxGroupHandler):
            recipes = list(recipe) if recipe is not None else [
                describe_model(ref)[0] for ref in handler.references]
            self.recipe = recipes
            self.maker = record_maker(handler.names, recipes)
        else:
            self.recipe = recipe if recipe is not None else describe_model(handler.reference)[0]
        self.max_pixels = int(max_pixels)

    def expand(self, pbegin):
        matches = (
            pbegin
            | "Match" >> fileio.MatchFiles(self.pattern)
            | "Spread" >> beam.Reshuffle()
        )
        colliding = beam.pvalue.AsSingleton(
            matches | "Paths" >> beam.Map(lambda m: m.path) | "Ids" >> CollidingIds())
        decoded = (
            matches
            | "Read" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            | "Decode" >> beam.ParDo(DecodePhoto(self.recipe, self.max_pixels)).with_outputs(
                ERRORS, main="photos")
        )
        results, dead = decoded.photos | "Score" >> RunInference(
            KeyedModelHandler(self.handler)).with_exception_handling()
        return (
            (
                results | "Scored" >> beam.Map(_scored, colliding, self.maker),
                decoded[ERRORS] | "Undecodable" >> beam.Map(_undecodable, colliding),
                dead.failed_inferences | "InferenceFailed" >> beam.FlatMap(_failed_batch, colliding),
            )
            | "Records" >> beam.Flatten()
        )


def check_pattern(pattern: str) -> None:
    """Fails on the launcher, before any worker starts, when nothing matches."""
    try:
        found = FileSystems.match([pattern], limits=[1])[0].metadata_list
    except Exception as e:  # BeamIOError: bad bucket, no permission, ...
        raise InputNotFoundError(f"--input {pattern}: cannot list it ({e})") from None
    if not found:
        raise InputNotFoundError(f"--input {pattern}: no file matches")


def run_pipeline(
    pattern: str,
    model: Optional[str] = None,
    output_prefix: str = "scores",
    fmt: str = "jsonl",
    pipeline_args: Optional[Sequence[str]] = None,
    *,
    num_shards: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: Optional[int] = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    wait: bool = True,
):
    """Scores every file matching `pattern` with an exported ONNX model and
    writes sharded `output_prefix-SSSSS-of-NNNNN.jsonl` (or `.csv`).

    Args:
        pattern: file pattern (local or any Beam filesystem).
        model: a shipped model name, an `.onnx` path or URI; None: the
            default shipped model (`technical`, `clive-mobilenet-ft`). Several models: a
            comma-separated string ("technical,aesthetic") or a list; each
            photo is decoded once and scored by all of them, one record with
            a group of fields per model.
        output_prefix: where the shards go (local or gs://, s3://, ...).
        fmt: "jsonl" or "csv".
        pipeline_args: Beam pipeline options as command-line words
            (`--runner=DataflowRunner`, `--project=...`); default: DirectRunner.
        num_shards: 0 lets the runner choose.
        batch_size: most photos per model call.
        threads: onnxruntime threads per model copy.
        max_pixels: decompression-bomb limit, as `predict`.
        wait: block until the pipeline finishes (and raise if it failed).

    Returns:
        Beam's PipelineResult (its metrics hold `aesthetics` counters:
        photos_decoded, photos_undecodable).
    """
    check_format(fmt)
    labels = model_labels(model)
    if len(labels) == 1:
        handler = AestheticsOnnxHandler(labels[0], threads=threads, max_batch_size=batch_size)
        recipe, bins = describe_model(handler.reference)
        remote_check = [handler.reference]
    else:
        handler = AestheticsOnnxGroupHandler(labels, threads=threads, max_batch_size=batch_size)
        described = [describe_model(ref) for ref in handler.references]
        recipe = [r for r, _ in described]
        bins = {name: b for name, (_, b) in zip(handler.names, described)}
        remote_check = handler.references
    check_pattern(pattern)
    options = PipelineOptions(list(pipeline_args or []))
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    for reference in remote_check:
        if (runner.split(".")[-1] not in LOCAL_RUNNERS and not reference.startswith(ZOO_PREFIX)
                and is_local(reference)):
            _LOG.warning("model %s is a local file: workers of %s can read it only from a filesystem "
                         "they share (else put it on gs:// / s3:// or use a shipped model name)",
                         reference, runner)
    pipeline = beam.Pipeline(options=options)
    records = pipeline | "ScorePhotos" >> ScorePhotos(pattern, handler, recipe, max_pixels)
    _ = records | "WriteRecords" >> WriteRecords(output_prefix, fmt, bins, num_shards)
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result
