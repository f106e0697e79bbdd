"""Value checks that name the key they check: the primitives of config
validation, registry option schemas and the training-plan checks.

A failure is a `ConfigError` whose message starts with the dotted key and says
what is allowed (``data.image_size: expected an integer, got 'big'``); the
key is also ``error.key``. Types: an int takes a JSON integer only (not a
bool, not 2.5, not 3.0); a float takes any finite number (returned as a
float); a bool takes true / false only; NaN and infinities are rejected.

The limits shared by config validation and a model's recipe live in
`aesthetics.constants` (one table). TF-free: imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from aesthetics.constants import SEED_LIMIT
from aesthetics.errors import ConfigError

# What `show` prints of a value at most (a 5000-digit number is not a message).
SHOW_LIMIT = 80


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


def choices_text(choices) -> str:
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
        allowed = ("null or " if nullable else "") + f"one of {choices_text(choices)}"
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
