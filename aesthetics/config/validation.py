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
validates a config before it imports TensorFlow. The name lists come from
`aesthetics.constants`, which the registries are tested against. Not checked
here: whether paths exist (the CLI checks them) and the builder-specific
keys of ``model.options`` (checked when the model is built, e.g.
`aesthetics.models.dual_path.resolve_options`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Optional

from aesthetics.config.sections import Config
from aesthetics.constants import (
    BACKBONE_NAMES,
    DEGRADATION_NAMES,
    DISTRIBUTE_STRATEGIES,
    LABEL_FORMATS,
    LOSS_NAMES,
    LR_SCHEDULES,
    MIXED_PRECISION_POLICIES,
    MODEL_NAMES,
    NUM_DEGRADATION_LEVELS,
    OPTIMIZERS,
    RESIZE_POLICIES,
)
from aesthetics.errors import ConfigError

# The smallest model input: the backbones downsample by 32.
MIN_IMAGE_SIZE = 32
# Pretext crops feed the decoder's skip connections: a multiple of the stride.
CROP_MULTIPLE = 32
# keras.utils.set_random_seed seeds numpy's legacy generator: 0 .. 2**32 - 1.
SEED_LIMIT = 2**32
# Upper bounds: a value past these is a typo, and would otherwise end in an
# out-of-memory crash or an int64 overflow deep inside TensorFlow instead of a
# message naming the key. MAX_SIDE and MAX_BINS match the recipe a model carries.
MAX_SIDE = 4096
MAX_BINS = 1000
MAX_BATCH = 65_536
MAX_EPOCHS = 1_000_000
MAX_STEPS = 1_000_000_000
MAX_BUFFER = 2**31 - 1
MAX_PIXELS = 2**62
MAX_ALPHA = 10.0
MAX_DECODER_WIDTH = 1024
# What `show` prints of a value at most (a 5000-digit number is not a message).
SHOW_LIMIT = 80

LABEL_FORMAT_CHOICES = ("auto",) + LABEL_FORMATS
# model.backbone_weights, besides a weights file path. "bundled" is reserved
# for the backbone of a shipped model.
BACKBONE_WEIGHTS_KEYWORDS = ("imagenet", "bundled")

# train.loss -> the train.loss_options it takes (the keyword arguments of its
# class in aesthetics.losses.distribution; emd_r1 has r fixed by its name).
LOSS_OPTION_KEYS = {
    "emd": ("r",),
    "emd_r1": (),
    "cdf": (),
    "mixed_mean": ("normalize",),
    "mse": ("normalize",),
    "l1": ("normalize",),
    "combined": ("distribution_weight", "mean_weight", "r", "normalize"),
}
# CombinedLoss's defaults for its two weights.
COMBINED_WEIGHT_DEFAULTS = {"distribution_weight": 1.0, "mean_weight": 1.0}

PRETRAIN_LOSS_WEIGHTS = ("ranking_weight", "classification_weight", "regression_weight", "reconstruction_weight")
MAX_LEVELS_PER_GROUP = NUM_DEGRADATION_LEVELS + 1  # levels 0..5, drawn without replacement


def config_error(key: str, message: str, related=()) -> ConfigError:
    """A ConfigError reading "KEY: MESSAGE", with ``.key`` set and, for a rule
    that ties several fields together, the other keys in ``.related``."""
    error = ConfigError(f"{key}: {message}")
    error.key = key
    error.related = tuple(related)
    return error


def show(value: Any) -> str:
    """A value as the user wrote it in JSON-ish terms ('big', 3, null, true)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 4 * SHOW_LIMIT:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 3] + "..."


def _choices(choices) -> str:
    return ", ".join(repr(c) for c in choices)


# --------------------------------------------------------------------- types


def expect_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise config_error(key, f"expected an integer, got {show(value)}")
    return value


def expect_number(key: str, value: Any) -> float:
    """A finite int or float, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise config_error(key, f"expected a number, got {show(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise config_error(key, f"expected a finite number, got {show(value)}")
    return number


def expect_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise config_error(key, f"expected true or false, got {show(value)}")
    return value


def expect_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise config_error(key, f"expected a string, got {show(value)}")
    return value


def expect_list(key: str, value: Any) -> list:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise config_error(key, f"expected a list, got {show(value)}")
    return value


def expect_dict(key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise config_error(key, f"expected an object (dict), got {show(value)}")
    return value


TYPE_CHECKS = {
    "int": expect_int,
    "float": expect_number,
    "bool": expect_bool,
    "str": expect_str,
    "list": expect_list,
    "dict": expect_dict,
}


def field_type(annotation) -> tuple[str, bool]:
    """("int", False) for ``int``, ("str", True) for ``Optional[str]``."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = text.startswith("Optional[") and text.endswith("]")
    base = text[len("Optional["):-1] if optional else text
    if base not in TYPE_CHECKS:
        raise TypeError(f"no config type check for annotation {text!r}")
    return base, optional


def check_types(section: str, obj) -> None:
    """Checks (and normalises: ints in float fields become floats) every field
    of a section dataclass against its annotation."""
    for f in dataclasses.fields(obj):
        base, optional = field_type(f.type)
        value = getattr(obj, f.name)
        if value is None and optional:
            continue
        setattr(obj, f.name, TYPE_CHECKS[base](f"{section}.{f.name}", value))


def check_json_values(key: str, value: Any) -> None:
    """Free-form options: JSON values only, with string keys and finite numbers."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise config_error(key, f"option names must be strings, got {show(k)}")
            check_json_values(f"{key}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_json_values(f"{key}[{i}]", v)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise config_error(key, f"expected a finite number, got {show(value)}")
    elif value is not None and not isinstance(value, (str, int)):
        raise config_error(key, f"expected a JSON value, got {type(value).__name__} {value!r}")


# -------------------------------------------------------- choices and ranges


def one_of(key: str, value: Any, choices, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if value not in choices:
        allowed = ("null or " if nullable else "") + f"one of {_choices(choices)}"
        raise config_error(key, f"expected {allowed}, got {show(value)}")


def in_range(key: str, value, low=None, high=None, low_open: bool = False, high_open: bool = False,
             why: str = "") -> None:
    """low <= value <= high (strict where ``*_open``); None: unbounded."""
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high}")
        raise config_error(key, f"must be {' and '.join(parts)}{why}, got {show(value)}")


def at_least(key: str, value, low, why: str = "") -> None:
    in_range(key, value, low=low, why=why)


def positive(key: str, value, why: str = "") -> None:
    in_range(key, value, low=0, low_open=True, why=why)


def check_seed(key: str, value: int) -> None:
    in_range(key, value, 0, SEED_LIMIT - 1)


_BACKBONE_ALIASES = {name.replace("_", ""): name for name in BACKBONE_NAMES}


def canonical_backbone_name(name: str) -> Optional[str]:
    """The registered backbone a spelling means, or None. The same forgiving
    rule as `aesthetics.models.backbones.canonical_backbone_name`: case is
    ignored, '-' means '_', and underscores are optional ("MobileNetV2",
    "mobilenetv2", "efficientnet-b0")."""
    key = name.lower().replace("-", "_")
    if key in BACKBONE_NAMES:
        return key
    return _BACKBONE_ALIASES.get(key.replace("_", ""))


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
    one_of("data.eval_resize", d.eval_resize, RESIZE_POLICIES)
    if (d.random_crop or d.eval_resize == "center_crop") and d.resize_to < d.image_size:
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


def validate_model(m) -> None:
    check_types("model", m)
    one_of("model.model", m.model, MODEL_NAMES)
    if canonical_backbone_name(m.backbone) is None:
        raise config_error(
            "model.backbone",
            f"unknown backbone {m.backbone!r}; choose one of {_choices(BACKBONE_NAMES)} "
            "(case, '-' and '_' do not matter)",
        )
    if m.backbone_weights is not None and not m.backbone_weights.strip():
        raise config_error(
            "model.backbone_weights",
            f"expected null, {_choices(BACKBONE_WEIGHTS_KEYWORDS)} or a weights file path, got {show(m.backbone_weights)}",
        )
    in_range("model.alpha", m.alpha, 0, MAX_ALPHA, low_open=True)
    in_range("model.dropout", m.dropout, 0, 1, high_open=True)
    in_range("model.num_bins", m.num_bins, 2, MAX_BINS)
    check_json_values("model.options", m.options)


def validate_loss_options(t) -> None:
    allowed = LOSS_OPTION_KEYS[t.loss]
    check_json_values("train.loss_options", t.loss_options)
    for name, value in t.loss_options.items():
        key = f"train.loss_options.{name}"
        if name not in allowed:
            takes = f"it takes {_choices(allowed)}" if allowed else "it takes no options"
            raise config_error(key, f"unknown option of loss {t.loss!r}; {takes}", related=("train.loss",))
        if name == "normalize":
            expect_bool(key, value)
        elif name == "r":
            value = expect_number(key, value)
            at_least(key, value, 1, why=" (the EMD exponent; below 1 its gradient is NaN)")
            t.loss_options[name] = value
        else:  # a loss weight
            value = expect_number(key, value)
            at_least(key, value, 0)
            t.loss_options[name] = value
    if t.loss == "combined":
        weights = {k: t.loss_options.get(k, default) for k, default in COMBINED_WEIGHT_DEFAULTS.items()}
        if not any(w > 0 for w in weights.values()):
            raise config_error(
                "train.loss_options",
                f"at least one of {_choices(weights)} must be > 0 (the loss would be constant), got {weights}",
                related=("train.loss",),
            )


def validate_train(t) -> None:
    check_types("train", t)
    one_of("train.loss", t.loss, LOSS_NAMES)
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
    check_seed("train.seed", t.seed)
    one_of("train.mixed_precision", t.mixed_precision, MIXED_PRECISION_POLICIES, nullable=True)
    one_of("train.distribute", t.distribute, DISTRIBUTE_STRATEGIES)
    # accuracy_threshold: any finite number (checked with the types).


def validate_pretrain(p) -> None:
    check_types("pretrain", p)
    if p.crop_size < MIN_IMAGE_SIZE or p.crop_size > MAX_SIDE or p.crop_size % CROP_MULTIPLE:
        raise config_error(
            "pretrain.crop_size",
            f"must be a multiple of {CROP_MULTIPLE} in [{MIN_IMAGE_SIZE}, {MAX_SIDE}], got {show(p.crop_size)}",
        )
    in_range("pretrain.working_size", p.working_size, 1, 2 * MAX_SIDE)
    if p.working_size < p.crop_size:
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
                    "pretrain.kinds", f"unknown degradation {kind!r}; choose from {_choices(DEGRADATION_NAMES)}"
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
    """Checks every value of `config` (in place: ints in float fields become
    floats) and returns it; raises `ConfigError` naming the first bad key."""
    from aesthetics.config.plan_validation import validate_plan

    for section, validate in SECTION_VALIDATORS.items():
        validate(getattr(config, section))
    validate_plan(config)  # train.stages, progressive sizes: need data.image_size too
    return config
