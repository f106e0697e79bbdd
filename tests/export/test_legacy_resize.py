"""idealo's nearest resize in the graph (the SavedModel bytes signature of a
legacy recipe) picks exactly Pillow's pixels, eager and inside a graph."""

import numpy as np
import pytest
from PIL import Image


@pytest.mark.parametrize("in_graph", [False, True], ids=["eager", "graph"])
def test_pillow_nearest_resize_matches_pillow(in_graph):
    import tensorflow as tf

    from aesthetics.export.image_bytes import pillow_nearest_resize

    rng = np.random.default_rng(0)
    for size in (224, 17):
        resize = lambda image, size=size: pillow_nearest_resize(image, size)  # noqa: E731
        if in_graph:  # Grappler must not turn the division into a reciprocal multiply
            resize = tf.function(resize, input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
        for height, width in ((640, 640), (425, 640), (1000, 333), (5, 7), (224, 224)):
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            expected = np.asarray(Image.fromarray(image).resize((size, size), Image.NEAREST))
            np.testing.assert_array_equal(resize(tf.constant(image)).numpy(), expected)
