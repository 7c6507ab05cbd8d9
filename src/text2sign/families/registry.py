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
imports another's code: ``concat`` never imports torch.

A ``family:`` value read from disk (a checkpoint's ``config.json``, an experiment YAML) is only ever
a name looked up here, never a module to import: a checkpoint someone sends must not be able to run
code. Families from outside the package are registered by what the user installed or chose:

* a distribution's entry point in the ``text2sign.families`` group, named after the family, whose
  module calls :func:`register_family` when imported (loaded only when that family is asked for)::

      [project.entry-points."text2sign.families"]
      my-family = "my_package.my_family"

* a module named in the ``TEXT2SIGN_PLUGINS`` environment variable (comma-separated), imported
  the first time a family is not found otherwise (for code that is not an installed package);
* a :func:`register_family` call in the user's own program.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from text2sign.errors import ConfigError

OUTPUTS = ("pose", "video", "text")
ENTRY_POINT_GROUP = "text2sign.families"
PLUGINS_ENV = "TEXT2SIGN_PLUGINS"

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
    "lookup-flow": "text2sign.families.lookup_flow",
    "pose-video": "text2sign.families.pose_video",
}

# The modules each optional extra of pyproject.toml installs that code checks for.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "video": ("diffusers", "transformers"),
    "extract": ("mediapipe",),
    "serve": ("fastapi", "fastapi_offline", "uvicorn"),
    "ssm": ("mambapy",),
}


def missing_extra(extra: str | None) -> str | None:
    """``pip install "text2sign[EXTRA]"`` if a module of `extra` is not installed, else None."""
    import importlib.util

    if extra is None:
        return None
    if any(importlib.util.find_spec(module) is None for module in EXTRA_MODULES[extra]):
        return f'pip install "text2sign[{extra}]"'
    return None


_ASSETS = Path(__file__).resolve().parent.parent / "pipelines" / "assets"


@dataclass(frozen=True)
class NamedModel:
    """A model a user can name: a family's pipeline with no checkpoint, or a shipped checkpoint.

    `test_cer` and `p50_ms` are what benchmarks/RESULTS.md measured for it (FS-Words test CER read
    back by the shipped recognizer, %; warm latency on one CPU thread, ms): they choose the default.
    `video_test_cer` is a video model's FS-Words test CER read back by the shipped video recognizer
    (%, all 152 words): it does not compare with `test_cer`, so it never chooses the default.
    The README's and RESULTS.md's model tables quote these numbers (tests/test_docs_examples.py checks).
    """

    name: str
    family: str
    about: str
    checkpoint: Path | None = None
    test_cer: float | None = None
    p50_ms: float | None = None
    video_test_cer: float | None = None
    extra: str | None = None  # the optional extra its checkpoint needs to load (a key of EXTRA_MODULES)


MODELS: dict[str, NamedModel] = {
    m.name: m
    for m in (
        # benchmarks/evaluate_fs_words.sh and bench_models.sh, CPU-2, 2026-12-01
        NamedModel(
            "concat",
            "concat",
            "lookup + coarticulated concatenation of lexicon clips (fingerspelling by default)",
            test_cer=7.22,
            p50_ms=0.847,
        ),
        NamedModel(
            "spoken-to-signed",
            "spoken-to-signed",
            "the spoken-to-signed package's own pipeline, wrapped as a peer",
            test_cer=91.64,
            p50_ms=140.2,
        ),
        NamedModel(
            "fs-gan-nat",
            "gan-nat",
            "GAN-NAT trained on FS-Words (19 fingerspelling alphabets)",
            _ASSETS / "fs-gan-nat",
            test_cer=12.49,
            p50_ms=3.395,
        ),
        NamedModel(
            "fs-latent-flow",
            "latent-distill",
            "latent flow matching on FS-Words, distilled to 4 steps: face, body and both hands (design latent flow)",
            _ASSETS / "fs-latent-flow",
            test_cer=15.58,
            p50_ms=7.183,
        ),
        # text2sign evaluate / bench (benchmarks/evaluate_fs_words.sh, bench_models.sh), CPU-2, 2026-12-06
        NamedModel(
            "fs-lookup-flow",
            "lookup-flow",
            "the lookup's plan re-timed like the recordings, with face and body filled in: plan-conditioned "
            "flows in pose space (issue 24); --plan FILE or --plan-model M for another plan",
            _ASSETS / "fs-lookup-flow",
            test_cer=7.43,
            p50_ms=11.046,
        ),
        # A video model: read back by the video recognizer, whose CER does not compare with the pose
        # recognizer's, so it has no test_cer here and never competes for the default.
        # text2sign evaluate --model fs-video --corpus data/fs-words --split test, CPU-2, 2026-12-01
        NamedModel(
            "fs-video",
            "video-diffusion",
            "latent video diffusion on FS-Words drawn at 32 px, 48 frames at 12.5 fps (needs the [video] extra); "
            "draws the signer, but its handshapes do not read back yet (94 % video CER)",
            _ASSETS / "fs-video",
            video_test_cer=94.12,
            extra="video",
        ),
        # text2sign evaluate --model fs-pose-video --corpus data/fs-words --split test, CPU-2, 2026-12-06
        NamedModel(
            "fs-pose-video",
            "pose-video",
            "the lookup's poses (or --pose-model M's, or --pose FILE) drawn as the FS-Words signer: video diffusion "
            "conditioned on joint positions, 32 px at 12.5 fps (needs the [video] extra); text2sign animate takes "
            "any pose file; reads back far better than fs-video, not yet at its goal (43 % video CER)",
            _ASSETS / "fs-pose-video",
            video_test_cer=43.24,
            extra="video",
        ),
    )
}


