"""`aesthetics evaluate`: metrics of a model on labelled images."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub):
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model on labelled images",
        description="Print and write SRCC, PLCC, accuracy, MSE, MAE and EMD, and save a "
        "predicted-vs-true scatter plot.",
    )
    p.add_argument("--model", required=True, help="a trained model (.keras)")
    p.add_argument("--images", required=True, help="image folder")
    p.add_argument("--labels", required=True, help="label file (any supported format)")
    p.add_argument("--label-format", default="auto")
    p.add_argument("--score-range", nargs=2, type=float, metavar=("LOW", "HIGH"))
    p.add_argument("--split-file", help="a run's split.json: evaluate only one part of it")
    p.add_argument("--subset", default="val", choices=("val", "train"), help="part of --split-file")
    p.add_argument("--output", default="metrics.json", help="metrics JSON (default metrics.json)")
    p.add_argument("--plot", help="scatter plot PNG (default: next to --output)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threshold", type=float, default=5.0, help="accuracy threshold on 1..10")
    p.set_defaults(func=run)


def run(args) -> int:
    from aesthetics.inference.evaluation import evaluate_model, scatter_plot, write_metrics
    from aesthetics.inference.loading import load_model

    model = load_model(args.model)
    metrics, table = evaluate_model(
        model, args.labels, args.images, label_format=args.label_format,
        score_range=args.score_range, batch_size=args.batch_size, threshold=args.threshold,
        split_file=args.split_file, subset=args.subset,
    )
    write_metrics(metrics, args.output)
    plot = args.plot or str(Path(args.output).with_suffix(".png"))
    if "mse" in metrics:
        scatter_plot(table, metrics, plot, title=Path(args.model).name)
    shown = {k: v for k, v in metrics.items() if k != "skipped"}
    print(json.dumps(shown, indent=2))
    return 0
