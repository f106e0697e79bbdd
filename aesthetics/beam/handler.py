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
- `run_inference` splits each batch by image shape and runs one session
  call per shape, in batch order (`aesthetics.inference.scoring.iter_scored` cuts its
  batches at a size change for the same reason); fixed-size recipes get one call per batch.
- batches are bounded by count (`max_batch_size`, default 16): a
  native-resolution photo is up to 1024 px a side, 12 MB as float32, so a
  batch holds at most ~200 MB. (Beam 2.77's ModelHandler accepts
  `max_batch_weight`, but its BatchElements rejects it, so a byte bound is
  not offered.)
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from aesthetics.beam.model_files import local_model_file, model_reference
from aesthetics.inference.backends import OnnxScorer

DEFAULT_BATCH_SIZE = 16


def run_by_shape(scorer, batch: Sequence[np.ndarray]) -> list:
    """`scorer`'s output row for every image of `batch`, in batch order,
    with one call per distinct image shape. A call the runtime rejects
    gives its photos the reason (a str) instead of a row, so only they
    become error records (as in `predict`), not the whole batch."""
    groups: dict = {}
    for i, image in enumerate(batch):
        groups.setdefault(image.shape, []).append(i)
    rows: list = [None] * len(batch)
    for indexes in groups.values():
        try:
            out = np.asarray(scorer(np.stack([batch[i] for i in indexes])), dtype=np.float32)
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
        min_batch_size, max_batch_size: BatchElements bounds (photos per call).
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
        rows = run_by_shape(model, batch)
        return [PredictionResult(image, row, self.reference) for image, row in zip(batch, rows)]

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(int(image.nbytes) for image in batch)  # the default pickles the batch

    def get_metrics_namespace(self) -> str:
        return "aesthetics"
