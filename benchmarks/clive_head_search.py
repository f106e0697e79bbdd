"""The small CLIVE search of issue 11, checked without its selection bias.

`aesthetics tune` (configs/clive_head_search.json + search_spaces/clive_head.json,
12 Bayesian trials, heads on cached features) picks the trial with the best
SRCC on the fixed 120-photo validation split, which flatters it: the maximum
of 12 noisy estimates on the photos it was selected on. This script retrains
the base config and the search's best config on the 5 CLIVE folds
(benchmarks/clive_folds.json): each fold's training photos minus a seeded 15%
holdout train the head (early stopping on the holdout, as `aesthetics train`
does on its validation part), and the fold's 120 test photos, never seen by
the search's selection within the fold, score it.

    .venv/bin/python benchmarks/clive_head_search.py --best RUN/best_config.json
    .venv/bin/python benchmarks/clive_head_search.py --table

One row per (config, fold) in benchmarks/results/clive_head_search.jsonl;
rows that exist are skipped. The search's own trials are kept in
results/clive_head_search_trials.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.clive_finetune_study import FOLDS, VAL_FRACTION, append_row, load_table, read_rows  # noqa: E402
from benchmarks.common import CLIVE_IMAGES, CLIVE_LABELS, require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "clive_head_search.jsonl"
BASE = ROOT / "configs" / "clive_head_search.json"
CACHE = ROOT / "benchmarks" / "cache" / "head_search_features"


def run_fold(name, config_path, k, fold, table, work: Path) -> dict:
    import keras

    from aesthetics.config import load_config
    from aesthetics.inference.loading import load_model
    from aesthetics.metrics.scores import evaluate_distributions
    from aesthetics.training.cached_head import _fingerprint, head_layers, train_cached_head
    from aesthetics.training.row_cache import RowCache

    ids = list(table["image_id"])
    test = [i for i, n in enumerate(ids) if n in set(fold)]
    train = np.setdiff1d(np.arange(len(ids)), test)
    order = np.random.default_rng(100 + k).permutation(train)  # the fine-tuning study's holdout
    n_val = int(round(VAL_FRACTION * len(train)))
    split = work / f"{name}_fold{k}_split.json"
    split.write_text(json.dumps({"train": [ids[i] for i in sorted(order[n_val:])],
                                 "val": [ids[i] for i in sorted(order[:n_val])]}))
    config = load_config(config_path, [f"data.images={json.dumps(str(CLIVE_IMAGES))}",
                                       f"data.labels={json.dumps(str(CLIVE_LABELS))}",
                                       f"data.split_file={json.dumps(str(split))}"])
    run = work / f"{name}_fold{k}"
    holdout = train_cached_head(config, run, resume=False, verbose=0, cache_dir=CACHE)
    keras.backend.clear_session()
    model = load_model(run / "model.keras")
    cache = RowCache(CACHE / f"features_{_fingerprint(model)[:16]}.npz", _fingerprint(model))
    paths = [str(p) for p in table["filepath"]]
    missing = [paths[i] for i in test if paths[i] not in cache.rows]
    if missing:  # the test photos' features (the same backbone and recipe), once
        from aesthetics.inference.scoring import as_scorer, output_rows

        layers, features = head_layers(model)
        rows, ok, failures = output_rows(as_scorer(keras.Model(model.inputs, features), model.recipe), missing)
        assert not failures, failures
        cache.add({missing[i]: r for i, r in zip(ok, rows)})
    layers, features = head_layers(model)
    x = inp = keras.Input(tuple(features.shape[1:]))
    for layer in layers:
        x = layer(x)
    pred = np.asarray(keras.Model(inp, x).predict(np.stack([cache.rows[paths[i]] for i in test]), verbose=0))
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)[test]
    metrics = evaluate_distributions(targets, pred)
    return {"config": name, "fold": k, "srcc": metrics["srcc"], "plcc": metrics["plcc"],
            "holdout_srcc": holdout["srcc"], "values": {key: config_value(config, key) for key in
                                                        ("train.lr_head", "model.dropout", "train.loss",
                                                         "data.max_side", "data.batch_size")}}


def config_value(config, key):
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def table_text(rows) -> str:
    by = {}
    for r in rows:
        by.setdefault(r["config"], {})[r["fold"]] = r
    lines = ["| config | values | folds | test SRCC | PLCC | paired dSRCC vs base |", "|---|---|---|---|---|---|"]
    base = by.get("base", {})
    for name, fs in by.items():
        sr = [fs[k]["srcc"] for k in sorted(fs)]
        d = [fs[k]["srcc"] - base[k]["srcc"] for k in sorted(fs) if k in base]
        values = ", ".join(f"{k.split('.')[1]} {v:.2g}" if isinstance(v, float) else f"{k.split('.')[1]} {v}"
                           for k, v in next(iter(fs.values()))["values"].items())
        lines.append(f"| {name} | {values} | {len(fs)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} | "
                     f"{np.mean([fs[k]['plcc'] for k in fs]):.3f} | "
                     f"{'' if name == 'base' else f'{np.mean(d):+.3f} ± {np.std(d):.3f} ({len(d)})'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--best", type=Path, help="the search's best_config.json")
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        print(table_text(read_rows(RESULTS)))
        return
    require_shared()
    folds = json.loads(FOLDS.read_text())["folds"]
    table = load_table()
    done = {(r["config"], r["fold"]) for r in read_rows(RESULTS)}
    configs = [("base", BASE)] + ([("best", args.best)] if args.best else [])
    with tempfile.TemporaryDirectory(prefix="head_search_") as work:
        for name, path in configs:
            for k in args.folds:
                if (name, k) in done:
                    continue
                row = run_fold(name, path, k, folds[k], table, Path(work))
                append_row(RESULTS, row)
                print(json.dumps(row), flush=True)
    print(table_text(read_rows(RESULTS)))


if __name__ == "__main__":
    main()
