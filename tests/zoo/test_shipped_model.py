"""The models that ship inside the package: each loads offline, carries the
recipe of its card and its licences, and its ONNX copy scores as its Keras
file (tests loop over `zoo.list_models()`); the default model scores the
bundled sample sensibly, and the one-call API takes every input kind."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aesthetics import zoo
from aesthetics.sample_data import sample_images_dir

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = zoo.get(zoo.DEFAULT_MODEL)


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


SHIPPED = zoo.list_models()


def test_both_judgements_ship():
    names = {m.name: m for m in SHIPPED}
    assert zoo.DEFAULT_MODEL in names
    assert zoo.get("technical").name == "clive-mobilenet-ft" and zoo.get("aesthetic").name == "nima-ava-mobilenet"


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda m: m.name)
def test_each_shipped_model_has_card_licences_and_both_formats(shipped):
    assert shipped.has("keras") and shipped.has("onnx")
    assert 5e6 < shipped.size_bytes < 20e6
    assert shipped.scores and shipped.data and shipped.licence and shipped.description
    licences = (shipped.folder / "LICENSES.md").read_text()
    card = (shipped.folder / "MODEL_CARD.md").read_text()
    if shipped.cv_srcc is not None:  # measured here: the card states the numbers
        assert 0.5 < shipped.cv_srcc <= 1 and 0.5 < shipped.cv_plcc <= 1
        assert f"{shipped.cv_srcc:.3f}" in card
    else:  # not measured here: whose numbers they are is said
        assert shipped.extra["reported"]["by"] and "not re-measured" in card
    assert "Apache License" in licences


def test_the_clive_model_carries_the_live_notice():
    assert "COPYRIGHT NOTICE STARTS WITH THIS LINE" in (DEFAULT.folder / "LICENSES.md").read_text()
    assert "CLIVE" in (DEFAULT.folder / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda m: m.name)
def test_the_keras_file_carries_the_cards_recipe(shipped):
    from aesthetics.inference.loading import load_model
    from aesthetics.models import AestheticsModel

    model = load_model(shipped.path("keras"))
    assert type(model) is AestheticsModel
    assert model.recipe.to_dict() == shipped.extra["recipe"]  # the card's recipe is the one used
    meta = json.loads((shipped.folder / "model.onnx.json").read_text())
    assert meta["recipe"] == model.recipe.to_dict()
    assert zoo.resolve_model(shipped.name, "keras").recipe == model.recipe


def test_the_default_model_is_native_with_cross_validated_numbers():
    from aesthetics.inference.loading import load_model

    model = load_model(DEFAULT.path("keras"))
    assert model.recipe.native and model.recipe.score_range == (0, 100)
    assert model.input_shape == (None, None, None, 3)
    assert model.info["cross_validation"]["srcc"][0] == pytest.approx(DEFAULT.cv_srcc, abs=5e-4)


@pytest.fixture(scope="module")
def scorer():
    import aesthetics

    return aesthetics.load()


def test_clean_photos_score_above_their_strongest_degradation(scorer):
    photos = sorted({p.name.rsplit("_q", 1)[0] for p in sample_images_dir().glob("*_q0.*")})
    assert len(photos) == 11
    wins = 0
    for name in photos:
        clean = next(sample_images_dir().glob(f"{name}_q0.*"))
        worst = next(sample_images_dir().glob(f"{name}_q3.*"))
        s = scorer.mean_scores([clean, worst])
        wins += int(s[0] > s[1])
    assert wins >= 10, wins


def test_every_input_kind_gives_the_same_score(scorer):
    from PIL import Image

    from aesthetics.data.images import load_image

    path = sample_images_dir() / "camera_q0.jpg"
    reference = scorer.score(str(path))
    assert reference["image_id"] == "camera_q0" and len(reference["distribution"]) == 10
    pixels = load_image(path)
    kinds = {
        "Path": path,
        "PIL": Image.open(path),
        "bytes": path.read_bytes(),
        "uint8 array": pixels,
        "float array": pixels.astype(np.float32),
    }
    for kind, x in kinds.items():
        rec = scorer.score(x)
        assert abs(rec["mean_score_prediction"] - reference["mean_score_prediction"]) < 1e-4, kind
    batch = scorer.score(np.stack([pixels, pixels[::-1]]))
    assert len(batch) == 2 and batch[0]["image_id"] == "image_0"
    mixed = scorer.score([str(path), Image.open(path), b"not an image", np.zeros((5, 5, 2)),
                          np.full((8, 8, 3), 300.0), np.zeros((40, 40))])
    assert [("error" in r) for r in mixed] == [False, False, True, True, True, False]  # gray is fine
    assert "[0, 255]" in mixed[4]["error"] and "shape" in mixed[3]["error"]
    folder = scorer.score(sample_images_dir())
    assert len(folder) == 44 and all("error" not in r for r in folder)
    assert scorer.distributions([path]).shape == (1, 10)
    with pytest.raises(Exception, match="could not be scored"):
        scorer.distributions([b"junk"])


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda m: m.name)
def test_onnx_and_keras_copies_score_alike(shipped):
    import aesthetics

    files = sorted(str(p) for p in sample_images_dir().glob("*_q[03].*"))
    keras_scores = aesthetics.load(shipped.name, backend="keras").mean_scores(files)
    onnx_scores = aesthetics.load(shipped.name, backend="onnx").mean_scores(files)
    assert np.abs(keras_scores - onnx_scores).max() < 1e-4


def test_scoring_with_the_default_model_needs_no_tensorflow():
    code = (
        "import sys, aesthetics\n"
        f"r = aesthetics.load().score({str(sample_images_dir() / 'camera_q0.jpg')!r})\n"
        "print(r['mean_score_prediction'], 'tensorflow' in sys.modules or 'keras' in sys.modules)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    score, heavy = p.stdout.split()
    assert 1 <= float(score) <= 10 and heavy == "False"


def test_predict_a_folder_with_no_model_argument_gives_both_judgements(tmp_path):
    code = ("import json, sys\nfrom aesthetics.cli import main\n"
            "rc = main(['-q', 'predict', sys.argv[1], '--output', sys.argv[2]])\n"
            "print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules}))\n")
    out = tmp_path / "scores.json"
    p = subprocess.run([sys.executable, "-c", code, str(sample_images_dir()), str(out)], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"rc": 0, "tf": False}
    records = json.loads(out.read_text())
    assert len(records) == 44
    assert all(1 <= r[m]["mean_score_prediction"] <= 10 for r in records for m in ("technical", "aesthetic"))


def test_models_command_lists_the_shipped_model():
    p = subprocess.run([sys.executable, "-m", "aesthetics", "models", "--json"], env=_env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    listed = {m["name"]: m for m in json.loads(p.stdout)}
    assert set(listed) == {m.name for m in SHIPPED}
    assert listed[zoo.DEFAULT_MODEL]["default"] and all(m["onnx"] for m in listed.values())
    assert listed[zoo.DEFAULT_MODEL]["cv_srcc"] == DEFAULT.cv_srcc
    assert listed["nima-ava-mobilenet"]["aliases"] == ["aesthetic"]
    text = subprocess.run([sys.executable, "-m", "aesthetics", "models"], env=_env(),
                          capture_output=True, text=True, timeout=60).stdout
    assert zoo.DEFAULT_MODEL in text and "CV SRCC" in text and "licence" in text
    assert "nima-ava-mobilenet (alias: aesthetic)" in text and "not re-measured here" in text


def test_bundled_backbone_weights_are_the_shipped_ones():
    from aesthetics.inference.loading import load_model
    from aesthetics.models.backbones import build_backbone

    built = build_backbone("mobilenet", (64, 64, 3), weights="bundled")
    # the frozen ImageNet backbone, not the default model's fine-tuned one
    shipped = load_model(zoo.get(zoo.BUNDLED_BACKBONE_MODEL).path("keras")).get_layer("backbone")
    layers = {layer.name: layer for layer in shipped._flatten_layers(include_self=False)}
    compared = 0
    for layer in (layer for layer in built.layers if layer.weights):
        for mine, theirs in zip(layer.get_weights(), layers[layer.name].get_weights()):
            np.testing.assert_array_equal(mine, theirs)
            compared += 1
    assert compared == len(built.weights) == 135
    from aesthetics.errors import ConfigError

    with pytest.raises(ConfigError, match="bundled"):
        build_backbone("mobilenet", (64, 64, 3), weights="bundled", alpha=0.5)


def test_zoo_files_are_package_data():
    tomllib = pytest.importorskip("tomllib", reason="Python >= 3.11 reads pyproject.toml")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["aesthetics"]
    shipped = {f for pat in patterns for f in (ROOT / "aesthetics").glob(pat)}
    needed = {f for f in (ROOT / "aesthetics" / "zoo").rglob("*") if f.is_file() and f.suffix != ".py"
              and "__pycache__" not in f.parts}
    assert needed and needed <= shipped, sorted(str(f) for f in needed - shipped)


def test_offline_quickstart_end_to_end(tmp_path):
    """The README's first command: shipped-model ranking, fine-tune from the
    shipped backbone, evaluate, score again. No network is used."""
    # the venv running this test already has the package: reuse it (no pip, no network)
    env = dict(_env(), RUN_DIR=str(tmp_path / "run"), AESTHETICS_SKIP_INSTALL="1",
               VENV=str(Path(sys.executable).parents[1]))
    p = subprocess.run(["bash", str(ROOT / "entrypoints" / "quickstart.sh")], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "rank  technical  aesthetic  photo" in p.stdout  # both judgements
    shipped = json.loads((tmp_path / "run" / "scores_shipped.json").read_text())
    assert len(shipped) == 44 and all({"technical", "aesthetic"} <= set(r) for r in shipped)
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["n"] > 0 and metrics["srcc"] is not None
    assert len(json.loads((tmp_path / "run" / "scores_finetuned.json").read_text())) == 44


def test_evaluate_and_export_take_a_shipped_model_name(tmp_path):
    from aesthetics.sample_data import sample_labels_path

    p = subprocess.run([sys.executable, "-m", "aesthetics", "evaluate", "--model", zoo.DEFAULT_MODEL,
                        "--images", str(sample_images_dir()), "--labels", str(sample_labels_path()),
                        "--output", str(tmp_path / "m.json")], env=_env(), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 44


def test_a_closed_pipe_neither_loses_the_output_nor_prints_a_traceback(tmp_path):
    out = tmp_path / "s.csv"
    # `true` reads nothing and exits: the table hits a closed pipe (unless the
    # kernel's pipe buffer took it all first; either way nothing may be lost)
    cmd = (f"{sys.executable} -m aesthetics predict {sample_images_dir()} --output {out} | true; "
           "exit ${PIPESTATUS[0]}")
    p = subprocess.run(["bash", "-c", cmd], env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode in (0, 141) and "Traceback" not in p.stderr, p.stderr
    assert len(out.read_text().splitlines()) == 45  # header + 44 photos


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda m: m.name)
def test_presets_load_on_the_model_class_by_name_and_alias(shipped):
    from aesthetics.models import AestheticsModel

    names = [shipped.name, *shipped.aliases]
    models = [AestheticsModel.from_preset(n) for n in names]
    assert all(m.recipe.to_dict() == shipped.extra["recipe"] for m in models)
    with pytest.raises(Exception, match="no shipped model"):
        AestheticsModel.from_preset("no-such-model")
