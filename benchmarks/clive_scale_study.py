"""At what pixel scale should the technical model score a photo? (issue 27, item 5)

    .venv/bin/python benchmarks/clive_scale_study.py [--model technical] [--sides 1024 768 512]

The shipped recipe scores the whole photo at its own resolution, shrunk to a
long side of `max_side` (1024). The model was trained on CLIVE photos, which
the database's authors stored at 500x500 (smartphone photos shrunk from their
original size), so a phone photo shrunk to 1024 px shows the model each
scene at about twice the pixel scale it learnt on. This measures how much
that matters:

1. pristine photos (33, 1024 px long side, `../shared/data/pristine`), and
   the same photos degraded at full size (Gaussian blur sigma 1/2/4 px,
   Gaussian noise sigma 5/10/20 grey levels, JPEG quality 30/15/5), then each
   shrunk to every long side in --sides (Pillow's antialiased resize, the
   package's `fit_photo`) and scored: how the clean photos' scores move with
   the scale; whether the distortion levels still rank (clean > level 1 >
   level 2 > level 3, the fraction of ordered pairs per photo) at each scale;
   how far the strongest level drops the score.
2. CLIVE photos (500 px) scored at their own size and shrunk to 0.75 and 0.5
   of it: SRCC with the human MOS at each scale. The shipped model was
   trained on these photos at scale 1.0, so the numbers are in-sample; what
   they show is how fast agreement falls when the scale moves.

Writes benchmarks/results/scale_study.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import CLIVE_IMAGES, CLIVE_LABELS, PRISTINE, require_shared  # noqa: E402

LEVELS = {
    "blur": [1.0, 2.0, 4.0],
    "noise": [5.0, 10.0, 20.0],
    "jpeg": [30, 15, 5],
}


def degrade(image: np.ndarray, kind: str, strength, seed: int) -> np.ndarray:
    from PIL import Image, ImageFilter

    if kind == "blur":
        return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(strength)))
    if kind == "noise":
        noise = np.random.default_rng(seed).normal(0, strength, image.shape)
        return np.clip(image.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=int(strength))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


class RawScorer:
    """The model's ONNX copy called on photos as given (no recipe resize, so
    the side this study chooses is the side the model sees, whatever the
    recipe's max_side)."""

    def __init__(self, model: str):
        from aesthetics.inference.backends import OnnxScorer
        from aesthetics.zoo.resolver import resolve_model

        self.session = OnnxScorer(resolve_model(model, "onnx").path)

    def mean_scores(self, images) -> np.ndarray:
        out = np.empty(len(images))
        groups = {}
        for i, im in enumerate(images):
            groups.setdefault(im.shape, []).append(i)
        for idx in groups.values():
            dist = np.asarray(self.session(np.stack([images[i] for i in idx]).astype(np.float32)))
            out[idx] = dist @ np.arange(1, dist.shape[1] + 1)
        return out


def ordered_fraction(scores) -> float:
    """Fraction of level pairs (clean, 1, 2, 3) scored in the right order."""
    pairs = [(i, j) for i in range(len(scores)) for j in range(i + 1, len(scores))]
    return float(np.mean([scores[i] > scores[j] for i, j in pairs]))


