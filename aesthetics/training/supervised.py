"""Supervised training: labels + images -> a trained scoring model in a run folder.

Two phases, as NIMA: (1) the backbone frozen, only the head learns at
`lr_head`; (2) everything trains at the lower `lr_full`, with early stopping on
the validation loss. A run folder holds everything needed to resume:

    RUN_DIR/
      config.json            the resolved config of the run
      split.json             the train/val image ids (reused on resume)
      checkpoints/last.keras model + optimizer after the last finished epoch
      state.json             phase, epochs done, best val loss (for resume)
      best.keras             best model by val loss so far
      model.keras            the final model (= best), written at the end
      history.csv            per-epoch loss/metrics (appended across resumes)
      logs/                  TensorBoard
      metrics.json           validation metrics of the final model
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from aesthetics.config import Config
from aesthetics.data.images import DecodeReport
from aesthetics.data.labels import (
    load_split,
    read_labels,
    resolve_images,
    save_split,
    split_table,
)
from aesthetics.data.pipeline import (
    PipelineOptions,
    make_eval_dataset,
    make_training_dataset,
)
from aesthetics.losses.distribution import get_loss
from aesthetics.metrics.scores import EMDMetric, MeanScoreAccuracy, MeanScoreMAE, evaluate_distributions
from aesthetics.models import build_model

log = logging.getLogger("aesthetics")
# Decoding failures are filtered out, so the dataset's length is unknown
# until the first epoch ends; Keras warns about that once. Expected here.
warnings.filterwarnings("ignore", message=".*ran out of data.*")


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
        raise ValueError("both data.labels and data.images are required (--labels, --images)")
    table = read_labels(data.labels, fmt=data.label_format, score_range=data.score_range)
    found, missing = resolve_images(table, data.images)
    if len(missing):
        first = ", ".join(missing["path"].head(5))
        log.warning(
            "%d of %d labelled images are missing under %s (first: %s); training on the %d found",
            len(missing), len(table), data.images, first, len(found),
        )
    if len(found) == 0:
        raise FileNotFoundError(f"none of the {len(table)} labelled images exist under {data.images}")

    split_path = Path(data.split_file) if data.split_file else None
    if split_path is None and run_dir is not None and (run_dir / "split.json").exists():
        split_path = run_dir / "split.json"
    if split_path is not None:
        train_ids, val_ids = load_split(split_path)
        train = found[found["image_id"].isin(set(train_ids))]
        val = found[found["image_id"].isin(set(val_ids))]
    else:
        train, val = split_table(
            found, val_fraction=data.val_fraction, seed=data.split_seed,
            group_pattern=data.group_pattern,
        )
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"empty split: {len(train)} train / {len(val)} val images")
    return LabeledData(train.reset_index(drop=True), val.reset_index(drop=True), missing)


def stack_targets(table) -> np.ndarray:
    return np.stack(table["distribution"].to_numpy()).astype(np.float32)


class ValidationMetrics(keras.callbacks.Callback):
    """Computes val loss, SRCC and PLCC from one prediction pass per epoch.

    Replaces Keras' own validation pass (which would forward the validation
    set a second time just to get the loss) and adds the rank metrics that
    matter for quality assessment. Must come first in the callback list so
    checkpointing and early stopping see `val_loss`.
    """

    def __init__(self, val_ds, loss_fn, threshold: float = 5.0):
        super().__init__()
        self.val_ds = val_ds
        self.loss_fn = loss_fn
        self.threshold = threshold
        self.last: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        y_true, y_pred = predict_with_targets(self.model, self.val_ds)
        metrics = evaluate_distributions(y_true, y_pred, self.threshold)
        loss = float(np.mean(keras.ops.convert_to_numpy(self.loss_fn.call(y_true, y_pred))))
        shown = {k: v for k, v in metrics.items() if k not in ("n", "accuracy_threshold")}
        self.last = {"val_loss": loss, **{f"val_{k}": v for k, v in shown.items()}}
        if logs is not None:
            logs.update(self.last)


def predict_with_targets(model, ds):
    trues, preds = [], []
    for images, targets in ds:
        preds.append(np.asarray(model.predict_on_batch(images), np.float32))  # compiled, not eager
        trues.append(np.asarray(targets, np.float32))
    return np.concatenate(trues), np.concatenate(preds)


class ReportSkippedFiles(keras.callbacks.Callback):
    """Logs unreadable files as soon as an epoch meets them (path + reason),
    so a long run shows them early instead of only in metrics.json."""

    def __init__(self, report: DecodeReport):
        super().__init__()
        self.report = report
        self.seen: set = set()

    def on_epoch_end(self, epoch, logs=None):
        new = {p: r for p, r in self.report.failures.items() if p not in self.seen}
        for path, reason in sorted(new.items()):
            log.warning("skipped unreadable image %s: %s", path, reason)
        self.seen.update(new)


class RunState(keras.callbacks.Callback):
    """Writes last.keras + state.json at each epoch end (after checkpointing)."""

    def __init__(self, run_dir: Path, phase: int):
        super().__init__()
        self.run_dir = run_dir
        self.phase = phase

    def on_epoch_end(self, epoch, logs=None):
        state = read_state(self.run_dir)
        val_loss = (logs or {}).get("val_loss")
        best = state.get("best_val_loss")
        if val_loss is not None and (best is None or val_loss < best):
            state["best_val_loss"] = float(val_loss)
            state["best_epoch"] = int(epoch + 1)
        state.update({"phase": self.phase, "epochs_done": int(epoch + 1)})
        save_last_checkpoint(self.model, self.run_dir)
        write_state(self.run_dir, state)


def save_last_checkpoint(model, run_dir: Path) -> None:
    """Saves RUN_DIR/checkpoints/last.keras atomically: an interruption never
    leaves half a file for the resume to load."""
    ckpt = Path(run_dir) / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    tmp = ckpt / "last.tmp.keras"
    model.save(tmp)
    tmp.replace(ckpt / "last.keras")


def read_state(run_dir: Path) -> dict:
    path = Path(run_dir) / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write_state(run_dir: Path, state: dict) -> None:
    path = Path(run_dir) / "state.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def make_optimizer(train_cfg, learning_rate, steps: int):
    lr = learning_rate
    if train_cfg.lr_schedule == "cosine" and steps > 0:
        lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    elif train_cfg.lr_schedule != "constant":
        raise ValueError(f"unknown lr_schedule {train_cfg.lr_schedule!r} (constant, cosine)")
    if train_cfg.optimizer == "adam":
        if train_cfg.weight_decay:
            return keras.optimizers.AdamW(lr, weight_decay=train_cfg.weight_decay)
        return keras.optimizers.Adam(lr)
    if train_cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {train_cfg.optimizer!r} (adam, sgd)")


def compile_model(model, config: Config, learning_rate: float, steps: int):
    model.compile(
        optimizer=make_optimizer(config.train, learning_rate, steps),
        loss=get_loss(config.train.loss, **config.train.loss_options),
        metrics=[
            MeanScoreMAE(),
            MeanScoreAccuracy(config.train.accuracy_threshold),
            EMDMetric(),
        ],
    )


def transfer_backbone_weights(source: keras.Model, target: keras.Model) -> int:
    """Copies the weights of `source`'s "backbone" sub-model into `target`'s
    (fine-tuning from a pretrained run). Returns the number of tensors copied."""
    try:
        src, dst = source.get_layer("backbone"), target.get_layer("backbone")
    except ValueError as e:
        raise ValueError("both models need a sub-model named 'backbone'") from e
    src_w, dst_w = src.get_weights(), dst.get_weights()
    if [w.shape for w in src_w] != [w.shape for w in dst_w]:
        raise ValueError(
            "the --init-from model's backbone does not match this config's backbone "
            "(different architecture, alpha or input size?)"
        )
    dst.set_weights(src_w)
    return len(src_w)


def unfreeze_backbone(backbone, freeze_batchnorm: bool = True) -> None:
    """Makes the backbone trainable for phase 2. With `freeze_batchnorm`,
    BatchNorm layers stay frozen (inference mode, ImageNet statistics): with
    small batches of a small dataset their batch statistics are too noisy."""
    backbone.trainable = True
    if freeze_batchnorm:
        for layer in backbone._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def _fit_phase(model, config, datasets, run_dir, phase, initial_epoch, epochs, verbose, extra_callbacks):
    train_ds, val_ds, report = datasets
    loss_fn = get_loss(config.train.loss, **config.train.loss_options)
    callbacks = [
        ValidationMetrics(val_ds, loss_fn, config.train.accuracy_threshold),
        ReportSkippedFiles(report),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.keras"),
            monitor="val_loss",
            save_best_only=True,
            initial_value_threshold=read_state(run_dir).get("best_val_loss"),
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
    ]
    if phase == 2 and config.train.early_stopping_patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.train.early_stopping_patience
            )
        )
    callbacks.append(RunState(run_dir, phase))
    callbacks += list(extra_callbacks)
    model.fit(
        train_ds,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset is already shuffled (seeded)
    )


def train(
    config: Config,
    run_dir,
    init_from: Optional[str] = None,
    resume: bool = True,
    verbose: int = 1,
    callbacks=(),
) -> dict:
    """Trains per `config` into `run_dir`; resumes from its last checkpoint if
    one exists (and `resume`). Returns the final validation metrics."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.train.seed)
    if config.train.mixed_precision:
        keras.config.set_dtype_policy(config.train.mixed_precision)

    state = read_state(run_dir) if resume else {}
    last_ckpt = run_dir / "checkpoints" / "last.keras"
    if not resume:
        for stale in ("state.json", "history.csv", "best.keras"):
            (run_dir / stale).unlink(missing_ok=True)
        last_ckpt.unlink(missing_ok=True)
    resuming = bool(state) and last_ckpt.exists()
    if state.get("finished") and resuming:
        log.info("run in %s already finished; nothing to resume", run_dir)
        return json.loads((run_dir / "metrics.json").read_text())

    data = load_labeled_data(config, run_dir if resuming else None)
    save_split(run_dir / "split.json", list(data.train["image_id"]), list(data.val["image_id"]))
    config.to_json(run_dir / "config.json")
    log.info("training on %d images, validating on %d", len(data.train), len(data.val))

    options = PipelineOptions.from_data_config(config.data)
    report = DecodeReport()
    batch = config.data.batch_size
    train_ds = make_training_dataset(
        data.train["filepath"], stack_targets(data.train), options, batch,
        seed=config.train.seed, report=report,
    )
    val_ds = make_eval_dataset(
        data.val["filepath"], stack_targets(data.val), options, batch, report=report
    )
    steps = int(np.ceil(len(data.train) / batch))
    datasets = (train_ds, val_ds, report)

    if resuming:
        log.info("resuming from %s (phase %s, %s epochs done)", last_ckpt, state.get("phase"), state.get("epochs_done"))
        model = keras.saving.load_model(last_ckpt)
    else:
        model = build_model(config.model, image_size=config.data.image_size)
        if init_from:
            source = keras.saving.load_model(init_from, compile=False)
            n = transfer_backbone_weights(source, model)
            log.info("initialised the backbone from %s (%d tensors)", init_from, n)

    t0 = time.time()
    epochs_head, epochs_full = config.train.epochs_head, config.train.epochs_full
    done = int(state.get("epochs_done", 0)) if resuming else 0
    phase = int(state.get("phase", 1)) if resuming else 1
    backbone = model.get_layer("backbone")

    if phase == 1 and done < epochs_head:
        if not resuming:
            backbone.trainable = False
            compile_model(model, config, config.train.lr_head, steps * epochs_head)
        _fit_phase(model, config, datasets, run_dir, 1, done, epochs_head, verbose, callbacks)
        done = epochs_head
        resuming = False
    if epochs_full > 0:
        if phase == 1 or not resuming:
            unfreeze_backbone(backbone, config.train.freeze_batchnorm)
            compile_model(model, config, config.train.lr_full, steps * epochs_full)
        total = epochs_head + epochs_full
        if done < total:
            _fit_phase(model, config, datasets, run_dir, 2, done, total, verbose, callbacks)
    train_seconds = time.time() - t0

    if len(report):
        log.warning(report.summary(limit=3))
    best_path = run_dir / "best.keras"
    final = keras.saving.load_model(best_path) if best_path.exists() else model
    final.save(run_dir / "model.keras")
    y_true, y_pred = predict_with_targets(final, val_ds)
    metrics = evaluate_distributions(y_true, y_pred, config.train.accuracy_threshold)
    metrics.update(
        {
            "split": "val",
            "n_train": int(len(data.train)),
            "n_missing": int(len(data.missing)),
            "n_skipped_unreadable": len(report),
            "skipped": dict(report.failures),
            "train_seconds": round(train_seconds, 1),
            "best_epoch": read_state(run_dir).get("best_epoch"),
        }
    )
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    state = read_state(run_dir)
    state["finished"] = True
    write_state(run_dir, state)
    return metrics
