"""Checks every config value, before any heavy work.

`validate_config` goes through a `Config` section by section: first each
field's type (read from its annotation: ``int``, ``float``, ``bool``,
``str``, ``list``, ``dict``, ``Optional[...]``), then choices and ranges,
then the rules that tie fields together. A failure is a `ConfigError` whose
message starts with the dotted key and says what is allowed::

    data.image_size: expected an integer, got 'big'
    data.eval_resize: expected one of 'resize', 'center_crop', got 'squash'

The error also carries that key as ``error.key`` (the loader uses it to say
which file or ``--set`` the value came from).

Types: an int field takes a JSON integer only (not a bool, not 2.5, not
3.0); a float field takes any finite number (ints become floats); a bool
field takes true / false only; NaN and infinities are rejected everywhere,
also inside ``model.options`` and ``train.loss_options``.

This module imports nothing heavy (no TensorFlow, keras, pandas): the CLI
validates a config before it imports TensorFlow. Model, loss and backbone
names and their options are checked against the registries of
`aesthetics.catalog` (each entry carries its option schema), after the
modules of ``model.plugins`` are imported (they register their own). The
primitive checks and the shared limits live in `aesthetics.checks` and
`aesthetics.constants`. Not checked here: whether paths exist (the CLI
checks them).

`validate_config` returns a new, normalised `Config` (ints in float fields
become floats); the one it is given is left as it is.
"""

from __future__ import annotations

import copy
import math
import re

from aesthetics.catalog import BACKBONES, LOSSES, MODELS
from aesthetics.checks import (
    at_least,
    check_json_values,
    check_seed,
    check_types,
    choices_text,
    config_error,
    in_range,
    one_of,
    positive,
    show,
)
from aesthetics.config.plan_validation import validate_plan
from aesthetics.config.sections import Config
from aesthetics.constants import (
    CROP_MULTIPLE,
    DEGRADATION_NAMES,
    DISTRIBUTE_STRATEGIES,
    LABEL_FORMATS,
    LR_SCHEDULES,
    MAX_ALPHA,
    MAX_BATCH,
    MAX_BINS,
    MAX_BUFFER,
    MAX_DECODER_WIDTH,
    MAX_EPOCHS,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_STEPS,
    MIN_IMAGE_SIZE,
    MIXED_PRECISION_POLICIES,
    MONITORS,
    NUM_DEGRADATION_LEVELS,
    OPTIMIZERS,
    RECIPE_RESIZE_POLICIES,
)
from aesthetics.registry import import_plugins

LABEL_FORMAT_CHOICES = ("auto",) + LABEL_FORMATS
# model.backbone_weights, besides a weights file path. "bundled" is reserved
# for the backbone of a shipped model.
BACKBONE_WEIGHTS_KEYWORDS = ("imagenet", "bundled", "preset")

PRETRAIN_LOSS_WEIGHTS = ("ranking_weight", "classification_weight", "regression_weight", "reconstruction_weight",
                         "contrastive_weight")
MAX_LEVELS_PER_GROUP = NUM_DEGRADATION_LEVELS + 1  # levels 0..5, drawn without replacement


def canonical_backbone_name(name: str):
    """The registered backbone a spelling means, or None: case is ignored,
    '-' means '_', and underscores are optional ("MobileNetV2",
    "mobilenetv2", "efficientnet-b0")."""
    return BACKBONES.canonical(name)


# ------------------------------------------------------------------ sections


def validate_data(d) -> None:
    check_types("data", d)
    one_of("data.label_format", d.label_format, LABEL_FORMAT_CHOICES)
    if d.score_range is not None:
        r = d.score_range
        ok = len(r) == 2 and all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in r
        )
        if not ok:
            raise config_error("data.score_range", f"expected null or [low, high] of two finite numbers, got {show(r)}")
        if r[0] == r[1]:
            # low > high is allowed: it flips the scale (DMOS, lower is better)
            raise config_error("data.score_range", f"expected [low, high] with low != high, got {show(r)}")
    in_range("data.image_size", d.image_size, MIN_IMAGE_SIZE, MAX_SIDE)
    in_range("data.resize_to", d.resize_to, 1, MAX_SIDE)
    one_of("data.eval_resize", d.eval_resize, RECIPE_RESIZE_POLICIES)
    in_range("data.max_side", d.max_side, MIN_IMAGE_SIZE, MAX_SIDE)
    if d.eval_resize == "native" and d.image_size > d.max_side:
        raise config_error("data.image_size", f"the training crop ({d.image_size}) must fit in a photo shrunk to "
                           f"data.max_side ({d.max_side})", related=("data.max_side", "data.eval_resize"))
    if d.eval_resize != "native" and (d.random_crop or d.eval_resize == "center_crop") and d.resize_to < d.image_size:
        why = "data.random_crop is true" if d.random_crop else "data.eval_resize is 'center_crop'"
        raise config_error(
            "data.resize_to",
            f"must be >= data.image_size ({d.image_size}) when {why} (images are resized, then "
            f"cropped to image_size), got {d.resize_to}",
            related=("data.image_size", "data.random_crop", "data.eval_resize"),
        )
    in_range("data.batch_size", d.batch_size, 1, MAX_BATCH)
    in_range("data.val_fraction", d.val_fraction, 0, 1, low_open=True, high_open=True)
    check_seed("data.split_seed", d.split_seed)
    if d.group_pattern is not None:
        try:
            regex = re.compile(d.group_pattern)
        except re.error as e:
            raise config_error("data.group_pattern", f"invalid regular expression {d.group_pattern!r}: {e}") from None
        if regex.groups < 1:
            raise config_error(
                "data.group_pattern",
                f"needs a capturing group naming an image's group (e.g. '^(.*)_q\\d'), got {d.group_pattern!r}",
            )
    in_range("data.max_pixels", d.max_pixels, 1, MAX_PIXELS)
    in_range("data.shuffle_buffer", d.shuffle_buffer, 1, MAX_BUFFER)


