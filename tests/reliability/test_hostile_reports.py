"""The report skips (and lists) score records it cannot use, instead of failing.

Each bad kind of record (one-model and several-model) sits beside good
records: `write_report` and `aesthetics report FILE` exit cleanly, every good
record gets its card, and the bad one is listed under "Skipped" with a reason.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_helpers import make_photo  # noqa: E402

from aesthetics.cli import main as cli_main  # noqa: E402
from aesthetics.report import write_report  # noqa: E402
from aesthetics.report.clean import SKIPPED_SHOWN, clean_records  # noqa: E402

NAN, INF = float("nan"), float("inf")

# (case id, the bad part of a record, a word of the reason)
ONE_MODEL = [
    ("text-score", {"mean_score_prediction": "abc"}, "mean_score_prediction is not a number"),
    ("nan-score", {"mean_score_prediction": NAN}, "mean_score_prediction is not finite"),
    ("inf-score", {"mean_score_prediction": INF}, "mean_score_prediction is not finite"),
    ("minus-inf-score", {"mean_score_prediction": -INF}, "mean_score_prediction is not finite"),
    ("list-score", {"mean_score_prediction": [5, 6]}, "mean_score_prediction is a list"),
    ("bool-score", {"mean_score_prediction": True}, "mean_score_prediction is true/false"),
    ("huge-score", {"mean_score_prediction": 1e308}, "mean_score_prediction is out of any score range"),
    ("text-std", {"mean_score_prediction": 5.0, "std_score_prediction": "wide"},
     "std_score_prediction is not a number"),
    ("nan-std", {"mean_score_prediction": 5.0, "std_score_prediction": NAN}, "std_score_prediction is not finite"),
    ("negative-std", {"mean_score_prediction": 5.0, "std_score_prediction": -1}, "std_score_prediction is negative"),
    ("text-distribution", {"mean_score_prediction": 5.0, "distribution": "0.1 0.9"}, "distribution is text"),
    ("bad-distribution-value", {"mean_score_prediction": 5.0, "distribution": [0.5, "x"]},
     "distribution value is not a number"),
    ("nan-distribution-value", {"mean_score_prediction": 5.0, "distribution": [0.5, NAN]},
     "distribution value is not finite"),
]
MULTI_MODEL = [
    (f"multi-{case}", {"technical": {"mean_score_prediction": 6.0, "std_score_prediction": 1.0},
                       "aesthetic": bad}, f"aesthetic: {reason}")
    for case, bad, reason in ONE_MODEL
]
IDENTITY = [  # not the scores: the record's path or id
    ("list-path", {"path": ["<b>x.jpg"]}, "path is a list, not text"),
    ("number-path", {"path": 12}, "path is a number, not text"),
    ("object-id", {"image_id": {"<i>": 1}}, "image_id is an object, not text"),
    ("list-id", {"image_id": [1]}, "image_id is a list, not text"),
]
NOT_RECORDS = [("list-record", [1, 2]), ("text-record", "<script>x</script>"), ("number-record", 5),
               ("null-record", None)]


def _good(tmp_path, multi=False):
    out = []
    for i, score in enumerate([3.5, 8.0, 6.1]):
        photo = make_photo(tmp_path / f"good{i}.jpg", seed=i)
        scores = {"mean_score_prediction": score, "std_score_prediction": 1.2, "distribution": [0.1] * 10}
        if multi:
            out.append({"image_id": f"good{i}", "path": str(photo), "technical": dict(scores),
                        "aesthetic": {**scores, "mean_score_prediction": 10 - score}})
        else:
            out.append({"image_id": f"good{i}", "path": str(photo), **scores})
    return out


def _bad(tmp_path, bad: dict, multi: bool) -> dict:
    base = {"image_id": "bad<b>", "path": str(tmp_path / "<script>alert(1)</script>.jpg")}
    if not multi:
        return {**base, "mean_score_prediction": 5.0, **bad}
    return {**base, **bad}


def _cards(html: str) -> int:
    return len(re.findall(r'<figure class="card', html))


def _skipped_rows(html: str) -> list[tuple[str, str]]:
    section = html.split('<h2 id="skipped">', 1)[1] if '<h2 id="skipped">' in html else ""
    return re.findall(r'<td class="file" title="[^"]*">([^<]*)</td><td class="reason">([^<]*)</td>', section)


def _check_page(html: str, good: int, reason: str):
    assert _cards(html) == good
    rows = _skipped_rows(html)
    assert len(rows) == 1, rows
    assert reason in rows[0][1].replace("&#34;", '"')
    assert "<script>alert" not in html and "<b>" not in html and "<i>" not in html  # still escaped
    assert 'id="count-skipped"' in html


def _write_file(path: Path, records: list):
    if path.suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))


CASES = [(c, b, r, False) for c, b, r in ONE_MODEL] + [(c, b, r, True) for c, b, r in MULTI_MODEL] + \
        [(c, b, r, False) for c, b, r in IDENTITY] + [("multi-" + c, b, r, True) for c, b, r in IDENTITY]


@pytest.mark.parametrize("case, bad, reason, multi", CASES, ids=[c[0] for c in CASES])
def test_bad_record_is_skipped_by_write_report(tmp_path, case, bad, reason, multi):
    records = _good(tmp_path, multi)
    records.insert(1, _bad(tmp_path, bad, multi))
    out = write_report(records, tmp_path / "r.html", workers=1)
    _check_page(out.read_text(encoding="utf-8"), 3, reason)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize("case, bad, reason, multi", CASES, ids=[c[0] for c in CASES])
def test_bad_record_is_skipped_by_the_cli(tmp_path, capsys, case, bad, reason, multi, suffix):
    records = _good(tmp_path, multi)
    records.append(_bad(tmp_path, bad, multi))
    scores = tmp_path / f"scores{suffix}"
    _write_file(scores, records)  # NaN/Infinity as JSON writes them (Python's json reads them back)
    rc = cli_main(["report", str(scores), "--output", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Traceback" not in err and "3 scored, 0 failed, 1 skipped" in err
    _check_page((tmp_path / "r.html").read_text(encoding="utf-8"), 3, reason)


@pytest.mark.parametrize("multi", [False, True], ids=["one-model", "multi-model"])
@pytest.mark.parametrize("case, item", NOT_RECORDS, ids=[c for c, _ in NOT_RECORDS])
def test_something_that_is_not_a_record_is_skipped(tmp_path, capsys, case, item, multi):
    records = _good(tmp_path, multi) + [item]
    html = write_report(records, tmp_path / "api.html", workers=1).read_text(encoding="utf-8")
    _check_page(html, 3, "not a record")
    for suffix in (".jsonl", ".json"):
        scores = tmp_path / f"scores{suffix}"
        _write_file(scores, records)
        assert cli_main(["report", str(scores), "--output", str(tmp_path / "r.html")]) == 0
        assert "1 skipped" in capsys.readouterr().err
        _check_page((tmp_path / "r.html").read_text(encoding="utf-8"), 3, "not a record")


def test_lines_that_are_not_json_or_records_are_skipped(tmp_path, capsys):
    scores = tmp_path / "scores.jsonl"
    _write_file(scores, _good(tmp_path))
    with scores.open("a") as f:
        f.write("{not json <script>\n")
        f.write('{"no": "path or id"}\n')
    assert cli_main(["report", str(scores), "--output", str(tmp_path / "r.html")]) == 0
    assert "2 skipped" in capsys.readouterr().err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert _cards(html) == 3 and "<script>" not in html
    reasons = [r for _, r in _skipped_rows(html)]
    assert [r.split(" (")[0] for r in reasons] == ["not JSON", "not a record: no path or image_id"]


@pytest.mark.parametrize("multi", [False, True], ids=["one-model", "multi-model"])
def test_csv_with_bad_cells(tmp_path, capsys, multi):
    """A hand-edited CSV: a text score, NaN, a text std; the other rows still show."""
    photos = [make_photo(tmp_path / f"c{i}.jpg", seed=i) for i in range(3)]
    if multi:
        head = "image_id,path,error,technical.mean_score_prediction,technical.std_score_prediction," \
               "aesthetic.mean_score_prediction\n"
        rows = [f"c{i},{p},,{5 + i},1.0,{4 + i}\n" for i, p in enumerate(photos)]
        rows += ["x,x.jpg,,abc,1.0,5\n", "y,y.jpg,,5,1.0,nan\n", "z,z.jpg,,5,wide,5\n"]
    else:
        head = "image_id,path,mean_score_prediction,std_score_prediction,error\n"
        rows = [f"c{i},{p},{5 + i},1.0,\n" for i, p in enumerate(photos)]
        rows += ["x,x.jpg,abc,1.0,\n", "y,y.jpg,nan,1.0,\n", "z,z.jpg,5,wide,\n"]
    scores = tmp_path / "scores.csv"
    scores.write_text(head + "".join(rows))
    assert cli_main(["report", str(scores), "--output", str(tmp_path / "r.html")]) == 0
    assert "3 scored, 0 failed, 3 skipped" in capsys.readouterr().err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert _cards(html) == 3
    # rows whose cells are no numbers are named by line and path; a NaN score is read, then skipped
    assert sorted(name for name, _ in _skipped_rows(html)) == ["line 5 (x.jpg)", "line 7 (z.jpg)", "y.jpg"]


def test_odd_but_usable_records_render(tmp_path):
    """Paths no file can have, lone surrogates, a non-text explanation: the
    record is shown (with a placeholder), never a traceback."""
    records = _good(tmp_path) + [
        {"image_id": "long", "path": "x" * 5000, "mean_score_prediction": 5.0},
        {"image_id": "nul", "path": "a\x00b.jpg", "mean_score_prediction": 5.0},
        {"image_id": "sur\ud800", "path": "s\udcff.jpg", "mean_score_prediction": 5.0, "error": None},
        {"image_id": "user", "path": "~no-such-user-xyz/p.jpg", "mean_score_prediction": 5.0},
        {"image_id": "expl", "path": "e.jpg", "mean_score_prediction": "5.5", "explanation": [1]},
    ]
    records[-3].pop("error")
    html = write_report(records, tmp_path / "r.html", workers=1).read_text(encoding="utf-8")
    assert _cards(html) == 8 and not _skipped_rows(html) and 'id="count-skipped"' not in html


def test_failed_records_stay_failed_and_skipped_list_is_capped(tmp_path, capsys):
    records = _good(tmp_path) + [{"image_id": "f", "path": "f.jpg", "error": ["not", "text"]}]
    records += [{"image_id": f"b{i}", "path": f"b{i}.jpg", "mean_score_prediction": "x"}
                for i in range(SKIPPED_SHOWN + 5)]
    html = write_report(records, tmp_path / "r.html", workers=1).read_text(encoding="utf-8")
    assert _cards(html) == 3
    assert len(_skipped_rows(html)) == SKIPPED_SHOWN
    assert "and 5 more not listed" in html
    assert 'id="failed"' in html and 'id="count-failed">1<' in html


def test_all_records_bad_still_writes_a_page(tmp_path, capsys):
    scores = tmp_path / "scores.jsonl"
    _write_file(scores, [{"image_id": "a", "path": "a.jpg", "mean_score_prediction": "x"}])
    assert cli_main(["report", str(scores), "--output", str(tmp_path / "r.html")]) == 0
    assert "0 scored, 0 failed, 1 skipped" in capsys.readouterr().err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert _cards(html) == 0 and "No photo was scored" in html and len(_skipped_rows(html)) == 1


def test_clean_records_gives_floats():
    records, skipped = clean_records([{"path": "a.jpg", "mean_score_prediction": " 5.5 ",
                                       "std_score_prediction": 1, "distribution": ["0.5", 0.5]}])
    assert not skipped
    assert records[0]["mean_score_prediction"] == 5.5 and records[0]["distribution"] == [0.5, 0.5]
