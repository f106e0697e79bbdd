r"""Dual-pathway model (issue 4) on the CLIVE dev split: ablations, losses, cost.

Stages (``--stage``, default ``all``):

* ``train``   fine-tunes every (variant, seed) and then every loss on the best
              variant, each as ``aesthetics train`` in a subprocess writing a run
              folder under ``--runs`` (default /tmp/dual_path_bench). Resumable:
              a run whose folder has ``metrics.json`` is skipped; an interrupted
              one resumes from its last checkpoint. With ``--deadline HH:MM``
              (UTC) no run starts that is not expected to finish in time, and a
              running one is stopped at the deadline.
* ``measure`` parameters, multiply-adds and CPU latency of each variant at
              224x224 (fresh models, weights do not matter), written to
              ``RUNS/cost.json``.
* ``report``  the markdown table -> ``benchmarks/results_dual_path.md``, printed.

Reduced CPU protocol, identical for every run: 160 px inputs (train: resize to
184, random 160 crop + flip; val: the whole photo squashed to 160), batch 16,
2 epochs head-only at lr 1e-3 then 6 epochs full at lr 1e-4 (cosine),
early-stopping patience 4, MobileNet (alpha 1) from ImageNet weights, dropout
0.5, the fixed 80/20 split of `common.clive_split()` (split seed 42) for every
run; seeds change `train.seed` only (head init, dropout, shuffling, crops).

FLOPs, two ways, for one 224x224 image: (1) TensorFlow's graph profiler
(`tf.compat.v1.profiler`, ``float_ops``) on the frozen (variables ->
constants) inference graph of a batch-1 concrete function, reported as
float_ops / 2; it also counts BatchNorm, bias adds and other elementwise ops
(1 op each), so it is ~1% above (2) the analytic multiply-adds of the Keras
graph (`analytic_macs`: convolutions, dense layers and the non-local /
attention / fusion matmuls by formula; elementwise ops not counted).

Latency: in one process, every variant in turn, `model(x, training=False)`
under a `tf.function` with a fixed input shape, after warm-up; per image,
median over rounds (each round: the median of 20 calls at batch 1, of 3 calls
at batch 32), variants interleaved so background load hits all alike.

The benchmark of docs/DUAL_PATH.md / benchmarks/RESULTS.md was run as::

    python benchmarks/clive_dual_path.py --stage train --seeds 1 2 --deadline 05:13
        # 5 variants x seeds 1, 2; then every loss on the best (dual_path)
    python benchmarks/clive_dual_path.py --stage train --seeds 1 2 3 --losses --deadline 05:13
    python benchmarks/clive_dual_path.py --stage train --seeds 1 --variants no_non_local \
        --loss-variant no_non_local --losses mixed_mean combined emd_r1 --deadline 05:07
    for seed in 2 3; do python benchmarks/clive_dual_path.py --stage train --seeds $seed \
        --variants no_non_local --loss-variant no_non_local --losses combined --deadline 05:15; done
    python benchmarks/clive_dual_path.py --stage measure --latency-rounds 3
    python benchmarks/clive_dual_path.py --stage report
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = common.ROOT
DEFAULT_RUNS = Path("/tmp/dual_path_bench")
RESULTS_MD = ROOT / "benchmarks" / "results_dual_path.md"

# name -> (config file, model.options overrides)
VARIANTS = {
    "nima": ("configs/clive_mobilenet.json", {}),
    "dual_path": ("configs/clive_dual_path.json", {}),
    "no_non_local": ("configs/clive_dual_path.json", {"use_non_local": False}),
    "no_adain": ("configs/clive_dual_path.json", {"use_adain": False}),
    "no_attention": ("configs/clive_dual_path.json", {"use_attention": False}),
}
LABELS = {
    "nima": "NIMA (MobileNet)",
    "dual_path": "dual-path (full)",
    "no_non_local": "dual-path w/o non-local",
    "no_adain": "dual-path w/o AdaIN",
    "no_attention": "dual-path w/o attention",
}
# run order: the distinct losses first; cdf is the same number as emd_r1 (TANet
# CDF loss == EMD with r=1), so it is the one dropped if time runs out
LOSSES = ["emd", "mixed_mean", "combined", "emd_r1", "cdf"]
PROTOCOL = {
    "data.image_size": 160,
    "data.resize_to": 184,
    "data.batch_size": 16,
    "train.epochs_head": 2,
    "train.epochs_full": 6,
    "train.lr_head": 1e-3,
    "train.lr_full": 1e-4,
    "train.lr_schedule": "cosine",
    "train.early_stopping_patience": 4,
}


def log(msg: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}] {msg}", flush=True)


def run_name(variant: str, seed: int, loss: str = "emd") -> str:
    return f"{variant}_s{seed}" if loss == "emd" else f"{variant}_{loss}_s{seed}"


def read_metrics(runs: Path, name: str):
    path = runs / name / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def deadline_ts(text: str | None):
    if not text:
        return None
    hh, mm = (int(x) for x in text.split(":"))
    now = dt.datetime.now(dt.timezone.utc)
    when = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if when < now - dt.timedelta(hours=12):
        when += dt.timedelta(days=1)
    return when.timestamp()


def write_split(runs: Path) -> Path:
    from aesthetics.data.splits import save_split

    path = runs / "clive_split.json"
    if not path.exists():
        train, val = common.clive_split()
        save_split(path, list(train["image_id"]), list(val["image_id"]))
    return path


def train_command(variant, seed, loss, run_dir, split_file):
    config, options = VARIANTS[variant]
    cmd = [
        str(Path(sys.executable).parent / "aesthetics"), "train", "--config", config,
        "--images", str(common.CLIVE_IMAGES), "--labels", str(common.CLIVE_LABELS),
        "--backbone-weights", str(common.MOBILENET_WEIGHTS),
        "--split-file", str(split_file), "--seed", str(seed),
        "--output", str(run_dir), "--verbose", "2",
    ]
    sets = {**PROTOCOL, "train.loss": loss}
    sets.update({f"model.options.{k}": v for k, v in options.items()})
    for key, value in sets.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    return cmd


def run_one(runs, variant, seed, loss, split_file, deadline, estimate, status):
    name = run_name(variant, seed, loss)
    if read_metrics(runs, name):
        log(f"{name}: done already, skipped")
        return
    now = time.time()
    if deadline is not None and estimate and now + estimate > deadline:
        status[name] = f"not run: expected ~{estimate / 60:.0f} min, deadline too close"
        log(f"{name}: {status[name]}")
        return
    run_dir = runs / name
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = train_command(variant, seed, loss, run_dir, split_file)
    (run_dir / "command.txt").write_text(" ".join(cmd) + "\n")
    log(f"{name}: start")
    t0 = time.time()
    with open(run_dir / "train.log", "a") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=None if deadline is None else max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            status[name] = "stopped at the deadline (resumable)"
            log(f"{name}: {status[name]}")
            return
    wall = time.time() - t0
    metrics = read_metrics(runs, name)
    if proc.returncode != 0 or metrics is None:
        status[name] = f"failed (exit {proc.returncode}); see {run_dir}/train.log"
        log(f"{name}: {status[name]}")
        return
    metrics["wall_seconds"] = round(wall, 1)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log(f"{name}: srcc {metrics['srcc']:.4f} plcc {metrics['plcc']:.4f} in {wall / 60:.1f} min")


def run_estimate(runs: Path) -> float | None:
    walls = [
        m.get("wall_seconds", m.get("train_seconds"))
        for p in runs.glob("*/metrics.json")
        if (m := json.loads(p.read_text()))
    ]
    walls = [w for w in walls if w]
    return max(walls) if walls else None


def best_variant(runs: Path, seeds) -> str:
    """The variant with the highest mean val SRCC over the seeds it finished."""
    best, best_srcc = "dual_path", -1.0
    for variant in VARIANTS:
        vals = [m["srcc"] for s in seeds if (m := read_metrics(runs, run_name(variant, s)))]
        if vals and sum(vals) / len(vals) > best_srcc:
            best, best_srcc = variant, sum(vals) / len(vals)
    return best


def stage_train(args):
    runs = args.runs
    runs.mkdir(parents=True, exist_ok=True)
    split_file = write_split(runs)
    deadline = deadline_ts(args.deadline)
    status_path = runs / "status.json"
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    plan = [(v, s, "emd") for s in args.seeds for v in args.variants]
    for variant, seed, loss in plan:
        status.pop(run_name(variant, seed, loss), None)
        run_one(runs, variant, seed, loss, split_file, deadline, run_estimate(runs), status)
        status_path.write_text(json.dumps(status, indent=2))
    if args.losses:
        best = args.loss_variant or best_variant(runs, args.seeds)
        log(f"loss comparison on {best}")
        (runs / "loss_variant.txt").write_text(best + "\n")
        for loss in args.losses:
            if loss == "emd":
                continue  # the variant runs themselves
            status.pop(run_name(best, args.seeds[0], loss), None)
            run_one(runs, best, args.seeds[0], loss, split_file, deadline, run_estimate(runs), status)
            status_path.write_text(json.dumps(status, indent=2))


# ----------------------------------------------------------------------------- cost


def build_variant(variant: str, image_size: int = 224):
    from aesthetics.config import load_config
    from aesthetics.models import build_model

    config_file, options = VARIANTS[variant]
    config = load_config(
        ROOT / config_file,
        ["model.backbone_weights=null"] + [f"model.options.{k}={json.dumps(v)}" for k, v in options.items()],
    )
    return build_model(config.model, image_size=image_size)


def profiler_flops(model, image_size: int = 224) -> int:
    """float_ops of the frozen batch-1 inference graph (tf.compat.v1.profiler)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec([1, image_size, image_size, 3], tf.float32))
    frozen = convert_variables_to_constants_v2(concrete)
    graph = frozen.graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=opts)
    return int(info.total_float_ops)


