"""Export of trained models: SavedModel (TF Serving), ONNX and TFLite, each
with a `model.json` describing the recipe."""
