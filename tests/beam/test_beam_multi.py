"""Several models in one Beam pass (`--model technical,aesthetic`) on the
DirectRunner, on the package's sample photos with the shipped ONNX models:
the scores of `aesthetics.load(["technical", "aesthetic"])`, one record per
file with a group of fields per model, `predict`'s CSV layout, bad files as
error records; and one model keeps its flat record."""

import collections
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install 'aesthetics[beam]')")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'aesthetics[onnx]')")

from PIL import Image  # noqa: E402

import aesthetics  # noqa: E402
from aesthetics.beam import AestheticsOnnxGroupHandler, run_pipeline  # noqa: E402
from aesthetics.beam.__main__ import main  # noqa: E402
from aesthetics.beam.handler import run_by_shape  # noqa: E402
from aesthetics.beam.model_files import model_labels  # noqa: E402
from aesthetics.beam.sinks import csv_header, csv_line  # noqa: E402
from aesthetics.errors import ConfigError  # noqa: E402
from aesthetics.inference.outputs import RecordWriter, read_records, record_bins  # noqa: E402

DIRECT = ["--runner=DirectRunner"]
TOL = 1e-4
MODELS = ["technical", "aesthetic"]
SAMPLES = Path(aesthetics.__file__).parent / "sample_data" / "images"
FLAT = {"image_id", "path", "mean_score_prediction", "std_score_prediction", "distribution"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """4 sample JPEGs, one of them as an RGBA PNG at another size (a batch
    with mixed shapes for the native-resolution model), a truncated JPEG and
    a text file."""
    chosen = sorted(SAMPLES.glob("*_q0.jpg"))[:4]
    assert len(chosen) == 4
    folder = tmp_path_factory.mktemp("beam-multi") / "photos"
    folder.mkdir()
    for f in chosen:
        shutil.copy(f, folder / f.name)
    with Image.open(chosen[0]) as img:
        img.convert("RGBA").resize((300, 200)).save(folder / "small.png")
    (folder / "broken.jpg").write_bytes(chosen[1].read_bytes()[:3000])
    (folder / "notes.txt").write_text("not a photo\n")
    paths = sorted(str(p) for p in folder.iterdir())
    assert len(paths) == 7
    return folder, paths


@pytest.fixture(scope="module")
def expected(photos):
    """The API's records for the same files (ONNX models), by path."""
    _, paths = photos
    records = aesthetics.load(MODELS, backend="onnx").score(paths)
    return {p: r for p, r in zip(paths, records)}


@pytest.fixture(scope="module", params=["jsonl", "csv"])
def written(request, photos, tmp_path_factory):
    """(format, shard files, records from all shards): JSONL through the
    command line, CSV through `run_pipeline`."""
    folder, _ = photos
    fmt = request.param
    prefix = tmp_path_factory.mktemp(f"multi-{fmt}") / "scores"
    if fmt == "jsonl":
        assert main(["--input", f"{folder}/*", "--model", ",".join(MODELS), "--output", str(prefix),
                     "--format", fmt, "--num-shards", "2", "--batch-size", "3"] + DIRECT) == 0
    else:
        run_pipeline(f"{folder}/*", ",".join(MODELS), str(prefix), fmt=fmt, pipeline_args=DIRECT,
                     num_shards=2, batch_size=3)
    shards = sorted(prefix.parent.glob(f"scores-*-of-00002.{fmt}"))
    return fmt, shards, [r for shard in shards for r in read_records(shard)]


def test_every_file_once_with_a_group_per_model(written, photos):
    _, shards, records = written
    assert len(shards) == 2
    assert collections.Counter(r["path"] for r in records) == collections.Counter(photos[1])
    for rec in records:
        if "error" not in rec:
            assert set(rec) == {"image_id", "path", *MODELS}, rec
            for name in MODELS:
                assert set(rec[name]) == {"mean_score_prediction", "std_score_prediction", "distribution"}


def test_scores_equal_the_apis(written, expected):
    _, _, records = written
    scored = 0
    for rec in records:
        want = expected[rec["path"]]
        assert ("error" in rec) == ("error" in want), (rec, want)
        if "error" in rec:
            continue
        scored += 1
        assert rec["image_id"] == want["image_id"]
        for name in MODELS:
            got, ref = rec[name], want[name]
            assert abs(got["mean_score_prediction"] - ref["mean_score_prediction"]) <= TOL
            assert abs(got["std_score_prediction"] - ref["std_score_prediction"]) <= TOL
            np.testing.assert_allclose(got["distribution"], ref["distribution"], atol=TOL, rtol=0)
    assert scored == 5


def test_bad_files_are_error_records(written):
    _, _, records = written
    by_name = {Path(r["path"]).name: r for r in records}
    assert "truncated" in by_name["broken.jpg"]["error"]
    assert by_name["notes.txt"]["error"]
    assert not set(MODELS) & set(by_name["notes.txt"])


def test_csv_shards_have_predicts_grouped_header(written, tmp_path):
    fmt, shards, records = written
    if fmt != "csv":
        pytest.skip("CSV only")
    out = tmp_path / "predict.csv"
    RecordWriter(out, {name: 10 for name in MODELS}).close()
    header = out.read_text().split("\n", 1)[0]
    assert header.startswith("image_id,path,error,technical.mean_score_prediction,")
    for shard in shards:
        assert shard.read_text().split("\n", 1)[0] == header


@pytest.mark.parametrize("multi", [False, True])
def test_csv_rows_equal_record_writers(multi, tmp_path):
    """`sinks.csv_line` writes `RecordWriter`'s rows, one model or several."""
    rng = np.random.default_rng(1)

    def scores():
        d = [round(float(v), 6) for v in rng.dirichlet(np.ones(10))]
        return {"mean_score_prediction": 5.5, "std_score_prediction": 1.25, "distribution": d}

    records = [{"image_id": "a", "path": "x/a, b.jpg", **({n: scores() for n in MODELS} if multi else scores())},
               {"image_id": "c", "path": "x/c.jpg", "error": 'cannot "read" it'}]
    bins = record_bins(records)
    out = tmp_path / "predict.csv"
    RecordWriter(out, bins, keep=records).close()
    assert out.read_text() == "".join(line + "\n" for line in [csv_header(bins)] + [csv_line(r, bins) for r in records])


def test_one_model_keeps_the_flat_record(photos, tmp_path):
    folder, _ = photos
    prefix = tmp_path / "one"
    run_pipeline(f"{folder}/*.jpg", "technical", str(prefix), fmt="jsonl", pipeline_args=DIRECT, num_shards=1)
    records = read_records(next(tmp_path.glob("one-*.jsonl")))
    scored = [r for r in records if "error" not in r]
    assert len(scored) == 4 and all(set(r) == FLAT for r in scored)


class _PairScorer:
    """A stand-in ScorerGroup: row = (sum of input 1, sum of input 2)."""

    def __init__(self):
        self.calls = []

    def __call__(self, batches):
        self.calls.append(tuple(b.shape for b in batches))
        assert all(b.dtype == np.float32 for b in batches)
        if batches[0].shape[1] == 1:
            raise RuntimeError("too small")
        return np.stack([b.sum(axis=(1, 2, 3)) for b in batches], 1)


def test_run_by_shape_groups_tuples_by_their_shapes():
    rng = np.random.default_rng(0)
    shapes = [(4, 5, 3), (6, 6, 3), (4, 5, 3), (1, 1, 3)]
    batch = [(rng.integers(0, 255, s, dtype=np.uint8), rng.integers(0, 255, (2, 2, 3), dtype=np.uint8))
             for s in shapes]
    scorer = _PairScorer()
    rows = run_by_shape(scorer, batch)
    assert sorted(scorer.calls) == [((1, 1, 1, 3), (1, 2, 2, 3)), ((1, 6, 6, 3), (1, 2, 2, 3)),
                                    ((2, 4, 5, 3), (2, 2, 2, 3))]
    for (a, b), row in zip(batch[:3], rows[:3]):
        np.testing.assert_allclose(row, [a.sum(), b.sum()], rtol=1e-6)
    assert rows[3] == "the model could not score this photo (RuntimeError: too small)"


def test_model_labels_and_group_names():
    assert model_labels(None) == [None]
    assert model_labels("technical") == ["technical"]
    assert model_labels("technical, aesthetic") == MODELS
    assert model_labels(MODELS) == MODELS
    with pytest.raises(ConfigError):
        model_labels("technical,")
    handler = AestheticsOnnxGroupHandler(["technical", "zoo:nima-ava-mobilenet"])
    assert handler.names == ["technical", "zoo_nima-ava-mobilenet"]
    assert handler.references == ["zoo:clive-mobilenet-ft", "zoo:nima-ava-mobilenet"]
    with pytest.raises(ConfigError):
        AestheticsOnnxGroupHandler(["technical", "technical"])


def test_cli_refuses_a_repeated_model(photos, tmp_path, capsys):
    folder, _ = photos
    assert main(["--input", f"{folder}/*", "--model", "aesthetic,aesthetic", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "repeat" in err[0]
