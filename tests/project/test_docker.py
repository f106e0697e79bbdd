"""The Dockerfile and entrypoint scripts, checked without a Docker engine:
COPY sources exist, the base image matches the TensorFlow pin, the
ENTRYPOINT is the package's console script, and the scripts parse."""

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions():
    """(INSTRUCTION, argument text) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_copy_source_exists():
    copies = [rest for word, rest in instructions() if word in ("COPY", "ADD")]
    assert copies, "no COPY in the Dockerfile"
    for rest in copies:
        args = [a for a in shlex.split(rest) if not a.startswith("--")]
        *sources, _dest = args
        for src in sources:
            assert (ROOT / src).exists(), f"COPY source {src!r} is not in the repository"


def test_readme_the_package_needs_is_copied():
    # pip install . reads project.readme; it must be in the build context.
    readme = pyproject()["project"].get("readme")
    copied = " ".join(rest for word, rest in instructions() if word == "COPY")
    if readme:
        assert readme in copied.split()


def test_base_image_matches_tensorflow_pin():
    base = [rest for word, rest in instructions() if word == "FROM"]
    assert len(base) == 1
    image, _, tag = base[0].split()[0].partition(":")
    assert image == "tensorflow/tensorflow"
    assert tag.endswith("-gpu")
    version = tuple(int(x) for x in tag.removesuffix("-gpu").split("."))
    pin = next(d for d in pyproject()["project"]["dependencies"] if re.match(r"tensorflow\b", d))
    low = re.search(r">=\s*([\d.]+)", pin).group(1)
    high = re.search(r"<\s*([\d.]+)", pin).group(1)
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= version < as_tuple(high), (tag, pin)


def test_entrypoint_is_the_console_script_and_package_is_installed():
    ins = instructions()
    entry = [rest for word, rest in ins if word == "ENTRYPOINT"]
    assert entry == ['["aesthetics"]']
    assert "aesthetics" in pyproject()["project"]["scripts"]
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "pip install --no-cache-dir" in runs


def _referenced_scripts():
    texts = [DOCKERFILE.read_text()]
    for doc in (ROOT / "docs" / "DEPLOYMENT.md", ROOT / "README.md"):
        if doc.exists():
            texts.append(doc.read_text())
    return sorted(set(re.findall(r"entrypoints/[\w.-]+\.sh", "\n".join(texts))))


def test_referenced_entrypoint_scripts_exist_and_parse():
    scripts = set(_referenced_scripts()) | {
        str(p.relative_to(ROOT)) for p in (ROOT / "entrypoints").glob("*.sh")
    }
    assert "entrypoints/train_gpu.sh" in scripts
    for rel in sorted(scripts):
        path = ROOT / rel
        assert path.is_file(), f"{rel} is referenced but missing"
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{rel}: {proc.stderr}"
        assert os.access(path, os.X_OK), f"{rel} is not executable"


def test_train_gpu_script_prints_docker_commands(tmp_path):
    script = ROOT / "entrypoints" / "train_gpu.sh"
    env = dict(os.environ, DRY_RUN="1", IMAGE="aesthetics:test")
    help_ = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "usage:" in help_.stdout
    (tmp_path / "data").mkdir()
    proc = subprocess.run(
        ["bash", str(script), "train", str(tmp_path / "data"), str(tmp_path / "runs"),
         "--config", "configs/clive_mobilenet.json", "--output", "/runs/clive"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    cmd = shlex.split(proc.stdout)
    assert cmd[:4] == ["docker", "run", "--rm", "--gpus"]
    assert f"{tmp_path / 'data'}:/data:ro" in cmd and f"{tmp_path / 'runs'}:/runs" in cmd
    assert cmd[cmd.index("aesthetics:test") + 1:] == [
        "train", "--config", "configs/clive_mobilenet.json", "--output", "/runs/clive"]
    assert (ROOT / "configs" / "clive_mobilenet.json").is_file()
    build = subprocess.run(["bash", str(script), "build"], capture_output=True, text=True, env=env)
    assert shlex.split(build.stdout) == ["docker", "build", "-t", "aesthetics:test", str(ROOT)]
    bad = subprocess.run(["bash", str(script), "nonsense"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2


def test_dockerignore_keeps_context_small():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for entry in (".git", "runs/", ".venv/", "**/.pytest_cache/"):
        assert entry in ignored
    # nothing the Dockerfile copies may be ignored
    for word, rest in instructions():
        if word == "COPY":
            for src in shlex.split(rest)[:-1]:
                assert src.rstrip("/") + "/" not in ignored and src not in ignored, src


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])


def test_the_image_carries_the_shipped_models():
    """Model files are ignored in the build context, except the shipped ones
    (later `!` lines win, as in Docker's matcher)."""
    import fnmatch

    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]

    def ignored(rel: str) -> bool:
        result = False
        for pattern in lines:
            negate = pattern.startswith("!")
            pat = pattern[1:] if negate else pattern
            if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat.replace("**/", "")):
                result = not negate
        return result

    shipped = [p for p in (ROOT / "aesthetics" / "zoo").rglob("model.*") if p.suffix in (".keras", ".onnx")]
    assert shipped
    for path in shipped:
        assert not ignored(str(path.relative_to(ROOT))), path
    assert ignored("runs/clive/model.keras") and ignored("exports/model.onnx")
