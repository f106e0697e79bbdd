"""One optimizer and learning-rate schedule factory for every training loop."""

from __future__ import annotations

import keras

from aesthetics.constants import LR_SCHEDULES, OPTIMIZERS
from aesthetics.errors import ConfigError


def make_schedule(learning_rate: float, schedule: str, steps: int, alpha: float = 0.0, key: str = "lr_schedule"):
    """A constant rate, or cosine decay from `learning_rate` to
    `alpha * learning_rate` over `steps` optimizer steps."""
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"{key}: unknown schedule {schedule!r}; choose one of {list(LR_SCHEDULES)}")
    if schedule == "cosine" and steps > 0:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=int(steps), alpha=alpha)
    return learning_rate


def with_loss_scaling(optimizer, mixed_precision):
    """The optimizer, wrapped in dynamic loss scaling under "mixed_float16"
    (float16 gradients underflow without it). Keras only wraps it itself when
    the *model's* policy is mixed_float16; ours keep a float32 model-level
    policy (float32 heads and scores), so it never did: measured, a
    mixed_float16 run trained with a plain Adam."""
    if mixed_precision == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def make_optimizer(
    name: str,
    learning_rate: float,
    schedule: str = "constant",
    steps: int = 0,
    weight_decay: float = 0.0,
    alpha: float = 0.0,
    key: str = "train",
):
    """Adam (AdamW when `weight_decay` > 0), AdamW (decoupled weight decay:
    `weight_decay`, or Keras' default 0.004 when 0) or SGD with momentum 0.9."""
    lr = make_schedule(learning_rate, schedule, steps, alpha, key=f"{key}.lr_schedule")
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay or 0.004)
    if name == "adam":
        if weight_decay:
            return keras.optimizers.AdamW(lr, weight_decay=weight_decay)
        return keras.optimizers.Adam(lr)
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    raise ConfigError(f"{key}.optimizer: unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}")
