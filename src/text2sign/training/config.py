"""Experiment configs: one short YAML per experiment, read into dataclasses and validated.

An experiment YAML has a ``family`` (which registered model family builds it) and five
sections, each a dataclass: ``data``, ``model``, ``objective`` and ``inference`` (classes chosen
by the family) and ``train`` (:class:`TrainConfig`, the same for every family); ``init`` names
checkpoints the run starts from::

    family: gan-nat
    name: fs-gan
    data: {corpus: data/fs-words}
    model: {hidden_dim: 256}
    objective: {lambda_adv: 1.0}
    train: {steps: 20000, batch_size: 32, lr: 1.0e-4}
    init: {model: runs/earlier/checkpoints/best}

Reading is strict (:mod:`text2sign.config`): an unknown key, a missing required key, a wrong
type or a value out of range raises :class:`ConfigError` naming the key and the file.
``--set a.b=value`` overrides go through the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from text2sign.config import apply_overrides, bounded, describe_value, from_dict, load_yaml_config
from text2sign.errors import ConfigError
from text2sign.fileio import read_text_bounded
from text2sign.limits import MAX_CONFIG_BYTES


@dataclass
class OptimizerOverride:
    """Per-optimizer-group settings that differ from the ``train`` defaults (None: use the default)."""

    lr: float | None = bounded(None, min=0.0)
    betas: tuple[float, float] | None = None
    weight_decay: float | None = bounded(None, min=0.0)


def check_betas(betas: tuple[float, float]) -> None:
    """Adam's moment decays: each in [0, 1), or the moments never average (or blow up)."""
    if not all(0.0 <= b < 1.0 for b in betas):
        raise ConfigError(f"betas must each be in [0, 1), got {list(betas)}")


@dataclass
class TrainConfig:
    """How to train; identical for every model family."""

    steps: int = bounded(
        1000, min=1, max=100_000_000
    )  # optimizer iterations (each steps every group the objective schedules)
    batch_size: int = bounded(
        16, min=1, max=65536
    )  # per process; the global batch is batch_size * grad_accum * processes
    grad_accum: int = bounded(1, min=1)  # micro-batches whose gradients are summed before each step
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = bounded(1e-4, min=0.0, max=10.0)
    betas: tuple[float, float] = (0.9, 0.999)  # each in [0, 1)
    weight_decay: float = bounded(0.0, min=0.0)
    optimizers: dict[str, OptimizerOverride] = field(default_factory=dict)  # by group name, e.g. discriminator
    warmup_steps: int = bounded(0, min=0)  # linear warmup from 0, then cosine decay
    min_lr_ratio: float = bounded(0.1, min=0.0, max=1.0)  # the cosine ends at lr * min_lr_ratio
    grad_clip: float | None = bounded(1.0, min=0.0)  # max global grad norm per group; None or 0: no clipping
    ema_decay: float = bounded(0.999, min=0.0, max=1.0)  # 0: no EMA (the saved model is the raw weights)
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"  # autocast dtype on CUDA; the CPU trains in fp32 unless:
    cpu_autocast: bool = False  # with precision bf16, autocast on the CPU too (slower on most CPUs; exercises AMP)
    gradient_checkpointing: bool = False  # recompute block activations in backward (networks that support it)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    seed: int = 0
    num_workers: int = bounded(0, min=0)  # DataLoader worker processes
    log_every: int = bounded(10, min=1)  # TensorBoard scalars every N steps
    sample_every: int = bounded(500, min=0)  # rendered samples every N steps and at the end (0: only at the end)
    checkpoint_every: int = bounded(1000, min=0)  # checkpoint every N steps (0: only at the end)
    keep_last_k: int = bounded(3, min=1)  # older step-N checkpoints are deleted
    validate_every: int = bounded(0, min=0)  # dev pass every N steps and at the end (0: only at the end)
    patience: int = bounded(0, min=0)  # stop after N dev passes without improvement (0: never stop early)
    histogram_every: int = bounded(0, min=0)  # TensorBoard weight histograms every N steps (0: never)
    # On out-of-memory, halve the micro-batch and accumulate twice as many (the effective batch is
    # unchanged) instead of failing; one process only (ranks of a DDP run would disagree on the step).
    adapt_batch_on_oom: bool = True

    def __post_init__(self) -> None:
        check_betas(self.betas)
        if self.cpu_autocast and self.precision != "bf16":
            raise ConfigError(f"train.cpu_autocast is for precision bf16 (the CPU's autocast), got {self.precision}")
        for override in self.optimizers.values():
            if override.betas is not None:
                check_betas(override.betas)


