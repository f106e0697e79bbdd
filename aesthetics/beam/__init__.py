"""Scoring photos with Apache Beam: any runner, any filesystem Beam reads.

    from aesthetics.beam import run_pipeline
    run_pipeline("gs://bucket/photos/*.jpg", None, "gs://bucket/scores",
                 fmt="jsonl", pipeline_args=["--runner=DataflowRunner", ...])

or ``python -m aesthetics.beam --input ... --output ...`` (see docs/BEAM.md).
The pipeline is Beam's own building blocks, nothing home-made:

    MatchFiles -> Reshuffle -> ReadMatches        (files.py: the photos, spread over workers)
    -> DecodePhoto                                (decode.py: the package's decode + recipe resize;
                                                   a bad file is an error record, not a failure)
    -> RunInference(KeyedModelHandler(           (handler.py: the exported ONNX model in
         AestheticsOnnxHandler))                   onnxruntime, batches split by photo size;
                                                   several models: AestheticsOnnxGroupHandler,
                                                   one decode, a group of fields per model)
    -> records, ids                               (ids.py: the same image ids as `predict`)
    -> WriteToText, sharded JSONL or CSV          (sinks.py)

`pipeline.py` wires them (`ScorePhotos`, `run_pipeline`); `__main__.py` is
the command line. Apache Beam is an optional extra: without it, importing
this package raises a one-line `AestheticsError` saying how to install it.
"""

from __future__ import annotations

try:
    import apache_beam  # noqa: F401
except ImportError:
    from aesthetics.errors import AestheticsError

    raise AestheticsError(
        "aesthetics.beam needs Apache Beam, which is not installed: pip install 'aesthetics[beam]'"
    ) from None

from aesthetics.beam.handler import AestheticsOnnxGroupHandler, AestheticsOnnxHandler  # noqa: E402
from aesthetics.beam.pipeline import FORMATS, ScorePhotos, run_pipeline  # noqa: E402

__all__ = ["AestheticsOnnxGroupHandler", "AestheticsOnnxHandler", "FORMATS", "ScorePhotos", "run_pipeline"]
