"""The HTML report (aesthetics.report): content, order, escaping, robustness, streaming."""

import base64
import io
import json
import re

import pytest
from PIL import Image
from report_helpers import card_ranks, card_scores, failure, make_photo, record

from aesthetics.inference.outputs import write_records
from aesthetics.report import write_report
from aesthetics.report import page as page_module
from aesthetics.report.histogram import bin_edges, counts, histogram_svg
from aesthetics.report.scale import contrast, score_colour, text_colour
from aesthetics.report.summary import sections
from aesthetics.report.thumbnails import make_thumbnail, thumbnails_in_order


@pytest.fixture
def shoot(tmp_path):
    """Five photos with scores, one failure (records in no particular order)."""
    scores = [4.2, 7.9, 5.5, 2.1, 6.3]
    records = [record(make_photo(tmp_path / "shoot" / f"img{i}.jpg", seed=i), s, 1.0 + i / 10)
               for i, s in enumerate(scores)]
    records.insert(2, failure(tmp_path / "shoot" / "broken.jpg", "cannot identify image file"))
    return records


def _render(records, tmp_path, **kwargs) -> str:
    out = write_report(records, tmp_path / "out" / "report.html", **kwargs)
    assert out == tmp_path / "out" / "report.html"
    return out.read_text(encoding="utf-8")


def _decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_self_contained(shoot, tmp_path):
    html = _render(shoot, tmp_path)
    assert not re.search(r"https?:", html, re.I)  # not even an SVG xmlns
    assert "<script" not in html.lower() and "<link" not in html.lower()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == 5 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert "url(" not in html  # no CSS resource either
    for s in sources:  # real, decodable thumbnails of the photos' aspect (64x48)
        img = _decode(s)
        assert img.size == (64, 48)


def test_cards_sorted_best_first_with_rank_and_score(shoot, tmp_path):
    html = _render(shoot, tmp_path)
    assert card_scores(html) == [7.9, 6.3, 5.5, 4.2, 2.1]
    assert card_ranks(html) == [1, 2, 3, 4, 5]
    assert "7.90 ± 1.10" in html and "2.10 ± 1.30" in html  # mean ± std under the thumbnail
    first = re.search(r'<figure class="card"[^>]*title="([^"]*)"', html).group(1)
    assert first == str(tmp_path / "shoot" / "img1.jpg")  # full path as the tooltip
    assert '<span class="name">img1.jpg</span>' in html


def test_header_counts_and_summary(shoot, tmp_path):
    html = _render(shoot, tmp_path, model="clive-mobilenet", title="Wedding, day 2")
    assert '<div class="value" id="count-total">6</div>' in html
    assert '<div class="value" id="count-scored">5</div>' in html
    assert '<div class="value" id="count-failed">1</div>' in html
    assert "<title>Wedding, day 2</title>" in html and "clive-mobilenet" in html
    assert "5.20" in html and "5.50" in html  # mean (26 / 5) and median
    assert html.count('class="bar"') >= 2 and "<svg" in html  # the histogram


def test_hostile_file_names_are_escaped(tmp_path):
    names = ["<script>alert(1)<.jpg", '"><img src=x onerror=alert(2)>.jpg', "javascript:alert(3).jpg"]
    records = [record(make_photo(tmp_path / n, seed=i), 5 + i) for i, n in enumerate(names)]
    records.append(failure(tmp_path / "<b>bold</b>.jpg", "reason with <i>markup</i> & more"))
    html = _render(records, tmp_path)
    assert "<script" not in html and '"><img' not in html
    assert "&lt;script&gt;alert(1)&lt;.jpg" in html
    assert "<img src=x" not in html and "<i>markup</i>" not in html
    assert "reason with &lt;i&gt;markup&lt;/i&gt; &amp; more" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and not any(h.lower().startswith("javascript:") for h in hrefs)
    assert "javascript%3Aalert%283%29.jpg" in html  # percent-encoded: a file, not a scheme
    assert len(re.findall(r"<img ", html)) == 3  # no injected element


