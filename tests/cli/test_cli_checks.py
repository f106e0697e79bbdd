"""What the command line checks before TensorFlow starts, and how it reports."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs main() and reports (exit code, whether TensorFlow / Keras got imported).
_PROBE = (
    "import json, sys\n"
    "from aesthetics.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))\n"
)


def probe(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    p = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.stdout.strip(), p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


@pytest.fixture()
def labelled(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("image,mos\na.jpg,50\n")
    return tmp_path


@pytest.mark.parametrize("args, key", [
    (["--set", "data.image_size=big"], "data.image_size"),
    (["--set", "data.eval_resize=squash"], "data.eval_resize"),
    (["--set", "model.num_bins=-3"], "model.num_bins"),
    (["--set", "train.lr_schedule=wavy"], "train.lr_schedule"),
    (["--set", "data.batch_sise=3"], "batch_sise"),
    (["--backbone", "mobilenetv9"], "model.backbone"),
])
def test_bad_config_value_is_one_line_without_tensorflow(labelled, args, key):
    result, err = probe("train", "--images", "images", "--labels", "labels.csv", "--output", "run",
                        *args, cwd=labelled)
    assert result == {"rc": 2, "tf": False, "keras": False}
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aesthetics: error: ") and key in lines[0], err
    assert not (labelled / "run").exists()  # nothing written


@pytest.mark.parametrize("argv, needle", [
    (["predict", "--model", "modle.keras", "images"], "modle.keras"),
    (["evaluate", "--model", "modle.keras", "--images", "images", "--labels", "labels.csv"], "modle.keras"),
    (["export", "--model", "modle.keras", "--format", "onnx", "--output", "m.onnx"], "modle.keras"),
    (["train", "--images", "imgs", "--labels", "labels.csv"], "imgs"),
    (["train", "--images", "images", "--labels", "lables.csv"], "lables.csv"),
    (["train", "--images", "images", "--labels", "labels.csv", "--init-from", "nope.keras"], "nope.keras"),
    (["train", "--images", "images", "--labels", "labels.csv", "--backbone-weights", "w.h5"], "w.h5"),
    (["train", "--config", "configs/nope.json", "--images", "images", "--labels", "labels.csv"], "nope.json"),
    (["pretrain", "--images", "photos"], "photos"),
])
def test_missing_paths_fail_before_tensorflow(labelled, argv, needle):
    result, err = probe(*argv, cwd=labelled)
    assert result == {"rc": 2, "tf": False, "keras": False}
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_a_file_that_is_not_a_keras_archive_is_refused_before_tensorflow(labelled):
    (labelled / "m.keras").write_bytes(b"PK\x03\x04 truncated")
    result, err = probe("predict", "--model", "m.keras", "images", cwd=labelled)
    assert result["rc"] == 2 and not result["tf"]
    assert "m.keras" in err and "zip" in err


def test_version_and_verbosity_flags_anywhere():
    from aesthetics import __version__

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "aesthetics", "--version"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == f"aesthetics {__version__}"
    assert __version__ and __version__ != "unknown"
    for argv in (["-q", "predict", "--model", "x.keras", "i"], ["predict", "--model", "x.keras", "i", "-q"],
                 ["predict", "-v", "--model", "x.keras", "i"]):
        from aesthetics.cli import build_parser

        args = build_parser().parse_args(argv)
        assert args.quiet == ("-q" in argv) and args.verbose_logs == ("-v" in argv)


def test_import_aesthetics_is_light():
    code = ("import sys, aesthetics, aesthetics.config, aesthetics.models, aesthetics.export.metadata, "
            "aesthetics.inference.backends; print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False", p.stderr


def test_unexpected_errors_keep_their_traceback(monkeypatch):
    """Only AestheticsError becomes one line: a bug must stay visible."""
    from aesthetics import cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    parser = cli.build_parser()
    args = parser.parse_args(["export", "--model", "m.keras", "--format", "onnx", "--output", "o.onnx"])
    args.func, args.check = broken, None
    monkeypatch.setattr(cli, "build_parser", lambda: type("P", (), {"parse_args": lambda self, a: args})())
    with pytest.raises(ZeroDivisionError):
        cli.main([])
