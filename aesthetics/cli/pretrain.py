"""`aesthetics pretrain`: self-supervised pretext pretraining on unlabelled photos."""

from __future__ import annotations

import json

from aesthetics.cli.common import add_run_arguments, load_run_config, require_path, run_overrides


def register(sub, parents=()):
    p = sub.add_parser(
        "pretrain",
        parents=list(parents),
        help="self-supervised pretraining on a folder of unlabelled photos",
        description="Pretrain an encoder on graded synthetic degradations of unlabelled "
        "photos (ranking + kind classification + level regression + reconstruction). "
        "Writes RUN_DIR/model.keras (image -> quality score; use it with "
        "`train --init-from` or `predict --model`), pretext.keras, history.csv and "
        "config.json. Re-running the same command resumes an interrupted run.",
    )
    p.add_argument("--images", help="folder of photos, searched recursively (pretrain.images)")
    p.add_argument("--epochs", type=int, help="pretrain.epochs")
    p.add_argument("--steps", type=int, help="pretrain.steps_per_epoch")
    p.add_argument("--seed", type=int, help="pretrain.seed")
    add_run_arguments(p, "runs/pretrain", "pretrain.crop_size=160")
    p.set_defaults(func=run, check=check)


def collect_overrides(args) -> list[str]:
    return run_overrides(args, {
        "pretrain.images": args.images,
        "pretrain.epochs": args.epochs,
        "pretrain.steps_per_epoch": args.steps,
        "pretrain.seed": args.seed,
    }, distribute_section="pretrain")


def check(args) -> None:
    """Config values and paths, before TensorFlow is imported."""
    from aesthetics.cli.train import check_run_folder

    config = load_run_config(args, collect_overrides(args))
    if config.pretrain.images:
        require_path(config.pretrain.images, "pretrain.images", "dir")
    check_run_folder(args.output)


def run(args) -> int:
    from aesthetics.pretext.training import pretrain
    from aesthetics.training.run_folder import json_safe

    config = args.config_obj
    summary = pretrain(config, args.output, resume=not args.no_resume, verbose=args.verbose)
    shown = {k: summary[k] for k in ("heads", "n_photos", "n_skipped", "train_seconds") if k in summary}
    print(json.dumps(json_safe({"run_dir": args.output, **shown, "last_epoch": summary.get("last_epoch", {})}), indent=2))
    return 0
