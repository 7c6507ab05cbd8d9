"""Checkpoints: self-describing directories, written atomically, loaded without unpickling code.

A checkpoint directory holds

* ``config.json``        -- what inference reads: the ``family``, its ``model`` section (all the
  network needs), its ``inference`` section (sampling settings), ``metadata`` (e.g. the language
  pairs a pipeline accepts) and ``metrics`` (validation scores); plus, for training only, the
  whole ``experiment`` it was trained from (data, objective, train), which inference ignores;
* ``model.safetensors``  -- the inference network's weights (the EMA copy when EMA is on);
* ``normalization.json`` -- feature statistics, when the family has them;
* ``trainer_state.pt``   -- training checkpoints only: everything needed to resume exactly
  (see :mod:`text2sign.training.checkpoint`).

Because inference reads only the family, model and inference sections, a training option can be
renamed or dropped without breaking a single shipped model. Checkpoints of format version 1 (the
whole experiment only) are read too. A training run keeps its checkpoints as
``<run>/checkpoints/step-000100/`` and its best one by validation as ``<run>/checkpoints/best/``.
Nothing here edits a checkpoint to make it fit: a config that does not parse or does not match
the weights is a :class:`CheckpointError` naming the first difference.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from text2sign.config import check_config_size, config_to_dict, from_dict
from text2sign.errors import CheckpointError, ConfigError
from text2sign.fileio import atomic_dir, read_json_mapping
from text2sign.limits import MAX_CHECKPOINT_CONFIG_BYTES
from text2sign.outputs import OutputKind

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATS_NAME = "normalization.json"
STATE_NAME = "trainer_state.pt"
FORMAT = "text2sign-checkpoint"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
_STEP_DIR = re.compile(r"step-(\d+)")
RUN_CONFIG = "config.yaml"
RUN_LOGS = "tensorboard"


def _is_checkpoint_config(root: Path) -> bool:
    try:
        raw = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # "text2sign-recognizer" too: the recognizer's own format before it became a family.
    return isinstance(raw, dict) and str(raw.get("format", "")).startswith("text2sign-")


# What `train-recognizer --out` (and anything saving a checkpoint a user names) may replace.
CHECKPOINT_OUTPUT = OutputKind(
    "text2sign checkpoint",
    markers=(CONFIG_NAME,),
    entries=(CONFIG_NAME, WEIGHTS_NAME, STATS_NAME, STATE_NAME),
    own=_is_checkpoint_config,
)
# What `train --out` may write into: a run started earlier (the loop refuses one with checkpoints
# unless it is resumed).
RUN_OUTPUT = OutputKind(
    "text2sign run directory",
    markers=(RUN_CONFIG, RUN_LOGS),
    entries=(RUN_CONFIG, RUN_LOGS, "samples", CHECKPOINTS_DIR),
)

# config.json keys that belong to the format; the rest of a version-1 file is metadata.
_FORMAT_KEYS = (
    "format",
    "version",
    "step",
    "model_class",
    "experiment",
    "family",
    "model",
    "inference",
    "metadata",
    "metrics",
)


@dataclass
class CheckpointMeta:
    """A checkpoint's ``config.json``, read but not yet turned into configs or a network."""

    path: Path
    version: int
    family: str
    model: dict
    inference: dict
    metadata: dict
    metrics: dict
    step: int | None
    experiment: dict | None  # the training config; inference never reads it

    def language_pairs(self) -> list[tuple[str, str]]:
        """The (spoken, signed) pairs the model was trained on, read without loading it; a model from
        before they were recorded reads any spoken text ("*") for its text encoder's signed languages."""
        recorded = self.metadata.get("language_pairs")
        if isinstance(recorded, list):
            return sorted(tuple(pair) for pair in recorded if isinstance(pair, list) and len(pair) == 2)
        text = self.model.get("text") if isinstance(self.model.get("text"), dict) else {}
        signed = text.get("signed_languages")
        return [("*", s) for s in sorted(signed) if isinstance(s, str)] if isinstance(signed, list) else []


