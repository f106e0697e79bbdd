"""Self-supervised pretext pretraining: unlabelled photos -> a pretrained encoder.

`pretrain(config, run_dir)` trains the multi-head pretext model of
`aesthetics.pretext.model` on the degradation groups of
`aesthetics.pretext.batches` and writes a run folder:

    RUN_DIR/
      config.json            the resolved config of the run
      checkpoints/last.keras pretext model + optimizer after the last epoch
      state.json             epochs done (resume), finished flag
      history.csv            per-epoch losses/metrics and seconds (appended
                             across resumes)
      pretext.keras          the full multi-head model
      model.keras            image -> ranking score (B, 1), feature extractor
                             named "backbone": `aesthetics train --init-from`
                             and `aesthetics predict --model` take it
      metrics.json           last epoch's logs, photos used/skipped, timing

Re-running on the same RUN_DIR resumes after the last finished epoch; the
data stream is a pure function of (seed, step), so the resumed run sees the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional

import keras

from aesthetics.config import Config
from aesthetics.data.images import DecodeReport, find_images
from aesthetics.pretext.batches import PretextOptions, load_photo_bank, make_pretext_dataset
from aesthetics.pretext.model import (
    build_pretext_model,
    enabled_heads,
    scoring_model_from_pretext,
)
from aesthetics.pretext.losses import (
    MarginRankingLoss,
    MaskedKindAccuracy,
    MaskedKindCrossEntropy,
    PairwiseRankAccuracy,
    ReconstructionLoss,
)
from aesthetics.training.supervised import read_state, save_last_checkpoint, write_state

log = logging.getLogger("aesthetics")


def pretext_losses(p, group_size: int, heads) -> tuple[dict, dict, dict]:
    """(losses, loss_weights, metrics) dicts keyed by output name."""
    losses = {
        "score": MarginRankingLoss(group_size, p.margin),
        "kind": MaskedKindCrossEntropy(),
        "level": keras.losses.MeanSquaredError(name="level_mse"),
        "restored": ReconstructionLoss(),
    }
    weights = {
        "score": p.ranking_weight,
        "kind": p.classification_weight,
        "level": p.regression_weight,
        "restored": p.reconstruction_weight,
    }
    metrics = {
        "score": [PairwiseRankAccuracy(group_size)],
        "kind": [MaskedKindAccuracy()],
        "level": [keras.metrics.MeanAbsoluteError(name="mae")],
        "restored": [],
    }
    return (
        {k: losses[k] for k in heads},
        {k: float(weights[k]) for k in heads},
        {k: metrics[k] for k in heads if metrics[k]},
    )


def compile_pretext(model, p, group_size: int) -> None:
    heads = tuple(model.output.keys()) if isinstance(model.output, dict) else enabled_heads(p)
    losses, weights, metrics = pretext_losses(p, group_size, heads)
    total_steps = p.steps_per_epoch * p.epochs
    lr = p.lr
    if p.lr_schedule == "cosine" and total_steps > 0:
        lr = keras.optimizers.schedules.CosineDecay(p.lr, decay_steps=total_steps, alpha=0.05)
    elif p.lr_schedule != "constant":
        raise ValueError(f"unknown pretrain.lr_schedule {p.lr_schedule!r} (constant, cosine)")
    optimizer = (
        keras.optimizers.AdamW(lr, weight_decay=p.weight_decay)
        if p.weight_decay
        else keras.optimizers.Adam(lr)
    )
    model.compile(
        optimizer=optimizer, loss=losses, loss_weights=weights, metrics=metrics,
        jit_compile=bool(p.jit_compile),
    )


class EpochTimer(keras.callbacks.Callback):
    """Adds `seconds` (wall time of the epoch) to the logs; list it before
    CSVLogger so history.csv gets it."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.time() - self._t0, 2)


class PretrainState(keras.callbacks.Callback):
    """Writes checkpoints/last.keras (atomically) + state.json at each epoch end."""

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        save_last_checkpoint(self.model, self.run_dir)
        state = read_state(self.run_dir)
        state.update({"epochs_done": int(epoch + 1), "last_logs": _jsonable(logs)})
        write_state(self.run_dir, state)


