"""Checks the training plan keys: `train.stages`, `train.progressive_sizes`
/ `train.progressive_epochs` and `train.trainable_backbone_layers`.

Same rules as `aesthetics.config.validation` (and its primitives, `aesthetics.checks`) (every error starts with its
dotted key, e.g. ``train.stages[1].lr: must be > 0, got 0``); kept apart
because a stage is a small config of its own. What the keys mean:
`aesthetics.training.stages`. Imports nothing heavy.
"""

from __future__ import annotations

from aesthetics.catalog import LOSSES
from aesthetics.checks import (
    at_least,
    config_error,
    expect_dict,
    expect_int,
    expect_list,
    expect_number,
    expect_str,
    in_range,
    one_of,
    positive,
    show,
)
from aesthetics.constants import LR_SCHEDULES, MAX_EPOCHS, MAX_SIDE, MIN_IMAGE_SIZE, OPTIMIZERS, STAGE_KEYS, STAGE_TRAINS

MAX_STAGES = 100
MAX_LAYERS = 100_000


def validate_stage(key: str, stage) -> None:
    """One entry of train.stages (normalised in place: numbers to floats)."""
    expect_dict(key, stage)
    for name in sorted(set(stage) - set(STAGE_KEYS), key=str):
        raise config_error(f"{key}.{name}", f"unknown stage key; valid keys: {', '.join(STAGE_KEYS)}")
    for required in ("epochs", "lr"):
        if required not in stage:
            raise config_error(f"{key}.{required}", "missing: every stage needs epochs and lr")
    if stage.get("name") is not None:
        expect_str(f"{key}.name", stage["name"])
    in_range(f"{key}.epochs", expect_int(f"{key}.epochs", stage["epochs"]), 1, MAX_EPOCHS)
    stage["lr"] = expect_number(f"{key}.lr", stage["lr"])
    positive(f"{key}.lr", stage["lr"])
    if "optimizer" in stage:
        one_of(f"{key}.optimizer", stage["optimizer"], OPTIMIZERS)
    if "lr_schedule" in stage:
        one_of(f"{key}.lr_schedule", stage["lr_schedule"], LR_SCHEDULES)
    if "weight_decay" in stage:
        stage["weight_decay"] = expect_number(f"{key}.weight_decay", stage["weight_decay"])
        at_least(f"{key}.weight_decay", stage["weight_decay"], 0)
    if "train" in stage:
        one_of(f"{key}.train", stage["train"], STAGE_TRAINS)
    if "early_stopping_patience" in stage:
        in_range(f"{key}.early_stopping_patience",
                 expect_int(f"{key}.early_stopping_patience", stage["early_stopping_patience"]), 0, MAX_EPOCHS)
    has_loss, has_cycle = stage.get("loss") is not None, stage.get("loss_cycle") is not None
    if has_loss and has_cycle:
        raise config_error(f"{key}.loss_cycle", "give either loss or loss_cycle, not both",
                           related=(f"{key}.loss",))
    if has_loss:
        LOSSES.get(stage["loss"], f"{key}.loss")
    if has_cycle:
        cycle = expect_list(f"{key}.loss_cycle", stage["loss_cycle"])
        if not cycle:
            raise config_error(f"{key}.loss_cycle", "expected a non-empty list of loss names, got []")
        for i, name in enumerate(cycle):
            LOSSES.get(name, f"{key}.loss_cycle[{i}]")
    if "switch_every" in stage:
        if not has_cycle:
            raise config_error(f"{key}.switch_every", "only a stage with a loss_cycle switches losses",
                               related=(f"{key}.loss_cycle",))
        in_range(f"{key}.switch_every", expect_int(f"{key}.switch_every", stage["switch_every"]), 1, MAX_EPOCHS)


def validate_stages(t) -> None:
    if t.stages is None:
        return
    stages = expect_list("train.stages", t.stages)
    if not stages:
        raise config_error("train.stages", "expected null (NIMA's two phases) or a non-empty list of stages, got []")
    in_range("train.stages", len(stages), 1, MAX_STAGES, why=" stages")
    for i, stage in enumerate(stages):
        validate_stage(f"train.stages[{i}]", stage)
    names = [s.get("name") for s in stages if s.get("name")]
    if len(set(names)) != len(names):
        raise config_error("train.stages", f"stage names must be distinct, got {show(names)}")


def validate_progressive(t, image_size: int) -> None:
    sizes, starts = t.progressive_sizes, t.progressive_epochs
    if sizes is None and starts is None:
        return
    if sizes is None or starts is None:
        missing = "train.progressive_epochs" if starts is None else "train.progressive_sizes"
        raise config_error(missing, "progressive resizing needs both train.progressive_sizes and "
                           "train.progressive_epochs (the run epoch each size starts at)",
                           related=("train.progressive_sizes", "train.progressive_epochs"))
    sizes = expect_list("train.progressive_sizes", sizes)
    starts = expect_list("train.progressive_epochs", starts)
    if not sizes:
        raise config_error("train.progressive_sizes", "expected a non-empty list of image sizes, got []")
    if len(sizes) != len(starts):
        raise config_error("train.progressive_epochs",
                           f"needs one start epoch per size: {len(sizes)} size(s), {len(starts)} epoch(s)",
                           related=("train.progressive_sizes",))
    for i, (size, start) in enumerate(zip(sizes, starts)):
        in_range(f"train.progressive_sizes[{i}]", expect_int(f"train.progressive_sizes[{i}]", size),
                 MIN_IMAGE_SIZE, MAX_SIDE)
        in_range(f"train.progressive_epochs[{i}]", expect_int(f"train.progressive_epochs[{i}]", start),
                 0, MAX_EPOCHS)
    if starts[0] != 0:
        raise config_error("train.progressive_epochs[0]", f"the first size starts at epoch 0, got {show(starts[0])}")
    for i in range(1, len(sizes)):
        if starts[i] <= starts[i - 1]:
            raise config_error(f"train.progressive_epochs[{i}]",
                               f"start epochs must increase, got {show(starts)}")
    if sizes[-1] != image_size:
        # validation and the shipped model run at data.image_size: a run that
        # never trains at that size would be judged at a size it never saw
        raise config_error("train.progressive_sizes",
                           f"the last size must be data.image_size ({image_size}), got {show(sizes)}",
                           related=("data.image_size",))


def validate_plan(config) -> None:
    t = config.train
    validate_stages(t)
    validate_progressive(t, config.data.image_size)
    if t.trainable_backbone_layers is not None:
        in_range("train.trainable_backbone_layers", t.trainable_backbone_layers, 0, MAX_LAYERS)
