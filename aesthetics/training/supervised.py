"""Supervised training: labels + images -> a trained scoring model in a run folder.

The run follows its plan (`aesthetics.training.stages`): by default NIMA's
two phases, (1) the backbone frozen, only the head learns at `lr_head`; (2)
everything trains at the lower `lr_full`, with early stopping on the
validation loss; or `train.stages`, each with its optimizer, rate and loss
(cycle), and progressive training sizes. `val_loss` is always `train.loss`
on the validation set, whatever a stage trains with, so best.keras and early
stopping compare epochs across stages; `train.monitor` picks another
validation metric for both (e.g. "val_srcc" when stages switch to losses on
the mean score, which leave the distribution's EMD behind). A run folder holds everything needed
to resume (also in the middle of a stage):

    RUN_DIR/
      config.json            the resolved config of the run (a resume with a
                             different config is refused)
      split.json             the train/val image ids (reused on resume)
      checkpoints/last.keras model + optimizer after the last finished epoch
      state.json             stage, epochs done (in the run and the stage),
                             best train.monitor value (for resume)
      best.keras             best model by train.monitor so far
      model.keras            the final model (= best), written at the end
      history.csv            per epoch: stage, optimizer, loss_name, lr,
                             image_size, loss and metrics (appended across
                             resumes)
      logs/                  TensorBoard
      metrics.json           validation metrics of the final model
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from aesthetics.config import Config
from aesthetics.errors import DataError, InputNotFoundError
from aesthetics.data.images import DecodeReport
from aesthetics.data.files import resolve_images
from aesthetics.data.labels import read_labels
from aesthetics.data.splits import load_split, save_split, split_table
from aesthetics.data.pipeline import (
    PipelineOptions,
    make_eval_dataset,
    make_training_dataset,
)
from aesthetics.losses import get_loss
from aesthetics.metrics.scores import EMDMetric, MeanScoreAccuracy, MeanScoreMAE, evaluate_distributions
from aesthetics.models import Recipe, build_model
from aesthetics.models.scorer import with_fixed_input
from aesthetics.precision import dtype_policy_scope
from aesthetics.training.callbacks import (
    BestModel,
    EpochState,
    HistoryLog,
    ReportSkippedFiles,
    StageTracker,
    StopOnNonFinite,
    ValidationMetrics,
    predict_with_targets,
)
from aesthetics.training.optim import make_optimizer, with_loss_scaling
from aesthetics.training.run_folder import RunFolder, save_model_atomic, write_json
from aesthetics.training.stages import StageProgress, plan_stages, resize_for, segments
from aesthetics.training.weights import transfer_backbone_weights, transfer_head_weights, unfreeze_backbone

log = logging.getLogger("aesthetics")
OUTPUTS = ("best.keras", "model.keras", "metrics.json", "split.json")


@dataclass
class LabeledData:
    train: "object"  # pandas DataFrame (label table + filepath)
    val: "object"
    missing: "object"


def load_labeled_data(config: Config, run_dir: Optional[Path] = None) -> LabeledData:
    """Reads labels, finds the images, and splits train/val.

    Missing image files are reported (count + first few) here, before any
    training starts. The split comes from `data.split_file`, else from
    `RUN_DIR/split.json` (a resumed run), else a seeded random split.
    """
    data = config.data
    if not data.labels or not data.images:
        raise InputNotFoundError("both data.labels and data.images are required (--labels, --images)")
    table = read_labels(data.labels, fmt=data.label_format, score_range=data.score_range)
    found, missing = resolve_images(table, data.images)
    if len(missing):
        first = ", ".join(missing["path"].head(5))
        log.warning(
            "%d of %d labelled images are missing under %s (first: %s); training on the %d found",
            len(missing), len(table), data.images, first, len(found),
        )
    if len(found) == 0:
        raise InputNotFoundError(f"none of the {len(table)} labelled images exist under {data.images}")

    split_path = Path(data.split_file) if data.split_file else None
    if split_path is None and run_dir is not None and (run_dir / "split.json").exists():
        split_path = run_dir / "split.json"
    if split_path is not None:
        train_ids, val_ids = load_split(split_path)
        both = set(train_ids) & set(val_ids)
        if both:  # validation on training images: every metric would be a silent lie
            raise DataError(
                f"{split_path}: {len(both)} image id(s) are in both 'train' and 'val' "
                f"(e.g. {sorted(both)[0]!r}); a split must keep them apart")
        train = found[found["image_id"].isin(set(train_ids))]
        val = found[found["image_id"].isin(set(val_ids))]
    else:
        train, val = split_table(
            found, val_fraction=data.val_fraction, seed=data.split_seed,
            group_pattern=data.group_pattern,
        )
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"empty split: {len(train)} train / {len(val)} val images")
    return LabeledData(train.reset_index(drop=True), val.reset_index(drop=True), missing)


def begin_cached_run(config: Config, run_dir, outputs, resume: bool = True) -> tuple:
    """The start of a run that fits in one go on inputs it caches in its
    folder (features, embeddings): (its RunFolder, its labelled data, with the
    split saved), or (the RunFolder, None) when it already finished with this
    config. On resume such a run fits again, from its caches."""
    run = RunFolder(run_dir, sections=("data", "model", "train"), outputs=outputs,
                    results=("metrics.json", "model.keras"))
    state = run.prepare(config, resume)
    if state.get("finished"):
        return run, None
    keras.utils.set_random_seed(config.train.seed)
    data = load_labeled_data(config, Path(run_dir) if state else None)
    run.start(config)
    save_split(run.file("split.json"), list(data.train["image_id"]), list(data.val["image_id"]))
    return run, data


def stack_targets(table) -> np.ndarray:
    return np.stack(table["distribution"].to_numpy()).astype(np.float32)


def compile_model(model, config: Config, optimizer, loss: str):
    """Compiles with `optimizer` (kept across a stage's loss switches, so its
    moments survive) and the loss named `loss` (`train.loss_options` apply
    when it is `train.loss`)."""
    from aesthetics.training.distribute import build_before_fit

    t = config.train
    options = t.loss_options if loss == t.loss else {}
    model.compile(
        optimizer=optimizer,
        loss=get_loss(loss, **options),
        metrics=[MeanScoreMAE(), MeanScoreAccuracy(t.accuracy_threshold), EMDMetric()],
    )
    build_before_fit(model, tf_strategy())


def stage_optimizer(config: Config, stage, steps: int):
    """A new optimizer for `stage` (its schedule spans the stage's `steps`)."""
    optimizer = make_optimizer(stage.optimizer, stage.lr, stage.lr_schedule, steps, stage.weight_decay)
    return with_loss_scaling(optimizer, config.train.mixed_precision)


def set_trainable(model, stage, config: Config) -> None:
    backbone = model.get_layer("backbone")
    if stage.train == "head":
        backbone.trainable = False
    else:
        n = unfreeze_backbone(backbone, config.train.freeze_batchnorm, config.train.trainable_backbone_layers)
        log.debug("stage %s trains %d backbone layers", stage.name, n)


def tf_strategy():
    import tensorflow as tf

    return tf.distribute.get_strategy()


class TrainingSets:
    """The training dataset at each progressive size, built when first asked
    for; only the current one is kept (each caches its decoded photos)."""

    def __init__(self, strategy, data, config: Config, options, report):
        self.strategy, self.data, self.config = strategy, data, config
        self.options, self.report = options, report
        self.targets = stack_targets(data.train)
        self.size, self.current = None, None
        # distributed_dataset's steps per epoch (every size, every strategy)
        self.steps = max(1, math.ceil(len(data.train) / config.data.batch_size))

    def at(self, size: int):
        """(dataset, steps per epoch) of training crops of side `size`."""
        from aesthetics.training.distribute import distributed_dataset

        if size != self.size:
            d = self.config.data
            options = dataclasses.replace(self.options, image_size=size,
                                          resize_to=resize_for(size, d.image_size, d.resize_to))
            self.current = None  # free the previous size's cache first
            self.current = distributed_dataset(
                self.strategy,
                lambda batch, shard: make_training_dataset(
                    self.data.train["filepath"], self.targets, options, batch, seed=self.config.train.seed,
                    report=self.report, shard=shard, repeat=True),
                d.batch_size, len(self.data.train),
            )
            self.size = size
        return self.current


def _fit_segment(model, config, run, segment, stage, progress, sets, val_ds, verbose, extra_callbacks):
    train_ds, steps_per_epoch = sets.at(segment.image_size)
    report = sets.report
    monitor = config.train.monitor
    loss_fn = get_loss(config.train.loss, **config.train.loss_options)

    def columns():
        lr = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
        return {"stage": stage.name, "optimizer": stage.optimizer, "loss_name": segment.loss,
                "lr": float(lr), "image_size": segment.image_size}

    callbacks = [
        StopOnNonFinite(),
        ValidationMetrics(val_ds, loss_fn, config.train.accuracy_threshold),
        ReportSkippedFiles(report),
        BestModel(run.file("best.keras"), monitor, best=run.read_state().get(f"best_{monitor}")),
        HistoryLog(str(run.file("history.csv")), columns),
        keras.callbacks.TensorBoard(str(run.file("logs")), write_graph=False),
        StageTracker(progress, stage.early_stopping_patience, monitor),
        EpochState(run, extra=lambda epoch, logs: progress.to_state(), monitor=monitor),
        *extra_callbacks,
    ]
    with warnings.catch_warnings():
        # Decoding failures are filtered out, so the dataset's length is
        # unknown until the first epoch ends; Keras warns about it. Expected.
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        try:
            model.fit(
                train_ds,
                epochs=segment.stop,
                initial_epoch=segment.start,
                steps_per_epoch=steps_per_epoch,  # the dataset repeats: ceil(n / batch) steps
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the dataset is already shuffled (seeded)
            )
        except DataError as e:
            raise DataError(f"{e} ({_skipped_line(report)})") from None


def _skipped_line(report, limit: int = 3) -> str:
    """The skipped files on one line: 'N skipped, e.g. a.jpg: reason; ...'."""
    items = sorted(report.failures.items())
    shown = "; ".join(f"{p}: {r}" for p, r in items[:limit])
    return f"{len(items)} file(s) skipped" + (f", e.g. {shown}" if shown else "")


def model_recipe(config: Config) -> Recipe:
    """The recipe a model trained with `config` carries: its validation preprocessing."""
    return Recipe.from_data_config(config.data, num_bins=config.model.num_bins)


def train(
    config: Config,
    run_dir,
    init_from: Optional[str] = None,
    resume: bool = True,
    verbose: int = 1,
    callbacks=(),
    init_head: bool = False,
) -> dict:
    """Trains per `config` into `run_dir`; resumes from its last checkpoint if
    one exists (and `resume`). Returns the final validation metrics.

    Nothing global changes: the dtype policy (train.mixed_precision) applies
    inside this call only. `init_from`: a model whose backbone weights start
    this one; `init_head` copies its score head too (start from what it
    already predicts, e.g. fine-tuning a frozen-backbone model). Under `train.distribute`, everything from the
    model's creation to the final evaluation happens in the strategy's scope
    (aesthetics.training.distribute); a non-chief worker writes its run
    folder into a private temporary folder."""
    from aesthetics.training.distribute import strategy_run

    with dtype_policy_scope(config.train.mixed_precision), \
            strategy_run(config.train.distribute, run_dir) as (strategy, folder):
        return _train(config, folder, init_from, resume, verbose, callbacks, strategy, init_head)


def _train(config, run_dir, init_from, resume, verbose, callbacks, strategy, init_head=False) -> dict:
    from aesthetics.training.distribute import build_before_fit

    run = RunFolder(run_dir, sections=("data", "model", "train"), outputs=OUTPUTS,
                    results=("metrics.json", "model.keras"))
    state = run.prepare(config, resume)
    if state.get("finished"):
        return run.finished_metrics()
    resuming = bool(state)
    keras.utils.set_random_seed(config.train.seed)

    data = load_labeled_data(config, run_dir if resuming else None)
    run.start(config)
    save_split(run.file("split.json"), list(data.train["image_id"]), list(data.val["image_id"]))
    log.info("training on %d images, validating on %d", len(data.train), len(data.val))

    options = PipelineOptions.from_data_config(config.data)
    report = DecodeReport()
    sets = TrainingSets(strategy, data, config, options, report)
    val_ds = make_eval_dataset(
        data.val["filepath"], stack_targets(data.val), options, config.data.batch_size, report=report
    )
    stages = plan_stages(config.train)

    if resuming:
        progress = StageProgress.from_state(state, stages)
        log.info("resuming from %s (stage %d of %d, %s epochs done)", run.last_checkpoint,
                 progress.stage + 1, len(stages), state.get("epochs_done"))
        run.trim_history(int(state.get("epochs_done", 0)))
        model = keras.saving.load_model(run.last_checkpoint)
        build_before_fit(model, strategy)
    else:
        progress = StageProgress()
        info = {"data": {k: getattr(config.data, k) for k in ("labels", "label_format", "score_range")}}
        model = build_model(config.model, recipe=model_recipe(config), info=info,
                            flexible_input=bool(config.train.progressive_sizes))
        if init_from:
            from aesthetics.inference.loading import load_model

            source = load_model(init_from)
            n = transfer_backbone_weights(source, model)
            model.info["init_from"] = Path(init_from).name
            log.info("initialised the backbone from %s (%d tensors)", init_from, n)
            if init_head:
                n = transfer_head_weights(source, model)
                model.info["init_head"] = True
                log.info("initialised the score head from %s (%d tensors)", init_from, n)

    t0 = time.time()
    done = int(state.get("epochs_done", 0)) if resuming else 0
    for index, stage in enumerate(stages):
        if index < progress.stage:
            continue
        if progress.stage_stopped or progress.stage_epochs_done >= stage.epochs:
            progress = StageProgress(stage=index + 1)
            continue
        # a checkpoint written inside this stage carries its optimizer's state
        restored = resuming and progress.stage_epochs_done > 0 and model.optimizer is not None
        set_trainable(model, stage, config)
        optimizer = model.optimizer if restored else stage_optimizer(config, stage, sets.steps * stage.epochs)
        log.info("stage %d/%d %s", index + 1, len(stages), stage.describe())
        for segment in segments(index, stage, progress.stage_epochs_done, done, config.train,
                                config.data.image_size):
            compile_model(model, config, optimizer, segment.loss)
            _fit_segment(model, config, run, segment, stage, progress, sets, val_ds, verbose, callbacks)
            done = segment.start + (progress.stage_epochs_done - segment.stage_start)
            if progress.stage_stopped:
                break
        progress = StageProgress(stage=index + 1)
        run.update_state(**progress.to_state())  # a resume from here starts the next stage
        resuming = False
    train_seconds = time.time() - t0

    if len(report):
        log.warning(report.summary(limit=3))
    best_path = run.file("best.keras")
    final = keras.saving.load_model(best_path, compile=False) if best_path.exists() else model
    final = with_fixed_input(final)  # progressive sizes trained on a flexible input
    y_true, y_pred = predict_with_targets(final, val_ds)
    metrics = evaluate_distributions(y_true, y_pred, config.train.accuracy_threshold)
    final.info = {**final.info, "validation": {k: metrics[k] for k in ("n", "srcc", "plcc") if k in metrics}}
    save_model_atomic(final, run.file("model.keras"))
    metrics.update(
        {
            "split": "val",
            "n_train": int(len(data.train)),
            "n_missing": int(len(data.missing)),
            "n_skipped_unreadable": len(report),
            "skipped": dict(report.failures),
            "train_seconds": round(train_seconds, 1),
            "best_epoch": run.read_state().get("best_epoch"),
        }
    )
    write_json(run.file("metrics.json"), metrics)
    run.update_state(finished=True)
    return metrics
