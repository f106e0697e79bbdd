"""Streaming output files: every format read back, cut-off tails, resume plans."""

import json
import os

import numpy as np
import pytest

from aesthetics.errors import ConfigError, OutputError
from aesthetics.inference.outputs import RecordWriter, check_output_path, read_records, write_records
from aesthetics.inference.records import error_record, image_ids, make_record, printable_path
from aesthetics.inference.streaming import plan_resume

FORMATS = [".csv", ".jsonl", ".json"]


def _records(n=5, start=0):
    rng = np.random.default_rng(start)
    recs = []
    for i in range(start, start + n):
        row = rng.dirichlet(np.ones(10))
        recs.append(make_record(f"/photos/p{i}.jpg", f"p{i}", row))
    recs.append(error_record(f"/photos/bad{start}.jpg", f"bad{start}", "cannot decode: truncated"))
    return recs


def _same(a, b):
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for x, y in zip(a, b):
        assert x.get("error") == y.get("error")
        if "error" not in x:
            assert abs(x["mean_score_prediction"] - y["mean_score_prediction"]) < 1e-12
            np.testing.assert_allclose(x["distribution"], y["distribution"], atol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_records_written_in_batches_read_back_exactly(tmp_path, fmt):
    out = tmp_path / f"scores{fmt}"
    first, second = _records(3, 0), _records(4, 10)
    with RecordWriter(out, bins=10) as w:
        w.write(first)
        _same(read_records(out), first)  # readable while the run goes on (flushed)
        w.write(second)
    _same(read_records(out), first + second)
    if fmt == ".json":  # a finished JSON output is a plain, strict JSON list
        assert len(json.loads(out.read_text())) == len(first + second)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_record_cut_by_a_kill_is_dropped_not_misread(tmp_path, fmt):
    out = tmp_path / f"scores{fmt}"
    recs = _records(4)
    w = RecordWriter(out, bins=10)
    w.write(recs)
    w._file.flush()
    size = os.path.getsize(out)
    w.abandon()  # as kill -9 leaves it: no closing `]`
    with open(out, "rb+") as f:
        f.truncate(size - 7)  # the last record cut in half, mid-number
    back = read_records(out)
    _same(back, recs[:-1])


def test_an_empty_json_output_is_an_empty_list(tmp_path):
    out = tmp_path / "s.json"
    RecordWriter(out).close()
    assert json.loads(out.read_text()) == []


def test_garbage_in_the_middle_names_the_file_and_line(tmp_path):
    out = tmp_path / "s.jsonl"
    lines = [json.dumps(r) for r in _records(2)]
    out.write_text(lines[0] + "\nnot json\n" + lines[1] + "\n")
    with pytest.raises(OutputError, match=r"s.jsonl, line 2"):
        read_records(out)


def test_a_csv_without_a_path_column_is_refused(tmp_path):
    out = tmp_path / "s.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(OutputError, match="no 'path' column"):
        read_records(out)


def test_foreign_idealo_json_is_read(tmp_path):
    out = tmp_path / "s.json"
    out.write_text(json.dumps([{"image_id": "x", "mean_score_prediction": 5.5}], indent=4))
    assert read_records(out) == [{"image_id": "x", "mean_score_prediction": 5.5}]


def test_check_output_path(tmp_path):
    with pytest.raises(ConfigError, match="unknown format '.txt'"):
        check_output_path(tmp_path / "s.txt")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path)
    out = tmp_path / "new" / "deeper" / "s.jsonl"
    assert check_output_path(out) == out and out.parent.is_dir()  # created before any work
    write_records(_records(2), out)
    with pytest.raises(OutputError, match="already holds 3 record.*--resume.*--overwrite"):
        check_output_path(out)
    check_output_path(out, resume=True)
    check_output_path(out, overwrite=True)
    (tmp_path / "empty.csv").write_text("")
    check_output_path(tmp_path / "empty.csv")  # nothing to lose


def test_a_resume_rewrite_is_atomic(tmp_path, monkeypatch):
    """A kill while the kept records are rewritten leaves the old file."""
    out = tmp_path / "s.jsonl"
    write_records(_records(3), out)
    before = out.read_bytes()

    def boom(self, records):
        raise KeyboardInterrupt

    monkeypatch.setattr(RecordWriter, "_append", boom)
    with pytest.raises(KeyboardInterrupt):
        RecordWriter(out, 10, keep=_records(3))
    assert out.read_bytes() == before


def test_plan_resume_keeps_scores_once_and_retries_failures(tmp_path):
    out = tmp_path / "s.jsonl"
    old = _records(3) + [error_record("/elsewhere/x.jpg", "x", "gone")]
    old.append(dict(old[0]))  # a duplicate line (e.g. two runs appended)
    write_records(old, out)
    paths = ["/photos/p0.jpg", "/photos/p1.jpg", "/photos/bad0.jpg", "/photos/new.jpg"]
    keep, todo = plan_resume(out, paths)
    assert sorted(r["path"] for r in keep) == ["/elsewhere/x.jpg", "/photos/p0.jpg", "/photos/p1.jpg",
                                              "/photos/p2.jpg"]
    assert todo == [2, 3]  # the failed file is tried again, the new one scored


def test_image_ids_are_distinct_and_stable():
    paths = ["/a/x.jpg", "/b/x.jpg", "/b/y.jpg", "/c/d/x.png", "/c/d/x.jpg"]
    ids = image_ids(paths)
    assert ids[2] == "y"  # a unique stem stays the stem (idealo-compatible)
    assert len(set(ids)) == len(ids)
    assert ids == image_ids(list(paths)) and ids[0] == "a/x"
    assert {ids[3], ids[4]} == {"c/d/x.png", "c/d/x.jpg"}