def analytic_macs(model) -> int:
    """Multiply-adds counted per layer from the Keras graph (the cross-check of
    the profiler): Conv2D H*W*Cout*k*k*Cin, DepthwiseConv2D H*W*C*k*k, Dense
    in*out, and the custom blocks by formula (N = h*w positions, M = key
    positions): NonLocalBlock 3*N*C*Ci + 2*N*M*Ci + N*Ci*C; SpatialAttention
    N*C*Ch + N*Ch + N*C; AdaptiveFusion 2*C_style*C_content. BatchNorm,
    activations, pooling and softmax are not counted here."""
    import keras

    def shape_of(tensor):
        return tuple(tensor.shape)

    def count(layer) -> int:
        name = layer.__class__.__name__
        if isinstance(layer, keras.Model):
            return sum(count(sub) for sub in layer.layers)
        if name == "NonLocalBlock":
            _, h, w, c = shape_of(layer.input)
            n = h * w
            m = (-(-h // 2)) * (-(-w // 2)) if layer.subsample else n
            ci = layer._ci
            return 3 * n * c * ci + 2 * n * m * ci + n * ci * c
        if name == "SpatialAttention":
            _, h, w, c = shape_of(layer.input)
            ch = layer.hidden.filters
            return h * w * (c * ch + ch + c)
        if name == "AdaptiveFusion":
            content, style = layer.input
            return 2 * shape_of(style)[-1] * shape_of(content)[-1]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = shape_of(layer.output)
            k = layer.kernel.shape
            return h * w * c * k[0] * k[1]
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = shape_of(layer.output)
            k = layer.kernel.shape
            return h * w * c * k[0] * k[1] * k[2]
        if isinstance(layer, keras.layers.Dense):
            k = layer.kernel.shape
            return k[0] * k[1]
        return 0

    return int(count(model))


def latency(model, batch: int, image_size: int = 224, warmup: int = 3, repeats: int = 10) -> float:
    """Median seconds per image of a compiled forward pass at `batch`."""
    import numpy as np
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch, image_size, image_size, 3)).astype("float32"))
    for _ in range(warmup):
        fn(x).numpy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / batch


