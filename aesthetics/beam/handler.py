"""The Beam `ModelHandler` for an exported aesthetics ONNX model.

Why not Beam's own `apache_beam.ml.inference.onnx_inference.OnnxModelHandlerNumpy`:
its default inference stacks the whole batch into one array (photos of a
native-resolution recipe, like the shipped `clive-mobilenet`, keep their own
sizes and cannot be stacked), returns the session's *first* output (our
exports list `distribution`, `mean_score`, `std_score` in no guaranteed
order), and loads a fixed `model_uri` (the shipped model's path differs on
every machine). This handler wraps the package's `OnnxScorer` instead, so a
worker runs the model with the same session settings and output choice as
`aesthetics predict --backend onnx`:

- `load_model` resolves the model reference on the worker (the installed
  shipped model, a local file, or a once-per-process copy of a gs:// /
  s3:// / hdfs:// file) and opens it with `OnnxScorer`; Beam's
  RunInference shares the loaded model between the threads of a process.
- `run_inference` splits each batch by image shape and by the pixel budget
  of `predict` (`aesthetics.inference.batching.pixel_batches`: at most
  `batch_pixels`, default `DEFAULT_BATCH_PIXELS`, per session call; a larger
  photo alone), in batch order; fixed-size recipes get one call per batch.
- batches are bounded by count too (`max_batch_size`, default 16): a
  native-resolution photo is up to 1024 px a side, 12 MB as float32, so a
  batch holds at most ~200 MB, and a session call's activations are bounded
  by the pixel budget. (Beam 2.77's ModelHandler accepts `max_batch_weight`,
  but its BatchElements rejects it, so a byte bound on batching is not offered.)

Several models (`AestheticsOnnxGroupHandler`): the loaded model is an
`aesthetics.inference.multi.ScorerGroup` of `OnnxScorer`s, one per model,
and an example is a tuple of inputs, one per model, from one decode
(`decode.DecodePhoto` with several recipes). `run_by_shape` then groups a
batch by the tuple of shapes and makes one group call (one session call per
model) per distinct tuple; each row is the models' outputs side by side,
which `ScorerGroup.make_record` turns into one record with a group of
fields per model.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from aesthetics.beam.model_files import local_model_file, model_group, model_reference
from aesthetics.errors import ConfigError
from aesthetics.inference.backends import OnnxScorer
from aesthetics.inference.batching import pixel_batches
from aesthetics.inference.multi import ScorerGroup

DEFAULT_BATCH_SIZE = 16


def _stack(examples: list):
    """One batch of images, or a tuple of float32 batches (one per model;
    the inputs travel as uint8)."""
    if isinstance(examples[0], tuple):
        return tuple(np.stack(column).astype(np.float32) for column in zip(*examples))
    return np.stack(examples)


def run_by_shape(scorer, batch: Sequence, batch_pixels: Optional[int] = None) -> list:
    """`scorer`'s output row for every image of `batch`, in batch order,
    with one call per distinct image shape (for tuples of inputs, per
    distinct tuple of shapes; `scorer` is then a `ScorerGroup`), cut further
    so that a call takes at most `batch_pixels` pixels (default
    `DEFAULT_BATCH_PIXELS`, as `predict`). A call the runtime rejects gives
    its photos the reason (a str) instead of a row, so only they become
    error records (as in `predict`), not the whole batch."""
    rows: list = [None] * len(batch)
    for indexes in pixel_batches(batch, batch_pixels=batch_pixels):
        try:
            out = np.asarray(scorer(_stack([batch[i] for i in indexes])), dtype=np.float32)
            out = out.reshape(len(indexes), -1)
        except Exception as e:  # e.g. onnxruntime refusing an input shape
            out = [f"the model could not score this photo ({type(e).__name__}: {e})"] * len(indexes)
        for i, row in zip(indexes, out):
            rows[i] = row
    return rows


class AestheticsOnnxHandler(ModelHandler[np.ndarray, PredictionResult, OnnxScorer]):
    """float32 (H, W, 3) photo -> PredictionResult(photo, output row, model
    reference); the row is a reason (str) where the model failed on the photo.

    Args:
        model: a shipped model name (default: the default shipped model),
            an `.onnx` path, or a URI Beam's FileSystems reads (gs://...);
            checked where the handler is built, loaded on each worker.
        threads: onnxruntime intra-op threads per loaded model (default:
            onnxruntime's, all cores; lower it when a worker runs several
            SDK processes).
        providers: onnxruntime execution providers (default CPU).
        min_batch_size, max_batch_size: BatchElements bounds (photos per batch).
        batch_pixels: pixels per session call at most (default
            `DEFAULT_BATCH_PIXELS`, as `predict --max-batch-pixels`).
        **kwargs: passed to Beam's ModelHandler (`large_model`,
            `model_copies`, `max_batch_duration_secs` for streaming, `env_vars`).
    """

    def __init__(
        self,
        model: Optional[str] = None,
        *,
        threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        min_batch_size: int = 1,
        max_batch_size: int = DEFAULT_BATCH_SIZE,
        batch_pixels: Optional[int] = None,
        **kwargs,
    ):
        super().__init__(
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
            **kwargs,
        )
        self.reference = model_reference(model)
        self.threads = threads
        self.providers = list(providers) if providers else None
        self.batch_pixels = batch_pixels

    def load_model(self) -> OnnxScorer:
        """Opens the model on this machine (called once per process by Beam)."""
        return OnnxScorer(local_model_file(self.reference), threads=self.threads,
                          providers=self.providers)

    def run_inference(
        self,
        batch: Sequence[np.ndarray],
        model: OnnxScorer,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[PredictionResult]:
        rows = run_by_shape(model, batch, self.batch_pixels)
        return [PredictionResult(image, row, self.reference) for image, row in zip(batch, rows)]

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(int(image.nbytes) for image in batch)  # the default pickles the batch

    def get_metrics_namespace(self) -> str:
        return "aesthetics"


class AestheticsOnnxGroupHandler(ModelHandler[tuple, PredictionResult, ScorerGroup]):
    """Several ONNX models in one pass: a tuple of inputs (one per model, from
    one decode) -> PredictionResult(inputs, the models' output rows side by
    side, the references joined by ","); the row is a reason (str) where a
    model failed on the photo.

    Args:
        models: at least two models, each as for `AestheticsOnnxHandler` (a
            shipped name, an `.onnx` path or URI), named as `predict --model
            A,B` names them (`["technical", "aesthetic"]`), or
            [(group name, model)] to name the groups yourself.
        threads, providers, min_batch_size, max_batch_size, batch_pixels,
            **kwargs: as `AestheticsOnnxHandler` (threads: per model).
    """

    def __init__(
        self,
        models: Sequence[tuple],
        *,
        threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        min_batch_size: int = 1,
        max_batch_size: int = DEFAULT_BATCH_SIZE,
        batch_pixels: Optional[int] = None,
        **kwargs,
    ):
        super().__init__(
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
            **kwargs,
        )
        models = list(models)
        if len(models) < 2:
            raise ConfigError("a model group needs at least two models")
        if not all(isinstance(m, tuple) for m in models):
            models = model_group(models)
        self.names = [str(name) for name, _ in models]
        self.references = [model_reference(model) for _, model in models]
        self.reference = ",".join(self.references)
        self.threads = threads
        self.providers = list(providers) if providers else None
        self.batch_pixels = batch_pixels

    def load_model(self) -> ScorerGroup:
        """Opens every model on this machine (once per process, by Beam)."""
        return ScorerGroup([
            (name, OnnxScorer(local_model_file(ref), threads=self.threads, providers=self.providers))
            for name, ref in zip(self.names, self.references)
        ])

    def run_inference(
        self,
        batch: Sequence[tuple],
        model: ScorerGroup,
        inference_args: Optional[dict[str, Any]] = None,
    ) -> Iterable[PredictionResult]:
        rows = run_by_shape(model, batch, self.batch_pixels)
        return [PredictionResult(inputs, row, self.reference) for inputs, row in zip(batch, rows)]

    def get_num_bytes(self, batch: Sequence[tuple]) -> int:
        return sum(int(x.nbytes) for inputs in batch for x in inputs)

    def get_metrics_namespace(self) -> str:
        return "aesthetics"
