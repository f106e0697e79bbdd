"""Which ONNX model a pipeline scores with, and how each machine finds it.

A pipeline is built on one machine (the launcher) and run on others (Beam
workers), where the package may be installed at a different path and a
local file of the launcher does not exist. So a model is carried as a
*reference* that every machine resolves for itself:

    "zoo:clive-mobilenet"           a shipped model: the copy inside the package
                                    installed on that machine (`aesthetics.zoo`)
    "/abs/path/model.onnx"          a local file (fine on the DirectRunner, or where
                                    all workers share the filesystem)
    "gs://bucket/m/model.onnx"      anything Beam's FileSystems reads (gs://, s3://,
                                    hdfs://, azfs://): copied once per process into a
                                    temporary folder, with its `model.onnx.json` when
                                    there is one

The ONNX file carries its recipe in its own metadata (`aesthetics export`
embeds it), so the copy works without the `.json` beside it too.

Several models (`--model technical,aesthetic`, as `aesthetics predict`):
`model_labels` splits the option, `model_group` names each model's group of
fields (`multi.group_name` of the label as the user wrote it), and each
model is then carried as its own reference.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from aesthetics import zoo
from aesthetics.errors import ConfigError, InputNotFoundError, ModelFileError

ZOO_PREFIX = zoo.ZOO_PREFIX
_COPY_CHUNK = 8 << 20
_copies: dict = {}  # reference -> local path, per process (workers load once per process)
_copies_lock = threading.Lock()


def model_reference(model: Optional[str]) -> str:
    """The reference for `model` (None: the default shipped model; a zoo name
    or "zoo:NAME"; an `.onnx` path or URI), checked on the launcher so a typo
    fails before any worker starts: the file exists and is an `.onnx` export."""
    if zoo.shipped_name(model) is not None:
        # InputNotFoundError naming the shipped ones, or the missing .onnx copy
        return ZOO_PREFIX + zoo.resolve_model(model, "onnx").name
    text = str(model)
    if not text.lower().endswith(".onnx"):
        raise ModelFileError(
            f"--model {text}: the Beam pipeline scores with an exported ONNX model (.onnx) or a "
            f"shipped model name; export a .keras model first: aesthetics export --model {text} "
            f"--format onnx --output model.onnx"
        )
    if is_local(text):
        text = os.path.abspath(text)
    if not FileSystems.exists(text):
        raise InputNotFoundError(f"model not found: {text}")
    return text


def model_labels(model) -> list:
    """`--model` as a list of labels: None is [None] (the default shipped
    model, as before); a list or tuple is itself; a string with commas is
    several models unless it is an existing file (local or remote)."""
    if model is None:
        return [None]
    if isinstance(model, (list, tuple)):
        labels = [str(m).strip() for m in model]
    else:
        text = str(model)
        if "," not in text or _exists(text):
            return [text]
        labels = [m.strip() for m in text.split(",")]
    if not labels or not all(labels):
        raise ConfigError(f"--model {model!r}: an empty name between commas")
    return labels


def model_group(labels) -> list:
    """[(group name, label)] for several models' labels (`model_labels`):
    each named as `predict --model A,B` names it (`multi.group_name`). The
    names must differ (two files both called model.onnx do not) and be
    usable as field-group names."""
    from aesthetics.inference.multi import GROUP_NAME, group_name

    named = [(group_name(label), label) for label in labels]
    names = [n for n, _ in named]
    if len({n.casefold() for n in names}) != len(names):
        raise ConfigError(f"--model: the models' names repeat ({', '.join(names)}); give each model once")
    for name in names:
        if not GROUP_NAME.match(name):
            raise ConfigError(f"--model: {name!r} cannot name a group of fields (letters, digits, _ and -)")
    return named


def _exists(text: str) -> bool:
    try:
        return os.path.exists(text) if is_local(text) else FileSystems.exists(text)
    except Exception:  # an unknown scheme, no credentials: not a file we can use
        return False


def is_local(path: str) -> bool:
    """True for a path of the local filesystem (no scheme, or file://)."""
    return FileSystems.get_scheme(path) in (None, "file")


def local_model_file(reference: str) -> str:
    """A local path to the model `reference` names, on the machine that calls
    this: the installed shipped model, the local file itself, or a
    once-per-process copy of a remote one (with its metadata file)."""
    if reference.startswith(ZOO_PREFIX):
        return str(zoo.resolve_model(reference, "onnx").path)
    if is_local(reference):
        path = reference[len("file://"):] if reference.startswith("file://") else reference
        if not Path(path).is_file():
            raise InputNotFoundError(f"model not found on this machine: {path} (workers need it "
                                     f"too: put it on shared storage, e.g. gs://, see docs/BEAM.md)")
        return path
    with _copies_lock:
        if reference not in _copies:
            _copies[reference] = _copy_remote(reference)
        return _copies[reference]


def _copy_remote(uri: str) -> str:
    folder = tempfile.mkdtemp(prefix="aesthetics-model-")
    name = uri.rstrip("/").rsplit("/", 1)[-1] or "model.onnx"
    local = os.path.join(folder, name)
    _copy(uri, local)
    if FileSystems.exists(uri + ".json"):  # the export's metadata file, `model.onnx.json`
        _copy(uri + ".json", local + ".json")
    return local


def _copy(source: str, target: str) -> None:
    with FileSystems.open(source, compression_type=CompressionTypes.UNCOMPRESSED) as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(_COPY_CHUNK)
            if not chunk:
                break
            dst.write(chunk)


def describe_model(reference: str):
    """(recipe, bins) of the model: how to prepare photos (from the export's
    metadata, as `OnnxScorer` reads it) and the width of its distribution
    output (0 for a single-score model). Run on the launcher, which needs
    onnxruntime too."""
    from aesthetics.inference.backends import OnnxScorer

    scorer = OnnxScorer(local_model_file(reference), threads=1)
    bins = 0
    if scorer.output_name == "distribution":
        shape = next(o.shape for o in scorer.session.get_outputs() if o.name == "distribution")
        width = shape[-1] if shape else None
        bins = width if isinstance(width, int) and width > 0 else scorer.recipe.num_bins
    return scorer.recipe, int(bins)
