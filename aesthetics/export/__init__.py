"""Export of trained models: SavedModel (TF Serving), ONNX and TFLite
(`writers`), each with a `model.json` describing the model's recipe
(`metadata`); the SavedModel decodes encoded images in its graph
(`image_bytes`). TensorFlow is imported only inside the functions that need it."""

from aesthetics.export.metadata import metadata_path, read_metadata  # noqa: F401
from aesthetics.export.writers import export_model  # noqa: F401
