"""Arguments shared by the subcommands that train into a run folder."""

from __future__ import annotations

import json


def add_run_arguments(p, default_output: str, set_example: str) -> None:
    """--config, --output, --backbone, --backbone-weights, --no-resume, --set, --verbose."""
    p.add_argument("--config", help="JSON config (see configs/); defaults if omitted")
    p.add_argument("--output", default=default_output, help=f"run folder (default: {default_output})")
    p.add_argument("--backbone", help="model.backbone, e.g. mobilenet, efficientnet_b0")
    p.add_argument("--backbone-weights", help="'imagenet', 'bundled' (the default shipped "
                   "model's backbone: works offline), 'none' or a local weights file")
    p.add_argument("--no-resume", action="store_true", help="start over even if RUN_DIR has a checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help=f"any config override, e.g. --set {set_example} (repeatable)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")


def run_overrides(args, pairs: dict) -> list[str]:
    """`section.key=json` overrides from named options (None = not given),
    the shared backbone options, then the raw --set items (which win)."""
    pairs = {**pairs, "model.backbone": args.backbone}
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


def load_run_config(args, overrides: list):
    """Loads and validates the config (no TensorFlow) and checks the paths it
    names; the result is kept on `args.config_obj` for `run`."""
    from aesthetics.config import load_config

    if args.config:
        require_path(args.config, "--config", "file")
    config = load_config(args.config, overrides)
    weights = config.model.backbone_weights
    if weights not in (None, "imagenet", "bundled"):
        require_path(weights, "model.backbone_weights", "file")
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
