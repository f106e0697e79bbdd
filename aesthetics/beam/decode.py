"""Decoding photos on Beam workers, exactly as `predict` does.

Each matched file is read through Beam's FileSystems (`ReadableFile.open`,
so gs://, s3://, hdfs:// work like local paths) and prepared by the
package's own function, `aesthetics.inference.scoring.load_for_model`:
Pillow decode (EXIF rotation, alpha on white, the pixel limit against
decompression bombs), then the model recipe's resize / centre crop /
native size. The pixels are therefore the ones `predict --backend onnx`
feeds the same model.

With several models (a list of recipes) the file is decoded once and
`aesthetics.inference.multi.load_for_recipes` makes each model's input from
that decode, exactly as `predict --model A,B` and `aesthetics.load([A, B])`
do; the element is then (path, tuple of uint8 inputs, one per model): uint8
is a quarter of float32's bytes through the shuffle, and each `OnnxScorer`
casts to float32 (exactly) when it runs.

A file that cannot be used (not an image, truncated, too large, gone since
it was matched) is sent to the `errors` output as (path, reason); it
becomes an error record, never a failed bundle that Beam would retry.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from aesthetics.constants import DEFAULT_MAX_PIXELS
from aesthetics.data.images import ImageDecodeError
from aesthetics.inference.multi import load_for_recipes
from aesthetics.inference.scoring import load_for_model

ERRORS = "errors"
METRICS_NAMESPACE = "aesthetics"


def prepare_file(readable_file, recipe, max_pixels: int = DEFAULT_MAX_PIXELS):
    """The float32 model input for one `apache_beam.io.fileio.ReadableFile`
    (the file object goes straight to Pillow: no local copy); for a list of
    recipes, the tuple of their uint8 inputs from one decode."""
    with readable_file.open() as f:
        if isinstance(recipe, (list, tuple)):
            return load_for_recipes(f, list(recipe), max_pixels)
        return load_for_model(f, recipe, max_pixels=max_pixels)


class DecodePhoto(beam.DoFn):
    """ReadableFile -> (path, float32 image) on the main output, or
    (path, reason) on the `errors` output. With a list of recipes (several
    models): (path, tuple of uint8 inputs, one per model).

    Args:
        recipe: the model's `aesthetics.models.recipe.Recipe` (read from the
            export's metadata on the launcher; small and picklable), or a
            list of them, one per model.
        max_pixels: files with more pixels are refused (as `predict`).
    """

    def __init__(self, recipe, max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__()
        self.recipe = list(recipe) if isinstance(recipe, (list, tuple)) else recipe
        self.max_pixels = int(max_pixels)
        self.decoded = Metrics.counter(METRICS_NAMESPACE, "photos_decoded")
        self.failed = Metrics.counter(METRICS_NAMESPACE, "photos_undecodable")

    def process(self, readable_file):
        path = readable_file.metadata.path
        try:
            image = prepare_file(readable_file, self.recipe, self.max_pixels)
        except ImageDecodeError as e:
            reason = str(e)
        except Exception as e:  # one bad file never stops the run (as predict)
            reason = f"unexpected error: {type(e).__name__}: {e}"
        else:
            self.decoded.inc()
            yield path, image
            return
        self.failed.inc()
        yield beam.pvalue.TaggedOutput(ERRORS, (path, reason))
