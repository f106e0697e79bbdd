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

import logging
import time
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
    MeanOutputLoss,
    PairwiseRankAccuracy,
    ReconstructionLoss,
    SupervisedContrastiveLoss,
)
from aesthetics.errors import InputNotFoundError
from aesthetics.precision import dtype_policy_scope
from aesthetics.training.callbacks import EpochState, EpochTimer, StopOnNonFinite
from aesthetics.training.optim import make_optimizer, with_loss_scaling
from aesthetics.training.run_folder import RunFolder, save_model_atomic, write_json

OUTPUTS = ("metrics.json", "model.keras", "pretext.keras")

log = logging.getLogger("aesthetics")


def pretext_losses(p, group_size: int, heads) -> tuple[dict, dict, dict]:
    """(losses, loss_weights, metrics) dicts keyed by output name."""
    losses = {
        "score": MarginRankingLoss(group_size, p.margin),
        "kind": MaskedKindCrossEntropy(),
        "level": keras.losses.MeanSquaredError(name="level_mse"),
        "restored": ReconstructionLoss(),
        "contrast": SupervisedContrastiveLoss(p.contrastive_temperature),
        "distill": MeanOutputLoss(),
    }
    weights = {
        "score": p.ranking_weight,
        "kind": p.classification_weight,
        "level": p.regression_weight,
        "restored": p.reconstruction_weight,
        "contrast": p.contrastive_weight,
        "distill": p.distill_weight,
    }
    metrics = {
        "score": [PairwiseRankAccuracy(group_size)],
        "kind": [MaskedKindAccuracy()],
        "level": [keras.metrics.MeanAbsoluteError(name="mae")],
        "restored": [],
        "contrast": [],
        "distill": [],
    }
    return (
        {k: losses[k] for k in heads},
        {k: float(weights[k]) for k in heads},
        {k: metrics[k] for k in heads if metrics[k]},
    )


def compile_pretext(model, p, group_size: int) -> None:
    heads = tuple(model.output.keys()) if isinstance(model.output, dict) else enabled_heads(p)
    losses, weights, metrics = pretext_losses(p, group_size, heads)
    optimizer = make_optimizer(
        "adam", p.lr, p.lr_schedule, p.steps_per_epoch * p.epochs, p.weight_decay,
        alpha=0.05, key="pretrain",
    )
    model.compile(
        optimizer=with_loss_scaling(optimizer, p.mixed_precision), loss=losses, loss_weights=weights,
        metrics=metrics,
        jit_compile=bool(p.jit_compile),
    )


def _last_logs(epoch, logs) -> dict:
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return {"last_logs": out}


def load_pretext_photos(config: Config, images=None):
    """Finds (recursively) and decodes the photos; returns a PhotoBank."""
    p = config.pretrain
    source = images or p.images
    if not source:
        raise InputNotFoundError("no photos: pass --images DIR (or set pretrain.images)")
    paths = find_images([source], recursive=True)
    if not paths:
        raise InputNotFoundError(f"no images found under {source}")
    report = DecodeReport()
    bank = load_photo_bank(
        paths, p.working_size, p.crop_size, max_pixels=p.max_pixels, report=report
    )
    if len(report):
        log.warning(report.summary())
    log.info(
        "pretext photos: %d usable of %d (%.1f MB in memory, %s)",
        len(bank), len(paths), bank.nbytes / 1e6,
        "native resolution" if p.working_size is None else f"short side <= {p.working_size} px",
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
    if images:
        config.pretrain.images = str(images)
    from aesthetics.training.distribute import strategy_run

    # only the chief writes the run folder
    with dtype_policy_scope(config.pretrain.mixed_precision), \
            strategy_run(config.pretrain.distribute, run_dir) as (strategy, folder):
        return _pretrain(config, folder, images, resume, verbose, callbacks, strategy)


def _pretrain(config, run_dir, images, resume, verbose, callbacks, strategy) -> dict:
    from aesthetics.training.distribute import build_before_fit, split_batches

    p = config.pretrain
    # (a finished run needs no checkpoints/last.keras: it may be deleted to save space)
    run = RunFolder(run_dir, sections=("model", "pretrain"), outputs=OUTPUTS, results=OUTPUTS)
    state = run.prepare(config, resume)
    if state.get("finished"):
        return run.finished_metrics()
    resuming = bool(state)
    keras.utils.set_random_seed(p.seed)

    options = PretextOptions.from_config(p)
    bank = load_pretext_photos(config, images)
    run.start(config)

    if resuming:
        model = keras.saving.load_model(run.last_checkpoint)
        done = int(state.get("epochs_done", 0))
        run.trim_history(done)
        log.info("resuming pretraining from %s (%d epochs done)", run.last_checkpoint, done)
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
        build_before_fit(model, strategy, ds.element_spec, batch=options.levels_per_group)
        # under a strategy: each replica gets whole groups of every batch
        ds = split_batches(strategy, ds, options.batch_size, options.levels_per_group)
        model.fit(
            ds,
            epochs=p.epochs,
            initial_epoch=done,
            steps_per_epoch=p.steps_per_epoch,
            callbacks=[
                StopOnNonFinite(),
                EpochTimer(),
                keras.callbacks.CSVLogger(str(run.file("history.csv")), append=True),
                EpochState(run, extra=_last_logs, monitor="loss"),
                *callbacks,
            ],
            verbose=verbose,
            shuffle=False,  # the stream is already random (seeded, per step)
        )
    seconds = time.time() - t0

    save_model_atomic(model, run.file("pretext.keras"))
    scorer = scoring_model_from_pretext(model, config.model)
    save_model_atomic(scorer, run.file("model.keras"))
    state = run.read_state()
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
    write_json(run.file("metrics.json"), summary)
    run.update_state(finished=True)
    return summary
