"""Experiment configs: one short YAML per experiment, read into dataclasses and validated.

An experiment YAML has a ``family`` (which registered model family builds it) and four
sections, each a dataclass: ``data`` and ``model`` and ``objective`` (classes chosen by the
family) and ``train`` (:class:`TrainConfig`, the same for every family)::

    family: gan-nat
    name: fs-gan
    data: {corpus: data/fs-words}
    model: {hidden_dim: 256}
    objective: {lambda_adv: 1.0}
    train: {steps: 20000, batch_size: 32, lr: 1.0e-4}

Reading is strict: an unknown key, a missing required key, a wrong type or a value out of
range raises :class:`ConfigError` naming the key and the file. ``--set a.b=value`` overrides
go through the same checks; values are parsed with ``yaml.safe_load`` (never ``eval``).

Fields may carry ``metadata={"min": x, "max": y}`` to have their range checked.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from text2sign.errors import ConfigError


def bounded(default: Any = dataclasses.MISSING, *, min: float | None = None, max: float | None = None, **kwargs) -> Any:
    """A dataclass field whose value must lie in ``[min, max]`` (checked when a config is read)."""
    return field(default=default, metadata={"min": min, "max": max}, **kwargs)


@dataclass
class OptimizerOverride:
    """Per-optimizer-group settings that differ from the ``train`` defaults (None: use the default)."""

    lr: float | None = bounded(None, min=0.0)
    betas: tuple[float, float] | None = None
    weight_decay: float | None = bounded(None, min=0.0)


@dataclass
class TrainConfig:
    """How to train; identical for every model family."""

    steps: int = bounded(1000, min=1)  # optimizer iterations (each steps every group the objective schedules)
    batch_size: int = bounded(16, min=1)  # per process; the global batch is batch_size * grad_accum * processes
    grad_accum: int = bounded(1, min=1)  # micro-batches whose gradients are summed before each step
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = bounded(1e-4, min=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = bounded(0.0, min=0.0)
    optimizers: dict[str, OptimizerOverride] = field(default_factory=dict)  # by group name, e.g. discriminator
    warmup_steps: int = bounded(0, min=0)  # linear warmup from 0, then cosine decay
    min_lr_ratio: float = bounded(0.1, min=0.0, max=1.0)  # the cosine ends at lr * min_lr_ratio
    grad_clip: float | None = bounded(1.0, min=0.0)  # max global grad norm per group; None or 0: no clipping
    ema_decay: float = bounded(0.999, min=0.0, max=1.0)  # 0: no EMA (the saved model is the raw weights)
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"  # autocast dtype on CUDA; CPU always trains in fp32
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    num_workers: int = bounded(0, min=0)  # DataLoader worker processes
    log_every: int = bounded(10, min=1)  # TensorBoard scalars every N steps
    sample_every: int = bounded(500, min=0)  # rendered samples every N steps and at the end (0: only at the end)
    checkpoint_every: int = bounded(1000, min=0)  # checkpoint every N steps (0: only at the end)
    keep_last_k: int = bounded(3, min=1)  # older step-N checkpoints are deleted


@dataclass
class PoseDataConfig:
    """The data section shared by pose families: which corpus and which features to train on."""

    corpus: str
    train_split: str = "train"
    sample_split: str = "dev"  # texts of rendered samples come from here
    kinds: list[str] | None = None  # pose component kinds in the features (None: all but world)
    max_frames: int | None = bounded(None, min=1)
    signed_languages: list[str] | None = None  # None: every language in the corpus


@dataclass
class ExperimentConfig:
    """A whole experiment; ``data``, ``model`` and ``objective`` are instances of the family's classes."""

    family: str
    data: Any
    model: Any
    objective: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str | None = None  # the run's name; defaults to the YAML file's stem


SECTIONS = ("data", "model", "objective", "train")
TOP_LEVEL_KEYS = ("family", "name", *SECTIONS)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML experiment config, apply ``key.path=value`` overrides, and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides)
    config = parse_experiment(raw, source=str(path))
    if config.name is None:
        config.name = path.stem
    return config


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
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: the value is not valid YAML") from None
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


def parse_experiment(raw: dict, source: str) -> ExperimentConfig:
    """Validate a plain dict (from YAML or config.json) into an :class:`ExperimentConfig`."""
    from text2sign.training.registry import get_family

    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"unknown key '{key}' in {source} (top-level keys: {', '.join(TOP_LEVEL_KEYS)})")
    if "family" not in raw:
        raise ConfigError(f"missing key 'family' in {source}")
    family_name = raw["family"]
    if not isinstance(family_name, str):
        raise ConfigError(f"'family' in {source} must be a string, got {_describe(family_name)}")
    family = get_family(family_name, source)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"'name' in {source} must be a string, got {_describe(name)}")
    sections = {}
    for section, cls in (
        ("data", family.data_config),
        ("model", family.model_config),
        ("objective", family.objective_config),
        ("train", TrainConfig),
    ):
        sections[section] = from_dict(cls, raw.get(section) or {}, section, source)
    return ExperimentConfig(family=family_name, name=name, **sections)


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
        raise ConfigError(f"'{path}' in {source} must be a section (a mapping), got {_describe(data)}")
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
        raise ConfigError(f"'{key}' in {source} must be {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"'{key}' in {source} must be one of {choices}, got {_describe(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key, source)
    if origin is list or origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' in {source} must be {_type_name(tp)}, got {_describe(value)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigError(f"'{key}' in {source} must have {len(args)} items, got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]", source) for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_convert(item, v, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' in {source} must be a mapping, got {_describe(value)}")
        item = args[1] if args else Any
        return {str(k): _convert(item, v, _join(key, str(k)), source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{key}' in {source} must be true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{key}' in {source} must be an integer, got {_describe(value)}")
        return value
    if tp is float:
        # YAML 1.1 reads `1e-4` (no dot) as a string; accept numeric strings so `lr: 1e-4` works.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"'{key}' in {source} must be a finite number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"'{key}' in {source} must be a string, got {_describe(value)}")
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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def check_group_overrides(config: TrainConfig, groups: list[str]) -> None:
    """Every ``train.optimizers`` entry must name a group the objective has."""
    for name in config.optimizers:
        if name not in groups:
            raise ConfigError(f"unknown key 'train.optimizers.{name}': the objective's optimizer groups are {', '.join(groups)}")
