"""`aesthetics pretrain`: self-supervised pretext pretraining on unlabelled photos."""

from __future__ import annotations

import json


def register(sub):
    p = sub.add_parser(
        "pretrain",
        help="self-supervised pretraining on a folder of unlabelled photos",
        description="Pretrain an encoder on graded synthetic degradations of unlabelled "
        "photos (ranking + kind classification + level regression + reconstruction). "
        "Writes RUN_DIR/model.keras (image -> quality score; use it with "
        "`train --init-from` or `predict --model`), pretext.keras, history.csv and "
        "config.json. Re-running the same command resumes an interrupted run.",
    )
    p.add_argument("--images", help="folder of photos, searched recursively (pretrain.images)")
    p.add_argument("--config", help="JSON config (e.g. configs/pretrain_mobilenet.json)")
    p.add_argument("--output", default="runs/pretrain", help="run folder (default: runs/pretrain)")
    p.add_argument("--backbone", help="model.backbone, e.g. mobilenet")
    p.add_argument("--backbone-weights", help="'imagenet', 'none' or a local weights file")
    p.add_argument("--epochs", type=int, help="pretrain.epochs")
    p.add_argument("--steps", type=int, help="pretrain.steps_per_epoch")
    p.add_argument("--seed", type=int, help="pretrain.seed")
    p.add_argument("--no-resume", action="store_true", help="start over even if RUN_DIR has a checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any config override, e.g. --set pretrain.crop_size=160 (repeatable)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    p.set_defaults(func=run)


def collect_overrides(args) -> list[str]:
    pairs = {
        "pretrain.images": args.images,
        "model.backbone": args.backbone,
        "pretrain.epochs": args.epochs,
        "pretrain.steps_per_epoch": args.steps,
        "pretrain.seed": args.seed,
    }
    out = [f"{k}={json.dumps(v)}" for k, v in pairs.items() if v is not None]
    if args.backbone_weights:
        w = None if args.backbone_weights.lower() == "none" else args.backbone_weights
        out.append(f"model.backbone_weights={json.dumps(w)}")
    return out + list(args.set)


def run(args) -> int:
    from aesthetics.config import load_config
    from aesthetics.pretraining import pretrain

    config = load_config(args.config, collect_overrides(args))
    summary = pretrain(config, args.output, resume=not args.no_resume, verbose=args.verbose)
    shown = {k: summary[k] for k in ("heads", "n_photos", "n_skipped", "train_seconds") if k in summary}
    print(json.dumps({"run_dir": args.output, **shown, "last_epoch": summary.get("last_epoch", {})}, indent=2))
    return 0