def test_failed_files_listed_with_reasons(shoot, tmp_path):
    shoot.append(failure(tmp_path / "huge.png", "too large: 90000x90000 pixels"))
    shoot.append({"image_id": "odd", "path": str(tmp_path / "odd.jpg")})  # neither score nor error
    html = _render(shoot, tmp_path)
    table = html[html.index('<table class="failed">'):]
    rows = re.findall(r'<td class="file" title="([^"]*)">([^<]*)</td><td class="reason">([^<]*)</td>', table)
    assert [(name, reason) for _, name, reason in rows] == [
        ("broken.jpg", "cannot identify image file"),
        ("huge.png", "too large: 90000x90000 pixels"),
        ("odd.jpg", "no score in the record"),
    ]
    assert rows[0][0] == str(tmp_path / "shoot" / "broken.jpg")
    assert '<div class="value" id="count-failed">3</div>' in html


def test_missing_or_broken_photo_gets_a_placeholder(tmp_path):
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    records = [record(make_photo(tmp_path / "ok.jpg"), 6.0),
               record(tmp_path / "moved.jpg", 7.0),
               record(tmp_path / "corrupt.jpg", 5.0)]
    html = _render(records, tmp_path)
    cards = re.findall(r'<figure class="card( missing)?"', html)
    assert cards == [" missing", "", " missing"]  # moved (7.0), ok (6.0), corrupt (5.0)
    assert '<span class="note">photo not found</span>' in html
    assert "not an image Pillow can read" in html
    assert html.count("data:image/svg+xml;base64,") == 2
    # no link to a photo that is not there; the one that is gets a relative link
    assert re.findall(r'<a href="([^"]*)"><img', html.replace("\n", "").replace("  ", "")) == ["../ok.jpg"]


def test_thumbnail_is_exif_rotated_and_bounded():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        rotated = make_photo(Path(tmp) / "r.jpg", size=(80, 40), exif_orientation=6)
        big = make_photo(Path(tmp) / "big.jpg", size=(1200, 600))
        thumb = make_thumbnail(rotated, 256)
        assert (thumb.width, thumb.height) == (40, 80)  # a viewer shows it upright
        assert _decode(thumb.uri).size == (40, 80)
        small = make_thumbnail(big, 128)
        assert (small.width, small.height) == (128, 64) and not small.is_placeholder
        assert make_thumbnail(Path(tmp) / "nope.jpg", 64).note == "photo not found"
        assert make_thumbnail(Path(tmp), 64).is_placeholder  # a folder


def test_explanation_links_are_relative(tmp_path):
    photo = make_photo(tmp_path / "photos" / "a.jpg")
    overlay = make_photo(tmp_path / "expl" / "a.png")
    records = [record(photo, 6.0, explanation=str(overlay)),
               record(make_photo(tmp_path / "photos" / "b.jpg"), 5.0,
                      explanation=str(tmp_path / "expl" / "gone.png"))]
    html = _render(records, tmp_path)
    assert re.findall(r'<a class="explanation" href="([^"]*)"', html) == ["../expl/a.png"]
    assert "explanation file missing" in html
    assert "../photos/a.jpg" in html
    plain = _render(records, tmp_path, explanations=False)
    assert 'class="explanation"' not in plain and "explanation file missing" not in plain


def _reference(score, ids, method="gcn", **extra):
    return {"score": score, "method": method, **extra,
            "neighbours": [{"id": i, "score": 6.0 + n / 10, "similarity": 0.8, "by": "content"}
                           for n, i in enumerate(ids)]}


def _reference_lines(html: str) -> list[str]:
    return re.findall(r'<span class="reference">([^<]*)</span>', html)


