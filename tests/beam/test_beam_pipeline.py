"""The Beam pipeline on the DirectRunner, on real photos with the shipped
ONNX model: one record per input across the shards, bad files as error
records, and the scores and ids of `predict`'s ONNX path."""

import collections
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install 'aesthetics[beam]')")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'aesthetics[onnx]')")

from PIL import Image  # noqa: E402

from aesthetics import zoo  # noqa: E402
from aesthetics.beam import AestheticsOnnxHandler, run_pipeline  # noqa: E402
from aesthetics.beam.__main__ import main  # noqa: E402
from aesthetics.beam.handler import run_by_shape  # noqa: E402
from aesthetics.beam.ids import colliding_ids  # noqa: E402
from aesthetics.beam.sinks import csv_header  # noqa: E402
from aesthetics.inference.backends import OnnxScorer  # noqa: E402
from aesthetics.inference.scoring import score_paths  # noqa: E402
from aesthetics.inference.outputs import read_records  # noqa: E402
from aesthetics.inference.records import image_ids  # noqa: E402

DIRECT = ["--runner=DirectRunner"]
TOL = 1e-5


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_dir):
    """8 real CLIVE photos (6 JPEG, 2 PNG), a copy of one at another size
    and with the same stem in a subfolder (id collision, mixed shapes in a
    batch), a truncated JPEG and a text file."""
    clive = shared_dir / "data" / "clive" / "images"
    if not clive.is_dir():
        pytest.skip(f"{clive} is absent")
    files = sorted(clive.iterdir())
    chosen = [f for f in files if f.suffix.lower() == ".jpg"][:6] + \
             [f for f in files if f.suffix.lower() == ".png"][:2]
    folder = tmp_path_factory.mktemp("beam") / "photos"
    (folder / "sub").mkdir(parents=True)
    for f in chosen:
        shutil.copy(f, folder / f.name)
    with Image.open(chosen[0]) as img:
        img.convert("RGB").resize((320, 240)).save(folder / "sub" / f"{chosen[0].stem}.png")
    (folder / "broken.jpg").write_bytes(chosen[1].read_bytes()[:4000])
    (folder / "notes.txt").write_text("not a photo\n")
    paths = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    assert len(paths) == 11
    return folder, paths


@pytest.fixture(scope="module")
def expected(photos):
    """What `predict --backend onnx` gives: records by path."""
    _, paths = photos
    model = zoo.model_path(zoo.DEFAULT_MODEL, "onnx")
    return {r["path"]: r for r in score_paths(OnnxScorer(model), paths)}


@pytest.fixture(scope="module", params=["jsonl", "csv"])
def written(request, photos, tmp_path_factory):
    """(format, shard files, records from all shards) of one DirectRunner run."""
    folder, _ = photos
    prefix = tmp_path_factory.mktemp(f"out-{request.param}") / "scores"
    run_pipeline(f"{folder}/**", None, str(prefix), fmt=request.param, pipeline_args=DIRECT,
                 num_shards=2, batch_size=4)
    shards = sorted(prefix.parent.glob(f"scores-*-of-00002.{request.param}"))
    records = [r for shard in shards for r in read_records(shard)]
    return request.param, shards, records


def test_every_input_exactly_once_across_shards(written, photos):
    _, shards, records = written
    assert len(shards) == 2
    counts = collections.Counter(r["path"] for r in records)
    assert counts == collections.Counter(photos[1])


def test_scores_and_ids_equal_predicts(written, expected):
    _, _, records = written
    scored = 0
    for rec in records:
        want = expected[rec["path"]]
        assert rec["image_id"] == want["image_id"]
        assert ("error" in rec) == ("error" in want), rec
        if "error" in want:
            assert rec["error"] == want["error"]
            continue
        scored += 1
        assert abs(rec["mean_score_prediction"] - want["mean_score_prediction"]) <= TOL
        assert abs(rec["std_score_prediction"] - want["std_score_prediction"]) <= TOL
        np.testing.assert_allclose(rec["distribution"], want["distribution"], atol=TOL, rtol=0)
    assert scored == 9


