"""Reference-based scoring through the real command line, on real CLIVE photos:
index build / add / info, predict --references (k-NN and a trained GCN),
train with "model": "reference_gcn", and the Python API."""

import csv
import json
import shutil

import numpy as np
import pytest

from test_cli_e2e import ROOT, run_cli

CONFIG = ROOT / "configs" / "clive_reference_gcn.json"


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_dir):
    """24 real CLIVE photos and their labels split into two label files (16 + 8),
    plus a broken file listed in the first."""
    d = tmp_path_factory.mktemp("refs")
    src = shared_dir / "data" / "clive"
    lines = (src / "labels.csv").read_text().splitlines()
    (d / "images").mkdir()
    keep = lines[1:25]
    for line in keep:
        name = line.split(",")[0]
        shutil.copy(src / "images" / name, d / "images" / name)
    (d / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (d / "first.csv").write_text("\n".join([lines[0]] + keep[:16] + ["broken.jpg,50,10"]) + "\n")
    (d / "second.csv").write_text("\n".join([lines[0]] + keep[16:]) + "\n")
    (d / "all.csv").write_text("\n".join([lines[0]] + keep) + "\n")
    return d, [line.split(",")[0] for line in keep]


@pytest.fixture(scope="module")
def index(photos):
    d, names = photos
    p = run_cli("index", "build", "--images", "images", "--labels", "first.csv", "--score-range", "0", "100",
                "--output", "idx", cwd=d)
    assert p.returncode == 0, p.stderr
    assert "broken.jpg" in p.stderr and "indexed 16 reference(s)" in p.stderr  # reported, not fatal
    return d / "idx"


def test_index_build_info_add(photos, index):
    d, names = photos
    p = run_cli("index", "info", "idx", "--json", cwd=d)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["references"] == 16 and info["gcn"] is False and info["search"] == "flat"
    assert info["embedding"]["model"] == "clive-mobilenet"
    assert info["embedding"]["content_dim"] == 1024 and info["embedding"]["style_dim"] == 512

    shutil.copytree(index, d / "idx2")
    p = run_cli("index", "add", "idx2", "--images", "images", "--labels", "second.csv", "--score-range", "0", "100",
                cwd=d)
    assert p.returncode == 0, p.stderr
    assert "added 8 reference(s)" in p.stderr and "24 in all" in p.stderr
    p = run_cli("index", "add", "idx2", "--images", "images", "--labels", "second.csv", "--score-range", "0", "100",
                cwd=d)
    assert p.returncode == 2 and "already in the index" in p.stderr
    p = run_cli("index", "build", "--images", "images", "--labels", "second.csv", "--output", "idx", cwd=d)
    assert p.returncode == 2 and "already holds an index" in p.stderr


def test_predict_with_references_knn(photos, index):
    d, names = photos
    inside, outside = names[0], names[20]  # one photo in the index, one not
    p = run_cli("predict", f"images/{inside}", f"images/{outside}", "--model", "technical",
                "--references", "idx", "--output", "knn.jsonl", cwd=d)
    assert p.returncode == 0, p.stderr
    assert "k-NN" in p.stderr or "knn" in p.stderr
    recs = {r["image_id"]: r for r in map(json.loads, (d / "knn.jsonl").read_text().splitlines())}
    for name in (inside, outside):
        ref = recs[name.rsplit(".", 1)[0]]["reference"]
        assert ref["method"] == "knn" and 1 <= ref["score"] <= 10
        assert len(ref["neighbours"]) == 16  # 8 by content, 8 by style
        assert [n["by"] for n in ref["neighbours"]] == ["content"] * 8 + ["style"] * 8
        assert all(n["id"] != name for n in ref["neighbours"])  # never itself
    assert recs[inside.rsplit(".", 1)[0]]["reference"]["left_out"] == inside
    assert "left_out" not in recs[outside.rsplit(".", 1)[0]]["reference"]

    p = run_cli("predict", f"images/{outside}", "--model", "technical", "--references", "idx",
                "--output", "knn.csv", cwd=d)
    assert p.returncode == 0, p.stderr
    row = next(csv.DictReader((d / "knn.csv").open()))
    assert float(row["reference_score"]) == pytest.approx(recs[outside.rsplit(".", 1)[0]]["reference"]["score"])
    assert row["reference_method"] == "knn" and len(row["reference_ids"].split(";")) == 16


def test_predict_references_errors(photos, index):
    d, names = photos
    p = run_cli("predict", "images", "--references", "nowhere", cwd=d)
    assert p.returncode == 2 and "index.json" in p.stderr
    p = run_cli("predict", f"images/{names[0]}", "--references", "idx", "--reference-method", "gcn", cwd=d)
    assert p.returncode == 2 and "no trained reference model" in p.stderr
    p = run_cli("predict", f"images/{names[0]}", "--reference-method", "knn", cwd=d)
    assert p.returncode == 2 and "--references" in p.stderr


def test_train_reference_gcn_then_predict(photos):
    d, names = photos
    p = run_cli("train", "--config", str(CONFIG), "--images", "images", "--labels", "all.csv",
                "--set", "model.options.k=3", "--set", "train.epochs_head=3", "--set", "model.options.hidden=16",
                "--output", "run", "--verbose", "0", cwd=d)
    assert p.returncode == 0, p.stderr
    metrics = json.loads((d / "run" / "metrics.json").read_text())
    assert metrics["n"] == 5 and metrics["n_train"] == 19 and "srcc" in metrics["knn"]
    for name in ("model.keras", "history.csv", "embeddings.npz", "references/index.json", "references/gcn.keras"):
        assert (d / "run" / name).exists(), name
    assert json.loads((d / "run" / "references" / "index.json").read_text())["references"] == 19

    p = run_cli("predict", f"images/{names[1]}", "--model", "technical", "--references", "run/references",
                "--output", "gcn.jsonl", cwd=d)
    assert p.returncode == 0, p.stderr
    ref = json.loads((d / "gcn.jsonl").read_text().splitlines()[0])["reference"]
    assert ref["method"] == "gcn" and len(ref["neighbours"]) == 6 and 1 <= ref["score"] <= 10

    # a second run with the same config is finished; a different k is refused, naming it
    p = run_cli("train", "--config", str(CONFIG), "--images", "images", "--labels", "all.csv",
                "--set", "model.options.k=3", "--set", "train.epochs_head=3", "--set", "model.options.hidden=16",
                "--output", "run", "--verbose", "0", cwd=d)
    assert p.returncode == 0, p.stderr
    p = run_cli("train", "--config", str(CONFIG), "--images", "images", "--labels", "all.csv",
                "--set", "model.options.k=4", "--output", "run", cwd=d)
    assert p.returncode == 2 and "model.options" in p.stderr


def test_train_reference_gcn_bad_settings(photos):
    d, _ = photos
    for extra, message in ((["--init-from", "technical"], "--init-from"),
                           (["--set", "model.options.retrieve=[\"colour\"]"], "model.options.retrieve"),
                           (["--set", "model.options.embedder=missing.keras"], "model.options.embedder"),
                           (["--set", "model.options.k=0"], "model.options.k")):
        p = run_cli("train", "--config", str(CONFIG), "--images", "images", "--labels", "all.csv",
                    "--output", "bad", *extra, cwd=d)
        assert p.returncode == 2 and message in p.stderr, (extra, p.stderr)
        assert not (d / "bad" / "embeddings.npz").exists()


def test_api_scores_against_references(photos, index):
    import aesthetics
    from PIL import Image

    d, names = photos
    scorer = aesthetics.load("technical")
    path = d / "images" / names[20]
    pixels = np.asarray(Image.open(path).convert("RGB"))
    recs = scorer.score([str(path), pixels, str(d / "images" / "broken.jpg")], references=index)
    assert recs[0]["reference"]["method"] == "knn" and len(recs[0]["reference"]["neighbours"]) == 16
    # the same photo from its pixels: the same neighbours (EXIF-free JPEG: the same decode)
    assert [n["id"] for n in recs[1]["reference"]["neighbours"]] == [n["id"] for n in recs[0]["reference"]["neighbours"]]
    assert recs[1]["reference"]["score"] == pytest.approx(recs[0]["reference"]["score"], abs=1e-3)
    assert "error" in recs[2] and "reference" not in recs[2]