def test_reference_line_on_cards(tmp_path):
    ids = ["ref_17", "<b>x</b>&y", "ref;4"] + [f"r{i}" for i in range(7)]  # 10: two are counted, not named
    records = [record(tmp_path / "a.jpg", 7.0, reference=_reference(5.9, ids, std=1.2)),
               record(tmp_path / "b.jpg", 6.0, reference=_reference(4.25, ["only"], method="knn")),
               record(tmp_path / "c.jpg", 5.0)]  # no reference: no line
    html = _render(records, tmp_path)
    assert _reference_lines(html) == [
        "references (gcn): 5.90 ± 1.20 · compared with ref_17 (6.0), &lt;b&gt;x&lt;/b&gt;&amp;y (6.1), "
        "ref;4 (6.2), r0 (6.3), r1 (6.4), r2 (6.5), r3 (6.6), r4 (6.7), … and 2 more",
        "references (knn): 4.25 · compared with only (6.0)",
    ]
    assert "<b>x" not in html
    assert '<div class="value" id="count-referenced">2</div>' in html
    assert "count-referenced" not in _render(records[2:], tmp_path)  # no reference, no count
    several = [{"image_id": r["image_id"], "path": r["path"], "reference": r.get("reference"),
                "technical": {"mean_score_prediction": r["mean_score_prediction"]},
                "aesthetic": {"mean_score_prediction": 10 - r["mean_score_prediction"]}} for r in records]
    html = _render(several, tmp_path)  # "reference" at the top level of a several-model record
    assert len(_reference_lines(html)) == 2 and "references (knn): 4.25" in html
    assert re.findall(r'<td class="model">([^<]*)</td>', html) == ["technical", "aesthetic"]
    assert "count-skipped" not in html


