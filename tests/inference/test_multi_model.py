"""Several models in one pass (`predict --model technical,aesthetic`,
`aesthetics.load([...])`): each model gives what it gives alone, every
output format holds and reads back the groups, resume and ranking work."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["technical", "aesthetic"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_dir):
    """8 real photos: 5 AVA (idealo's test photos) and 3 CLIVE."""
    folder = tmp_path_factory.mktemp("photos")
    for p in sorted((shared_dir / "data" / "ava_sample" / "images").glob("*.jpg")):
        shutil.copy(p, folder / p.name)
    for p in sorted((shared_dir / "data" / "clive" / "images").glob("*"))[:3]:
        shutil.copy(p, folder / p.name)
    return folder


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "aesthetics", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_each_model_scores_in_the_group_as_it_does_alone(photos):
    import aesthetics

    group = aesthetics.load(MODELS).mean_scores(photos)
    for name in MODELS:
        alone = aesthetics.load(name).mean_scores(photos)
        assert np.abs(group[name] - alone).max() < 1e-4, name
    records = aesthetics.load(MODELS).score(photos)
    assert all(set(r) == {"image_id", "path", *MODELS} for r in records)
    assert all(len(r["aesthetic"]["distribution"]) == 10 for r in records)


def test_in_memory_images_get_groups_too(photos):
    import aesthetics
    from PIL import Image

    photo = sorted(photos.glob("*.jpg"))[0]
    scorer = aesthetics.load(MODELS)
    from_pil, from_file, broken = scorer.score([Image.open(photo), str(photo), b"junk"])
    for name in MODELS:
        assert from_pil[name]["mean_score_prediction"] == pytest.approx(
            from_file[name]["mean_score_prediction"], abs=1e-4)
    assert "error" in broken and not set(MODELS) & set(broken)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_every_output_format_holds_both_groups(photos, tmp_path, suffix):
    from aesthetics.inference.outputs import read_records

    out = tmp_path / f"scores{suffix}"
    p = run_cli("predict", str(photos), "--model", "technical,aesthetic", "--output", str(out), "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    records = read_records(out)
    assert len(records) == 8
    for r in records:
        for name in MODELS:
            assert 1 <= r[name]["mean_score_prediction"] <= 10 and len(r[name]["distribution"]) == 10
        assert "mean_score_prediction" not in r  # the fields live in the groups
    by_id = {r["image_id"]: r for r in records}
    assert by_id["42039"]["aesthetic"]["mean_score_prediction"] == pytest.approx(5.228, abs=6e-4)


def test_the_default_is_both_judgements_and_one_model_keeps_todays_fields(photos, tmp_path):
    p = run_cli("predict", str(photos), "--output", "both.jsonl", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    first = json.loads((tmp_path / "both.jsonl").read_text().splitlines()[0])
    assert set(MODELS) <= set(first)
    p = run_cli("predict", str(photos), "--model", "aesthetic", "--output", "one.jsonl", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    first = json.loads((tmp_path / "one.jsonl").read_text().splitlines()[0])
    assert set(first) == {"image_id", "path", "mean_score_prediction", "std_score_prediction", "distribution"}


def test_resume_scores_only_what_is_missing_and_refuses_another_model_set(photos, tmp_path):
    from aesthetics.inference.outputs import read_records

    some = tmp_path / "some"
    some.mkdir()
    for p in sorted(photos.iterdir())[:3]:
        shutil.copy(p, some / p.name)
    out = tmp_path / "scores.csv"
    assert run_cli("predict", str(some), "--model", "technical,aesthetic", "--output", str(out), "-q",
                   cwd=tmp_path).returncode == 0
    for p in sorted(photos.iterdir())[3:]:
        shutil.copy(p, some / p.name)
    p = run_cli("predict", str(some), "--model", "technical,aesthetic", "--output", str(out), "--resume",
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    records = read_records(out)
    assert len(records) == 8 and len({r["path"] for r in records}) == 8
    assert "5 photo(s)" in p.stderr  # only the new ones were scored
    p = run_cli("predict", str(some), "--model", "aesthetic", "--output", str(out), "--resume", cwd=tmp_path)
    assert p.returncode == 2 and "scored by the models technical, aesthetic" in p.stderr


def test_sort_by_a_model_ranks_by_its_score(photos, tmp_path):
    from aesthetics.inference.outputs import read_records

    out = tmp_path / "ranked.json"
    p = run_cli("predict", str(photos), "--model", "technical,aesthetic", "--output", str(out), "--sort",
                "--sort-by", "aesthetic", "--top-k", "3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    scores = [r["aesthetic"]["mean_score_prediction"] for r in read_records(out)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 8
    printed = [line for line in p.stdout.splitlines() if line.startswith("technical")]
    assert len(printed) == 3 and "aesthetic" in printed[0]
    bad = run_cli("predict", str(photos), "--model", "technical,aesthetic", "--sort-by", "beauty", cwd=tmp_path)
    assert bad.returncode == 2 and "not one of this run's models" in bad.stderr


def test_a_legacy_model_alone_decodes_exactly_but_beside_others_takes_their_reduced_decode(tmp_path):
    """idealo's preprocessing needs the full decode to give idealo's scores;
    beside a native model it reuses a DCT-reduced decode, at 1/2 scale at
    most (a full decode of a 12 MP JPEG costs 5x the rest)."""
    from PIL import Image

    from aesthetics.data.images import legacy_rgb, load_image_legacy, resize_legacy
    from aesthetics.inference.multi import load_for_recipes
    from aesthetics.models.recipe import Recipe

    rng = np.random.default_rng(0)
    path = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 255, (1600, 2400, 3), dtype=np.uint8)).save(path, quality=90)
    legacy = Recipe(image_size=224, resize="resize", legacy=True)
    native = Recipe(resize="native", max_side=256)  # alone it would take a 1/4-scale decode
    (alone,) = load_for_recipes(str(path), [legacy], 10**9)
    np.testing.assert_array_equal(alone, load_image_legacy(str(path), 224))
    small, beside = load_for_recipes(str(path), [native, legacy], 10**9)
    with Image.open(path) as img:
        img.draft("RGB", (1200, 800))  # the legacy model's floor beside others: 1/2 scale
        img.load()
        reduced = resize_legacy(legacy_rgb(img), 224)
        assert img.size[0] < 2400
    np.testing.assert_array_equal(beside, reduced)
    assert small.shape[1] == 256