def test_undecodable_file_names_become_printable_text(tmp_path):
    raw = os.fsdecode(b"/photos/caf\xe9.jpg")  # Latin-1 bytes: not UTF-8
    text = printable_path(raw)
    assert text == "/photos/caf\\xe9.jpg"
    rec = error_record(raw, image_ids([raw])[0], f"cannot decode {raw}")
    for fmt in FORMATS:
        write_records([rec], tmp_path / f"s{fmt}")
        assert read_records(tmp_path / f"s{fmt}")[0]["path"] == text


# ----------------------------------------------------------------------------- reference columns


def _reference(score, *ids):
    return {"score": score, "std": 1.2, "method": "gcn",
            "neighbours": [{"id": i, "score": 6.1, "similarity": 0.8, "by": "content"} for i in ids]}


def _with_references(records):
    """The scored records get a "reference" (the first one's ids need escaping), but not the last scored one."""
    ids = [("ref;1", "ref%3B2", "ref_4"), ("ref_17",), ()]
    scored = [r for r in records if "error" not in r]
    for rec, these in zip(scored[:-1], ids):
        rec["reference"] = _reference(5.0 + len(these) / 3, *these)
    return records


def _csv_reference(ref):
    """What a CSV keeps of a "reference": score, method, ids."""
    return {"score": ref["score"], "method": ref["method"], "neighbours": [{"id": n["id"]} for n in ref["neighbours"]]}


def test_csv_reference_columns_round_trip(tmp_path):
    out = tmp_path / "s.csv"
    records = _with_references(_records(4))
    with RecordWriter(out, bins=10, references=True) as w:
        w.write(records)
    header = out.read_text().splitlines()[0].split(",")
    assert header[-3:] == ["reference_score", "reference_method", "reference_ids"] and "p10" in header
    assert "ref%3B1;ref%253B2;ref_4" in out.read_text()  # `;` inside an id escaped, `%` too
    back = read_records(out)
    _same(back, records)
    for rec, got in zip(records, back):
        if "reference" in rec:
            assert got["reference"] == _csv_reference(rec["reference"])
        else:  # no reference, or an error record: no key read back
            assert "reference" not in got
    assert back[0]["reference"]["neighbours"][0] == {"id": "ref;1"}
    assert back[2]["reference"]["neighbours"] == []  # a reference with no neighbours
    RecordWriter(tmp_path / "plain.csv", bins=10, keep=records).close()  # not asked: no columns
    assert "reference" not in (tmp_path / "plain.csv").read_text()
    assert all("reference" not in r for r in read_records(tmp_path / "plain.csv"))


def test_csv_reference_columns_several_models(tmp_path):
    out = tmp_path / "s.csv"
    records = [{"image_id": f"p{i}", "path": f"/photos/p{i}.jpg",
                "technical": {"mean_score_prediction": 5.0 + i, "std_score_prediction": 1.0,
                              "distribution": [0.1] * 10},
                "aesthetic": {"mean_score_prediction": 4.0 + i, "std_score_prediction": 1.5}} for i in range(3)]
    records.append(error_record("/photos/bad.jpg", "bad", "cannot decode"))
    records = _with_references(records)
    write_records(records, out)  # references found in the records, like bins
    header = out.read_text().splitlines()[0].split(",")
    assert header[:3] == ["image_id", "path", "error"]
    assert header[-3:] == ["reference_score", "reference_method", "reference_ids"]
    back = read_records(out)
    assert [sorted(r) for r in back[:2]] == [["aesthetic", "image_id", "path", "reference", "technical"]] * 2
    assert back[0]["reference"] == _csv_reference(records[0]["reference"])  # top level, not in a group
    assert back[0]["technical"]["mean_score_prediction"] == 5.0 and "reference" not in back[2]
    assert back[3] == {"image_id": "bad", "path": "/photos/bad.jpg", "error": "cannot decode"}


@pytest.mark.parametrize("fmt", [".jsonl", ".json"])
def test_json_formats_keep_the_whole_reference(tmp_path, fmt):
    out = tmp_path / f"s{fmt}"
    records = _with_references(_records(3))
    with RecordWriter(out, bins=10) as w:
        w.write(records)
    assert [r.get("reference") for r in read_records(out)] == [r.get("reference") for r in records]


def test_write_records_keeps_reference_columns(tmp_path):
    """`--sort` rewrites the output with write_records: the columns stay."""
    out = tmp_path / "s.csv"
    write_records(_with_references(_records(3)), out, bins=10)
    back = read_records(out)
    write_records(list(reversed(back)), out)
    again = read_records(out)
    assert [r.get("reference") for r in again] == [r.get("reference") for r in reversed(back)]
    write_records(_records(2), out)  # no record has one: no columns
    assert "reference_score" not in out.read_text()


def test_a_bad_reference_score_in_a_csv_is_reported(tmp_path):
    out = tmp_path / "s.csv"
    records = _records(2)
    records[0]["reference"] = _reference(5.5, "ref_1")
    write_records(records, out)
    out.write_text(out.read_text().replace(",5.5,gcn,ref_1", ",high,gcn,ref_1"))
    with pytest.raises(OutputError, match="line 2.*not a number"):
        read_records(out)
    bad = []
    assert len(read_records(out, bad=lambda where, reason: bad.append(where))) == 2
    assert bad == ["line 2 (/photos/p0.jpg)"]
