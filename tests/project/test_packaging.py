"""A non-editable install must carry every module and the bundled sample."""

from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_folder_is_a_package():
    found = set(find_packages(str(ROOT), include=["aesthetics*"]))
    code_dirs = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "aesthetics").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert code_dirs <= found, f"folders without __init__.py: {sorted(code_dirs - found)}"


def test_sample_data_is_package_data():
    tomllib = pytest.importorskip("tomllib", reason="Python >= 3.11 reads pyproject.toml")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["aesthetics"]
    sample = ROOT / "aesthetics" / "sample_data"
    shipped = {f for pat in patterns for f in (ROOT / "aesthetics").glob(pat)}
    needed = {f for f in sample.rglob("*") if f.is_file() and f.suffix != ".py" and "__pycache__" not in f.parts}
    assert needed <= shipped, sorted(str(f) for f in needed - shipped)
