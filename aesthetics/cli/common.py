"""Arguments and argument checks shared by the subcommands."""

from __future__ import annotations

import json

from aesthetics.constants import DISTRIBUTE_STRATEGIES
from aesthetics.errors import ConfigError


def add_run_arguments(p, default_output: str, set_example: str) -> None:
    """--config, --output, --backbone, --backbone-weights, --no-resume, --set, --verbose."""
    p.add_argument("--config", help="JSON config (see configs/); defaults if omitted")
    p.add_argument("--output", default=default_output, help=f"run folder (default: {default_output})")
    p.add_argument("--backbone", help="model.backbone, e.g. mobilenet, efficientnet_b0")
    p.add_argument("--backbone-weights", help="'imagenet', 'bundled' (the default shipped "
                   "model's backbone: works offline), 'none' or a local weights file")
    p.add_argument("--no-resume", action="store_true", help="start over even if RUN_DIR has a checkpoint")
    p.add_argument("--distribute", choices=DISTRIBUTE_STRATEGIES, help="train.distribute / "
                   "pretrain.distribute: mirrored (this machine's GPUs), multi_worker (TF_CONFIG), tpu")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help=f"any config override, e.g. --set {set_example} (repeatable)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")


def add_data_arguments(p, split_note: str = "") -> None:
    """The labelled-data options of `train` and `tune` (each sets a data.* key)."""
    from aesthetics.constants import LABEL_FORMATS

    p.add_argument("--images", help="image folder (overrides data.images)")
    p.add_argument("--labels", help="label file: AVA.txt, idealo JSON, MOS CSV, TID2013 (data.labels)")
    p.add_argument("--label-format", choices=("auto",) + LABEL_FORMATS, help="label file format (default: auto)")
    p.add_argument("--score-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="range of a MOS label file, mapped onto 1..10 (e.g. 0 100)")
    p.add_argument("--split-file", help="JSON {'train': [...], 'val': [...]} of image ids" + split_note)


def run_overrides(args, pairs: dict, distribute_section: str = "train") -> list[str]:
    """`section.key=json` overrides from named options (None = not given),
    the shared backbone options, then the raw --set items (which win)."""
    pairs = {**pairs, "model.backbone": args.backbone}
    if getattr(args, "distribute", None):
        pairs[f"{distribute_section}.distribute"] = args.distribute
    out = [f"{k}={json.dumps(v)}" for k, v in pairs.items() if v is not None]
    if args.backbone_weights:
        w = None if args.backbone_weights.lower() == "none" else args.backbone_weights
        out.append(f"model.backbone_weights={json.dumps(w)}")
    return out + list(args.set)


def require_path(path, what: str, kind: str = "any") -> None:
    """InputNotFoundError unless `path` exists (as a file / folder)."""
    from pathlib import Path

    from aesthetics.errors import InputNotFoundError

    p = Path(path).expanduser()
    ok = p.is_file() if kind == "file" else p.is_dir() if kind == "dir" else p.exists()
    if not ok:
        noun = {"file": "file", "dir": "folder"}.get(kind, "path")
        raise InputNotFoundError(f"{what}: {noun} not found: {path}")


def check_backbone_preset(model) -> None:
    """A KerasHub backbone names its preset, and keras-hub is installed
    (before TensorFlow starts); a folder must exist (a name is KerasHub's)."""
    from aesthetics.catalog import BACKBONES

    if BACKBONES.get(model.backbone, "model.backbone").extra.get("source") != "keras_hub":
        if model.backbone_preset:
            raise ConfigError(f"model.backbone_preset: backbone {model.backbone!r} is not a KerasHub backbone "
                              "(clip, siglip, dinov2, vit); its weights come from model.backbone_weights")
        return
    if not model.backbone_preset and not model.backbone_config:
        raise ConfigError(f"model.backbone_preset: backbone {model.backbone!r} needs a KerasHub preset: a local "
                          "preset folder (or a preset name, downloaded once online)")
    import importlib.util

    if importlib.util.find_spec("keras_hub") is None:
        raise ConfigError(f"model.backbone: {model.backbone!r} needs keras-hub: pip install 'aesthetics[clip]'")
    if model.backbone_preset and any(c in model.backbone_preset for c in "/\\.~"):
        require_path(model.backbone_preset, "model.backbone_preset", "dir")


def load_run_config(args, overrides: list):
    """Loads and validates the config (no TensorFlow) and checks the paths it
    names; the result is kept on `args.config_obj` for `run`."""
    from aesthetics.config import load_config

    if args.config:
        require_path(args.config, "--config", "file")
    config = load_config(args.config, overrides)
    weights = config.model.backbone_weights
    if weights not in (None, "imagenet", "bundled", "preset"):
        require_path(weights, "model.backbone_weights", "file")
    check_backbone_preset(config.model)
    from aesthetics.training.distribute import check_strategy_name, virtual_cpus

    check_strategy_name(config.train.distribute, "train.distribute")
    check_strategy_name(config.pretrain.distribute, "pretrain.distribute")
    virtual_cpus()  # a bad AESTHETICS_VIRTUAL_CPUS fails here, before TensorFlow starts
    args.config_obj = config
    return config


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def check_writable_file(path, what: str, suffixes=()) -> None:
    """OutputError/ConfigError, before any work, unless `path` can be written
    (its folder is created) and has one of `suffixes`."""
    from pathlib import Path

    from aesthetics.errors import ConfigError, OutputError

    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise ConfigError(f"{what} {path}: expected a {' or '.join(suffixes)} file name")
    if p.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    from aesthetics.paths import probe_writable

    probe_writable(p, what)


def check_writable_folder(path, what: str) -> None:
    """OutputError, before any work, unless folder `path` exists or can be
    created, and can be written."""
    import tempfile
    from pathlib import Path

    from aesthetics.errors import OutputError

    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise OutputError(f"{what} {path}: cannot write there ({e.strerror or e})") from None
