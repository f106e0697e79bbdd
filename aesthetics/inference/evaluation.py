"""Evaluating a model on labelled images: metrics + a predicted-vs-true plot."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from aesthetics.errors import DataError, InputNotFoundError

log = logging.getLogger("aesthetics")


def evaluate_model(model, labels, images, label_format="auto", score_range=None,
                   batch_size=32, threshold=5.0, split_file=None, subset="val"):
    """Scores every labelled image that exists and compares with the labels.

    Photos are prepared as the model's recipe says (as its training
    validated); a MOS label file without `score_range` uses the range the
    model was trained with (its recipe's `score_range`). With `split_file`
    (a run's split.json), only the ids of `subset` ("train" or "val") are
    evaluated.

    Returns (metrics dict, table with `pred_mean` column for the scored rows).
    """
    from aesthetics.data.files import resolve_images
    from aesthetics.data.labels import read_labels
    from aesthetics.data.splits import load_split
    from aesthetics.inference.scoring import score_files
    from aesthetics.metrics.scores import distribution_mean, evaluate_distributions
    from aesthetics.models.scorer import recipe_of

    trained_range = recipe_of(model).score_range
    if score_range is None and trained_range is not None:
        score_range = list(trained_range)
    table = read_labels(labels, fmt=label_format, score_range=score_range)
    if split_file:
        train_ids, val_ids = load_split(split_file)
        keep = set(val_ids if subset == "val" else train_ids)
        table = table[table["image_id"].isin(keep)].reset_index(drop=True)
        if len(table) == 0:
            raise DataError(f"no labelled image is in the {subset!r} part of {split_file}")
    found, missing = resolve_images(table, images)
    if len(missing):
        log.warning("%d labelled images are missing under %s (first: %s)", len(missing), images,
                    ", ".join(missing["path"].head(5)))
    if len(found) == 0:
        raise InputNotFoundError(f"none of the {len(table)} labelled images exist under {images}")
    records = score_files(model, list(found["filepath"]), batch_size=batch_size)
    ok = np.array(["error" not in r for r in records])
    skipped = {r["path"]: r["error"] for r in records if "error" in r}
    if not ok.any():
        raise DataError("no labelled image could be scored")
    scored = found[ok].reset_index(drop=True)
    true = np.stack(scored["distribution"].to_numpy())
    recs = [r for r in records if "error" not in r]
    if "distribution" in recs[0]:
        pred = np.array([r["distribution"] for r in recs])
        metrics = evaluate_distributions(true, pred, threshold)
    else:  # scalar-score model (e.g. a self-supervised ranking head): rank metrics only
        from aesthetics.metrics.scores import plcc, srcc

        p = np.array([r["mean_score_prediction"] for r in recs])
        t = distribution_mean(true)
        metrics = {"n": int(len(p)), "srcc": srcc(t, p), "plcc": plcc(t, p)}
    scored["pred_mean"] = [r["mean_score_prediction"] for r in recs]
    metrics.update({"n_missing": int(len(missing)), "n_skipped_unreadable": len(skipped), "skipped": skipped})
    return metrics, scored


def scatter_plot(table, metrics: dict, path, title: str = "") -> None:
    """Saves a predicted-vs-true mean score scatter plot (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true = table["mean"].to_numpy()
    pred = table["pred_mean"].to_numpy()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(true, pred, s=10, alpha=0.6, edgecolors="none")
    lo = float(min(true.min(), pred.min())) - 0.2
    hi = float(max(true.max(), pred.max())) + 0.2
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("true mean score (1..10)")
    ax.set_ylabel("predicted mean score")
    ax.set_title(
        f"{title}\nSRCC {metrics['srcc']:.3f}  PLCC {metrics['plcc']:.3f}  n={metrics['n']}".strip()
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
