"""docs/attention_overlays.png: where the trained dual-path model looks.

Takes the best trained dual-path run with attention pooling from
`benchmarks/clive_dual_path.py` (highest val SRCC among the run folders under
--runs whose model has a "local_attention" layer; or --model), picks --n CLIVE
validation photos spread over the MOS range (deterministically: evenly spaced
quantiles of the val MOS), and draws each photo above its attention overlay
(`aesthetics.inference.explain`), titled with the MOS (0..100 and mapped to 1..10), the
predicted mean score (1..10) and the raw attention peak in units of the
uniform weight 1/(h*w) (how far from average pooling the map is).

    python benchmarks/make_attention_figure.py [--runs /tmp/dual_path_bench] [--model M.keras]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.ROOT / "docs" / "attention_overlays.png"


def best_attention_run(runs: Path):
    """(model path, metrics) of the best run whose model has attention pooling."""
    best = None
    for metrics_path in sorted(runs.glob("*/metrics.json")):
        run = metrics_path.parent
        config = json.loads((run / "config.json").read_text())
        model_cfg = config["model"]
        if model_cfg["model"] != "dual_path":
            continue
        opts = model_cfg.get("options") or {}
        if not (opts.get("use_attention", True) and opts.get("use_local_path", True)):
            continue
        metrics = json.loads(metrics_path.read_text())
        if best is None or metrics["srcc"] > best[1]["srcc"]:
            best = (run / "model.keras", metrics)
    if best is None:
        sys.exit(f"no finished dual-path run with attention under {runs}")
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=Path, default=Path("/tmp/dual_path_bench"))
    p.add_argument("--model", type=Path, help="a trained dual-path .keras (default: best run)")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--output", type=Path, default=OUT)
    args = p.parse_args(argv)
    common.require_shared()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from aesthetics.data.images import load_image
    from aesthetics.data.labels import map_score_range
    from aesthetics.inference.explain import _shrink, explain_maps, overlay
    from aesthetics.inference.loading import load_model
    from aesthetics.data.resize import prepare_photo
    from aesthetics.models import recipe_of

    if args.model:
        model_path, metrics = args.model, None
    else:
        model_path, metrics = best_attention_run(args.runs)
    model = load_model(model_path)
    recipe = recipe_of(model)
    size = recipe.image_size
    print(f"model: {model_path} (input {size} px"
          + (f", val SRCC {metrics['srcc']:.3f})" if metrics else ")"))

    _, val = common.clive_split()
    mos = pd.read_csv(common.CLIVE_LABELS).set_index("image")["mos"]
    val = val.assign(mos=[float(mos[Path(f).name]) for f in val["filepath"]]).sort_values("mos")
    picks = np.linspace(0.05, 0.95, args.n)
    rows = val.iloc[[int(round(q * (len(val) - 1))) for q in picks]]

    photos = [load_image(f) for f in rows["filepath"]]
    inputs = np.stack([prepare_photo(ph, recipe) for ph in photos]).astype("float32")
    dist = np.asarray(model(inputs, training=False), np.float64)
    pred = dist @ np.arange(1, dist.shape[1] + 1)
    maps = explain_maps(model, inputs, method="attention")
    # how far from uniform the raw softmax map is: its peak in units of 1/(h*w)
    from aesthetics.models.dual_path import attention_model

    raw = np.asarray(attention_model(model)(inputs, training=False)[1])[..., 0]
    peak = raw.max(axis=(1, 2)) * raw.shape[1] * raw.shape[2]

    fig, axes = plt.subplots(2, args.n, figsize=(3.0 * args.n, 7.0), squeeze=False, layout="constrained")
    for j, (photo, heat, (_, row), score, pk) in enumerate(zip(photos, maps, rows.iterrows(), pred, peak)):
        small = _shrink(photo, 300)
        mapped = float(map_score_range(np.array([row["mos"]]), 0, 100)[0])
        axes[0, j].imshow(small)
        axes[0, j].set_title(f"{Path(row['filepath']).name}\nMOS {row['mos']:.1f} (= {mapped:.2f}/10)", fontsize=9)
        axes[1, j].imshow(overlay(small, heat))
        axes[1, j].set_title(f"predicted {score:.2f}/10\nattention peak {pk:.2f}x uniform", fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    source = Path(model_path).parent.name + (f", val SRCC {metrics['srcc']:.3f}" if metrics else "")
    fig.suptitle(
        f"Dual-path local-path attention (SpatialAttention, {maps.shape[1]}x{maps.shape[2]} grid, "
        f"min-max normalised per photo; red = high weight) on CLIVE val photos\nmodel: {source}",
        fontsize=10,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=80)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e3:.0f} kB)")
    for (_, row), score, pk in zip(rows.iterrows(), pred, peak):
        print(f"  {Path(row['filepath']).name}: MOS {row['mos']:.1f}, predicted {score:.2f}, "
              f"attention peak {pk:.2f}x uniform")


if __name__ == "__main__":
    main()
