"""Data: label readers, image decoding, tf.data pipelines, degradations."""
