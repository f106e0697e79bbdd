"""Training recipes on CLIVE (issue 11): progressive resizing and the staged,
loss-switching schedule against the fixed-size two-phase recipe.

    .venv/bin/python benchmarks/training_recipes.py                      # every run not yet in the results
    .venv/bin/python benchmarks/training_recipes.py --recipes progressive --seeds 1
    .venv/bin/python benchmarks/training_recipes.py --max-minutes 40     # start no run after 40 minutes
    .venv/bin/python benchmarks/training_recipes.py --table

Each run is the real `aesthetics train` (NIMA, ImageNet MobileNet v1, 224 px
whole-photo resize) on the 600 CLIVE dev photos with the configs' fixed
480 / 120 split (split_seed 42), one row per (recipe, train.seed) in
benchmarks/results/training_recipes.jsonl (the epoch history with its wall
time, and the saved model's metrics); rows that exist are skipped.

    fixed_224     configs/clive_mobilenet.json: head 3 epochs (Adam 1e-3), then all
                  layers 12 epochs (Adam 1e-4, cosine), early stopping after 4
    progressive   the same, training at 160 px for epochs 0-4, 192 px for 5-9, 224 px
                  from epoch 10 (validation always at 224)
    staged        configs/clive_staged.json without its progressive sizes: head 2
                  epochs, AdamW 1e-4 switching MSE / L1 / mixed every 2 epochs (6),
                  Adam 1e-5 on mixed (4), SGD 1e-6 on EMD (2); best epoch by val EMD
                  (train.monitor="val_loss", as the first measurement ran)
    staged_srcc   the same, best epoch by val SRCC (the config's train.monitor)

"Time to reach" is the wall time until a run's validation SRCC first reaches
the best validation SRCC of the fixed_224 run with the same seed (sum of
epoch_seconds; "-" if never). Needs ../shared; no network.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.clive_finetune_study import append_row, read_rows  # noqa: E402
from benchmarks.common import require_shared  # noqa: E402
from benchmarks.dual_path_stability import run_cli  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "training_recipes.jsonl"
RECIPES = {  # name -> (config, --set overrides)
    "fixed_224": (ROOT / "configs" / "clive_mobilenet.json", ()),
    "progressive": (ROOT / "configs" / "clive_mobilenet.json",
                    ("train.progressive_sizes=[160,192,224]", "train.progressive_epochs=[0,5,10]")),
    "staged": (ROOT / "configs" / "clive_staged.json", ("train.progressive_sizes=null", "train.progressive_epochs=null",
                                                        'train.monitor="val_loss"')),
    "staged_srcc": (ROOT / "configs" / "clive_staged.json", ("train.progressive_sizes=null",
                                                             "train.progressive_epochs=null")),
}


def time_to_reach(history, target):
    elapsed = 0.0
    for e in history:
        elapsed += float(e.get("epoch_seconds") or 0)
        if e.get("val_srcc") is not None and e["val_srcc"] >= target - 1e-9:
            return elapsed
    return None


def table_text(rows) -> str:
    by = {}
    for r in rows:
        by.setdefault(r["recipe"], {})[r["seed"]] = r
    fixed = by.get("fixed_224", {})
    lines = ["| recipe | seeds | saved model val SRCC | PLCC | paired dSRCC vs fixed_224 | epochs run | "
             "train min/run | time to fixed_224's best val SRCC (vs its own) |", "|---|---|---|---|---|---|---|---|"]
    for name in [n for n in RECIPES if n in by] + [n for n in by if n not in RECIPES]:
        rs = by[name]
        sr = [rs[s]["metrics"]["srcc"] for s in sorted(rs)]
        pl = [rs[s]["metrics"]["plcc"] for s in sorted(rs)]
        d = [rs[s]["metrics"]["srcc"] - fixed[s]["metrics"]["srcc"] for s in sorted(rs) if s in fixed]
        paired = f"{np.mean(d):+.3f} ± {np.std(d):.3f} ({len(d)})" if d and name != "fixed_224" else ""
        reach = []
        for s in sorted(rs):
            if s not in fixed:
                continue
            target = max(e.get("val_srcc") or -1 for e in fixed[s]["history"])
            mine, theirs = time_to_reach(rs[s]["history"], target), time_to_reach(fixed[s]["history"], target)
            reach.append(f"{'-' if mine is None else f'{mine / 60:.1f}'} / {theirs / 60:.1f} min")
        minutes = np.mean([sum(float(e.get("epoch_seconds") or 0) for e in rs[s]["history"]) / 60 for s in rs])
        lines.append(f"| {name} | {len(rs)} | {np.mean(sr):.3f} ± {np.std(sr):.3f} | {np.mean(pl):.3f} ± {np.std(pl):.3f} "
                     f"| {paired} | {','.join(str(len(rs[s]['history'])) for s in sorted(rs))} | {minutes:.1f} "
                     f"| {'; '.join(reach)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--runs", type=Path, default=Path("/tmp/training_recipes_runs"))
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        print(table_text(read_rows(args.results)))
        return
    require_shared()
    t0 = time.time()
    done = {(r["recipe"], r["seed"]) for r in read_rows(args.results)}
    for seed in args.seeds:  # seed-major: a pair of recipes is comparable as soon as it is done
        for name in args.recipes:
            if (name, seed) in done:
                continue
            if args.max_minutes is not None and (time.time() - t0) / 60 > args.max_minutes:
                print(f"stopping: {args.max_minutes} minutes passed; rerun to resume", flush=True)
                print(table_text(read_rows(args.results)))
                return
            config, overrides = RECIPES[name]
            row = run_cli(seed, args.runs, lambda m: print(f"[{name} seed {seed}] {m}", flush=True), config,
                          overrides, tag=name)
            row.update({"recipe": name, "overrides": list(overrides)})
            append_row(args.results, row)
            print(f"[{name} seed {seed}] val SRCC {row['metrics']['srcc']:.3f} in {row['minutes']:.1f} min", flush=True)
    print(table_text(read_rows(args.results)))


if __name__ == "__main__":
    main()