@dataclass
class ExperimentConfig:
    """A whole experiment; ``data``, ``model`` and ``objective`` are instances of the family's classes."""

    family: str
    data: Any
    model: Any
    objective: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: Any = None  # the family's inference settings (sampling steps, ...), saved for inference
    name: str | None = None  # the run's name; defaults to the YAML file's stem
    # Checkpoints a run starts from: "model" initialises the network's weights; other keys are
    # earlier stages the family reads (e.g. autoencoder, teacher) and copies into its own checkpoint.
    init: dict[str, str] = field(default_factory=dict)
    # One line said whenever the config is trained, dry-run or profiled: e.g. that it runs on a
    # stand-in for the corpus its design names.
    note: str = ""


SECTIONS = ("data", "model", "objective", "train", "inference")
TOP_LEVEL_KEYS = ("family", "name", "note", "init", *SECTIONS)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML experiment config, apply ``key.path=value`` overrides, and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    raw = load_yaml_config(read_text_bounded(path, MAX_CONFIG_BYTES, "an experiment config", ConfigError), str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides)
    config = parse_experiment(raw, source=str(path))
    if config.name is None:
        config.name = path.stem
    return config


def parse_experiment(raw: dict, source: str) -> ExperimentConfig:
    """Validate a plain dict (from YAML or config.json) into an :class:`ExperimentConfig`."""
    from text2sign.families import get_family

    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"unknown key '{key}' in {source} (top-level keys: {', '.join(TOP_LEVEL_KEYS)})")
    if "family" not in raw:
        raise ConfigError(f"missing key 'family' in {source}")
    family_name = raw["family"]
    if not isinstance(family_name, str):
        raise ConfigError(f"'family' in {source} must be a string, got {describe_value(family_name)}")
    family = get_family(family_name, source)
    if not family.trainable:
        raise ConfigError(f"family '{family_name}' in {source} cannot be trained (it has no objective)")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"'name' in {source} must be a string, got {describe_value(name)}")
    note = raw.get("note") or ""
    if not isinstance(note, str):
        raise ConfigError(f"'note' in {source} must be a string, got {describe_value(note)}")
    sections = {}
    for section, cls in (
        ("data", family.data_config),
        ("model", family.model_config),
        ("objective", family.objective_config),
        ("train", TrainConfig),
        ("inference", family.inference_config),
    ):
        sections[section] = from_dict(cls, raw.get(section) or {}, section, source)
    init = raw.get("init") or {}
    if isinstance(init, dict):
        # `--set init.predictor=null` turns off a warm start the config file names.
        init = {k: v for k, v in init.items() if v is not None}
    if not isinstance(init, dict) or not all(isinstance(v, str) for v in init.values()):
        raise ConfigError(f"'init' in {source} must map names to checkpoint directories, got {describe_value(init)}")
    allowed = ("model", *family.init_keys)
    for key in init:
        if key not in allowed:
            raise ConfigError(
                f"unknown key 'init.{key}' in {source} (family {family_name} starts from: {', '.join(allowed)})"
            )
    return ExperimentConfig(
        family=family_name, name=name, note=note, init={str(k): shipped_or_path(v) for k, v in init.items()}, **sections
    )


def shipped_or_path(value: str) -> str:
    """An ``init:`` value: a checkpoint or run directory, or the name of a shipped model (``fs-gan-nat``),
    which stands for its checkpoint inside the installed package, so a config works from any directory.
    A directory of that name in the working directory wins: it is what the user pointed at."""
    from text2sign.families.registry import MODELS

    named = MODELS.get(value)
    if named is None or named.checkpoint is None or Path(value).exists():
        return value
    return str(named.checkpoint)


def check_group_overrides(config: TrainConfig, groups: list[str]) -> None:
    """Every ``train.optimizers`` entry must name a group the objective has."""
    for name in config.optimizers:
        if name not in groups:
            raise ConfigError(
                f"unknown key 'train.optimizers.{name}': the objective's optimizer groups are {', '.join(groups)}"
            )
