"""The shell entrypoints parse, print usage, and reject missing arguments."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "entrypoints").glob("*.sh")) + [ROOT / ".ci" / "run"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.parametrize("name", ["train_local.sh", "predict.sh"])
def test_usage(name, tmp_path):
    script = ROOT / "entrypoints" / name
    ok = subprocess.run(["bash", str(script), "-h"], capture_output=True, text=True)
    assert ok.returncode == 0 and "Usage:" in ok.stdout
    bad = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert bad.returncode == 2 and "Usage:" in bad.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash entrypoints/run_tests.sh" in readme.split("\n## ", 1)[0]  # at the top
    assert "bash entrypoints/run_tests.sh" in ci
    assert "bash entrypoints/quickstart.sh" in readme.split("\n## ", 1)[0]
