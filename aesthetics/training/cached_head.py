"""Head-only training on cached features (`train.cache_features`), the way
LAION's aesthetic predictor is trained on frozen CLIP embeddings.

    photos ──► the model's frozen backbone + pooling, once per photo (the
    scoring loop, the recipe's preparation, no augmentation), cached in
    RUN_DIR/features_<backbone and recipe fingerprint>.npz ──► the head layers (MLP, dropout, scores) fitted on
    the features ──► the same layers inside the full model ──► model.keras

The head is the model's own layers after its features (the input of
"head_mlp_0", else of "head_dropout"), so training them on the cache trains
the full model: model.keras is an ordinary scoring model. The features are
standardised for training (the training photos' mean and std) and the
standardisation is then folded into the head's first Dense layer, as the
shipped models' heads are (`frozen_head.install_head`). The plan must train
the head only (config validation checks); each head stage runs at its rate
with its loss, early stopping on the validation loss (best weights kept).
A rerun, or a resumed one, reads the cache instead of the backbone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import keras
import numpy as np

from aesthetics.config import Config
from aesthetics.errors import ConfigError, DataError
from aesthetics.losses import get_loss
from aesthetics.metrics.scores import evaluate_distributions
from aesthetics.models import build_model
from aesthetics.training.optim import make_optimizer
from aesthetics.training.row_cache import RowCache
from aesthetics.training.run_folder import save_model_atomic, write_json
from aesthetics.training.stages import plan_stages
from aesthetics.training.supervised import begin_cached_run, model_recipe, stack_targets

log = logging.getLogger("aesthetics")
OUTPUTS = ("model.keras", "metrics.json", "split.json")


def head_layers(model) -> tuple[list, keras.KerasTensor]:
    """(the layers from the head's first one to "scores", the tensor they start from)."""
    names = [layer.name for layer in model.layers]
    first = "head_mlp_0" if "head_mlp_0" in names else "head_dropout"
    if first not in names or "scores" not in names:
        raise ConfigError("train.cache_features needs a NIMA-style model (a 'head_dropout' and a 'scores' layer)")
    layers = model.layers[names.index(first):names.index("scores") + 1]
    return layers, model.get_layer(first).input


def train_cached_head(config: Config, run_dir, resume: bool = True, verbose: int = 1, cache_dir=None) -> dict:
    """Trains the head of `config`'s model on cached features (module docstring).
    `cache_dir`: where the feature cache lives (default the run folder; a search
    shares one between its trials: a file per backbone and recipe)."""
    from aesthetics.inference.scoring import as_scorer, output_rows

    run, data = begin_cached_run(config, run_dir, OUTPUTS, resume)
    if data is None:
        return run.finished_metrics()
    info = {"data": {k: getattr(config.data, k) for k in ("labels", "label_format", "score_range")},
            "cache_features": True}
    model = build_model(config.model, recipe=model_recipe(config), info=info)
    layers, features_tensor = head_layers(model)
    extractor = as_scorer(keras.Model(model.inputs, features_tensor, name="features"), model.recipe)

    t0 = time.time()
    fingerprint = _fingerprint(model)
    cache = RowCache(Path(cache_dir or run.path) / f"features_{fingerprint[:16]}.npz", fingerprint)
    sets = {}
    for part, table in (("train", data.train), ("val", data.val)):
        paths = [str(p) for p in table["filepath"]]
        todo = [p for p in paths if p not in cache.rows]
        if todo:
            log.info("computing the features of %d %s photo(s) once", len(todo), part)
            rows, ok, failures = output_rows(extractor, todo, batch_size=config.data.batch_size)
            for p, reason in failures.items():
                log.warning("skipped %s: %s", p, reason)
            cache.add({todo[i]: r for i, r in zip(ok, rows)})
        keep = [i for i, p in enumerate(paths) if p in cache.rows]
        if not keep:
            raise DataError(f"none of the {len(paths)} {part} photos could be used")
        sets[part] = (np.stack([cache.rows[paths[i]] for i in keep]), stack_targets(table.iloc[keep]))
    feature_seconds = time.time() - t0

    (x_train, y_train), (x_val, y_val) = sets["train"], sets["val"]
    # standardised features (the pooled maps of an ImageNet backbone reach norms of ~50; Adam on
    # them raw is unstable); the standardisation is folded into the first Dense afterwards
    mean, variance = x_train.mean(0), x_train.var(0) + 1e-6
    head_input = keras.Input(tuple(features_tensor.shape[1:]), name="features")
    x = keras.layers.Normalization(mean=mean, variance=variance, name="standardise")(head_input)
    for layer in layers:
        x = layer(x)
    head = keras.Model(head_input, x, name="head")  # the model's own layers: training it trains the model
    run.file("history.csv").unlink(missing_ok=True)
    history_rows, t1 = [], time.time()
    for stage in plan_stages(config.train):
        if stage.epochs < 1:
            continue
        patience = stage.early_stopping_patience or config.train.early_stopping_patience
        optimizer = make_optimizer(stage.optimizer, stage.lr, weight_decay=stage.weight_decay)
        done = 0
        while done < stage.epochs:  # one fit per loss of a cycle (one for a single loss)
            loss = stage.loss_at(done)
            span = stage.epochs - done if len(stage.losses) == 1 else min(stage.switch_every, stage.epochs - done)
            options = config.train.loss_options if loss == config.train.loss else {}
            head.compile(optimizer=optimizer, loss=get_loss(loss, **options))
            stop = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)] \
                if len(stage.losses) == 1 and patience else []
            fit = head.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=span,
                           batch_size=config.data.batch_size, callbacks=stop, verbose=verbose, shuffle=True)
            for tl, vl in zip(fit.history["loss"], fit.history["val_loss"]):
                history_rows.append({"epoch": len(history_rows), "stage": stage.name, "optimizer": stage.optimizer,
                                     "loss_name": loss, "lr": stage.lr, "loss": tl, "val_loss": vl})
            done += span
    import pandas as pd

    pd.DataFrame(history_rows).to_csv(run.file("history.csv"), index=False)
    fold_standardisation(layers, mean, variance)  # the model reads raw features: the same outputs
    raw = x = keras.Input(tuple(features_tensor.shape[1:]))
    for layer in layers:
        x = layer(x)
    predicted = np.asarray(keras.Model(raw, x).predict(x_val, batch_size=256, verbose=0), np.float32)
    metrics = evaluate_distributions(y_val, predicted, config.train.accuracy_threshold)
    model.info = {**model.info, "validation": {k: metrics[k] for k in ("n", "srcc", "plcc") if k in metrics}}
    save_model_atomic(model, run.file("model.keras"))
    metrics.update({"split": "val", "n_train": int(len(x_train)), "n_missing": int(len(data.missing)),
                    "feature_seconds": round(feature_seconds, 1), "train_seconds": round(time.time() - t1, 1)})
    write_json(run.file("metrics.json"), metrics)
    run.update_state(finished=True)
    return metrics


def fold_standardisation(layers, mean: np.ndarray, variance: np.ndarray) -> None:
    """Folds z = (x - mean) / std into the first Dense of `layers` (W / std,
    b - (mean / std) W, in float64), so it reads x and gives the same outputs
    (dropout before it is the identity at inference)."""
    dense = next(layer for layer in layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = (np.asarray(w, np.float64) for w in dense.get_weights())
    inv_std = 1.0 / np.sqrt(np.asarray(variance, np.float64))
    dense.set_weights([(kernel * inv_std[:, None]).astype(np.float32),
                       (bias - (np.asarray(mean, np.float64) * inv_std) @ kernel).astype(np.float32)])


def _fingerprint(model) -> str:
    """What the features depend on: the backbone's weights and the recipe."""
    import hashlib

    digest = hashlib.sha256(repr(model.recipe.to_dict()).encode())
    for w in model.get_layer("backbone").weights:
        digest.update(np.ascontiguousarray(np.asarray(w)).tobytes())
    return digest.hexdigest()