# The frame size, in pixels, the shipped video models (fs-video and the video recognizer) learnt:
# what `prepare video` draws by default, so that its corpus is one they read.
SHIPPED_VIDEO_SIZE = 32


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
    prepare:        work a real run needs before its first step and a dry run skips (encoding a
                    whole corpus once through a VAE); it may still change ``config`` in place.
    measured:       the config values ``prepare`` measures from the data (dotted paths, e.g.
                    ``model.autoencoder.scaling_factor``): a resumed run's config, built before
                    ``prepare`` runs, may differ from its checkpoint's there.
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
    prepare: Callable[[], None] | None = None
    measured: tuple[str, ...] = ()


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
    extra: str | None = None

    @property
    def missing_extra(self) -> str | None:
        """How to install what this family needs and lacks here (None: nothing is missing)."""
        return missing_extra(self.extra)

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
    extra: str | None = None,
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
    `extra` names the optional extra (a key of :data:`EXTRA_MODULES`) the family cannot train or
    sample without: tests of a family whose extra is absent skip, saying which.
    """
    if output not in OUTPUTS:
        raise ValueError(f"family {name!r}: output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if (build is not None or model_config is not None) and (model_config is None or build_model is None):
        raise ValueError(f"family {name!r}: a trainable family needs model_config and build_model")
    if data_config is None:
        from text2sign.data.config import PoseDataConfig

        data_config = PoseDataConfig
    family = Family(
        name,
        output,
        pipeline,
        about,
        model_config,
        build_model,
        inference_config,
        objective_config,
        data_config,
        build,
        tuple(init_keys),
        tuple(load_options),
        tiny,
        reconstruct,
        extra,
    )
    _FAMILIES[name] = family
    return family


def registered_families() -> list[str]:
    return sorted(set(_FAMILIES) | set(BUILTIN_FAMILIES) | {ep.name for ep in _entry_points()})


def get_family(name: str, source: str = "the config") -> Family:
    """The family registered as `name` (see the module docstring for how families get registered).

    `source` names where the value was read, for the error of a name that is not registered."""
    if ":" in name:
        # The old ``some.module:name`` form imported the module a file named: refused before any import.
        raise ConfigError(
            f"family '{name}' in {source} names a module to import, which text2sign never does for a file; "
            f"install the family as a '{ENTRY_POINT_GROUP}' entry point or name its module in {PLUGINS_ENV}, then "
            "write its name alone"
        )
    if name not in _FAMILIES and name in BUILTIN_FAMILIES:
        try:
            importlib.import_module(BUILTIN_FAMILIES[name])
        except ModuleNotFoundError as exc:
            raise ConfigError(f"family '{name}' in {source}: cannot import module {exc.name!r}") from None
    if name not in _FAMILIES:
        _load_entry_point(name, source)
    if name not in _FAMILIES:
        _import_plugins()
    if name not in _FAMILIES:
        raise ConfigError(
            f"unknown family '{name}' in {source} (registered: {', '.join(registered_families()) or 'none'})"
        )
    return _FAMILIES[name]


def loaded_families() -> list[Family]:
    """Every family there is: the built-in ones, installed entry points and TEXT2SIGN_PLUGINS, loaded."""
    for name in BUILTIN_FAMILIES:
        get_family(name)
    for ep in _entry_points():
        _load_entry_point(ep.name, "the installed entry points")
    _import_plugins()
    return [_FAMILIES[n] for n in sorted(_FAMILIES)]


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load_entry_point(name: str, source: str) -> None:
    for ep in _entry_points():
        if ep.name == name:
            try:
                ep.load()
            except ImportError as exc:
                raise ConfigError(
                    f"family '{name}' in {source}: its entry point {ep.value} cannot be imported ({exc})"
                ) from None
            if name not in _FAMILIES:
                raise ConfigError(f"family '{name}' in {source}: its entry point {ep.value} did not register it")
            return


_imported_plugins: set[str] = set()


def _import_plugins() -> None:
    for module in (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",")):
        if module and module not in _imported_plugins:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise ConfigError(f"{PLUGINS_ENV} names {module!r}, which cannot be imported ({exc})") from None
            _imported_plugins.add(module)
