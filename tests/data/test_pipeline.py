import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from aesthetics.data.images import DecodeReport
from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset, make_training_dataset, resize_image


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        p = tmp_path / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), np.uint8)).save(p)
        paths.append(str(p))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    paths.insert(2, str(tmp_path / "broken.jpg"))
    return paths


OPTS = PipelineOptions(image_size=32, resize_to=40)


def test_training_batches_skip_bad_files_and_report(folder):
    report = DecodeReport()
    targets = np.tile(np.eye(10, dtype="float32")[4], (len(folder), 1))
    ds = make_training_dataset(folder, targets, OPTS, batch_size=4, seed=0, report=report)
    for _epoch in range(2):  # the second epoch comes from the cache
        images = [x for x, _ in ds]
        assert sum(len(x) for x in images) == 6
    assert images[0].shape[1:] == (32, 32, 3) and images[0].dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images[0])) and float(tf.reduce_max(images[0])) <= 255.0
    assert list(report.failures) == [folder[2]]


def test_training_is_seeded_and_epochs_differ(folder):
    targets = np.zeros((len(folder), 10), "float32")
    a = make_training_dataset(folder, targets, OPTS, 8, seed=3)
    b = make_training_dataset(folder, targets, OPTS, 8, seed=3)
    first_a, second_a = [next(iter(a))[0].numpy() for _ in range(2)]
    first_b = next(iter(b))[0].numpy()
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, second_a)  # new crops/flips/order each epoch


def test_eval_keeps_order_and_indexes(folder):
    ds = make_eval_dataset(folder, None, OPTS, batch_size=4, with_index=True)
    idx = np.concatenate([i.numpy() for _, i in ds])
    assert list(idx) == [0, 1, 3, 4, 5, 6]


def test_center_crop_eval(folder):
    opts = PipelineOptions(image_size=32, resize_to=40, eval_resize="center_crop")
    x, = next(iter(make_eval_dataset(folder[:1], None, opts, 1)))
    from aesthetics.data.images import load_image
    from aesthetics.data.resize import resize_photo

    full = resize_photo(load_image(folder[0]), 40)
    np.testing.assert_allclose(x[0], full[4:36, 4:36], atol=0)


def test_resize_is_antialiased():
    # A 1-pixel checkerboard shrunk 4x must average to grey, not alias.
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1)
    out = resize_image(board, 16).numpy()
    assert np.abs(out - 127.5).max() < 2
    from aesthetics.data.resize import resize_photo  # the pipeline's resize, too

    assert np.abs(resize_photo(board, 16).astype(float) - 127.5).max() < 2