def stage_measure(args):
    import numpy as np

    cost = {}
    models = {}
    for variant in args.variants:
        model = build_variant(variant)
        models[variant] = model
        flops = profiler_flops(model)
        cost[variant] = {
            "params": int(model.count_params()),
            "head_params": int(
                sum(int(np.prod(w.shape)) for w in model.weights)
                - model.get_layer("backbone").count_params()
            ),
            "profiler_float_ops": flops,
            "macs": flops // 2,
            "analytic_macs": analytic_macs(model),
        }
        log(f"{variant}: {cost[variant]}")
    # latency side by side: alternate variants, several rounds, keep the median
    rounds = {v: {1: [], 32: []} for v in models}
    for r in range(args.latency_rounds):
        for batch in (1, 32):
            for variant, model in models.items():
                rounds[variant][batch].append(
                    latency(model, batch, repeats=20 if batch == 1 else 3, warmup=3 if r == 0 else 1)
                )
    for variant in models:
        cost[variant]["latency_ms_b1"] = 1000 * float(np.median(rounds[variant][1]))
        cost[variant]["latency_ms_b32_per_image"] = 1000 * float(np.median(rounds[variant][32]))
        log(f"{variant}: {cost[variant]['latency_ms_b1']:.1f} ms @1, "
            f"{cost[variant]['latency_ms_b32_per_image']:.1f} ms/img @32")
    cost["_meta"] = {
        "image_size": 224,
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(),
        "latency_rounds": args.latency_rounds,
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (args.runs / "cost.json").write_text(json.dumps(cost, indent=2))


# ----------------------------------------------------------------------------- report


def _fmt(vals, digits=3):
    import numpy as np

    if not vals:
        return "—"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f} (1 seed)"
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals, ddof=1):.{digits}f}"


