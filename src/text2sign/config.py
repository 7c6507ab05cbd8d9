"""Configs as dataclasses, read strictly from plain data (YAML files, ``config.json``).

:func:`from_dict` builds a dataclass from a mapping, checking every key and value: an unknown
key, a missing required key, a wrong type or a value out of range raises :class:`ConfigError`
naming the key and the file. Fields may carry ``metadata={"min": x, "max": y}`` (see
:func:`bounded`) to have their range checked. ``--set a.b=value`` overrides are parsed with
``yaml.safe_load`` (never ``eval``) by :func:`apply_overrides`.

Shared by training (experiment YAMLs) and inference (the model and inference sections of a
checkpoint), so neither has to import the other.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import field
from typing import Any, Literal

import yaml

from text2sign.errors import ConfigError
from text2sign.limits import MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES, MAX_LIST_ITEMS


def bounded(default: Any = dataclasses.MISSING, *, min: float | None = None, max: float | None = None, **kwargs) -> Any:
    """A dataclass field whose value must lie in ``[min, max]`` (checked when a config is read)."""
    return field(default=default, metadata={"min": min, "max": max}, **kwargs)


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """A copy of `raw` with each ``a.b.c=value`` set; values are YAML (``3``, ``1.0e-4``, ``[a, b]``, ``null``)."""
    raw = _deep_copy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set takes key.path=value, got {item!r}")
        try:
            value = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError):
            raise ConfigError(f"--set {item}: the value is not valid YAML") from None
        check_config_size(value, f"--set {item}")
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item}: '{'.'.join(parts[: i + 1])}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return raw


def load_yaml_config(text: str, source: str) -> Any:
    """The value of a YAML config's text, safely loaded (no tags that build objects) and within
    :mod:`text2sign.limits`: nesting and the number of values, each use of an alias counted, are
    checked before anything copies or walks the value (a few lines of aliases can stand for
    billions of values)."""
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply (a config may nest {MAX_CONFIG_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    check_config_size(value, source)
    return value


def check_config_size(value: Any, source: str) -> None:
    """`value` (from YAML or JSON) nests at most MAX_CONFIG_DEPTH levels, holds at most
    MAX_CONFIG_VALUES values counting every path to a shared one, and no list of over MAX_LIST_ITEMS."""
    stack, seen = [(value, 1)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise ConfigError(f"{source} holds over {MAX_CONFIG_VALUES:,} values (YAML aliases counted at each use)")
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{source} is nested too deeply (a config may nest {MAX_CONFIG_DEPTH} levels)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, (list, tuple)):
            if len(node) > MAX_LIST_ITEMS:
                raise ConfigError(
                    f"{source} has a list of {len(node):,} items; a config's lists may have at most {MAX_LIST_ITEMS:,}"
                )
            stack.extend((v, depth + 1) for v in node)


def config_to_dict(config: Any) -> Any:
    """Plain JSON/YAML-ready data (dicts, lists, numbers, strings) of a config dataclass."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    if isinstance(config, dict):
        return {k: config_to_dict(v) for k, v in config.items()}
    return config


def from_dict(cls: type, data: Any, path: str, source: str) -> Any:
    """Build dataclass `cls` from `data`, checking every key and value; `path` names it in errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"'{path}' in {source} must be a section (a mapping), got {describe_value(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown key '{_join(path, key)}' in {source} (known: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        key = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing key '{key}' in {source}")
            continue
        value = _convert(hints[name], data[name], key, source)
        _check_range(f, value, key, source)
        values[name] = value
    try:
        return cls(**values)
    except (ConfigError, ValueError, TypeError) as exc:
        # Checks in a config's own __post_init__ get the section and file added.
        raise ConfigError(f"'{path}' in {source}: {exc}") from None


def _convert(tp: Any, value: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, key, source)
            except ConfigError as exc:
                errors.append(exc)
        if len(options) == 1:
            raise errors[0]
        raise ConfigError(f"'{key}' in {source} must be {_type_name(tp)}, got {describe_value(value)}")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"'{key}' in {source} must be one of {choices}, got {describe_value(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key, source)
    if origin is list or origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' in {source} must be {_type_name(tp)}, got {describe_value(value)}")
        if len(value) > MAX_LIST_ITEMS:
            raise ConfigError(
                f"'{key}' in {source} has {len(value):,} items; a config's lists may have at most {MAX_LIST_ITEMS:,}"
            )
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigError(f"'{key}' in {source} must have {len(args)} items, got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]", source) for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_convert(item, v, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' in {source} must be a mapping, got {describe_value(value)}")
        item = args[1] if args else Any
        return {str(k): _convert(item, v, _join(key, str(k)), source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{key}' in {source} must be true or false, got {describe_value(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{key}' in {source} must be an integer, got {describe_value(value)}")
        return value
    if tp is float:
        # YAML 1.1 reads `1e-4` (no dot) as a string; accept numeric strings so `lr: 1e-4` works.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"'{key}' in {source} must be a finite number, got {describe_value(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"'{key}' in {source} must be a string, got {describe_value(value)}")
        return value
    raise ConfigError(f"'{key}' in {source} has a type the config reader does not support: {tp!r}")


def _check_range(f: dataclasses.Field, value: Any, key: str, source: str) -> None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if low is not None and value < low:
        raise ConfigError(f"'{key}' in {source} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"'{key}' in {source} must be <= {high}, got {value}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin in (list, tuple):
        return "a list"
    if isinstance(tp, type):
        return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            tp.__name__, tp.__name__
        )
    return str(tp)


def describe_value(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def abridge_lists(value: Any, limit: int = 12) -> Any:
    """`value` with every list longer than `limit` replaced by a one-line summary (its length and
    first items), so a config with a vocabulary of thousands prints in a screenful."""
    if isinstance(value, dict):
        return {k: abridge_lists(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) <= limit:
            return [abridge_lists(v, limit) for v in value]
        head = ", ".join(str(v) for v in value[: min(limit, 8)])
        return f"{len(value):,} items: {head}, ..."
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw
