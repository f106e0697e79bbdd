"""Builds `aesthetics/zoo/clive-mobilenet-ft/`: the shipped frozen model with
MobileNet blocks 6-13 fine-tuned at native resolution on the 600 CLIVE dev
photos (issue 27), when the fine-tune study found it better.

    .venv/bin/python contrib/zoo/build_clive_finetuned.py [--variant deep_emd_plcc_all]
    .venv/bin/python contrib/zoo/build_clive_finetuned.py --card-only   # card from the study's rows, no training

The recipe is exactly the study's variant (benchmarks/clive_finetune_study.py):
start from `clive-mobilenet` (its head, fitted on the frozen features of all
600 photos), cache the frozen stem's maps up to the variant's split point for
each photo and its mirror, then train the blocks after it and the head on all
600 photos (no holdout) for the median of the epoch counts the study's folds
chose. The card's cross-validated numbers are the study's rows for that
variant (each fold's model never saw its test photos). Needs ../shared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
NAME = "clive-mobilenet-ft"


def study_rows(variant: str) -> tuple:
    from benchmarks.clive_finetune_study import RESULTS, read_rows

    rows = {r["fold"]: r for r in read_rows(RESULTS) if r["variant"] == variant}
    frozen = {r["fold"]: r for r in read_rows(RESULTS) if r["variant"] == "frozen"}
    if sorted(rows) != [0, 1, 2, 3, 4]:
        sys.exit(f"the study has folds {sorted(rows)} of {variant!r}; run benchmarks/clive_finetune_study.py first")
    return [rows[k] for k in range(5)], [frozen[k] for k in range(5)]


def card_text(variant, settings, rows, frozen, epochs, out: Path) -> str:
    sr, pl = [r["srcc"] for r in rows], [r["plcc"] for r in rows]
    diff = [r["srcc"] - f["srcc"] for r, f in zip(rows, frozen)]
    table = "\n".join(f"| {r['fold']} | {r['n_test']} | {f['srcc']:.3f} | {r['srcc']:.3f} | {r['plcc']:.3f} | "
                      f"{r['best_epoch']} |" for r, f in zip(rows, frozen))
    size = (out / "model.keras").stat().st_size / 1e6
    how = ("fine-tuned on 85% of the other folds' photos and chose its epoch on the remaining 15%"
           if settings.get("holdout", True) else
           f"fine-tuned on all the other folds' photos for {settings['epochs']} epochs (the median epoch "
           "count of the holdout variant's folds, so slightly optimistic)")
    loss_options = f" with {json.dumps(settings['loss_options'])}" if settings["loss_options"] else ""
    return f"""# Model card: `{NAME}` (the default model, alias `technical`)

**What it scores:** the *technical* quality of a photo as people rate it (blur, noise,
exposure, compression), on 1..10 (`score = 1 + 9 * MOS / 100`), like `clive-mobilenet`,
from which it is fine-tuned.

**Training data:** the 600 CLIVE dev photos with their mean opinion scores. No other data.

**Recipe** (`contrib/zoo/build_clive_finetuned.py`, the study's variant `{variant}`):
`clive-mobilenet` (frozen ImageNet MobileNet v1 at native resolution, long side at most
512 px, mean + std of the conv_pw_11 and conv_pw_13 maps, EMD head), then MobileNet's blocks
after `{settings['at']}` and the head trained on all 600 photos for {epochs} epochs (the
median epoch count of the study's holdout folds): Adam, blocks at {settings['block_lr']}, head at
{settings['head_lr']}, loss `{settings['loss']}`{loss_options}, batches of {settings['batch_size']} whole
photos or their mirror images, BatchNorm frozen; the earlier blocks stay frozen, so their
output was computed once per photo (`aesthetics.training.partial_finetune`).

**Cross-validated quality** (5 folds, `benchmarks/clive_folds.json`; each fold's model was
{how}; the frozen column is the shipped `clive-mobilenet` recipe on the same folds):

| fold | photos | frozen SRCC | SRCC | PLCC | epoch |
|---|---|---|---|---|---|
{table}
| **mean ± sd** | 600 | {np.mean([f['srcc'] for f in frozen]):.3f} | **{np.mean(sr):.3f} ± {np.std(sr):.3f}** | **{np.mean(pl):.3f} ± {np.std(pl):.3f}** | |

Paired difference from the frozen model: {np.mean(diff):+.3f} ± {np.std(diff):.3f} SRCC.

**Files:** `model.keras` ({size:.1f} MB), `model.onnx` (the same model for onnxruntime),
`model.onnx.json`. **Licences:** `LICENSES.md` (the LIVE database notice; the Apache-2.0
ImageNet MobileNet weights). **Limits:** as `clive-mobilenet`'s card: 600 photos of one kind.
**Working scale:** the long side is shrunk to 512 px before scoring; why, and how scores move
with scale, is measured in `clive-mobilenet`'s card (for the frozen model it starts from).
"""


def cross_validation(rows) -> dict:
    sr, pl = [r["srcc"] for r in rows], [r["plcc"] for r in rows]
    return {"folds": 5, "srcc": [float(np.mean(sr)), float(np.std(sr))], "plcc": [float(np.mean(pl)), float(np.std(pl))]}


def write_card(out: Path, variant, s, rows, frozen, epochs) -> dict:
    """card.json, MODEL_CARD.md and LICENSES.md of the built model in `out`, from the study's rows."""
    from aesthetics.training.run_folder import write_json

    src = ROOT / "aesthetics" / "zoo" / "clive-mobilenet"
    # the frozen model's notices apply as they are; only its name and what was trained on CLIVE differ
    licences = (src / "LICENSES.md").read_text()
    for old, new in (("# Licences of the shipped model `clive-mobilenet`", f"# Licences of the shipped model `{NAME}`"),
                     ("The score head was trained on", f"The score head and the MobileNet blocks after {s['at']} were trained on")):
        if old not in licences:
            raise SystemExit(f"{src / 'LICENSES.md'} no longer says {old!r}; update build_clive_finetuned.py")
        licences = licences.replace(old, new)
    (out / "LICENSES.md").write_text(licences)
    cv = cross_validation(rows)
    card = {**json.loads((src / "card.json").read_text()), "aliases": ["technical"],
            "cv_srcc": round(cv["srcc"][0], 3), "cv_plcc": round(cv["plcc"][0], 3),
            "cv_srcc_sd": round(cv["srcc"][1], 3), "cv_plcc_sd": round(cv["plcc"][1], 3),
            "description": f"clive-mobilenet with MobileNet blocks after {s['at']} fine-tuned at native resolution"}
    write_json(out / "card.json", card)
    (out / "MODEL_CARD.md").write_text(card_text(variant, s, rows, frozen, epochs, out))
    return card


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="deep_emd_plcc_all")
    ap.add_argument("--out", type=Path, default=ROOT / "aesthetics" / "zoo" / NAME)
    ap.add_argument("--card-only", action="store_true", help="rewrite the card of the built model from the study's rows")
    args = ap.parse_args()

    from benchmarks.clive_finetune_study import cached_maps, fresh_model, load_table, settings

    import keras

    from aesthetics.export import export_model
    from aesthetics.losses import get_loss
    from aesthetics.training.partial_finetune import fit_top, split_model
    from aesthetics.training.run_folder import save_model_atomic

    s = settings(args.variant)
    rows, frozen = study_rows(args.variant)
    epochs = s["epochs"] if not s.get("holdout", True) else max(1, int(np.median([r["best_epoch"] for r in rows])))
    if args.card_only:
        print(json.dumps(write_card(args.out, args.variant, s, rows, frozen, epochs)))
        return
    table = load_table()
    plain, flipped = cached_maps(s["at"], list(table["filepath"]), ROOT / "benchmarks" / "cache" / "finetune_maps")
    targets = np.stack(table["distribution"].to_numpy()).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = fresh_model()  # the shipped head, fitted on all 600 photos' frozen features
    split = split_model(model, s["at"])
    fit = fit_top(split, [plain, flipped], targets, None, None, get_loss(s["loss"], **s["loss_options"]),
                  epochs=epochs, block_lr=s["block_lr"], head_lr=s["head_lr"], batch_size=s["batch_size"],
                  crop=s["crop"], seed=0, log=print)
    model.info = {**model.info, "name": NAME,
                  "training": {**model.info.get("training", {}), "fine_tune": {**s, "epochs": epochs,
                                                                                "photos": len(table)}},
                  "cross_validation": cross_validation(rows)}
    args.out.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, args.out / "model.keras")
    export_model(model, args.out / "model.onnx", "onnx")
    card = write_card(args.out, args.variant, s, rows, frozen, epochs)
    print(json.dumps({"epochs": epochs, "train_losses": fit.train_losses, "cv_srcc": card["cv_srcc"]}))


if __name__ == "__main__":
    main()