def pristine_section(scorer, sides):
    from aesthetics.data.images import load_image
    from aesthetics.data.resize import fit_photo

    photos = sorted(p for p in PRISTINE.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    scores = {}  # (side, kind) -> (photos, 4) scores, level 0 = clean
    for n, path in enumerate(photos):
        full = load_image(str(path))
        versions = {kind: [full] + [degrade(full, kind, s, seed=n) for s in strengths]
                    for kind, strengths in LEVELS.items()}
        for side in sides:
            for kind, images in versions.items():
                shrunk = [fit_photo(im, side) for im in images]
                # the clean photo is shared by every kind: scored once per side
                row = scorer.mean_scores(shrunk if kind == "blur" else shrunk[1:])
                if kind != "blur":
                    row = np.concatenate([[scores[(side, "blur")][-1][0]], row])
                scores.setdefault((side, kind), []).append([float(v) for v in row])
    out = {"photos": len(photos), "sides": list(sides), "levels": LEVELS, "by_side": {}}
    ref = sides[0]
    clean_ref = np.array([r[0] for r in scores[(ref, "blur")]])
    for side in sides:
        clean = np.array([r[0] for r in scores[(side, "blur")]])
        from scipy.stats import spearmanr

        entry = {"clean_mean": float(clean.mean()), "clean_shift_vs_ref": float((clean - clean_ref).mean()),
                 "clean_shift_sd": float((clean - clean_ref).std()),
                 "clean_srcc_vs_ref": float(spearmanr(clean, clean_ref)[0]) if side != ref else 1.0}
        for kind in LEVELS:
            rows = np.array(scores[(side, kind)])
            entry[kind] = {"ordered": float(np.mean([ordered_fraction(r) for r in rows])),
                           "drop_strongest": float((rows[:, 0] - rows[:, -1]).mean()),
                           "mean_by_level": [float(v) for v in rows.mean(0)]}
        out["by_side"][str(side)] = entry
    out["raw"] = {f"{s}/{k}": v for (s, k), v in scores.items()}
    return out


def clive_section(scorer, factors, limit=None):
    from PIL import Image
    from scipy.stats import pearsonr, spearmanr

    from aesthetics.data.files import resolve_images
    from aesthetics.data.images import load_image
    from aesthetics.data.labels import read_labels

    table = read_labels(CLIVE_LABELS, score_range=(0, 100))
    found, _ = resolve_images(table, CLIVE_IMAGES)
    found = found.sort_values("image_id").reset_index(drop=True)
    if limit:
        found = found.iloc[:limit]
    mos = found["mean"].to_numpy()
    preds = {f: [] for f in factors}
    paths = list(found["filepath"])
    for start in range(0, len(paths), 32):
        images = [load_image(str(p)) for p in paths[start:start + 32]]
        for f in factors:
            scaled = [im if f == 1.0 else np.asarray(Image.fromarray(im).resize(
                (round(im.shape[1] * f), round(im.shape[0] * f)), Image.BILINEAR, reducing_gap=None))
                for im in images]
            preds[f].extend(float(v) for v in scorer.mean_scores(scaled))
    out = {"photos": len(found), "note": "in-sample: the shipped model was trained on these photos at factor 1.0"}
    base = np.array(preds[1.0])
    for f in factors:
        p = np.array(preds[f])
        out[str(f)] = {"srcc": float(spearmanr(mos, p)[0]), "plcc": float(pearsonr(mos, p)[0]),
                       "mean_shift": float((p - base).mean())}
    return out


def tables(result) -> str:
    p = result["pristine"]
    lines = ["| long side | clean mean | shift vs " + str(p["sides"][0]) + " (mean ± sd) | clean SRCC vs ref | "
             + " | ".join(f"{k} ordered / drop" for k in LEVELS) + " |",
             "|---|---|---|---|" + "---|" * len(LEVELS)]
    for side, e in p["by_side"].items():
        lines.append(f"| {side} | {e['clean_mean']:.2f} | {e['clean_shift_vs_ref']:+.2f} ± {e['clean_shift_sd']:.2f} | "
                     f"{e['clean_srcc_vs_ref']:.3f} | "
                     + " | ".join(f"{e[k]['ordered']:.2f} / {e[k]['drop_strongest']:.2f}" for k in LEVELS) + " |")
    if "clive" in result:
        c = result["clive"]
        lines += ["", "| CLIVE scale | SRCC | PLCC | mean shift |", "|---|---|---|---|"]
        for f in [k for k in c if k not in ("photos", "note")]:
            lines.append(f"| {f} | {c[f]['srcc']:.3f} | {c[f]['plcc']:.3f} | {c[f]['mean_shift']:+.2f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="technical")
    ap.add_argument("--sides", type=int, nargs="*", default=[1024, 768, 512])
    ap.add_argument("--factors", type=float, nargs="*", default=[1.0, 0.75, 0.5])
    ap.add_argument("--clive-limit", type=int, default=None)
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "scale_study.json")
    args = ap.parse_args()
    require_shared()
    scorer = RawScorer(args.model)
    t0 = time.time()
    result = {"model": args.model, "pristine": pristine_section(scorer, args.sides)}
    result["clive"] = clive_section(scorer, args.factors, args.clive_limit)
    result["minutes"] = round((time.time() - t0) / 60, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(tables(result))


if __name__ == "__main__":
    main()
