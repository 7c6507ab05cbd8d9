"""The family registry: the one place training and inference meet.

A model family is registered once, with everything both sides need::

    register_family(
        "gan-nat",
        output="pose",                          # what its pipeline returns: pose | video | text
        pipeline=GanNatPipeline.from_checkpoint,  # Checkpoint -> Pipeline
        model_config=GanNatConfig,              # the `model:` section; all the network needs
        build_model=GanNatGenerator,            # model config -> the inference network
        inference_config=GanNatInferenceConfig, # the `inference:` section (sampling settings)
        objective_config=GanNatObjectiveConfig, # the `objective:` section (training only)
        data_config=PoseDataConfig,             # the `data:` section (training only)
        build=build_experiment,                 # ExperimentConfig -> Experiment (training only)
        tiny=tiny_config,                       # workdir -> a tiny experiment, for the contract test
    )

Families without a network (the lookup baseline, wrapped peers) register only ``output`` and
``pipeline`` (called with their load options, e.g. ``lexicon``). Named models a user can pick
(``concat``, ``fs-gan-nat``, ...) are in :data:`MODELS`; any checkpoint directory is a model too,
and its ``config.json`` names its family.

Built-in families are imported on first use (:data:`BUILTIN_FAMILIES`), so naming one model never
imports another's code: ``concat`` never imports torch. A ``family:`` value of the form
``some.module:name`` imports that module, which registers ``name``; that is how tests and user code
add families without touching the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from text2sign.errors import ConfigError

OUTPUTS = ("pose", "video", "text")

# Family name -> module that registers it when imported.
BUILTIN_FAMILIES: dict[str, str] = {
    "concat": "text2sign.families.concat",
    "spoken-to-signed": "text2sign.families.peers",
    "gan-nat": "text2sign.families.gan_nat",
    "recognizer": "text2sign.families.recognizer",
    "latent-ae": "text2sign.families.latent_ae",
    "latent-regressor": "text2sign.families.latent_regressor",
    "latent-flow": "text2sign.families.latent_flow",
    "latent-distill": "text2sign.families.latent_distill",
    "video-diffusion": "text2sign.families.video_diffusion",
    "video-recognizer": "text2sign.families.video_recognizer",
    "video-ae": "text2sign.families.video_ae",
}

_ASSETS = Path(__file__).resolve().parent.parent / "pipelines" / "assets"


@dataclass(frozen=True)
class NamedModel:
    """A model a user can name: a family's pipeline with no checkpoint, or a shipped checkpoint.

    `test_cer` and `p50_ms` are what benchmarks/RESULTS.md measured for it (FS-Words test CER read
    back by the shipped recognizer, %; warm latency on one CPU thread, ms): they choose the default.
    """

    name: str
    family: str
    about: str
    checkpoint: Path | None = None
    test_cer: float | None = None
    p50_ms: float | None = None


MODELS: dict[str, NamedModel] = {
    m.name: m
    for m in (
        # benchmarks/evaluate_fs_words.sh and bench_models.sh, CPU-2, 2026-12-01
        NamedModel("concat", "concat", "lookup + coarticulated concatenation of lexicon clips (fingerspelling by default)",
                   test_cer=7.22, p50_ms=0.847),
        NamedModel("spoken-to-signed", "spoken-to-signed", "the spoken-to-signed package's own pipeline, wrapped as a peer",
                   test_cer=91.64, p50_ms=140.2),
        NamedModel("fs-gan-nat", "gan-nat", "GAN-NAT trained on FS-Words (19 fingerspelling alphabets)", _ASSETS / "fs-gan-nat",
                   test_cer=12.49, p50_ms=3.395),
        NamedModel("fs-latent-flow", "latent-distill",
                   "latent flow matching on FS-Words, distilled to 4 steps: face, body and both hands (design latent flow)",
                   _ASSETS / "fs-latent-flow", test_cer=15.58, p50_ms=7.183),
        # A video model: read back by the video recognizer, whose CER does not compare with the pose
        # recognizer's, so it has no test_cer here and never competes for the default.
        NamedModel("fs-video", "video-diffusion",
                   "latent video diffusion on FS-Words drawn at 32 px, 48 frames at 12.5 fps (needs the [video] extra); "
                   "draws the signer, but its handshapes do not read back yet (93 % video CER)",
                   _ASSETS / "fs-video"),
    )
}


def best_measured_model(models: dict[str, NamedModel]) -> str:
    """The measured model that reads back best (lowest FS-Words test CER); ties go to the faster."""
    measured = [m for m in models.values() if m.test_cer is not None]
    return min(measured, key=lambda m: (m.test_cer, m.p50_ms if m.p50_ms is not None else float("inf"))).name


# What `generate` uses without --model: chosen by measurement, never by hand.
DEFAULT_MODEL = best_measured_model(MODELS)


def register_model(name: str, family: str, about: str, checkpoint: str | Path | None = None) -> NamedModel:
    """Make `name` a model users can pick with ``--model`` (a shipped or installed checkpoint, or
    a family's pipeline that needs none); registering a name again replaces it."""
    if name in ("default", "reference"):
        raise ValueError(f"{name!r} is reserved")
    model = NamedModel(name, family, about, Path(checkpoint) if checkpoint is not None else None)
    MODELS[name] = model
    return model


@dataclass(frozen=True)
class NoOptions:
    """An empty config section (a family without inference settings)."""


@dataclass
class Experiment:
    """What a family's ``build(config)`` returns: everything the training loop needs.

    objective:      the :class:`~text2sign.objectives.Objective` (holds every trained network).
    train_data:     a map-style torch Dataset; the loop shards it over processes and shuffles it.
    dev_data:       the held-out Dataset the loop validates on every ``train.validate_every`` steps
                    (default validation: the objective's dev losses, see ``Objective.dev_losses``).
    validate:       ``validate(model, device) -> {name: float}`` instead of the dev losses, given the
                    EMA inference network in eval mode (e.g. read-back CER with a recognizer).
    metric:         the validation value that picks the best checkpoint, and whether lower
                    (``metric_mode="min"``) or higher is better.
    collate_fn:     merges items into a batch (``None``: torch's default collate). A batch is a
                    tensor, a tuple/list/dict of tensors, or any object with ``.to(device)``.
    feature_stats:  normalization statistics (a FeatureStats) copied into every checkpoint as
                    ``normalization.json`` so inference can undo the standardization.
    sample:         ``sample(model, device) -> {name: PoseSequence | VideoClip | float}``,
                    called on rank 0 every ``train.sample_every`` steps with the EMA inference
                    model in eval mode: poses and videos become GIFs and TensorBoard images,
                    floats become ``sample/<name>`` scalars.
    callbacks:      ``callback(info: StepInfo)`` after every step, on every rank.
    config:         the config as resolved by the builder (e.g. a feature size read from the
                    data filled into the model config); saved in checkpoints. None: unchanged.
    metadata:       JSON facts for inference that the config does not hold (e.g. language pairs),
                    stored in every checkpoint's ``config.json``.
    """

    objective: Any
    train_data: Any
    dev_data: Any = None
    validate: Callable[..., Mapping[str, float]] | None = None
    metric: str = "dev/loss"
    metric_mode: str = "min"
    collate_fn: Callable | None = None
    feature_stats: Any = None
    sample: Callable[..., Mapping[str, Any]] | None = None
    callbacks: list[Callable] = field(default_factory=list)
    config: Any = None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    name: str
    output: str
    pipeline: Callable[..., Any] | None
    about: str = ""
    model_config: type | None = None
    build_model: Callable[[Any], Any] | None = None
    inference_config: type = NoOptions
    objective_config: type = NoOptions
    data_config: type = NoOptions
    build: Callable[..., Experiment] | None = None
    init_keys: tuple[str, ...] = ()
    load_options: tuple[str, ...] = ()
    tiny: Callable[[Path], dict] | None = None
    reconstruct: Callable[[Any], Callable[[Any], Any]] | None = None

    @property
    def trainable(self) -> bool:
        return self.build is not None

    @property
    def has_checkpoints(self) -> bool:
        return self.build_model is not None


_FAMILIES: dict[str, Family] = {}


def register_family(
    name: str,
    *,
    output: str,
    pipeline: Callable[..., Any] | None,
    about: str = "",
    model_config: type | None = None,
    build_model: Callable[[Any], Any] | None = None,
    inference_config: type = NoOptions,
    objective_config: type = NoOptions,
    data_config: type | None = None,
    build: Callable[..., Experiment] | None = None,
    init_keys: tuple[str, ...] = (),
    load_options: tuple[str, ...] = (),
    tiny: Callable[[Path], dict] | None = None,
    reconstruct: Callable[[Any], Callable[[Any], Any]] | None = None,
) -> Family:
    """Register a model family under `name` (registering the same name again replaces it).

    `pipeline(checkpoint, device)` turns a loaded :class:`~text2sign.checkpoints.Checkpoint` into an
    inference pipeline (families without a network: ``pipeline(**load_options)``); ``None`` for
    families that are not text-to-sign models (a recognizer). `build_model(model_config)` makes the
    inference network alone, which is what a checkpoint's ``config.json`` rebuilds. `init_keys`
    names the earlier-stage checkpoints its ``build`` reads from the experiment's ``init:`` section
    (``model`` is always accepted: it initialises the inference network's weights).
    `reconstruct(checkpoint)` returns a function from a reference ``PoseSequence`` to the model's
    reconstruction of it (autoencoders: ``evaluate`` scores that as the model's ceiling).
    """
    if output not in OUTPUTS:
        raise ValueError(f"family {name!r}: output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if (build is not None or model_config is not None) and (model_config is None or build_model is None):
        raise ValueError(f"family {name!r}: a trainable family needs model_config and build_model")
    if data_config is None:
        from text2sign.data.config import PoseDataConfig

        data_config = PoseDataConfig
    family = Family(
        name, output, pipeline, about, model_config, build_model, inference_config, objective_config,
        data_config, build, tuple(init_keys), tuple(load_options), tiny, reconstruct,
    )
    _FAMILIES[name] = family
    return family


def registered_families() -> list[str]:
    return sorted(set(_FAMILIES) | set(BUILTIN_FAMILIES))


def get_family(spec: str, source: str = "the config") -> Family:
    """The family a ``family:`` value names (``name`` or ``module:name``), importing it if needed."""
    module, sep, name = spec.rpartition(":")
    if sep:
        _import(module, spec, source)
    elif spec not in _FAMILIES and spec in BUILTIN_FAMILIES:
        _import(BUILTIN_FAMILIES[spec], spec, source)
    if name not in _FAMILIES:
        where = f"module {module!r} did not register it" if sep else f"registered: {', '.join(registered_families()) or 'none'}"
        raise ConfigError(f"unknown family '{spec}' in {source} ({where})")
    return _FAMILIES[name]


def loaded_families() -> list[Family]:
    """Every family registered so far, importing the built-in ones first."""
    for name in BUILTIN_FAMILIES:
        get_family(name)
    return [_FAMILIES[n] for n in sorted(_FAMILIES)]


def _import(module: str, spec: str, source: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"family '{spec}' in {source}: cannot import module {exc.name!r}") from None
