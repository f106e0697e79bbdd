"""The several-model report: every model's score per card, a histogram per model,
the scatter plot, sorting, escaping, `aesthetics report` and `predict --report`."""

import re
import shutil
from pathlib import Path

import pytest
from report_helpers import card_scores, failure, make_photo, record

from aesthetics.cli import main as cli_main
from aesthetics.inference.outputs import read_records, write_records
from aesthetics.report import write_report
from aesthetics.report.models import kind, model_names, scatter_axes
from aesthetics.report.scatter import quadrant_labels

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "aesthetics" / "sample_data" / "images"
PHOTOS = ["astronaut_q0.jpg", "camera_q1.jpg", "chelsea_q0.jpg", "coffee_q2.jpg", "rocket_q0.jpg"]


def multi(path, technical, aesthetic, **extra) -> dict:
    """A several-model record (the groups `predict --model technical,aesthetic` writes)."""
    def group(mean, std):
        return {"mean_score_prediction": float(mean), "std_score_prediction": float(std),
                "distribution": [0.1] * 10}
    return {"image_id": Path(path).stem, "path": str(path), "technical": group(technical, 1.5),
            "aesthetic": group(aesthetic, 1.2), **extra}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Real records: both shipped models on a few sample photos, plus a broken file."""
    import aesthetics

    folder = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    records = aesthetics.load(["technical", "aesthetic"]).score(str(folder))
    assert len(records) == len(PHOTOS) + 1
    return records


def _render(records, tmp_path, **kwargs) -> str:
    return write_report(records, tmp_path / "report.html", **kwargs).read_text(encoding="utf-8")


def _cards(html: str) -> list[str]:
    return re.findall(r'<figure class="card[^"]*".*?</figure>', html, re.S)


def test_every_model_named_and_scored_on_each_card(scored, tmp_path):
    html = _render(scored, tmp_path)
    good = [r for r in scored if "error" not in r]
    cards = _cards(html)
    assert len(cards) == len(good) == len(PHOTOS)
    for card in cards:
        path = re.search(r'title="([^"]*)"', card).group(1)
        rec = next(r for r in good if r["path"] == path)
        models = re.findall(r'<span class="model"[^>]*>([^<]*)</span><span class="badge model-(\d)" '
                            r'style="background: (#[0-9a-f]{6}); color: #[0-9a-f]{6}"[^>]*>([^<]*)</span>', card)
        assert [m[0] for m in models] == ["technical", "aesthetic"]
        for name, _, _, text in models:
            group = rec[name]
            assert text == f"{group['mean_score_prediction']:.2f} ± {group['std_score_prediction']:.2f}"
        values = [float(v) for v in re.search(r'data-scores="([^"]*)"', card).group(1).split()]
        assert values == pytest.approx([rec["technical"]["mean_score_prediction"],
                                        rec["aesthetic"]["mean_score_prediction"]], abs=1e-4)
    # best technical first by default; ranks as ids the scatter's dots link to
    technical = sorted((r["technical"]["mean_score_prediction"] for r in good), reverse=True)
    assert card_scores(html) == pytest.approx(technical, abs=1e-4)
    assert re.findall(r'id="(photo-\d+)"', html) == [f"photo-{i}" for i in range(1, len(good) + 1)]
    assert "broken.jpg" in html and '<div class="value" id="count-failed">1</div>' in html


def test_histogram_per_model_and_model_table(scored, tmp_path):
    html = _render(scored, tmp_path)
    histograms = re.findall(r'<svg class="histogram"[^>]*aria-label="([^"]*)"', html)
    assert histograms == [f"Histogram of {len(PHOTOS)} technical scores",
                          f"Histogram of {len(PHOTOS)} aesthetic scores"]
    rows = re.findall(r'<tr><td class="model">([^<]*)</td><td>([^<]*)</td>', html)
    good = [r for r in scored if "error" not in r]
    for name, mean in rows:
        expected = sum(r[name]["mean_score_prediction"] for r in good) / len(good)
        assert float(mean) == pytest.approx(expected, abs=0.006)
    assert [r[0] for r in rows] == ["technical", "aesthetic"]


def test_scatter_has_one_point_per_scored_photo(scored, tmp_path):
    html = _render(scored, tmp_path)
    svg = re.search(r'<svg class="scatter".*?</svg>', html, re.S).group(0)
    points = re.findall(r'<a href="#(photo-\d+)"><circle class="point (\w\w)"[^>]*><title>([^<]*)</title>', svg)
    assert len(points) == len(PHOTOS)
    ids = set(re.findall(r'<figure [^>]*id="(photo-\d+)"', html))
    assert {p[0] for p in points} == ids  # every dot links to its card
    for anchor, quadrant, title in points:
        assert re.fullmatch(r"[\w.]+\.jpg: technical \d\.\d\d, aesthetic \d\.\d\d", title)
    assert "technically fine but unappealing" in svg and "beautiful but flawed" in svg
    assert "aesthetic score" in svg and "technical score" in svg  # axes: x technical, y aesthetic
    assert '<script' in html and "https:" not in html and "http:" not in html


def test_quadrants_count_the_photos_where_the_models_disagree(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    # x technical, y aesthetic; medians 5 and 5
    records = [multi(photo.with_name(f"{n}.jpg"), t, a) for n, t, a in
               [("sharp_dull", 8, 2), ("soft_lovely", 2, 8), ("both", 9, 9), ("neither", 1, 1), ("mid", 5, 5)]]
    html = _render(records, tmp_path)
    svg = re.search(r'<svg class="scatter".*?</svg>', html, re.S).group(0)
    dots = re.findall(r'<circle class="point (\w\w)"[^>]*><title>([^<]*)<', svg)
    classes = {title.split(":")[0]: quadrant for quadrant, title in dots}
    assert classes == {"sharp_dull.jpg": "hl", "soft_lovely.jpg": "lh", "both.jpg": "hh",
                       "neither.jpg": "ll", "mid.jpg": "ll"}
    quadrants = re.findall(r'<li><span class="label"[^>]*>([^<]*)</span>: (\d+) photo', html)
    assert quadrants == [("technically fine but unappealing", "1"), ("beautiful but flawed", "1")]
    assert re.search(r'furthest first: <a href="#photo-\d">sharp_dull\.jpg</a>', html)


def test_axes_and_labels_follow_the_models_names():
    assert scatter_axes(["aesthetic", "technical"]) == ("technical", "aesthetic")
    assert scatter_axes(["nima-ava-mobilenet", "clive-mobilenet"]) == ("clive-mobilenet", "nima-ava-mobilenet")
    assert scatter_axes(["a", "b", "c"]) == ("a", "b") and scatter_axes(["a"]) is None
    assert kind("technical") == "technical" and kind("aesthetic") == "aesthetic" and kind("mine") is None
    assert quadrant_labels("a", "b")["hl"] == "high a, low b"
    assert model_names([{"path": "x", "mean_score_prediction": 5.0}]) == []


def test_sort_by_and_client_side_sort(tmp_path):
    photos = [make_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(4)]
    records = [multi(p, t, a) for p, t, a in zip(photos, [6, 8, 4, 5], [7, 3, 6, 9])]
    html = _render(records, tmp_path)
    assert card_scores(html) == [8, 6, 5, 4]
    buttons = re.findall(r'<button type="button" data-model="(\d)" aria-pressed="(\w+)">([^<]*)</button>', html)
    assert buttons == [("0", "true", "technical"), ("1", "false", "aesthetic")]
    html = _render(records, tmp_path, sort_by="aesthetic")
    assert card_scores(html) == [9, 7, 6, 3]  # the card's data-score is the ordering model's
    assert re.findall(r'<span class="model"[^>]*>(\w+)</span>', html)[:2] == ["aesthetic", "technical"]
    with pytest.raises(ValueError, match="sort_by"):
        _render(records, tmp_path, sort_by="nope")


def test_limit_keeps_every_dot_but_links_only_shown_cards(tmp_path):
    records = [multi(make_photo(tmp_path / f"p{i}.jpg", seed=i), i, 10 - i) for i in range(1, 10)]
    html = _render(records, tmp_path, limit=2)
    assert len(_cards(html)) == 4
    svg = re.search(r'<svg class="scatter".*?</svg>', html, re.S).group(0)
    assert svg.count('<circle class="point') == 9 and svg.count('<a href="#photo-') == 4
    assert "5 photos between these not shown" in html


def test_hostile_names_are_escaped(tmp_path):
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>.jpg'
    photo = make_photo(tmp_path / "ok.jpg")
    bad_group = "<b>m</b>"
    records = [multi(photo, 6, 5),
               {**multi(tmp_path / hostile, 4, 7), bad_group: {"mean_score_prediction": 5.0}},
               failure(tmp_path / "<i>x</i>.jpg", "<script>no</script>")]
    html = _render(records, tmp_path)
    assert html.count("<script") == 1  # the page's own sort script, nothing injected
    assert "<img src=x" not in html and "<b>m</b>" not in html and "<i>x</i>" not in html
    assert "&lt;b&gt;m&lt;/b&gt;" in html  # the odd group is shown, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    svg = re.search(r'<svg class="scatter".*?</svg>', html, re.S).group(0)
    assert "<img" not in svg and "&lt;img src=x onerror=alert(2)&gt;.jpg: technical 4.00" in svg
    assert len(re.findall(r"<img ", html)) == 2


def test_mixed_missing_group_sorts_last(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    only_one = {"image_id": "b", "path": str(tmp_path / "b.jpg"),
                "technical": {"mean_score_prediction": 9.0}}
    html = _render([multi(photo, 5, 5), only_one], tmp_path)
    cards = _cards(html)
    assert len(cards) == 2 and 'data-scores="9.0000 "' in cards[0]
    assert ">–</span>" in cards[0]  # no aesthetic score: a dash, not a crash
    assert re.search(r'<svg class="scatter".*?</svg>', html, re.S).group(0).count("<circle") == 1


def test_report_command_on_a_several_model_csv(scored, tmp_path, capsys):
    csv = tmp_path / "scores.csv"
    write_records(scored, csv)
    assert "technical.mean_score_prediction" in csv.read_text().splitlines()[0]
    assert model_names(read_records(csv)) == ["technical", "aesthetic"]
    assert cli_main(["report", str(csv), "--model", "technical, aesthetic"]) == 0
    assert f"({len(PHOTOS)} scored, 1 failed)" in capsys.readouterr().err
    html = csv.with_suffix(".html").read_text(encoding="utf-8")
    assert len(_cards(html)) == len(PHOTOS) and html.count('<svg class="histogram"') == 2
    assert html.count('<circle class="point') == len(PHOTOS)
    assert cli_main(["report", str(csv), "--sort-by", "aesthetic", "--output", str(tmp_path / "a.html")]) == 0
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    good = [r for r in scored if "error" not in r]
    assert card_scores(html) == pytest.approx(
        sorted((r["aesthetic"]["mean_score_prediction"] for r in good), reverse=True), abs=1e-4)
    assert cli_main(["report", str(csv), "--sort-by", "nope"]) != 0
    assert "--sort-by 'nope'" in capsys.readouterr().err


def test_predict_report_shows_every_model(tmp_path, capsys):
    files = [str(SAMPLES / name) for name in PHOTOS[:3]]
    out, page = tmp_path / "s.jsonl", tmp_path / "r.html"
    assert cli_main(["predict", *files, "--output", str(out), "--report", str(page),
                     "--sort-by", "aesthetic"]) == 0
    html = page.read_text(encoding="utf-8")
    records = read_records(out)
    best = max(records, key=lambda r: r["aesthetic"]["mean_score_prediction"])
    assert len(_cards(html)) == 3 and html.count('<circle class="point') == 3
    assert f'title="{best["path"]}"' in _cards(html)[0]  # ordered by --sort-by's model
    assert html.count('<svg class="histogram"') == 2 and "technical" in html


def test_one_model_page_has_no_several_model_parts(tmp_path):
    records = [record(make_photo(tmp_path / f"p{i}.jpg", seed=i), 3 + i) for i in range(3)]
    html = _render(records, tmp_path)
    for absent in ("<script", "data-scores", 'class="scatter"', "sorter", 'id="photo-', "models-table"):
        assert absent not in html
    assert html.count('<svg class="histogram"') == 1
