"""Why does `configs/clive_dual_path.json` diverge when the backbone unfreezes?
(issue 26, item 1). Measures, not guesses: the config's two phases on the fixed
CLIVE split (`common.clive_split()`, 480 / 120 photos), head phase as in the
config, then the first full epoch(s) step by step, recording per step

* the loss and the global gradient norm of each group of weights: the backbone's
  blocks (MobileNet conv1, blocks 1-13), the non-local block, the local
  reduction, the attention, the fusion and the score head;
* the norms of the vectors the head sees (mean over the batch): the global
  vector (after the non-local block), the attention-pooled local vector, the
  fused (FiLM) vector, and the largest |logit| of the softmax;
* the relative change of the backbone's final map since the end of the head phase;

and the val SRCC after the head phase and after each full epoch. One row per
(variant, seed) in `benchmarks/results/dual_path_stability.jsonl`; rows that
exist are skipped. A variant is a set of config overrides (`VARIANTS`), so a
candidate fix is measured the same way as the shipped config.

    .venv/bin/python benchmarks/dual_path_stability.py                       # every variant, seed 1
    .venv/bin/python benchmarks/dual_path_stability.py --variants shipped --seeds 1 2 3
    .venv/bin/python benchmarks/dual_path_stability.py --table
    # the real thing: `aesthetics train --config configs/clive_dual_path.json`, one row per seed
    .venv/bin/python benchmarks/dual_path_stability.py --cli --seeds 1 2 3

A training loop of its own (a `GradientTape` step, the library's optimizer,
BatchNorm freezing and data pipeline), because Keras' `fit` does not expose
gradients. One difference: its head phase runs at a constant rate, where
`aesthetics train` decays it with the config's cosine schedule too (a harsher
test). `--cli` runs `aesthetics train --config` itself: the run that must not
diverge.
Needs ../shared (CLIVE photos, ImageNet MobileNet weights); no network.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.clive_finetune_study import append_row, read_rows  # noqa: E402
from benchmarks.common import SHARED, clive_split, require_shared  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dual_path_stability.jsonl"
CONFIG = ROOT / "configs" / "clive_dual_path.json"
WEIGHTS = SHARED / "weights" / "mobilenet_1_0_224_imagenet_notop.weights.h5"
# variant -> config overrides (key=value, as `aesthetics train --set`)
# "shipped" is the config as it was before the fix (non_local_bn false), as the rows were measured;
# a model.options override replaces the whole options dict, so every variant below starts from that.
BEFORE_FIX = 'model.options={"non_local_bn": false}'
VARIANTS = {
    "shipped": [BEFORE_FIX],
    "nima": ["model.model=nima", "model.options={}"],  # the same recipe without the dual path: it does not diverge
    "no_non_local": ['model.options={"use_non_local": false}'],
    "no_adain": ['model.options={"use_adain": false}'],
    "lr_full_1e-5": [BEFORE_FIX, "train.lr_full=1e-5"],
    "style_norm": ['model.options={"fusion_normalize_style": true}'],
    "feature_norm": ['model.options={"feature_norm": true}'],
    "both_norms": ['model.options={"fusion_normalize_style": true, "feature_norm": true}'],
    # the non-local residual through zero-gamma BatchNorm: its scale grows by at most ~lr a step
    "non_local_bn": ['model.options={"non_local_bn": true}'],
    "non_local_bn_feature_norm": ['model.options={"non_local_bn": true, "feature_norm": true}'],
    "lr_head_1e-4": [BEFORE_FIX, "train.lr_head=1e-4"],
}
GROUPS = [("non_local", r"^non_local"), ("local_reduce", r"^local_reduce"), ("attention", r"^local_attention"),
          ("fusion", r"^fusion"), ("head", r"^scores")]


def group_of(path: str) -> str:
    """The group a weight belongs to, from its path ("backbone/conv_pw_7/kernel", "fusion/gamma/kernel")."""
    parts = path.split("/")
    if parts[0] in ("backbone", "mobilenet_1.00_224") or "conv" in parts[0]:
        m = re.search(r"conv_(?:dw|pw)_(\d+)", path)
        return f"block{int(m.group(1)):02d}" if m else "stem"
    for name, pattern in GROUPS:
        if re.search(pattern, parts[0]):
            return name
    return parts[0]


def probe_outputs(model):
    """Named intermediate tensors of the dual-path (or NIMA) graph the head sees."""
    names = {"global": "global_pool", "local": "local_attention", "fused": "fusion", "features": "fuse_concat"}
    out = {}
    for key, layer_name in names.items():
        try:
            t = model.get_layer(layer_name).output
        except ValueError:
            continue
        out[key] = t[0] if isinstance(t, (list, tuple)) else t
    # the score head's input (after feature_norm when there is one; NIMA: the pooled vector)
    out["head_input"] = model.get_layer("head_dropout").input
    return out


def run_variant(name, seed, full_epochs, image_size, log, limit=None):
    import keras
    import tensorflow as tf

    from aesthetics.config import load_config
    from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset, make_training_dataset
    from aesthetics.distributions import distribution_mean_std
    from aesthetics.losses import get_loss
    from aesthetics.metrics.scores import srcc
    from aesthetics.models.registry import build_model
    from aesthetics.training.optim import make_optimizer
    from aesthetics.training.weights import unfreeze_backbone

    overrides = [f"model.backbone_weights={WEIGHTS}", f"train.seed={seed}",
                 f"data.image_size={image_size}"] + VARIANTS[name]
    config = load_config(CONFIG, overrides)
    keras.utils.set_random_seed(seed)
    train, val = clive_split()
    if limit:  # a smoke run
        train, val = train.iloc[:limit], val.iloc[:limit]
    targets = np.stack(train["distribution"].to_numpy()).astype(np.float32)
    val_mos = val["mean"].to_numpy()
    options = PipelineOptions.from_data_config(config.data)
    bs = config.data.batch_size
    steps = math.ceil(len(train) / bs)
    train_ds = iter(make_training_dataset(list(train["filepath"]), targets, options, bs, seed=seed, repeat=True))
    val_ds = make_eval_dataset(list(val["filepath"]), None, options, 32)
    val_images = np.concatenate([b[0] if isinstance(b, tuple) else b for b in val_ds])

    model = build_model(config.model, image_size)
    graph = model.graph if hasattr(model, "graph") else model
    probes = probe_outputs(graph)
    probe = keras.Model(graph.inputs, {"scores": graph.outputs[0], **probes})
    loss_fn = get_loss(config.train.loss, **config.train.loss_options)
    backbone = graph.get_layer("backbone")

    def val_srcc():
        pred = np.concatenate([graph(val_images[i:i + 32], training=False).numpy() for i in range(0, len(val_images), 32)])
        return float(srcc(val_mos, distribution_mean_std(pred)[0]))

    def make_step(optimizer, variables):
        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                out = probe(x, training=True)
                loss = loss_fn(y, out["scores"])
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loss, grads, out
        return step

    def norms(out):
        head = graph.get_layer("scores")
        kernel, bias = head.kernel, head.bias
        logits = tf.matmul(tf.cast(out["head_input"], tf.float32), kernel) + bias
        row = {k: float(tf.reduce_mean(tf.norm(tf.reshape(out[k], (tf.shape(out[k])[0], -1)), axis=-1)))
               for k in ("global", "local", "fused", "features") if k in out}
        row["max_logit"] = float(tf.reduce_max(tf.abs(logits)))
        return row

    t0 = time.time()
    result = {"variant": name, "seed": seed, "image_size": image_size, "overrides": VARIANTS[name]}
    # head phase: the backbone frozen
    backbone.trainable = False
    head_vars = graph.trainable_variables
    opt = make_optimizer(config.train.optimizer, config.train.lr_head, "constant", 0)
    step = make_step(opt, head_vars)
    head_losses = []
    for epoch in range(config.train.epochs_head):
        losses = [float(step(*next(train_ds))[0]) for _ in range(steps)]
        head_losses.append(float(np.mean(losses)))
        log(f"head epoch {epoch + 1}: loss {head_losses[-1]:.4f}")
    result["head_losses"] = head_losses
    result["head_val_srcc"] = val_srcc()
    log(f"head phase val SRCC {result['head_val_srcc']:.3f}")
    reference = graph.get_layer("backbone")(val_images[:16], training=False)
    reference = reference[-1] if isinstance(reference, (list, tuple)) else reference

    # full phase: as supervised training does it
    unfreeze_backbone(backbone, config.train.freeze_batchnorm, config.train.trainable_backbone_layers)
    variables = graph.trainable_variables
    paths = [v.path for v in variables]
    opt = make_optimizer(config.train.optimizer, config.train.lr_full, config.train.lr_schedule,
                         steps * config.train.epochs_full)
    step = make_step(opt, variables)
    per_step, full_val = [], []
    for epoch in range(full_epochs):
        for i in range(steps):
            loss, grads, out = step(*next(train_ds))
            by_group = {}
            for p, g in zip(paths, grads):
                if g is not None:
                    by_group[group_of(p)] = by_group.get(group_of(p), 0.0) + float(tf.reduce_sum(tf.square(g)))
            now = graph.get_layer("backbone")(val_images[:16], training=False)
            now = now[-1] if isinstance(now, (list, tuple)) else now
            drift = float(tf.norm(now - reference) / tf.norm(reference))
            per_step.append({"epoch": epoch + 1, "step": i + 1, "loss": float(loss),
                             "grad_norm": {k: round(math.sqrt(v), 6) for k, v in sorted(by_group.items())},
                             "backbone_drift": round(drift, 5), **{k: round(v, 4) for k, v in norms(out).items()}})
        full_val.append(val_srcc())
        losses = [s["loss"] for s in per_step if s["epoch"] == epoch + 1]
        log(f"full epoch {epoch + 1}: loss {np.mean(losses):.4f}, val SRCC {full_val[-1]:.3f}, "
            f"fused norm {per_step[-1].get('fused', float('nan')):.1f}, max logit {per_step[-1]['max_logit']:.1f}")
    result.update({"full_val_srcc": full_val, "steps": per_step, "minutes": round((time.time() - t0) / 60, 2)})
    return result


def run_cli(seed, runs: Path, log, config: Path = CONFIG, overrides=(), tag=None) -> dict:
    """`aesthetics train --config CONFIG` on the 600 CLIVE photos (its fixed 480 / 120
    split) with `train.seed` = seed and `--set` `overrides` (resumes an interrupted run
    folder, named by `tag` when given); its history per epoch."""
    import csv
    import os
    import subprocess

    from benchmarks.common import CLIVE_IMAGES, CLIVE_LABELS

    out = runs / (f"{tag}_seed{seed}" if tag else f"seed{seed}" if config == CONFIG else f"{config.stem}_seed{seed}")
    t0 = time.time()
    cmd = [sys.executable, "-m", "aesthetics", "train", "--config", str(config), "--images", str(CLIVE_IMAGES),
           "--labels", str(CLIVE_LABELS), "--output", str(out), "--backbone-weights", str(WEIGHTS),
           "--set", f"train.seed={seed}", *[a for o in overrides for a in ("--set", o)]]
    log(" ".join(cmd))
    p = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"aesthetics train failed ({p.returncode}):\n{p.stderr[-3000:]}")
    with open(out / "history.csv") as f:
        history = [{k: (float(v) if k not in ("stage", "optimizer", "loss_name") and v not in ("", None) else v)
                    for k, v in r.items()} for r in csv.DictReader(f)]
    metrics = json.loads((out / "metrics.json").read_text())
    return {"variant": "cli", "seed": seed, "config": str(config.resolve().relative_to(ROOT)), "history": history,
            "metrics": metrics, "minutes": round((time.time() - t0) / 60, 2)}


def cli_table_text(rows) -> str:
    lines = ["| config | seed | stage: val SRCC per epoch | train loss per epoch | saved model: val SRCC / PLCC (epoch) "
             "| min/run |", "|---|---|---|---|---|---|"]
    for r in rows:
        h = r["history"]
        val = ", ".join(f"{e.get('stage', '')[:4]} {e.get('val_srcc', float('nan')):.2f}" for e in h)
        loss = ", ".join(f"{e['loss']:.3f}" for e in h)
        m = r["metrics"]
        lines.append(f"| {Path(r['config']).stem} | {r['seed']} | {val} | {loss} | {m['srcc']:.3f} / {m['plcc']:.3f} "
                     f"({m['best_epoch']}) | {r['minutes']:.0f} |")
    return "\n".join(lines)


def table_text(rows) -> str:
    lines = ["| variant | seed | head val SRCC | full val SRCC by epoch | loss: end of head -> full epoch 1 | "
             "fused norm: step 1 -> last | max logit: step 1 -> last | backbone drift at last step |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["steps"]
        fused = f"{s[0].get('fused', float('nan')):.1f} -> {s[-1].get('fused', float('nan')):.1f}"
        ep1 = np.mean([x["loss"] for x in s if x["epoch"] == 1])
        lines.append(f"| {r['variant']} | {r['seed']} | {r['head_val_srcc']:.3f} | "
                     f"{', '.join(f'{v:.3f}' for v in r['full_val_srcc'])} | {r['head_losses'][-1]:.3f} -> {ep1:.3f} | "
                     f"{fused} | {s[0]['max_logit']:.1f} -> {s[-1]['max_logit']:.1f} | {s[-1]['backbone_drift']:.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="*", default=[1])
    ap.add_argument("--full-epochs", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--limit", type=int, default=None, help="first N train and val photos only (a smoke run)")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--cli", action="store_true", help="run `aesthetics train` with the config, one row per seed")
    ap.add_argument("--runs", type=Path, default=Path("/tmp/dual_path_stability_runs"), help="--cli run folders")
    ap.add_argument("--config", type=Path, default=CONFIG, help="--cli: the config to train (e.g. configs/clive_mobilenet.json)")
    args = ap.parse_args()
    if args.cli:
        results = args.results.with_name("dual_path_stability_cli.jsonl")
        if not args.table:
            require_shared()
            name = str(args.config.resolve().relative_to(ROOT))
            done = {r["seed"] for r in read_rows(results) if r["config"] == name}
            for seed in (s for s in args.seeds if s not in done):
                append_row(results, run_cli(seed, args.runs, lambda m: print(f"[cli seed {seed}] {m}", flush=True),
                                           args.config))
        print(cli_table_text(read_rows(results)))
        return
    if not args.table:
        require_shared()
        done = {(r["variant"], r["seed"]) for r in read_rows(args.results)}
        for v in args.variants:
            for seed in args.seeds:
                if (v, seed) in done:
                    continue
                row = run_variant(v, seed, args.full_epochs, args.image_size,
                                  lambda m, v=v, s=seed: print(f"[{v} seed {s}] {m}", flush=True), args.limit)
                append_row(args.results, row)
    print(table_text(read_rows(args.results)))


if __name__ == "__main__":
    main()
