"""Training only the score head, on features of a frozen backbone.

The backbone runs once per photo (`extract_features`, cached by the caller),
then the head trains in seconds on the feature matrix (`fit_head`): what a
LAION-style predictor does, and how the shipped models are trained (see
contrib/zoo/). `install_head` writes the head into the full model, so the
result is one ordinary `AestheticsModel` with its recipe.

The head trains as standardisation (the training features' mean and std)
-> dropout -> Dense softmax; `install_head` folds the standardisation into
the model's "scores" layer (W / std, b - (mean / std) W), so the model keeps
its plain NIMA graph: "head_dropout" -> "scores".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import keras
import numpy as np

from aesthetics.errors import ConfigError, DataError
from aesthetics.losses import get_loss
from aesthetics.models.nima import score_head
from aesthetics.training.optim import make_optimizer


def feature_model(model) -> keras.Model:
    """image -> the pooled features the head reads (the input of head_dropout)."""
    try:
        dropout = model.get_layer("head_dropout")
    except ValueError:
        raise ConfigError("a frozen head needs a NIMA-style model (a 'head_dropout' layer)") from None
    return keras.Model(model.inputs, dropout.input, name="features")


def extract_features(model, paths: Sequence[str], batch_size: int = 16):
    """(features (N, F) float32 for the files that could be used, their
    indices in `paths`, {path: reason} for the rest). Photos are prepared as
    the model's recipe says, by the scoring loop `predict` runs."""
    from aesthetics.inference.scoring import as_scorer, output_rows
    from aesthetics.models.scorer import recipe_of

    return output_rows(as_scorer(feature_model(model), recipe_of(model)), list(paths), batch_size=batch_size)


@dataclass
class HeadFit:
    kernel: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    epochs: int
    history: dict


def fit_head(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    loss: str = "emd",
    loss_options: Optional[dict] = None,
    epochs: int = 300,
    learning_rate: float = 1e-3,
    dropout: float = 0.0,
    l2: float = 0.0,
    batch_size: int = 64,
    patience: int = 30,
    val_fraction: float = 0.2,
    seed: int = 0,
    fixed_epochs: Optional[int] = None,
) -> HeadFit:
    """Trains Normalization -> Dropout -> Dense(softmax) on (features, target
    distributions), with an optional L2 penalty `l2` on the kernel. Early stopping on a seeded `val_fraction` of the rows
    (best weights restored) picks the epoch count; `fixed_epochs` instead
    trains on every row for that many epochs (e.g. the final model on all
    photos, with the epoch count the cross-validation chose)."""
    features = np.asarray(features, np.float32)
    targets = np.asarray(targets, np.float32)
    if len(features) != len(targets) or len(features) < 4:
        raise DataError(f"need >= 4 rows of features and targets, got {len(features)} / {len(targets)}")
    mean = features.mean(0)
    variance = features.var(0) + 1e-6
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((features.shape[1],))
    x = keras.layers.Normalization(mean=mean, variance=variance)(inputs)
    # the scoring model's own head (what install_head writes into)
    outputs = score_head(x, targets.shape[1], dropout, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)
    head = keras.Model(inputs, outputs)
    head.compile(optimizer=make_optimizer("adam", learning_rate), loss=get_loss(loss, **(loss_options or {})))
    if fixed_epochs is None:
        order = np.random.default_rng(seed).permutation(len(features))
        n_val = max(1, int(round(val_fraction * len(features))))
        val, train = order[:n_val], order[n_val:]
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        h = head.fit(features[train], targets[train], validation_data=(features[val], targets[val]),
                     epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[stop], shuffle=True)
        trained = int(np.argmin(h.history["val_loss"]) + 1)
    else:
        h = head.fit(features, targets, epochs=int(fixed_epochs), batch_size=batch_size, verbose=0, shuffle=True)
        trained = int(fixed_epochs)
    dense = head.get_layer("scores")
    return HeadFit(np.asarray(dense.kernel), np.asarray(dense.bias), mean, variance, trained,
                   {k: [float(v) for v in vs] for k, vs in h.history.items()})


def predict_head(fit: HeadFit, features: np.ndarray) -> np.ndarray:
    """The head's distributions for feature rows (numpy, as the model computes them)."""
    z = (np.asarray(features, np.float64) - fit.mean) / np.sqrt(fit.variance)
    logits = z @ fit.kernel.astype(np.float64) + fit.bias
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def install_head(model, fit: HeadFit) -> None:
    """Writes a fitted head into `model`'s "scores" layer, with the feature
    standardisation folded in (computed in float64)."""
    inv_std = 1.0 / np.sqrt(fit.variance.astype(np.float64))
    kernel = fit.kernel.astype(np.float64) * inv_std[:, None]
    bias = fit.bias.astype(np.float64) - (fit.mean.astype(np.float64) * inv_std) @ fit.kernel.astype(np.float64)
    model.get_layer("scores").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
