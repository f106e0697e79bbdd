"""Registries: the one list of models, losses and backbones a config can name.

Each entry carries its implementation (a callable, or a ``"module:attr"``
string imported only when the entry is built, so that naming and validating
need no TensorFlow) and the schema of its options (`Option`): names, types,
defaults, ranges and choices. Config validation reads the registries; there
is no second list of names anywhere.

The built-in entries are declared in `aesthetics.catalog`. Code outside the
package adds its own with the public decorators, and a config lists the
modules that do so under ``model.plugins`` (imported before validation)::

    from aesthetics import Option, register_model

    @register_model("tiny_cnn", options={"width": Option("int", 8, low=1)})
    def build_tiny_cnn(config, image_size):
        ...   # -> a functional keras.Model: (B, S, S, 3) in [0, 255] -> (B, num_bins)

TF-free: this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

from aesthetics.checks import (
    TYPE_CHECKS,
    check_json_values,
    choices_text,
    config_error,
    expect_dict,
    expect_list,
    expect_str,
    in_range,
    one_of,
)


@dataclass(frozen=True)
class Option:
    """The schema of one option of a registered model or loss.

    Args:
        kind: "int", "float", "bool", "str", "list", "dict" or "any" (any
            JSON value).
        default: the value when the option is not given.
        low, high: inclusive bounds of a number (None: unbounded); strict
            where `low_open` / `high_open`.
        choices: the allowed values (None: any of the kind).
        nullable: null is allowed besides the kind.
        item: the kind of each element of a "list" option.
        why: appended to a range error ("the EMD exponent; ...").
        doc: one line on what the option does.
    """

    kind: str
    default: Any = None
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    choices: Optional[tuple] = None
    nullable: bool = False
    item: Optional[str] = None
    why: str = ""
    doc: str = ""

    def __post_init__(self):
        if self.kind not in TYPE_CHECKS and self.kind != "any":
            raise ValueError(f"Option kind must be one of {sorted(TYPE_CHECKS) + ['any']}, got {self.kind!r}")

    def check(self, key: str, value: Any) -> Any:
        """`value` checked against the schema (a ConfigError naming `key`);
        returns it normalised (ints of a float option become floats)."""
        check_json_values(key, value)
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise config_error(key, f"expected a {self.kind}, got null")
        if self.kind != "any":
            value = TYPE_CHECKS[self.kind](key, value)
        if self.choices is not None:
            one_of(key, value, self.choices)
        if self.kind in ("int", "float"):
            in_range(key, value, self.low, self.high, self.low_open, self.high_open, why=self.why)
        if self.kind == "list" and self.item is not None:
            value = [TYPE_CHECKS[self.item](f"{key}[{i}]", v) for i, v in enumerate(value)]
        return value


@dataclass(frozen=True)
class Entry:
    """One registered implementation.

    Args:
        name: what a config writes.
        target: the implementation, or "module:attr" naming it (imported by
            `load`).
        options: option name -> `Option`.
        rule: optional ``rule(options: dict, key: str)`` for what ties
            options together; raises a ConfigError (TF-free).
        description: one line for listings and errors.
        extra: facts the implementation's users read (a backbone's input
            preprocessing, whether it takes a width multiplier, ...).
    """

    name: str
    target: Union[Callable, str]
    options: Mapping[str, Option] = field(default_factory=dict)
    rule: Optional[Callable] = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """The module that defines the implementation (what a plugin list names)."""
        if isinstance(self.target, str):
            return self.target.partition(":")[0]
        return getattr(self.target, "__module__", "")

    def load(self):
        """The implementation (imports its module for a "module:attr" target)."""
        if not isinstance(self.target, str):
            return self.target
        module, _, attr = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    def resolve_options(self, options: Optional[Mapping], key: str) -> dict:
        """A new dict: the defaults, then `options` checked against the schema
        (unknown names are an error naming `key`.NAME)."""
        options = dict(options or {})
        expect_dict(key, options)
        for name in options:
            if name not in self.options:
                takes = f"it takes {choices_text(self.options)}" if self.options else "it takes no options"
                raise config_error(f"{key}.{name}", f"unknown option of {self.name!r}; {takes}")
        resolved = {name: option.default for name, option in self.options.items()}
        for name, value in options.items():
            resolved[name] = self.options[name].check(f"{key}.{name}", value)
        if self.rule is not None:
            self.rule(resolved, key)
        return resolved


class Registry:
    """Named entries of one kind ("model", "loss", "backbone").

    Args:
        kind: what the entries are, for messages.
        key: the config key that names an entry (e.g. "model.model").
        forgiving: look names up ignoring case, '-' vs '_' and underscores
            ("MobileNetV2" -> "mobilenet_v2").
    """

    def __init__(self, kind: str, key: str, forgiving: bool = False):
        self.kind, self.key, self.forgiving = kind, key, forgiving
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target=None, *, options: Optional[Mapping[str, Option]] = None, rule=None,
                 description: str = "", replace: bool = False, **extra):
        """Adds an entry; without `target`, a decorator that registers what it
        decorates and returns it unchanged. A name already taken is an error
        unless `replace` (re-importing a plugin module registers the same
        implementation again, which is allowed)."""

        def add(obj):
            if not isinstance(name, str) or not name:
                raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
            for option_name, option in (options or {}).items():
                if not isinstance(option, Option):
                    raise TypeError(f"{self.kind} {name!r}: option {option_name!r} must be an Option, got {option!r}")
            old = self._entries.get(name)
            same = old is not None and _same_target(old.target, obj)
            if old is not None and not (replace or same):
                raise ValueError(f"{self.kind} {name!r} is already registered (by {old.module}); "
                                 "pass replace=True to replace it")
            self._entries[name] = Entry(name, obj, dict(options or {}), rule, description, dict(extra))
            return obj

        return add if target is None else add(target)

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> tuple:
        return tuple(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def canonical(self, name: str) -> Optional[str]:
        """The registered name `name` means, or None."""
        if not isinstance(name, str):
            return None
        if name in self._entries:
            return name
        if not self.forgiving:
            return None
        key = name.lower().replace("-", "_")
        if key in self._entries:
            return key
        squashed = {n.replace("_", ""): n for n in self._entries}
        return squashed.get(key.replace("_", ""))

    def get(self, name: str, key: Optional[str] = None) -> Entry:
        """The entry `name` means; a ConfigError naming `key` (default: the
        registry's) and the registered names otherwise."""
        canonical = self.canonical(name)
        if canonical is None:
            hint = " (case, '-' and '_' do not matter)" if self.forgiving else ""
            plugin = "; a plugin module that registers it goes in model.plugins" if self.kind != "backbone" else ""
            raise config_error(key or self.key, f"unknown {self.kind} {name!r}; choose one of "
                               f"{choices_text(self._entries)}{hint}{plugin}")
        return self._entries[canonical]

    def load(self, name: str):
        return self.get(name).load()

    def __getitem__(self, name: str):
        """The implementation registered as `name` (as `load`)."""
        return self.load(name)


def _same_target(a, b) -> bool:
    if a is b:
        return True
    name = lambda t: t if isinstance(t, str) else f"{getattr(t, '__module__', '')}:{getattr(t, '__qualname__', '')}"
    return name(a) == name(b)


def import_plugins(modules, key: str = "model.plugins") -> None:
    """Imports each module of `modules` (they register models, losses or
    backbones); a ConfigError naming `key`[i] when one cannot be imported."""
    for i, module in enumerate(expect_list(key, modules or [])):
        expect_str(f"{key}[{i}]", module)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise config_error(f"{key}[{i}]", f"cannot import plugin module {module!r} ({e}); "
                               "is its folder on PYTHONPATH?") from None