def _jsonable(logs) -> dict:
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def load_pretext_photos(config: Config, images=None):
    """Finds (recursively) and decodes the photos; returns a PhotoBank."""
    p = config.pretrain
    source = images or p.images
    if not source:
        raise ValueError("no photos: pass --images DIR (or set pretrain.images)")
    paths = find_images([source], recursive=True)
    if not paths:
        raise FileNotFoundError(f"no images found under {source}")
    report = DecodeReport()
    bank = load_photo_bank(
        paths, p.working_size, p.crop_size, max_pixels=p.max_pixels, report=report
    )
    if len(report):
        log.warning(report.summary())
    log.info(
        "pretext photos: %d usable of %d (%.1f MB in memory at short side <= %d px)",
        len(bank), len(paths), bank.nbytes / 1e6, p.working_size,
    )
    return bank


def pretrain(
    config: Config,
    run_dir,
    images: Optional[str] = None,
    resume: bool = True,
    verbose: int = 1,
    callbacks=(),
) -> dict:
    """Runs pretext pretraining per `config` into `run_dir` (resuming from its
    last checkpoint if there is one and `resume`). Returns the summary that is
    also written to metrics.json."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    p = config.pretrain
    if images:
        config.pretrain.images = str(images)
    keras.utils.set_random_seed(p.seed)
    if p.mixed_precision:
        keras.config.set_dtype_policy(p.mixed_precision)

    last_ckpt = run_dir / "checkpoints" / "last.keras"
    if not resume:
        for stale in ("state.json", "history.csv", "metrics.json"):
            (run_dir / stale).unlink(missing_ok=True)
        last_ckpt.unlink(missing_ok=True)
    state = read_state(run_dir)
    resuming = bool(state) and last_ckpt.exists()
    finished = [run_dir / n for n in ("metrics.json", "model.keras", "pretext.keras")]
    if state.get("finished") and all(f.exists() for f in finished):
        # (checkpoints/last.keras may have been deleted to save space)
        log.info("pretraining run in %s already finished; nothing to resume", run_dir)
        return json.loads((run_dir / "metrics.json").read_text())

    options = PretextOptions.from_config(p)
    bank = load_pretext_photos(config, images)
    config.to_json(run_dir / "config.json")

    if resuming:
        model = keras.saving.load_model(last_ckpt)
        done = int(state.get("epochs_done", 0))
        log.info("resuming pretraining from %s (%d epochs done)", last_ckpt, done)
    else:
        model = build_pretext_model(config.model, p)
        compile_pretext(model, p, options.levels_per_group)
        done = 0
    heads = tuple(model.output.keys())
    log.info(
        "pretext heads %s; batches of %d groups x %d levels = %d crops of %d px",
        ", ".join(heads), options.groups, options.levels_per_group, options.batch_size, p.crop_size,
    )

    t0 = time.time()
    if done < p.epochs:
        ds = make_pretext_dataset(
            bank, options, seed=p.seed, start_step=done * p.steps_per_epoch,
            num_steps=(p.epochs - done) * p.steps_per_epoch, keys=heads,
        )
        model.fit(
            ds,
            epochs=p.epochs,
            initial_epoch=done,
            steps_per_epoch=p.steps_per_epoch,
            callbacks=[
                EpochTimer(),
                keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
                PretrainState(run_dir),
                *callbacks,
            ],
            verbose=verbose,
            shuffle=False,  # the stream is already random (seeded, per step)
        )
    seconds = time.time() - t0

    model.save(run_dir / "pretext.keras")
    scorer = scoring_model_from_pretext(model, config.model)
    scorer.save(run_dir / "model.keras")
    state = read_state(run_dir)
    summary = {
        "run_dir": str(run_dir),
        "heads": list(heads),
        "n_photos": len(bank),
        "n_skipped": len(bank.report),
        "skipped": dict(bank.report.failures),
        "epochs": p.epochs,
        "steps_per_epoch": p.steps_per_epoch,
        "batch_size": options.batch_size,
        "train_seconds": round(seconds, 1),
        "last_epoch": state.get("last_logs", {}),
    }
    (run_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    state["finished"] = True
    write_state(run_dir, state)
    return summary
