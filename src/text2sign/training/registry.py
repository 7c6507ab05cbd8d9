"""Model families: what a YAML ``family:`` key names, and what the training loop gets back.

A family registers its three config dataclasses and two builders::

    register_experiment(
        "gan-nat",
        model_config=GanNatConfig,              # the `model:` section; all the network needs
        objective_config=GanNatObjectiveConfig, # the `objective:` section
        build=build_gan_nat,                    # ExperimentConfig -> Experiment (objective + data)
        build_model=GanNatGenerator,            # model config -> the inference network
        data_config=PoseDataConfig,             # the `data:` section (default)
    )

``family`` in a YAML is either a registered name (built-in families are imported on first
use, see ``BUILTIN_FAMILIES``) or ``some.module:name``: the module is imported, and it
registers ``name`` when imported. That is how tests and user code add families without
touching the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from text2sign.errors import ConfigError

# Family name -> module that registers it when imported (kept lazy so importing the training
# loop does not import every model).
BUILTIN_FAMILIES: dict[str, str] = {"gan-nat": "text2sign.training.gan_nat"}


@dataclass(frozen=True)
class Family:
    name: str
    model_config: type
    objective_config: type
    build: Callable[..., Experiment]
    build_model: Callable[[Any], Any]
    data_config: type


@dataclass
class Experiment:
    """What a family's ``build(config)`` returns: everything the training loop needs.

    objective:      the :class:`~text2sign.objectives.Objective` (holds every trained network).
    train_data:     a map-style torch Dataset; the loop shards it over processes and shuffles it.
    collate_fn:     merges items into a batch (``None``: torch's default collate). A batch is a
                    tensor, a tuple/list/dict of tensors, or any object with ``.to(device)``.
    feature_stats:  normalization statistics (a FeatureStats) copied into every checkpoint as
                    ``normalization.json`` so inference can undo the standardization.
    sample:         ``sample(model, device) -> {name: PoseSequence | video array | float}``,
                    called on rank 0 every ``train.sample_every`` steps with the EMA inference
                    model in eval mode: poses and ``(T, H, W, 3) uint8`` videos become GIFs and
                    TensorBoard images, floats become ``sample/<name>`` scalars.
    callbacks:      ``callback(info: StepInfo)`` after every step, on every rank.
    config:         the config as resolved by the builder (e.g. a feature size read from the
                    data filled into the model config); saved in checkpoints. None: unchanged.
    """

    objective: Any
    train_data: Any
    collate_fn: Callable | None = None
    feature_stats: Any = None
    sample: Callable[..., Mapping[str, Any]] | None = None
    callbacks: list[Callable] = field(default_factory=list)
    config: Any = None


_FAMILIES: dict[str, Family] = {}


def register_experiment(
    name: str,
    model_config: type,
    objective_config: type,
    build: Callable[..., Experiment],
    build_model: Callable[[Any], Any],
    data_config: type | None = None,
) -> Family:
    """Register a model family under `name` (registering the same name again replaces it).

    `build(config: ExperimentConfig) -> Experiment` makes the objective and the data;
    `build_model(model_config) -> nn.Module` makes the inference network alone, which is what
    :func:`~text2sign.training.checkpoint.from_pretrained` rebuilds from ``config.json``.
    """
    if data_config is None:
        from text2sign.training.config import PoseDataConfig

        data_config = PoseDataConfig
    family = Family(name, model_config, objective_config, build, build_model, data_config)
    _FAMILIES[name] = family
    return family


def registered_families() -> list[str]:
    return sorted(set(_FAMILIES) | set(BUILTIN_FAMILIES))


def get_family(spec: str, source: str = "the config") -> Family:
    """The family a config's ``family:`` value names (``name`` or ``module:name``)."""
    module, sep, name = spec.rpartition(":")
    if sep:
        _import(module, spec, source)
    elif spec not in _FAMILIES and spec in BUILTIN_FAMILIES:
        _import(BUILTIN_FAMILIES[spec], spec, source)
    if name not in _FAMILIES:
        where = f"module {module!r} did not register it" if sep else f"registered: {', '.join(registered_families()) or 'none'}"
        raise ConfigError(f"unknown family '{spec}' in {source} ({where})")
    return _FAMILIES[name]


def _import(module: str, spec: str, source: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"family '{spec}' in {source}: cannot import module {exc.name!r}") from None
