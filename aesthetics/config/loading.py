"""Loading configs: JSON files, nested dicts and ``section.key=value`` overrides.

Every entry point validates the result (`aesthetics.config.validation`), so a
`Config` that comes out of here is safe to train with. Errors are
`ConfigError`s that start with the dotted key and end with where the value
came from: ``(in configs/x.json)`` or ``(from override data.image_size=big)``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any, Iterable, Optional

from aesthetics.config.sections import SECTIONS, Config
from aesthetics.config.validation import config_error, show, validate_config
from aesthetics.errors import ConfigError, InputNotFoundError

# Top-level keys besides the sections: free text describing the config.
EXTRA_TOP_LEVEL_KEYS = ("description",)


def _unknown_key_error(key: str, name: str, valid) -> ConfigError:
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return config_error(key, f"unknown key{hint}; valid keys: {', '.join(sorted(valid))}")


def _section_from_dict(cls, section: str, values: Any):
    if not isinstance(values, dict):
        raise config_error(section, f"expected an object of {cls.__name__} keys, got {show(values)}")
    names = {f.name for f in dataclasses.fields(cls)}
    for name in sorted(set(values) - names, key=str):
        raise _unknown_key_error(f"{section}.{name}", str(name), names)
    return cls(**values)


def _located(error: ConfigError, where: Optional[str], origins: dict) -> ConfigError:
    """`error` with where its key's value came from appended."""
    key = getattr(error, "key", None)
    place = None
    for candidate in (key, *getattr(error, "related", ())) if key else ():
        parts = candidate.split(".")
        for n in range(len(parts), 1, -1):  # the longest overridden prefix
            prefix = ".".join(parts[:n]).split("[")[0]
            if prefix in origins:
                place = f"from override {origins[prefix]}"
                break
        if place:
            break
    if place is None and where:
        place = f"in {where}"
    if place is None:
        return error
    located = ConfigError(f"{error} ({place})")
    located.key = key
    located.related = getattr(error, "related", ())
    return located


def _build(values: Any, where: Optional[str], origins: dict) -> Config:
    if not isinstance(values, dict):
        raise ConfigError(
            f"config: expected a JSON object with sections {', '.join(SECTIONS)}, got {show(values)}"
            + (f" (in {where})" if where else "")
        )
    values = copy.deepcopy(values)  # the Config owns its dicts; validation normalises them
    try:
        for name in sorted(set(values) - set(SECTIONS) - set(EXTRA_TOP_LEVEL_KEYS), key=str):
            valid = list(SECTIONS) + list(EXTRA_TOP_LEVEL_KEYS)
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise config_error(str(name), f"unknown section{hint}; valid: {', '.join(valid)}")
        if "description" in values and not isinstance(values["description"], str):
            raise config_error("description", f"expected a string, got {show(values['description'])}")
        config = Config(**{name: _section_from_dict(cls, name, values.get(name, {})) for name, cls in SECTIONS.items()})
        return validate_config(config)
    except ConfigError as e:
        raise _located(e, where, origins) from None


def config_from_dict(values: dict, where: Optional[str] = None) -> Config:
    """A validated `Config` from nested dicts (the JSON file's structure);
    `where` (e.g. the file name) is appended to error messages."""
    return _build(values, where, {})


def _json_limits_error(e: Exception) -> str:
    """Why `json.loads` refused a text for a reason other than its syntax."""
    if isinstance(e, RecursionError):
        return "nested too deeply"
    return "a number with too many digits"


def parse_override_value(text: str) -> Any:
    """An override's value: JSON (``3``, ``null``, ``[0, 100]``, ``"x"``), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except (RecursionError, ValueError) as e:  # 100k nested [, a 5000-digit number
        raise ConfigError(f"value {show(text)}: {_json_limits_error(e)}") from None


def _merge_overrides(values: dict, overrides: Optional[Iterable[str]]) -> tuple[dict, dict]:
    """Applies ``section.key=value`` overrides to nested dicts (in place);
    returns them and {dotted key: override text}."""
    origins: dict = {}
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        if len(parts) < 2 or parts[0] not in SECTIONS:
            raise ConfigError(f"override {item!r}: key must start with one of {sorted(SECTIONS)}")
        target = values
        for depth, part in enumerate(parts[:-1]):  # nested dicts such as model.options.x
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise config_error(
                    ".".join(parts[: depth + 1]),
                    f"not an object, so override {item!r} cannot set its key {parts[depth + 1]!r}",
                )
        try:
            target[parts[-1]] = parse_override_value(text)
        except ConfigError as e:
            raise ConfigError(f"{key}: {e} (from override {show(item)})") from None
        origins[key] = item
    return values, origins


def apply_overrides(config: Config, overrides) -> Config:
    """A new, validated `Config`: `config` with ``section.key=value`` overrides
    (values parsed as JSON, else kept as text)."""
    values, origins = _merge_overrides(config.to_dict(), overrides)
    return _build(values, None, origins)


def load_config(path=None, overrides=()) -> Config:
    """Load a JSON config (or the defaults when `path` is None), apply
    ``section.key=value`` overrides (values parsed as JSON, else kept as text)
    and validate the result."""
    values: Any = {}
    where = None
    if path is not None:
        where = str(path)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputNotFoundError(f"config file not found: {path}") from None
        except OSError as e:  # a folder, a permission, an I/O error
            raise ConfigError(f"{path}: cannot read the config ({e.strerror or e})") from None
        try:
            text = data.decode("utf-8-sig")  # a BOM (Windows editors) is fine
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ConfigError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); "
                              f"a config is a JSON file") from None
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        except (RecursionError, ValueError) as e:
            raise ConfigError(f"{path}: invalid JSON: {_json_limits_error(e)}") from None
        if not isinstance(values, dict):
            return _build(values, where, {})  # raises: not an object
    values, origins = _merge_overrides(values, overrides)
    return _build(values, where, origins)