@dataclass
class Checkpoint:
    """A model rebuilt from a checkpoint, with what inference needs around it."""

    family: Any  # text2sign.families.Family
    model: Any  # nn.Module in eval mode
    model_config: Any
    inference: Any
    feature_stats: Any  # FeatureStats or None
    meta: CheckpointMeta

    @property
    def path(self) -> Path:
        return self.meta.path

    @property
    def metadata(self) -> dict:
        return self.meta.metadata


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / f"step-{step:06d}"


def best_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / BEST_DIR


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of a run's complete step checkpoints, oldest first (``best/`` is not one)."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_DIR.fullmatch(p.name)
        if m and p.is_dir() and (p / CONFIG_NAME).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def resolve_checkpoint(path: str | os.PathLike, prefer_best: bool = False) -> Path:
    """`path` itself when it is a checkpoint; else, for a run directory, its ``best/`` checkpoint
    when `prefer_best` and there is one (what inference wants), otherwise its latest (what
    resuming wants)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if (path / CONFIG_NAME).is_file():
        return path
    best = best_dir(path)
    if prefer_best and (best / CONFIG_NAME).is_file():
        return best
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"{path} is neither a checkpoint (no {CONFIG_NAME}) nor a run directory with checkpoints")
    return found[-1][1]


def save_checkpoint(
    path: str | os.PathLike,
    family: str,
    model: Any,
    model_config: Any,
    inference: Any = None,
    feature_stats: Any = None,
    trainer_state: dict | None = None,
    experiment: dict | None = None,
    metadata: dict | None = None,
    metrics: dict | None = None,
    step: int | None = None,
) -> Path:
    """Write a checkpoint directory atomically: it appears complete at `path` or not at all.

    `model_config` and `inference` are the family's dataclasses (or plain dicts); `experiment` is
    the whole training config as plain data (kept for resuming and for the record)."""
    import torch

    path = Path(path)
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "family": family,
        "step": step,
        "model_class": _qualname(model),
        "model": config_to_dict(model_config),
        "inference": config_to_dict(inference) if inference is not None else {},
        "metadata": metadata or {},
        "metrics": metrics or {},
        "experiment": experiment,
    }
    with atomic_dir(path) as tmp:
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _save_weights(model, tmp / WEIGHTS_NAME)
        if feature_stats is not None:
            feature_stats.save(tmp / STATS_NAME)
        if trainer_state is not None:
            torch.save(trainer_state, tmp / STATE_NAME)
    return path


def read_meta(path: str | os.PathLike) -> CheckpointMeta:
    """The ``config.json`` of checkpoint directory `path`, checked for shape (format 1 or 2)."""
    path = Path(path)
    file = path / CONFIG_NAME
    if not file.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {CONFIG_NAME} is missing")
    raw = read_json_mapping(file, MAX_CHECKPOINT_CONFIG_BYTES, "a checkpoint's config", CheckpointError)
    try:
        check_config_size(raw, str(file))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a text2sign checkpoint config (no 'format': '{FORMAT}')")
    version = raw.get("version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{file} has format version {version}; this text2sign reads {', '.join(map(str, READABLE_VERSIONS))}"
        )
    experiment = raw.get("experiment")
    if version == 1:
        # Version 1 kept only the whole experiment; its model section is what inference needs.
        if not isinstance(experiment, dict):
            raise CheckpointError(f"{file} has no 'experiment' section")
        family, model, inference = experiment.get("family"), experiment.get("model", {}), {}
        metadata = {k: v for k, v in raw.items() if k not in _FORMAT_KEYS}
        metrics = {}
    else:
        family, model, inference = raw.get("family"), raw.get("model"), raw.get("inference", {})
        metadata, metrics = raw.get("metadata") or {}, raw.get("metrics") or {}
    for name, value, kind in (
        ("family", family, str),
        ("model", model, dict),
        ("inference", inference, dict),
        ("metadata", metadata, dict),
        ("metrics", metrics, dict),
    ):
        if not isinstance(value, kind):
            raise CheckpointError(f"{file}: '{name}' must be a {'string' if kind is str else 'mapping'}")
    if experiment is not None and not isinstance(experiment, dict):
        raise CheckpointError(f"{file}: 'experiment' must be a mapping")
    step = raw.get("step")
    return CheckpointMeta(
        path, version, family, model, inference, metadata, metrics, step if isinstance(step, int) else None, experiment
    )


def load_checkpoint(path: str | os.PathLike, device: Any = "cpu", prefer_best: bool = True) -> Checkpoint:
    """Rebuild the inference network of a checkpoint (or of a run's best, else latest, one) in eval
    mode, from its family, model and inference sections alone."""
    from text2sign.families import get_family

    ckpt = resolve_checkpoint(path, prefer_best=prefer_best)
    meta = read_meta(ckpt)
    source = str(ckpt / CONFIG_NAME)
    try:
        family = get_family(meta.family, source)
        if not family.has_checkpoints:
            raise ConfigError(f"family '{meta.family}' in {source} has no network to load")
        model_config = from_dict(family.model_config, meta.model, "model", source)
        inference = from_dict(family.inference_config, meta.inference, "inference", source)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    model = family.build_model(model_config)
    load_weights(model, ckpt / WEIGHTS_NAME)
    stats = None
    if (ckpt / STATS_NAME).is_file():
        from text2sign.pose.normalize import FeatureStats

        try:
            stats = FeatureStats.load(ckpt / STATS_NAME)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{ckpt / STATS_NAME} is unreadable ({exc})") from None
    return Checkpoint(family, model.to(device).eval(), model_config, inference, stats, meta)


def from_pretrained(path: str | os.PathLike, device: Any = "cpu") -> Any:
    """The inference network (EMA weights) of a checkpoint directory, rebuilt from its config.json."""
    return load_checkpoint(path, device).model


def load_weights(model: Any, file: Path) -> None:
    """Load a safetensors file into `model`, requiring exactly the same names and shapes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise CheckpointError(f"{file.parent} is incomplete: {file.name} is missing")
    try:
        tensors = load_file(str(file), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file} is unreadable ({exc})") from None
    problem = weights_mismatch(model, tensors)
    if problem:
        raise CheckpointError(f"{file} does not match the model that {CONFIG_NAME} describes: {problem}")
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(value.isfinite().all()):
            raise CheckpointError(f"{file} is corrupt: weight '{key}' holds NaN or infinite values")
    model.load_state_dict(tensors, strict=True)


def weights_mismatch(model: Any, tensors: dict) -> str | None:
    """The first difference in names or shapes between `model` and `tensors`, or None."""
    expected = model.state_dict()
    for key, value in expected.items():
        if key not in tensors:
            return f"weight '{key}' is missing from the file"
        if tuple(tensors[key].shape) != tuple(value.shape):
            return (
                f"weight '{key}' has shape {tuple(tensors[key].shape)} in the file but {tuple(value.shape)} in the "
                "model"
            )
    extra = [k for k in tensors if k not in expected]
    return f"the file has weight '{extra[0]}' that the model does not" if extra else None


def parameter_count(path: str | os.PathLike) -> int:
    """Parameters stored in a checkpoint's weights, read from the safetensors header (no torch)."""
    from safetensors import SafetensorError, safe_open

    file = Path(path) / WEIGHTS_NAME
    try:
        with safe_open(str(file), framework="numpy") as f:
            total = 0
            for key in f.keys():  # noqa: SIM118  safe_open's handle has keys() but cannot be iterated
                count = 1
                for size in f.get_slice(key).get_shape():
                    count *= size
                total += count
            return total
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file} is unreadable ({exc})") from None


def directory_size(path: str | os.PathLike) -> int:
    """Bytes of the files under `path`."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _save_weights(model: Any, file: Path) -> None:
    from safetensors.torch import save_file

    # Clones: safetensors refuses tensors that share storage (tied weights, views).
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(file), metadata={"format": "pt"})


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
