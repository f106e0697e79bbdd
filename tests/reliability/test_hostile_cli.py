"""Hostile command lines: numbers out of range, unknown choices, outputs that
cannot be written or would destroy a user's file, and runs killed mid-way.
Each ends in one clear line (exit 2) before any work, or in a correct result;
nothing the user had is lost."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hostile_inputs as h

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(3):
        h.write(folder, f"g{i}.jpg", h.jpeg_bytes(seed=i))
    return folder


@pytest.fixture
def place(tmp_path):
    (tmp_path / "afile").write_text("a file, not a folder")
    return tmp_path


PREDICT_REFUSED = {
    "batch_zero": (["--batch-size", "0"], ">= 1"), "batch_negative": (["--batch-size", "-3"], ">= 1"),
    "batch_text": (["--batch-size", "abc"], "integer"), "workers_zero": (["--workers", "0"], ">= 1"),
    "max_pixels_zero": (["--max-pixels", "0"], ">= 1"), "top_k_zero": (["--top-k", "0"], ">= 1"),
    "min_score_nan": (["--min-score", "nan"], "finite"), "min_score_inf": (["--min-score", "inf"], "finite"),
    "backend_unknown": (["--backend", "pytorch"], "invalid choice"), "unknown_flag": (["--frobnicate"], "unrecognized"),
    "resume_and_overwrite": (["--resume", "--overwrite", "--output", "r.json"], "not allowed"),
    "copy_and_link": (["--copy-to", "a", "--link-to", "b"], "not allowed"),
    "resume_without_output": (["--resume"], "--resume needs --output"),
    "model_missing": (["--model", "nope.onnx"], "nope.onnx"), "model_folder": (["--model", "."], "saved_model.pb"),
    "model_no_extension": (["--model", "afile"], "extension"), "model_name_typo": (["--model", "clive-mobilenett"], "clive-mobilenett"),
    "output_xml": (["--output", "s.xml"], "unknown format"), "output_no_suffix": (["--output", "scores"], "unknown format"),
    "output_folder": (["--output", "."], "is a folder"), "output_proc": (["--output", "/proc/scores.json"], "cannot write"),
    "output_sys": (["--output", "/sys/x.csv"], "cannot write"), "output_under_a_file": (["--output", "afile/s.json"], "cannot write"),
    "output_dev_null": (["--output", "/dev/null"], "unknown format"), "output_is_a_photo": (["--output", "PHOTO"], "unknown format"),
    "report_txt": (["--report", "r.txt"], ".html"), "report_proc": (["--report", "/proc/r.html"], "cannot write"),
    "copy_to_a_file": (["--copy-to", "afile"], "afile"), "copy_to_proc": (["--copy-to", "/proc/picks"], "/proc/picks"),
    "link_to_proc": (["--link-to", "/proc/picks"], "/proc/picks"),
    "keras_backend_for_onnx": (["--model", "ZOO_ONNX", "--backend", "keras"], "expected a .keras model"),
    "onnx_backend_for_keras": (["--model", "ZOO_KERAS", "--backend", "onnx"], "not a loadable ONNX model"),
}


@pytest.mark.parametrize("case", sorted(PREDICT_REFUSED))
def test_predict_refuses_a_bad_command_line_in_one_line(photos, place, capsys, monkeypatch, case):
    from aesthetics.zoo import model_path

    args, needle = PREDICT_REFUSED[case]
    subst = {"ZOO_ONNX": model_path("clive-mobilenet", "onnx"), "ZOO_KERAS": model_path("clive-mobilenet", "keras"),
             "PHOTO": photos / "g0.jpg"}
    args = [str(subst.get(a, a)) for a in args]
    monkeypatch.chdir(place)
    before = sorted(os.listdir(photos))
    backend = [] if "--model" in args or "--backend" in args else ["--backend", "onnx"]
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, *backend, *args, "-q"), needle)
    assert sorted(os.listdir(photos)) == before and not (place / "picks").exists()


@pytest.mark.parametrize("args", [["--batch-size", str(10**12)], ["--workers", "100000"],
                                  ["--max-pixels", str(10**40)], ["--top-k", str(10**30)], ["--min-score", "1e308"]],
                         ids=lambda a: a[0])
def test_huge_but_valid_numbers_still_score(photos, capsys, args):
    rc, out, err = h.run_cli(capsys, "predict", photos, "--model", "technical", "--backend", "onnx", *args, "-q")
    assert rc == 0 and "Traceback" not in err
    assert out.count("±") == (0 if "--min-score" in args else 3)


def test_a_tiny_pixel_limit_fails_every_photo_with_exit_1(photos, capsys):
    rc, _, err = h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--max-pixels", "1", "-q")
    assert rc == 1 and "3 failed" in err


def test_a_users_file_named_as_output_is_never_overwritten(photos, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("image,mos\na.jpg,5\n")
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--output", labels, "-q"),
                         "not a predict CSV")
    assert labels.read_text() == "image,mos\na.jpg,5\n"
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    h.assert_clear_error(h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--output", binary, "--resume", "-q"),
                         "b.jsonl")
    assert binary.read_bytes() == b"\xff\xfe\x00garbage\n"


def test_a_one_line_json_file_of_the_user_is_not_overwritten(photos, tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "settings"}')
    h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--output", notes, "-q")
    assert notes.read_text() == '{"my": "settings"}'


def test_sorted_output_resumes_without_duplicates_and_links_twice(photos, tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--output", out, "--sort", "-q")[0] == 0
    assert h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--output", out, "--resume", "-q")[0] == 0
    rows = list(csv.DictReader(out.open()))
    assert sorted(Path(r["path"]).name for r in rows) == ["g0.jpg", "g1.jpg", "g2.jpg"]
    for _ in range(2):
        assert h.run_cli(capsys, "predict", photos, "--backend", "onnx", "--link-to", tmp_path / "l", "-q")[0] == 0
    assert len(os.listdir(tmp_path / "l")) == 3


# --------------------------------------------------------------- export


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory):
    from deploy_helpers import tiny_model

    path = tmp_path_factory.mktemp("m") / "m.keras"
    tiny_model().save(path)
    return path


@pytest.mark.parametrize("fmt, output, extra, needle", [
    ("onnx", "SELF", [], "is the model being exported"),
    ("onnx", "labels.csv", [], "a onnx export is a .onnx file"),
    ("tflite", "m.keras", [], "a tflite export is a .tflite file"),
    ("onnx", "/proc/m.onnx", [], "cannot write"),
    ("onnx", "/sys/m.onnx", [], "cannot write"),
    ("onnx", "afile/m.onnx", [], "cannot write"),
    ("onnx", ".", [], "onnx"),
    ("onnx", "m0.onnx", ["--opset", "0"], "--opset"),
    ("onnx", "m1.onnx", ["--opset", "-1"], "--opset"),
    ("onnx", "m999.onnx", ["--opset", "999"], "--opset 999"),
    ("onnx", "q.onnx", ["--quantize", "dynamic"], "--quantize"),
    ("tflite", "q.tflite", ["--quantize", "int4"], "invalid choice"),
    ("savedmodel", "labels.csv", [], "is a file"),
    ("savedmodel", "photos", [], "not a SavedModel folder"),
])
def test_export_refuses_targets_that_would_destroy_or_fail(tiny_keras, place, capsys, monkeypatch, fmt, output, extra, needle):
    monkeypatch.chdir(place)
    model = place / "self.keras"
    shutil.copy(tiny_keras, model)
    (place / "labels.csv").write_text("image,mos\n")
    (place / "photos").mkdir()
    (place / "photos" / "a.jpg").write_bytes(h.jpeg_bytes())
    snapshot = {p: p.read_bytes() for p in place.rglob("*") if p.is_file()}
    target = model if output == "SELF" else output
    result = h.run_cli(capsys, "export", "--model", model, "--format", fmt, "--output", target, *extra)
    h.assert_clear_error(result, needle)
    assert {p: p.read_bytes() for p in place.rglob("*") if p.is_file()} == snapshot


# ------------------------------------------------------------- evaluate


@pytest.mark.parametrize("extra, needle", [
    (["--output", "/proc/m.json"], "cannot write"), (["--output", "."], "is a folder"),
    (["--output", "afile/m.json"], "cannot write"), (["--plot", "/proc/m.png"], "cannot write"),
    (["--threshold", "nan"], "finite"), (["--threshold", "inf"], "finite"),
    (["--score-range", "nan", "100"], "--score-range"), (["--score-range", "5", "5"], "--score-range"),
    (["--batch-size", "0"], ">= 1"), (["--split-file", "labels.csv"], "invalid JSON"),
    (["--split-file", "nomatch.json"], "no labelled image"), (["--labels", "votes.json"], "only applies to MOS"),
    (["--subset", "test"], "invalid choice"), (["--model", "nope.keras"], "nope.keras"),
])
def test_evaluate_refuses_in_one_line(tiny_keras, place, capsys, monkeypatch, extra, needle):
    monkeypatch.chdir(place)
    images, labels = h.tiny_labelled_set(place, 3)
    (place / "nomatch.json").write_text('{"train": [], "val": ["nope"]}')
    (place / "votes.json").write_text(json.dumps([{"image_id": "p0", "label": [1] * 10}]))
    base = {"--model": str(tiny_keras), "--images": str(images), "--labels": str(labels), "--output": "m.json",
            "--score-range": ["0", "100"]}
    for i in range(0, len(extra) - 1):
        if extra[i] in base:
            base[extra[i]] = extra[i + 1:i + 3] if extra[i] == "--score-range" else extra[i + 1]
    rest = [a for i, a in enumerate(extra) if not (a in base or (i and extra[i - 1] in base)
                                                    or (i > 1 and extra[i - 2] == "--score-range"))]
    args = [x for k, v in base.items() for x in ([k, *v] if isinstance(v, list) else [k, v])]
    if "votes.json" in extra:
        args = [a for a in args]  # the score range stays: vote counts must refuse it
    h.assert_clear_error(h.run_cli(capsys, "evaluate", *args, *rest), needle)
    assert not (place / "m.json").exists()


# ------------------------------------------------------------- training


def train_args(images, labels, out, *extra):
    return ["train", "--images", images, "--labels", labels, "--output", out, *h.TINY_TRAIN, *extra]


@pytest.mark.parametrize("output, needle", [("afile", "is a file"), ("/proc/run", "cannot write"),
                                            ("afile/run", "cannot write")])
def test_train_refuses_an_unusable_run_folder_before_tensorflow(place, capsys, output, needle):
    images, labels = h.tiny_labelled_set(place, 4)
    h.assert_clear_error(h.run_cli(capsys, *train_args(images, labels, place / output, "--epochs", "1")), needle)
    assert (place / "afile").read_text() == "a file, not a folder"


def test_pretrain_refuses_a_file_as_run_folder(place, capsys):
    images, _ = h.tiny_labelled_set(place, 2)
    h.assert_clear_error(h.run_cli(capsys, "pretrain", "--images", images, "--output", place / "afile"), "is a file")


def test_a_split_with_images_on_both_sides_is_refused(place, capsys):
    images, labels = h.tiny_labelled_set(place, 4)
    split = place / "split.json"
    split.write_text(json.dumps({"train": ["p0.jpg", "p1.jpg", "p2.jpg"], "val": ["p0.jpg", "p3.jpg"]}))
    result = h.run_cli(capsys, *train_args(images, labels, place / "run", "--epochs", "1", "--split-file", split))
    h.assert_clear_error(result, "both 'train' and 'val'", "split.json")


def test_a_deeply_nested_split_file_is_one_clear_line(place, capsys):
    from aesthetics.data.splits import load_split
    from aesthetics.errors import LabelError

    split = place / "split.json"
    split.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(LabelError):
        load_split(split)


def test_no_readable_image_at_all_is_one_clear_line(place, capsys):
    images, labels = h.tiny_labelled_set(place, 4)
    for p in images.iterdir():
        p.write_bytes(b"junk")
    result = h.run_cli(capsys, *train_args(images, labels, place / "run", "--epochs", "1"))
    h.assert_clear_error(result, "no validation image could be read", "skipped")


def _wait_for_epoch(state, proc, timeout=240):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if state.exists():
            try:
                if json.loads(state.read_text()).get("epochs_done", 0) >= 1:
                    return
            except ValueError:
                pass
        if proc.poll() is not None:
            raise AssertionError(f"train ended before it could be killed: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError("no epoch finished in time")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A run SIGKILLed after its first epoch, a refused resume with a changed
    config, then the same command resumed to the end."""
    import contextlib
    import io
    import logging

    from aesthetics.cli import main

    place = tmp_path_factory.mktemp("kill")
    images, labels = h.tiny_labelled_set(place, 12)
    run = place / "run"
    args = [str(a) for a in train_args(images, labels, run, "--epochs", "6")]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen([sys.executable, "-m", "aesthetics", *args], cwd=place, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_epoch(run / "state.json", proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    killed_at = json.loads((run / "state.json").read_text())["epochs_done"]
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}

    def call(argv):
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return main(argv), err.getvalue()

    refused = call(args + ["--set", "train.lr_full=0.001"])
    after_refusal = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    resumed = call(args)
    return {"run": run, "killed_at": killed_at, "before": before, "after_refusal": after_refusal,
            "refused": refused, "resumed": resumed, "args": args, "call": call}


def test_a_changed_config_is_refused_before_anything_is_touched(killed_and_resumed):
    k = killed_and_resumed
    rc, err = k["refused"]
    assert rc == 2 and "train.lr_full: 3e-05 -> 0.001" in err and "--no-resume" in err
    assert k["after_refusal"] == k["before"]


def test_a_killed_run_resumes_to_the_end_without_duplicate_history(killed_and_resumed):
    import keras

    k = killed_and_resumed
    assert k["resumed"][0] == 0, k["resumed"][1]
    assert 1 <= k["killed_at"] < 6 or k["killed_at"] == 6
    rows = list(csv.DictReader((k["run"] / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(6))
    state = json.loads((k["run"] / "state.json").read_text())
    assert state["finished"] and state["epochs_done"] == 6
    metrics = json.loads((k["run"] / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n"] == 12
    assert keras.saving.load_model(k["run"] / "model.keras", compile=False) is not None


TAMPERED = {
    "state_junk": ("state.json", "{not json", "state.json: unreadable"),
    "state_list": ("state.json", "[1]", "expected a JSON object"),
    "state_deep": ("state.json", "[" * 100000 + "]" * 100000, "nested too deeply"),
    "epochs_text": ("state.json", {"epochs_done": "x"}, "epochs_done"),
    "epochs_huge": ("state.json", {"epochs_done": 10**30}, "epochs_done"),
    "epochs_negative": ("state.json", {"epochs_done": -1}, "epochs_done"),
    "phase_text": ("state.json", {"phase": "two"}, "phase"),
    "stage_text": ("state.json", {"stage": "two"}, "stage"),
    "stage_best_text": ("state.json", {"stage_best": "low"}, "stage_best"),
    "best_text": ("state.json", {"best_val_loss": "low"}, "best_val_loss"),
    "finished_text": ("state.json", {"finished": "yes"}, "finished"),
    "config_junk": ("config.json", "{junk", "config.json is unreadable"),
    "config_list": ("config.json", "[]", "config.json is unreadable"),
    "metrics_junk": ("metrics.json", "{junk", "metrics.json: unreadable"),
    "metrics_list": ("metrics.json", "[1]", "metrics.json"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_damaged_run_folder_is_refused_and_keeps_its_results(killed_and_resumed, tmp_path, case):
    k = killed_and_resumed
    name, content, needle = TAMPERED[case]
    run = tmp_path / "run"
    shutil.copytree(k["run"], run)
    path = run / name
    if isinstance(content, dict):
        content = json.dumps({**json.loads(path.read_text()), "finished": False, **content})
    path.write_text(content)
    snapshot = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    args = [str(run) if a == str(k["run"]) else a for a in k["args"]]
    rc, err = k["call"](args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and "Traceback" not in err and lines[-1].startswith("aesthetics: error:"), err
    assert needle in lines[-1] and "--no-resume" in lines[-1]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize("kind, needle", [("junk", "not an image file"), ("small", "too small"), ("empty", "no images found")])
def test_pretrain_without_a_usable_photo_is_one_clear_line(tmp_path, capsys, kind, needle):
    folder = tmp_path / kind
    folder.mkdir()
    for i in range(3 if kind != "empty" else 0):
        data = b"junk" if kind == "junk" else h.jpeg_bytes(20, 20, i)
        h.write(folder, f"{i}.jpg", data)
    result = h.run_cli(capsys, "pretrain", "--images", folder, "--output", tmp_path / "run", "--set", "model.alpha=0.25",
                       "--backbone-weights", "none", "--set", "pretrain.crop_size=64", "--set", "pretrain.working_size=64",
                       "--steps", "1", "--epochs", "1", "--verbose", "0", "-q")
    h.assert_clear_error(result, needle)