def given_options(entry, options, key: str) -> dict:
    """`options` checked against `entry`'s schema: a new dict of the options
    given, normalised (defaults are not written into the config)."""
    resolved = entry.resolve_options(options, key)
    return {name: resolved[name] for name in options}


def validate_model(m) -> None:
    check_types("model", m)
    import_plugins(m.plugins, "model.plugins")  # before the names: plugins register their own
    check_json_values("model.options", m.options)
    m.options = given_options(MODELS.get(m.model, "model.model"), m.options, "model.options")
    BACKBONES.get(m.backbone, "model.backbone")
    if m.backbone_weights is not None and not m.backbone_weights.strip():
        raise config_error(
            "model.backbone_weights",
            f"expected null, {choices_text(BACKBONE_WEIGHTS_KEYWORDS)} or a weights file path, got {show(m.backbone_weights)}",
        )
    in_range("model.alpha", m.alpha, 0, MAX_ALPHA, low_open=True)
    in_range("model.dropout", m.dropout, 0, 1, high_open=True)
    in_range("model.num_bins", m.num_bins, 2, MAX_BINS)


def validate_loss_options(t) -> None:
    check_json_values("train.loss_options", t.loss_options)
    t.loss_options = given_options(LOSSES.get(t.loss, "train.loss"), t.loss_options, "train.loss_options")


