"""The streaming scoring loop with a stand-in model (no TensorFlow): every
file exactly once, and nothing lost to a bad file, a failing batch, a full
disk or Ctrl-C."""

import errno
import json
import os

import numpy as np
import pytest
from PIL import Image

from aesthetics.inference.outputs import RecordWriter, read_records
from aesthetics.inference.scoring import iter_scored, score_paths
from aesthetics.inference.streaming import stream_to_output
from aesthetics.models.recipe import Recipe


class BrightnessScorer:
    """Scores by mean brightness: a distribution peaked at bin 1 + mean/28."""

    recipe = Recipe(image_size=32)

    def __init__(self, fail_on_call=None, interrupt_on_call=None, nan=False):
        self.calls = 0
        self.fail_on_call, self.interrupt_on_call, self.nan = fail_on_call, interrupt_on_call, nan

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        if self.calls == self.fail_on_call:
            raise RuntimeError("INVALID_ARGUMENT: the runtime said no")
        assert x.dtype == np.float32 and x.shape[1:] == (32, 32, 3)
        centre = x.mean(axis=(1, 2, 3)) / 28.0
        logits = -((np.arange(10)[None, :] - centre[:, None]) ** 2)
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return np.full_like(p, np.nan) if self.nan else p


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for i in range(11):
        path = folder / f"p{i:02d}.jpg"
        Image.new("RGB", (40 + i, 30), (20 * i, 10 * i, 5 * i)).save(path)
        paths.append(str(path))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    odd = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")  # a name that is not UTF-8
    Image.new("RGB", (33, 33), (90, 90, 90)).save(odd)
    return paths + [str(folder / "broken.jpg"), os.fsdecode(odd)]


def _by_path(records):
    return {r["path"]: r for r in records}


def test_every_file_gets_one_record_and_bad_ones_do_not_stop_the_run(photos):
    batches = list(iter_scored(BrightnessScorer(), photos, batch_size=4, workers=2))
    records = [r for b in batches for r in b]
    assert len(records) == len(photos) and len(batches) >= 3
    by_path = _by_path(records)
    assert "cannot decode" in by_path[photos[-2]]["error"] or "not an image" in by_path[photos[-2]]["error"]
    odd = by_path[photos[-1].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")]
    assert "error" not in odd and odd["image_id"] == "caf\\xe9"
    means = [by_path[p]["mean_score_prediction"] for p in photos[:11]]
    assert means == sorted(means)  # brighter photos score higher: the real pixels got through


def test_score_paths_keeps_input_order(photos):
    records = score_paths(BrightnessScorer(), photos[::-1], batch_size=3, workers=2)
    assert [r["image_id"] for r in records][:3] == ["caf\\xe9", "broken", "p10"]


def test_a_batch_the_runtime_rejects_fails_only_its_files(photos):
    records = score_paths(BrightnessScorer(fail_on_call=2), photos, batch_size=4, workers=1)
    failed = [r for r in records if "the runtime said no" in r.get("error", "")]
    assert len(failed) == 4 and sum("mean_score_prediction" in r for r in records) == 8


def test_non_finite_outputs_are_error_records(photos):
    records = score_paths(BrightnessScorer(nan=True), photos[:3], batch_size=2)
    assert all("not finite" in r["error"] for r in records)


@pytest.mark.parametrize("fmt", [".json", ".csv", ".jsonl"])
def test_ctrl_c_leaves_a_valid_file_that_resume_finishes(tmp_path, photos, fmt):
    out = tmp_path / f"scores{fmt}"
    with pytest.raises(KeyboardInterrupt) as info:
        stream_to_output(BrightnessScorer(interrupt_on_call=3), photos, out, bins=10, batch_size=4,
                         workers=1)
    assert info.value.summary.interrupted and info.value.summary.scored == 8
    if fmt == ".json":
        assert len(json.loads(out.read_text())) == 8  # closed: strict JSON
    assert len(read_records(out)) == 8
    summary = stream_to_output(BrightnessScorer(), photos, out, resume=True, bins=10, batch_size=4)
    assert summary.kept == 8 and summary.scored + summary.failed == len(photos) - 8
    records = read_records(out)
    assert sorted(r["path"] for r in records) == sorted(_by_path(records))  # each path once
    assert len(records) == len(photos)
    # resuming a finished file scores nothing
    again = stream_to_output(BrightnessScorer(), photos, out, resume=True, bins=10)
    assert again.scored == 0 and again.failed == 1 and len(read_records(out)) == len(photos)


def test_a_full_disk_keeps_the_scores_in_memory(tmp_path, photos, monkeypatch):
    out = tmp_path / "scores.jsonl"
    real_write = RecordWriter.write
    calls = []

    def write(self, records):
        calls.append(len(records))
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, records)

    monkeypatch.setattr(RecordWriter, "write", write)
    summary = stream_to_output(BrightnessScorer(), photos, out, bins=10, batch_size=4, workers=1)
    assert summary.write_error == "No space left on device"
    on_disk = read_records(out)
    assert len(on_disk) == calls[0]
    assert sorted(r["path"] for r in on_disk + summary.unsaved) == sorted(
        _by_path(on_disk + summary.unsaved))
    assert len(on_disk) + len(summary.unsaved) == len(photos)