def test_bad_files_are_error_records(written):
    _, _, records = written
    by_name = {Path(r["path"]).name: r for r in records}
    assert "truncated" in by_name["broken.jpg"]["error"]
    assert by_name["notes.txt"]["error"]
    assert "mean_score_prediction" not in by_name["notes.txt"]


def test_colliding_stems_get_distinct_ids(written, photos):
    _, _, records = written
    stems = collections.Counter(Path(p).stem for p in photos[1])
    stem = next(s for s, n in stems.items() if n > 1)
    ids = sorted(r["image_id"] for r in records if Path(r["path"]).stem == stem)
    assert len(set(ids)) == 2
    assert ids == sorted(colliding_ids([r["path"] for r in records if Path(r["path"]).stem == stem]).values())


def test_csv_shards_each_start_with_the_header(written):
    fmt, shards, _ = written
    if fmt != "csv":
        pytest.skip("CSV only")
    for shard in shards:
        assert shard.read_text().split("\n", 1)[0] == csv_header(10)


def test_colliding_ids_equal_image_ids_of_the_whole_run():
    paths = ["/a/x/1.jpg", "/a/y/1.jpg", "/a/y/2.jpg", "/a/z/3.jpg", "/a/z/3.png", "/a/w/3.jpg"]
    whole = dict(zip(paths, image_ids(paths)))
    part = colliding_ids([p for p in paths if Path(p).stem in ("1", "3")])
    assert part == {p: whole[p] for p in part}
    assert "/a/y/2.jpg" not in part and whole["/a/y/2.jpg"] == "2"


class _SumScorer:
    """Row = (pixel sum, height); records every call's batch shape."""

    def __init__(self, fail_shape=None):
        self.calls, self.fail_shape = [], fail_shape

    def __call__(self, images):
        self.calls.append(images.shape)
        if images.shape[1:] == self.fail_shape:
            raise RuntimeError("bad shape")
        return np.stack([images.sum(axis=(1, 2, 3)), np.full(len(images), images.shape[1])], 1)


def test_run_by_shape_batches_same_shapes_and_keeps_order():
    rng = np.random.default_rng(0)
    shapes = [(4, 5, 3), (6, 6, 3), (4, 5, 3), (6, 6, 3), (4, 5, 3), (2, 2, 3)]
    batch = [rng.random(s, dtype=np.float32) for s in shapes]
    scorer = _SumScorer(fail_shape=(2, 2, 3))
    rows = run_by_shape(scorer, batch)
    assert sorted(scorer.calls) == [(1, 2, 2, 3), (2, 6, 6, 3), (3, 4, 5, 3)]
    for image, row in zip(batch[:5], rows[:5]):
        np.testing.assert_allclose(row, [image.sum(), image.shape[0]], rtol=1e-6)
    assert rows[5] == "the model could not score this photo (RuntimeError: bad shape)"


class _FailingOnSmallPhotos(AestheticsOnnxHandler):
    """The shipped model, except that photos narrower than 400 px raise."""

    def load_model(self):
        real = super().load_model()

        class Scorer:
            recipe = real.recipe

            def __call__(self, images):
                if images.shape[2] < 400:
                    raise RuntimeError("refused")
                return real(images)

        return Scorer()


def test_model_failure_is_an_error_record_not_a_pipeline_failure(photos, expected, tmp_path):
    import apache_beam as beam

    from aesthetics.beam.pipeline import ScorePhotos
    from aesthetics.beam.sinks import WriteRecords

    folder, _ = photos
    with beam.Pipeline(argv=DIRECT) as p:
        records = p | ScorePhotos(f"{folder}/sub/*", _FailingOnSmallPhotos(), None)
        _ = records | WriteRecords(str(tmp_path / "out"), "jsonl", 10, num_shards=1)
    (rec,) = read_records(next(tmp_path.glob("out-*.jsonl")))
    assert rec["error"] == "the model could not score this photo (RuntimeError: refused)"


def test_cli_refuses_a_pattern_without_files_and_a_keras_model(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "*.jpg"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file matches" in err[0]
    keras_file = tmp_path / "m.keras"
    keras_file.write_bytes(b"")
    assert main(["--input", str(tmp_path / "*"), "--model", str(keras_file), "--output", "o"]) == 2
    assert "--format onnx" in capsys.readouterr().err
