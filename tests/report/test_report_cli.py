"""`aesthetics report SCORES --output report.html`: end to end, errors, no TensorFlow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import card_scores, failure, make_photo, record

from aesthetics.cli import main as cli_main
from aesthetics.inference.outputs import write_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scores(tmp_path):
    records = [record(make_photo(tmp_path / f"p{i}.jpg", seed=i), s) for i, s in enumerate([3.5, 8.0, 6.1])]
    records.append(failure(tmp_path / "bad.jpg", "truncated file"))
    path = tmp_path / "scores.jsonl"
    write_records(records, path)
    return path


def test_report_cli_end_to_end_without_tensorflow(scores, tmp_path):
    """A fresh interpreter: the command writes the page and never imports TensorFlow."""
    out = tmp_path / "site" / "report.html"
    code = (
        "import sys; from aesthetics.cli import main; "
        f"rc = main(['report', {str(scores)!r}, '--output', {str(out)!r}, '--title', 'Shoot', "
        "'--model', 'clive-mobilenet']); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'; "
        "sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out} (3 scored, 1 failed)" in proc.stderr
    html = out.read_text(encoding="utf-8")
    assert card_scores(html) == [8.0, 6.1, 3.5]
    assert "<title>Shoot</title>" in html and "clive-mobilenet" in html and "truncated file" in html


def test_report_cli_default_output_and_options(scores, capsys):
    assert cli_main(["report", str(scores), "--limit", "1", "--thumb-size", "64"]) == 0
    html = scores.with_suffix(".html").read_text(encoding="utf-8")
    assert card_scores(html) == [8.0, 3.5]  # best 1 and worst 1
    assert "--thumb: 64px" in html


@pytest.mark.parametrize(
    "content, name, message",
    [
        (None, "missing.jsonl", "SCORES: file not found"),
        ("not json at all\n", "scores.jsonl", "line 1: not a predict record"),
        ("image_id,mean\nx,1\n", "scores.csv", "has no 'path' column"),
        ('{"image_id": "a", "path": "a.jpg"}\n', "scores.txt", "unknown format '.txt'"),
        ("", "scores.json", "holds no records"),
    ],
)
def test_bad_scores_file_is_a_one_line_error(tmp_path, capsys, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    rc = cli_main(["report", str(path), "--output", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err
    assert len(err.splitlines()) == 1 and err.startswith("aesthetics: error:")
    assert not (tmp_path / "r.html").exists()


def test_bad_output_is_refused_before_reading(scores, tmp_path, capsys):
    before = scores.read_text()
    assert cli_main(["report", str(scores), "--output", str(scores)]) == 2
    assert "a report is an .html file" in capsys.readouterr().err
    assert scores.read_text() == before  # the scores are never overwritten
    (tmp_path / "dir.html").mkdir()
    assert cli_main(["report", str(scores), "--output", str(tmp_path / "dir.html")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli_main(["report", str(scores), "--output", str(scores / "r.html")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_report_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    assert "report" in capsys.readouterr().out


def test_report_of_a_json_list_from_another_tool(tmp_path, capsys):
    """An idealo-style JSON list (image_id + mean only, no path) still reports."""
    photo = make_photo(tmp_path / "42039.jpg")
    path = tmp_path / "idealo.json"
    path.write_text(json.dumps([{"image_id": "42039", "mean_score_prediction": 5.2},
                                {"image_id": "42040", "path": str(photo), "mean_score_prediction": 6.0}]))
    assert cli_main(["report", str(path), "--output", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert card_scores(html) == [6.0, 5.2] and "no file name in the record" in html
