"""Keras callbacks shared by the training loops."""

from __future__ import annotations

import logging
import time
import weakref

import keras
import numpy as np

from aesthetics.data.images import DecodeReport
from aesthetics.metrics.scores import evaluate_distributions
from aesthetics.training.run_folder import RunFolder, save_model_atomic

log = logging.getLogger("aesthetics")


def predict_with_targets(model, ds):
    """(targets, predictions) over a dataset of (images, targets)."""
    predict = _batch_predictor(model)
    trues, preds = [], []
    for images, targets in ds:
        preds.append(np.asarray(predict(images), np.float32))
        trues.append(np.asarray(targets, np.float32))
    if not preds:
        from aesthetics.errors import DataError

        raise DataError("no validation image could be read: every file was skipped as unreadable")
    return np.concatenate(trues), np.concatenate(preds)


_PLAIN_PREDICT = weakref.WeakKeyDictionary()


def _batch_predictor(model):
    """`predict_on_batch` (compiled), or under a distribution strategy a
    compiled plain call: predict_on_batch would run the same batch on every
    replica and concatenate the copies, and a distributed predict gives each
    worker only its share; every worker must see the same validation scores
    (early stopping and checkpoints follow them)."""
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        return model.predict_on_batch
    fn = _PLAIN_PREDICT.get(model)
    if fn is None:
        fn = _PLAIN_PREDICT[model] = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return fn


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


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training with a clear error when the loss becomes NaN or
    infinite (and, at each epoch end, when a weight does): a diverged run must
    not end as "finished" with an untrained model. The run folder keeps the
    last good checkpoint."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self._fail(f"the training loss became {loss} at batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        for w in self.model.trainable_weights:
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(w))):
                self._fail(f"weight {w.path} became non-finite in epoch {epoch + 1}")

    def _fail(self, what):
        from aesthetics.errors import TrainingDivergedError

        self.model.stop_training = True
        raise TrainingDivergedError(
            f"training diverged: {what}. Lower the learning rate (train.lr_head / train.lr_full "
            f"or pretrain.lr) or check the labels; the last good epoch is in checkpoints/last.keras"
        )


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


def improves(value, best, monitor: str) -> bool:
    """Whether `value` of `monitor` beats `best` (None: nothing yet). Lower is
    better unless MONITORS says "max" (SRCC, PLCC, accuracy); a monitor it
    does not list (e.g. the pretext "loss") is minimised."""
    from aesthetics.constants import MONITORS

    if value is None or not np.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if MONITORS.get(monitor) == "max" else value < best


class BestModel(keras.callbacks.Callback):
    """Saves RUN_DIR/best.keras (atomically) whenever `monitor` improves on
    the best value so far (also across resumes: `best` comes from state)."""

    def __init__(self, path, monitor: str = "val_loss", best=None):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if improves(value, self.best, self.monitor):
            self.best = float(value)
            save_model_atomic(self.model, self.path)


class EpochState(keras.callbacks.Callback):
    """At each epoch end: checkpoints/last.keras, then state.json (in that
    order, so the state never points past the checkpoint). `extra(epoch,
    logs)` returns loop-specific state fields."""

    def __init__(self, run: RunFolder, extra=None, monitor: str = "val_loss"):
        super().__init__()
        self.run = run
        self.extra = extra
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        state = self.run.read_state()
        value = logs.get(self.monitor)
        best = state.get(f"best_{self.monitor}")
        if improves(value, best, self.monitor):
            state[f"best_{self.monitor}"] = float(value)
            state["best_epoch"] = int(epoch + 1)
        state["epochs_done"] = int(epoch + 1)
        if self.extra is not None:
            state.update(self.extra(epoch, logs))
        self.run.save_checkpoint(self.model)
        self.run.write_state(state)


class EpochTimer(keras.callbacks.Callback):
    """Adds `seconds` (wall time of the epoch) to the logs; list it before
    CSVLogger so history.csv gets it."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.time() - self._t0, 2)


class HistoryLog(keras.callbacks.Callback):
    """Appends one row per epoch to RUN_DIR/history.csv: `columns()` (the
    plan: stage, optimizer, loss, lr, image size), then the epoch's logs and
    `epoch_seconds` (training and validation wall time: what a time-to-accuracy
    comparison of recipes reads).

    The header is fixed when the file is made (a resumed run reuses it), so
    rows of every segment of a run line up; unlike CSVLogger this writes
    text columns without handing strings to the other callbacks' logs."""

    FIRST = ("epoch",)

    def __init__(self, path, columns):
        super().__init__()
        self.path = path
        self.columns = columns

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        import csv
        import os
        import time

        row = {"epoch": epoch, **self.columns()}
        for k, v in (logs or {}).items():
            row[k] = float(v) if np.ndim(v) == 0 else v
        started = getattr(self, "_started", None)
        row["epoch_seconds"] = round(time.time() - started, 2) if started is not None else ""
        header = None
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
        new = not header
        if new:
            header = list(self.FIRST) + [k for k in row if k not in self.FIRST]
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
            f.flush()


class StageTracker(keras.callbacks.Callback):
    """Counts a stage's epochs and stops it early (`patience` > 0) across its
    segments and resumes: the count, the stage's best `monitor` value and
    the epochs since are kept in `progress` (a StageProgress that EpochState
    saves in state.json), not in the callback. List it before EpochState."""

    def __init__(self, progress, patience: int, monitor: str = "val_loss"):
        super().__init__()
        self.progress = progress
        self.patience = patience
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        p = self.progress
        p.stage_epochs_done += 1
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if improves(value, p.stage_best, self.monitor):
            p.stage_best, p.stage_wait = float(value), 0
        else:
            p.stage_wait += 1
        if self.patience > 0 and p.stage_wait >= self.patience:
            p.stage_stopped = True
            self.model.stop_training = True
            log.info("stage stopped early after %d epoch(s) without a better %s",
                     p.stage_wait, self.monitor)