@pytest.mark.parametrize("bad", [
    "gcn 5.9", ["x"], {"score": "high"}, {"score": float("nan")}, {"score": True}, {"method": "gcn"},
    {"score": 5.0, "std": -1}, {"score": 5.0, "method": 3}, {"score": 5.0, "neighbours": "a;b"},
    {"score": 5.0, "neighbours": ["a"]}, {"score": 5.0, "neighbours": [{"id": ["a"]}]},
    {"score": 5.0, "neighbours": [{"score": 6.0}]}, {"score": 5.0, "neighbours": [{"id": "a", "score": "x"}]},
    {"score": 5.0, "neighbours": [{"id": "a", "by": 2}]},
    {"mean_score_prediction": "x"},  # not taken for a model group
])
def test_a_malformed_reference_is_dropped(tmp_path, bad):
    records = [record(tmp_path / "a.jpg", 7.0, reference=bad),
               record(tmp_path / "b.jpg", 6.0, reference=_reference(5.0, ["ok"]))]
    html = _render(records, tmp_path)
    assert card_scores(html) == [7.0, 6.0]  # both cards, no record skipped
    assert "count-skipped" not in html
    assert _reference_lines(html) == ["references (gcn): 5.00 · compared with ok (6.0)"]
    assert '<div class="value" id="count-referenced">1</div>' in html


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_reads_predict_outputs(shoot, tmp_path, suffix):
    scores = tmp_path / f"scores{suffix}"
    write_records(shoot, scores)
    out = write_report(scores, tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    assert card_scores(html) == [7.9, 6.3, 5.5, 4.2, 2.1]
    assert "cannot identify image file" in html
    assert f"<title>Photo scores: scores{suffix}</title>" in html
    assert f"scores from {scores}" in html


def test_relative_photo_paths_are_found_beside_the_scores_file(tmp_path, monkeypatch):
    make_photo(tmp_path / "shoot" / "a.jpg")
    scores = tmp_path / "scores.jsonl"
    scores.write_text(json.dumps(record("shoot/a.jpg", 6.0)) + "\n")
    monkeypatch.chdir(tmp_path / "shoot")  # "shoot/a.jpg" does not exist from here
    html = write_report(scores, tmp_path / "r.html").read_text()
    assert "data:image/jpeg;base64," in html and "photo not found" not in html


def test_limit_shows_best_and_worst(tmp_path):
    records = [record(make_photo(tmp_path / f"p{s}.jpg", seed=s), s) for s in range(1, 11)]
    html = _render(records, tmp_path, limit=2)
    assert card_ranks(html) == [1, 2, 9, 10] and card_scores(html) == [10, 9, 2, 1]
    assert "Best 2" in html and "Worst 2" in html and "6 photos between these not shown" in html
    bars = re.findall(r"<title>[^<]*: (\d+) photos?</title>", html)
    assert sum(int(b) for b in bars) == 10  # the histogram covers every photo
    assert card_ranks(_render(records, tmp_path, limit=5)) == list(range(1, 11))  # 2 * 5 >= 10


def test_no_scored_photo(tmp_path):
    html = _render([failure(tmp_path / "x.jpg", "cannot decode")], tmp_path)
    assert "No photo was scored." in html and "cannot decode" in html and "<figure" not in html


def test_page_is_streamed_and_thumbnails_made_one_by_one(tmp_path, monkeypatch):
    """Each thumbnail reaches the file before the next one is made."""
    output = tmp_path / "report.html"
    tmp = tmp_path / ".report.html.tmp"
    sizes = []
    real = page_module.thumbnails_in_order

    def fake(path, size):
        sizes.append(tmp.stat().st_size if tmp.exists() else 0)
        return make_thumbnail(path, size)

    monkeypatch.setattr(page_module, "thumbnails_in_order",
                        lambda paths, size, workers=None: real(paths, size, workers=1, make=fake))
    records = [record(make_photo(tmp_path / f"{i}.jpg", size=(200, 150), seed=i), i / 3) for i in range(12)]
    write_report(records, output)
    assert len(sizes) == 12
    growth = [b - a for a, b in zip(sizes, sizes[1:])]
    assert min(growth[1:]) > 2000  # a card (base64 thumbnail) written between two calls
    assert not tmp.exists() and output.stat().st_size > sizes[-1]


def test_thumbnails_in_order_bounded_lookahead():
    made = []

    def make(path, size):
        made.append(path)
        return path

    stream = thumbnails_in_order(range(1000), 64, workers=3, make=make)
    got = [next(stream) for _ in range(10)]
    assert got == list(range(10))  # in order
    assert len(made) <= 10 + 2 * 3 + 1  # never far ahead of the consumer
    stream.close()
    assert list(thumbnails_in_order(range(5), 64, workers=1, make=make)) == list(range(5))


def test_write_is_atomic(tmp_path, monkeypatch):
    output = tmp_path / "report.html"
    output.write_text("previous report")
    real = page_module.thumbnails_in_order
    calls = []

    def failing(path, size):
        calls.append(path)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return make_thumbnail(path, size)

    monkeypatch.setattr(page_module, "thumbnails_in_order",
                        lambda paths, size, workers=None: real(paths, size, workers=1, make=failing))
    records = [record(make_photo(tmp_path / f"{i}.jpg", seed=i), i) for i in range(5)]
    with pytest.raises(RuntimeError, match="boom"):
        write_report(records, output)
    assert output.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_errors(tmp_path):
    from aesthetics.errors import OutputError

    (tmp_path / "folder.html").mkdir()
    with pytest.raises(OutputError, match="folder"):
        write_report([], tmp_path / "folder.html")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_report([], tmp_path / "file" / "report.html")
    with pytest.raises(ValueError, match="thumb_size"):
        write_report([], tmp_path / "r.html", thumb_size=4)


def test_histogram_bins():
    edges = bin_edges([5.03, 5.9, 7.2])
    assert edges[0] == 5.0 and edges[-1] >= 7.2 and len(edges) <= 37
    width = round(edges[1] - edges[0], 6)
    assert width in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0)
    assert counts([5.03, 5.9, 7.2, edges[-1]], edges)[-1] >= 1  # the top edge falls in the last bin
    assert sum(counts([1.0, 2.5, 9.99, 10.0], bin_edges([1.0, 10.0]))) == 4
    assert len(bin_edges([6.0, 6.0])) == 2  # one bin for identical scores
    svg = histogram_svg([1.2, 5.5, 5.6, 9.1], mean=5.35, median=5.55)
    assert svg.count('class="bar"') == len(bin_edges([1.2, 9.1])) - 1
    assert "mean 5.35" in svg and "median 5.55" in svg
    assert "No photo" in histogram_svg([])


def test_colour_scale():
    assert score_colour(1) == "#d7191c" and score_colour(10) == "#2166ac"
    assert score_colour(-5) == score_colour(1) and score_colour(50) == score_colour(10)
    assert score_colour(3) != score_colour(8)
    assert text_colour("#ffffbf") == "#000000" and text_colour("#1a1a40") == "#ffffff"
    for s in [1 + i / 10 for i in range(91)]:  # every badge keeps WCAG AA contrast (>= 4.5)
        assert contrast(score_colour(s), text_colour(score_colour(s))) >= 4.5, s


def test_sections_rejects_bad_limit():
    with pytest.raises(ValueError):
        sections([{"mean_score_prediction": 1.0, "path": "a"}], limit=0)
    assert sections([], limit=3) == ([], 0)