def stage_report(args):
    runs = args.runs
    cost_path = runs / "cost.json"
    cost = json.loads(cost_path.read_text()) if cost_path.exists() else {}
    status_path = runs / "status.json"
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    lines = [
        "## Variants (CLIVE val, 120 photos; mean ± sd over seeds)",
        "",
        "| model | seeds | SRCC | PLCC | per-seed SRCC | params | MACs @224 (layers / profiler) | CPU ms/img @1 | CPU ms/img @32 | train min/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    missing = []
    for variant in VARIANTS:
        ms = {s: read_metrics(runs, run_name(variant, s)) for s in args.seeds}
        done = {s: m for s, m in ms.items() if m}
        missing += [run_name(variant, s) for s, m in ms.items() if not m]
        c = cost.get(variant, {})
        srcc = [m["srcc"] for m in done.values()]
        plcc = [m["plcc"] for m in done.values()]
        per_seed = ", ".join(f"s{s}: {m['srcc']:.3f}" for s, m in done.items()) or "—"
        mins = [m.get("wall_seconds", m.get("train_seconds", 0)) / 60 for m in done.values()]
        lines.append(
            f"| {LABELS[variant]} | {len(done)} | {_fmt(srcc)} | {_fmt(plcc)} | {per_seed} | "
            + (f"{c['params'] / 1e6:.3f} M (head {c['head_params'] / 1e3:.0f} k) | {c['analytic_macs'] / 1e6:.1f} M / {c['macs'] / 1e6:.1f} M | " if c else "— | — | ")
            + (f"{c['latency_ms_b1']:.1f} | {c['latency_ms_b32_per_image']:.1f} | " if "latency_ms_b1" in c else "— | — | ")
            + (f"{sum(mins) / len(mins):.1f} |" if mins else "— |")
        )
    # a loss table for every variant with loss runs (the first one chosen by
    # best_variant is in loss_variant.txt; later ones via --loss-variant)
    loss_variants = [v for v in VARIANTS if any(
        read_metrics(runs, run_name(v, args.seeds[0], loss)) for loss in LOSSES if loss != "emd")]
    for loss_variant in loss_variants:
        lines += [
            "",
            f"## Losses on {LABELS[loss_variant]} (seed {args.seeds[0]} unless marked; emd: the seeds above)",
            "",
            "| loss | SRCC | PLCC | EMD (r=2) | MAE (1..10) | best epoch (of 8) |",
            "|---|---|---|---|---|---|",
        ]
        for loss in LOSSES:
            if loss == "emd":
                ms = [m for s in args.seeds if (m := read_metrics(runs, run_name(loss_variant, s)))]
                first = read_metrics(runs, run_name(loss_variant, args.seeds[0]))
                if first and len(ms) > 1:
                    lines.append(
                        f"| emd, seed {args.seeds[0]} only | {first['srcc']:.3f} | {first['plcc']:.3f} | "
                        f"{first['emd']:.3f} | {first['mae']:.3f} | {first.get('best_epoch')} |"
                    )
                    loss = f"emd, {len(ms)} seeds"
            else:  # usually seed 1 only; more seeds if they were run
                ms = [m for s in args.seeds if (m := read_metrics(runs, run_name(loss_variant, s, loss)))]
            if not ms:
                note = " (the same loss as emd_r1: TANet's CDF loss is EMD with r=1)" if loss == "cdf" else ""
                lines.append(f"| {loss} | not run{note} | | | | |")
                missing.append(run_name(loss_variant, args.seeds[0], loss))
                continue
            lines.append(
                f"| {loss} | {_fmt([m['srcc'] for m in ms])} | {_fmt([m['plcc'] for m in ms])} | "
                f"{_fmt([m['emd'] for m in ms])} | {_fmt([m['mae'] for m in ms])} | "
                f"{', '.join(str(m.get('best_epoch')) for m in ms)} |"
            )
    if missing:
        lines += ["", "Not run / not finished: " + ", ".join(
            f"{n} ({status.get(n, 'not started')})" for n in missing)]
    meta = cost.get("_meta")
    if meta:
        lines += ["", f"Cost measured {meta['when']} on {meta['cpu_count']} shared CPU cores "
                  f"(load average at the end {meta['load_avg_at_end'][0]:.1f}): latencies are "
                  "indicative, compare them only within the column."]
    text = "\n".join(lines) + "\n"
    header = (
        "# Dual-pathway model on CLIVE — `benchmarks/clive_dual_path.py`\n\n"
        "Protocol: see the script's docstring (160 px, 2 head + 6 full epochs, batch 16, "
        "fixed split seed 42, ImageNet MobileNet). Run folders: "
        f"`{runs}`.\n\n"
    )
    RESULTS_MD.write_text(header + text)
    print(header + text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", default="all", choices=("train", "measure", "report", "all"))
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--losses", nargs="*", default=LOSSES, choices=LOSSES)
    p.add_argument("--loss-variant", choices=list(VARIANTS),
                   help="model for the loss comparison (default: best mean SRCC)")
    p.add_argument("--deadline", help="HH:MM UTC: start no run that would not finish by then")
    p.add_argument("--latency-rounds", type=int, default=3)
    args = p.parse_args(argv)
    common.require_shared()
    if args.stage in ("train", "all"):
        stage_train(args)
    if args.stage in ("measure", "all"):
        stage_measure(args)
    if args.stage in ("report", "all"):
        stage_report(args)


if __name__ == "__main__":
    main()
