"""`aesthetics evaluate`: metrics of a model on labelled images."""

from __future__ import annotations

import json
from pathlib import Path

from aesthetics.cli.common import check_writable_file, finite_float, positive_int, require_path
from aesthetics.constants import LABEL_FORMATS


def register(sub, parents=()):
    p = sub.add_parser(
        "evaluate",
        parents=list(parents),
        help="evaluate a model on labelled images",
        description="Print and write SRCC, PLCC, accuracy, MSE, MAE and EMD, and save a "
        "predicted-vs-true scatter plot.",
    )
    p.add_argument("--model", required=True, help="a trained model (.keras) or a shipped model's name")
    p.add_argument("--images", required=True, help="image folder")
    p.add_argument("--labels", required=True, help="label file (any supported format)")
    p.add_argument("--label-format", default="auto", choices=("auto",) + LABEL_FORMATS)
    p.add_argument("--score-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="range of a MOS label file (default: the range the model was trained with)")
    p.add_argument("--split-file", help="a run's split.json: evaluate only one part of it")
    p.add_argument("--subset", default="val", choices=("val", "train"), help="part of --split-file")
    p.add_argument("--output", default="metrics.json", help="metrics JSON (default metrics.json)")
    p.add_argument("--plot", help="scatter plot PNG (default: next to --output)")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--threshold", type=finite_float, default=5.0, help="accuracy threshold on 1..10")
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    from aesthetics import zoo
    from aesthetics.inference.loading import check_model_path

    args.model = str(zoo.resolve(args.model))  # a shipped model's name, or a path
    check_model_path(args.model)
    require_path(args.images, "--images", "dir")
    require_path(args.labels, "--labels", "file")
    if args.split_file:
        require_path(args.split_file, "--split-file", "file")
    if args.score_range is not None:
        import math

        from aesthetics.errors import ConfigError

        low, high = args.score_range
        if not (math.isfinite(low) and math.isfinite(high)) or low == high:
            raise ConfigError(f"--score-range {low:g} {high:g}: expected two finite numbers LOW != HIGH")
    # before the model is loaded and every image scored, not after
    check_writable_file(args.output, "--output")
    check_writable_file(args.plot or str(Path(args.output).with_suffix(".png")), "--plot")


def run(args) -> int:
    from aesthetics.inference.evaluation import evaluate_model, scatter_plot
    from aesthetics.inference.loading import load_model
    from aesthetics.training.run_folder import json_safe, write_json

    model = load_model(args.model)
    metrics, table = evaluate_model(
        model, args.labels, args.images, label_format=args.label_format,
        score_range=args.score_range, batch_size=args.batch_size, threshold=args.threshold,
        split_file=args.split_file, subset=args.subset,
    )
    write_json(args.output, metrics)
    plot = args.plot or str(Path(args.output).with_suffix(".png"))
    if "mse" in metrics:
        scatter_plot(table, metrics, plot, title=Path(args.model).name)
    shown = {k: v for k, v in metrics.items() if k != "skipped"}
    print(json.dumps(json_safe(shown), indent=2))
    return 0
