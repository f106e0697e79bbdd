"""Custom Keras layers, one per module. Importing this package registers them
for `.keras` deserialisation."""

from aesthetics.layers.preprocess import BackbonePreprocess  # noqa: F401
