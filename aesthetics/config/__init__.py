"""Typed configuration: dataclasses loaded from JSON files in `configs/`, validated.

A config has three sections, one dataclass each::

    {"data": {...DataConfig...}, "model": {...ModelConfig...}, "train": {...TrainConfig...}}

plus an optional fourth, "pretrain" (`PretrainConfig`), read only by
`aesthetics pretrain` (self-supervised pretext pretraining), and an optional
top-level "description" string.

Every field has a default, so a JSON file only names what it changes. Unknown
keys are an error (a typo must not silently fall back to a default), and
every value is validated on load (`validation`): a `ConfigError` whose message
starts with the dotted key, e.g. ``data.image_size: expected an integer, got
'big'``. Command-line overrides use dotted paths: ``train.epochs_full=3``,
``model.options.use_adain=false``.

Modules: `sections` (the dataclasses), `validation` (the checks), `loading`
(JSON, dicts, overrides). Nothing here imports TensorFlow, keras or pandas:
the CLI validates a config before it imports them.
"""

from aesthetics.config.sections import (
    SECTIONS,
    Config,
    DataConfig,
    ModelConfig,
    PretrainConfig,
    TrainConfig,
)
from aesthetics.config.validation import canonical_backbone_name, validate_config
from aesthetics.config.loading import (
    apply_overrides,
    config_from_dict,
    load_config,
    parse_override_value,
)
from aesthetics.errors import ConfigError

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "PretrainConfig",
    "SECTIONS",
    "TrainConfig",
    "apply_overrides",
    "canonical_backbone_name",
    "config_from_dict",
    "load_config",
    "parse_override_value",
    "validate_config",
]