def validate_train(t) -> None:
    check_types("train", t)
    validate_loss_options(t)
    one_of("train.optimizer", t.optimizer, OPTIMIZERS)
    at_least("train.weight_decay", t.weight_decay, 0)
    in_range("train.epochs_head", t.epochs_head, 0, MAX_EPOCHS)
    in_range("train.epochs_full", t.epochs_full, 0, MAX_EPOCHS)
    if t.stages is None and t.epochs_head + t.epochs_full < 1:
        raise config_error(
            "train.epochs_full",
            f"train.epochs_head + train.epochs_full must be >= 1 (nothing would be trained), "
            f"got {t.epochs_head} + {t.epochs_full}",
            related=("train.epochs_head",),
        )
    positive("train.lr_head", t.lr_head)
    positive("train.lr_full", t.lr_full)
    one_of("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    in_range("train.early_stopping_patience", t.early_stopping_patience, 0, MAX_EPOCHS)
    one_of("train.monitor", t.monitor, tuple(MONITORS))
    check_seed("train.seed", t.seed)
    one_of("train.mixed_precision", t.mixed_precision, MIXED_PRECISION_POLICIES, nullable=True)
    one_of("train.distribute", t.distribute, DISTRIBUTE_STRATEGIES)
    # accuracy_threshold: any finite number (checked with the types).
    if t.cache_features:
        head_only = all(s.get("train", "all") == "head" for s in t.stages) if t.stages else t.epochs_full == 0
        if not head_only:
            raise config_error("train.cache_features", "cached features need a frozen backbone: set "
                               "train.epochs_full to 0 (or every stage's \"train\" to \"head\")",
                               related=("train.epochs_full", "train.stages"))
        for key, value in (("progressive_sizes", t.progressive_sizes), ("distribute", t.distribute),
                           ("monitor", t.monitor)):
            if value not in (None, "none", "val_loss"):
                raise config_error(f"train.{key}", f"not with train.cache_features (got {show(value)})",
                                   related=("train.cache_features",))


def validate_pretrain(p) -> None:
    check_types("pretrain", p)
    if p.crop_size < MIN_IMAGE_SIZE or p.crop_size > MAX_SIDE or p.crop_size % CROP_MULTIPLE:
        raise config_error(
            "pretrain.crop_size",
            f"must be a multiple of {CROP_MULTIPLE} in [{MIN_IMAGE_SIZE}, {MAX_SIDE}], got {show(p.crop_size)}",
        )
    if p.working_size is not None:
        in_range("pretrain.working_size", p.working_size, 1, 2 * MAX_SIDE)
    if p.working_size is not None and p.working_size < p.crop_size:
        raise config_error(
            "pretrain.working_size",
            f"must be >= pretrain.crop_size ({p.crop_size}): crops are cut from photos downscaled to it, "
            f"got {p.working_size}",
            related=("pretrain.crop_size",),
        )
    limits = {"images_per_batch": MAX_BATCH, "crops_per_image": MAX_BATCH,
              "steps_per_epoch": MAX_STEPS, "epochs": MAX_EPOCHS}
    for name, high in limits.items():
        in_range(f"pretrain.{name}", getattr(p, name), 1, high)
    in_range(
        "pretrain.levels_per_group", p.levels_per_group, 2, MAX_LEVELS_PER_GROUP,
        why=f" (levels 0..{NUM_DEGRADATION_LEVELS} are drawn without replacement)",
    )
    if p.kinds is not None:
        if not p.kinds:
            raise config_error("pretrain.kinds", "expected null (all kinds) or a non-empty list of degradation names, got []")
        for kind in p.kinds:
            if not isinstance(kind, str):
                raise config_error("pretrain.kinds", f"expected degradation names (strings), got {show(kind)}")
            if kind not in DEGRADATION_NAMES:
                raise config_error(
                    "pretrain.kinds", f"unknown degradation {kind!r}; choose from {choices_text(DEGRADATION_NAMES)}"
                )
    positive("pretrain.lr", p.lr)
    at_least("pretrain.weight_decay", p.weight_decay, 0)
    one_of("pretrain.lr_schedule", p.lr_schedule, LR_SCHEDULES)
    for name in PRETRAIN_LOSS_WEIGHTS:
        at_least(f"pretrain.{name}", getattr(p, name), 0)
    if not any(getattr(p, name) > 0 for name in PRETRAIN_LOSS_WEIGHTS):
        names = ", ".join(f"pretrain.{n}" for n in PRETRAIN_LOSS_WEIGHTS)
        raise config_error(
            f"pretrain.{PRETRAIN_LOSS_WEIGHTS[0]}",
            f"at least one loss weight must be > 0 (all of {names} are 0: no pretext head would be built)",
            related=tuple(f"pretrain.{n}" for n in PRETRAIN_LOSS_WEIGHTS[1:]),
        )
    at_least("pretrain.distill_weight", p.distill_weight, 0)
    positive("pretrain.contrastive_temperature", p.contrastive_temperature)
    in_range("pretrain.contrastive_dim", p.contrastive_dim, 2, 4096)
    if p.contrastive_weight > 0 and (p.images_per_batch * p.crops_per_image) % 2:
        raise config_error(
            "pretrain.contrastive_weight",
            "the contrastive loss pairs the groups of a batch: pretrain.images_per_batch * "
            f"pretrain.crops_per_image must be even, got {p.images_per_batch} * {p.crops_per_image}",
            related=("pretrain.images_per_batch", "pretrain.crops_per_image"),
        )
    if p.trainable_backbone_layers is not None:
        in_range("pretrain.trainable_backbone_layers", p.trainable_backbone_layers, 0, 100_000)
    in_range("pretrain.mix_probability", p.mix_probability, 0, 1)
    if p.mix_probability > 0 and p.kinds is not None and len(set(p.kinds)) < 2:
        raise config_error("pretrain.mix_probability", "mixing needs at least two degradation kinds "
                           f"(pretrain.kinds is {show(p.kinds)})", related=("pretrain.kinds",))
    at_least("pretrain.margin", p.margin, 0)
    in_range("pretrain.decoder_width", p.decoder_width, 1, MAX_DECODER_WIDTH)
    check_seed("pretrain.seed", p.seed)
    one_of("pretrain.mixed_precision", p.mixed_precision, MIXED_PRECISION_POLICIES, nullable=True)
    one_of("pretrain.distribute", p.distribute, DISTRIBUTE_STRATEGIES)
    in_range("pretrain.max_pixels", p.max_pixels, 1, MAX_PIXELS)


SECTION_VALIDATORS = {
    "data": validate_data,
    "model": validate_model,
    "train": validate_train,
    "pretrain": validate_pretrain,
}


def validate_config(config: Config) -> Config:
    """A checked, normalised copy of `config` (ints in float fields become
    floats); raises `ConfigError` naming the first bad key."""
    config = copy.deepcopy(config)
    for section, validate in SECTION_VALIDATORS.items():
        validate(getattr(config, section))
    validate_plan(config)  # train.stages, progressive sizes: need data.image_size too
    return config
