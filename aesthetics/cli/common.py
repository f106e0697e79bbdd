"""Arguments shared by the subcommands that train into a run folder."""

from __future__ import annotations

import json


def add_run_arguments(p, default_output: str, set_example: str) -> None:
    """--config, --output, --backbone, --backbone-weights, --no-resume, --set, --verbose."""
    p.add_argument("--config", help="JSON config (see configs/); defaults if omitted")
    p.add_argument("--output", default=default_output, help=f"run folder (default: {default_output})")
    p.add_argument("--backbone", help="model.backbone, e.g. mobilenet, efficientnet_b0")
    p.add_argument("--backbone-weights", help="'imagenet', 'none' or a local weights file")
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