class NativeScorer(BrightnessScorer):
    """A native-resolution recipe: photos keep their own sizes."""

    recipe = Recipe(image_size=224, resize="native")

    def __call__(self, x):
        return super().__call__(x[:, :32, :32])


def test_native_photos_of_many_sizes_are_handed_on_after_every_model_call(photos):
    """Each size is its own model call; its records must reach the output
    then, not when a full batch finally forms (a kill would lose them)."""
    scorer = NativeScorer()
    batches = list(iter_scored(scorer, photos[:11], batch_size=8, workers=1))
    assert scorer.calls == 11  # eleven sizes: eleven model calls
    assert len(batches) == 11 and sum(len(b) for b in batches) == 11


def test_a_record_cut_inside_a_utf8_character_is_dropped(tmp_path):
    from aesthetics.inference.records import make_record

    out = tmp_path / "s.jsonl"
    recs = [make_record(f"/photos/café{i}.jpg", f"café{i}", np.full(10, 0.1)) for i in range(3)]
    with RecordWriter(out, bins=10) as w:
        w.write(recs)
    data = out.read_bytes()
    cut = data.rindex("é".encode()) + 1  # inside the last record's two-byte "é"
    out.write_bytes(data[:cut])
    assert [r["image_id"] for r in read_records(out)] == ["café0", "café1"]


def test_batches_are_cut_by_the_pixel_budget(tmp_path):
    """Large photos go fewer at a time (memory is bounded by pixels, not by
    batch_size); a photo past the budget goes alone; small ones fill batch_size."""
    import numpy as np
    from PIL import Image

    from aesthetics.inference.scoring import iter_outputs
    from aesthetics.models.recipe import Recipe

    calls = []

    class Recording:
        recipe = Recipe(image_size=224, resize="native", max_side=1024)

        def __call__(self, batch):
            calls.append(batch.shape)
            return np.full((len(batch), 10), 0.1, np.float32)

    big = [tmp_path / f"big{i}.png" for i in range(5)]
    small = [tmp_path / f"small{i}.png" for i in range(6)]
    for path in big:
        Image.new("RGB", (1000, 800), (90, 120, 150)).save(path)
    for path in small:
        Image.new("RGB", (100, 80), (90, 120, 150)).save(path)
    out = [row for batch in iter_outputs(Recording(), big + small, batch_size=4, workers=1,
                                         batch_pixels=1_700_000) for row in batch]
    assert [i for i, _, _ in out] == list(range(11)) and all(e is None for _, _, e in out)
    assert [c[0] for c in calls] == [2, 2, 1, 4, 2]  # 2 x 0.8 MP fit 1.7 MP; 4 small = batch_size
    calls.clear()
    list(iter_outputs(Recording(), big[:2], batch_size=4, workers=1, batch_pixels=500_000))
    assert [c[0] for c in calls] == [1, 1]  # each past the budget: alone


def test_reference_columns_are_asked_for_and_kept_on_resume(photos, tmp_path):
    """`references=True` gives a CSV the reference_* columns; a resumed run
    keeps them for the kept records even when not asked again."""
    out = tmp_path / "s.csv"

    def add_reference(batch):
        for rec in batch:
            if "error" not in rec:
                rec["reference"] = {"score": 5.5, "method": "knn", "neighbours": [{"id": "ref_1"}]}

    stream_to_output(BrightnessScorer(), photos[:3], out, bins=10, before_write=add_reference, references=True)
    assert out.read_text().splitlines()[0].endswith("reference_score,reference_method,reference_ids")
    summary = stream_to_output(BrightnessScorer(), photos[:5], out, resume=True, bins=10)
    assert summary.kept == 3 and summary.scored == 2
    back = _by_path(read_records(out))
    assert [back[p].get("reference") for p in photos[:5]] == [
        {"score": 5.5, "method": "knn", "neighbours": [{"id": "ref_1"}]}] * 3 + [None, None]
