"""Checkpoints: self-describing directories, written atomically, loaded without unpickling code.

A checkpoint directory holds

* ``config.json``        -- the full experiment config (family, data, model, objective, train);
* ``model.safetensors``  -- the inference network's weights: **the EMA copy** when EMA is on;
* ``normalization.json`` -- feature statistics, when the experiment has them;
* ``trainer_state.pt``   -- everything needed to continue exactly: raw weights of every
  objective module, optimizers, LR schedulers, grad scaler, EMA, per-rank RNG states (python,
  numpy, torch, CUDA), step, epoch and position in the epoch. Plain tensors and containers
  only, so ``torch.load(..., weights_only=True)`` reads it.

A training run keeps them as ``<run>/checkpoints/step-000100/``. :func:`from_pretrained`
rebuilds the inference network from ``config.json`` alone; a config that does not parse or
does not match the weights is a :class:`CheckpointError` naming the first difference. Nothing
here edits a checkpoint to make it fit.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from text2sign.errors import CheckpointError, ConfigError
from text2sign.fileio import atomic_dir
from text2sign.training.config import ExperimentConfig, config_to_dict, parse_experiment

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATS_NAME = "normalization.json"
STATE_NAME = "trainer_state.pt"
FORMAT = "text2sign-checkpoint"
FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
_STEP_DIR = re.compile(r"step-(\d+)")


@dataclass
class Pretrained:
    """A model rebuilt from a checkpoint, with what inference needs around it."""

    model: nn.Module
    config: ExperimentConfig
    feature_stats: Any  # FeatureStats or None
    path: Path
    metadata: dict = field(default_factory=dict)  # the whole config.json (see save_checkpoint's `metadata`)


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / f"step-{step:06d}"


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of a run's complete checkpoints, oldest first."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_DIR.fullmatch(p.name)
        if m and p.is_dir() and (p / CONFIG_NAME).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """`path` itself when it is a checkpoint, else the latest checkpoint of the run directory `path`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if (path / CONFIG_NAME).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"{path} is neither a checkpoint (no {CONFIG_NAME}) nor a run directory with checkpoints")
    return found[-1][1]


def save_checkpoint(
    path: Path,
    config: ExperimentConfig,
    model: nn.Module,
    trainer_state: dict | None = None,
    feature_stats: Any = None,
    step: int | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write a checkpoint directory atomically: it appears complete at `path` or not at all.

    `metadata` (JSON values) goes into ``config.json`` beside the experiment, for inference
    facts the config does not hold (e.g. the language pairs a pipeline accepts)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(path) as tmp:
        # The format's own keys come last: metadata cannot overwrite them.
        meta = {**(metadata or {}), "format": FORMAT, "version": FORMAT_VERSION, "step": step, "model_class": _qualname(model)}
        meta["experiment"] = config_to_dict(config)
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _save_weights(model, tmp / WEIGHTS_NAME)
        if feature_stats is not None:
            feature_stats.save(tmp / STATS_NAME)
        if trainer_state is not None:
            torch.save(trainer_state, tmp / STATE_NAME)
    return path


def prune_checkpoints(run_dir: Path, keep_last_k: int) -> list[Path]:
    """Delete all but the newest `keep_last_k` step checkpoints; returns the deleted paths."""
    found = list_checkpoints(run_dir)
    doomed = [p for _, p in found[: max(0, len(found) - keep_last_k)]]
    for p in doomed:
        shutil.rmtree(p)
    return doomed


def read_metadata(path: str | os.PathLike) -> dict:
    """The whole ``config.json`` of a checkpoint: format, step, metadata and the raw experiment."""
    file = Path(path) / CONFIG_NAME
    if not file.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {CONFIG_NAME} is missing")
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("experiment"), dict):
        raise CheckpointError(f"{file} is not a text2sign checkpoint config (no 'format': '{FORMAT}' with an 'experiment')")
    return meta


def read_config(path: str | os.PathLike) -> ExperimentConfig:
    """The experiment config stored in a checkpoint, validated as strictly as a YAML file."""
    return experiment_config(read_metadata(path), path)


def experiment_config(meta: dict, path: str | os.PathLike) -> ExperimentConfig:
    """The validated experiment of a checkpoint's ``config.json`` as :func:`read_metadata` gives it."""
    file = Path(path) / CONFIG_NAME
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{file} has format version {meta.get('version')}; this text2sign reads {FORMAT_VERSION}")
    try:
        return parse_experiment(meta["experiment"], source=str(file))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


def load_pretrained(path: str | os.PathLike, device: str | torch.device = "cpu") -> Pretrained:
    """Rebuild the inference network of a checkpoint (or of a run's latest one) in eval mode."""
    from text2sign.training.registry import get_family

    ckpt = resolve_checkpoint(path)
    metadata = read_metadata(ckpt)
    config = experiment_config(metadata, ckpt)
    try:
        family = get_family(config.family, str(ckpt / CONFIG_NAME))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    model = family.build_model(config.model)
    load_weights(model, ckpt / WEIGHTS_NAME)
    stats = None
    if (ckpt / STATS_NAME).is_file():
        from text2sign.pose.normalize import FeatureStats

        try:
            stats = FeatureStats.load(ckpt / STATS_NAME)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{ckpt / STATS_NAME} is unreadable ({exc})") from None
    return Pretrained(model.to(device).eval(), config, stats, ckpt, metadata)


def from_pretrained(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """The inference network (EMA weights) of a checkpoint directory, rebuilt from its config.json."""
    return load_pretrained(path, device).model


def load_weights(model: nn.Module, file: Path) -> None:
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
    model.load_state_dict(tensors, strict=True)


def weights_mismatch(model: nn.Module, tensors: dict[str, torch.Tensor]) -> str | None:
    """The first difference in names or shapes between `model` and `tensors`, or None."""
    expected = model.state_dict()
    for key, value in expected.items():
        if key not in tensors:
            return f"weight '{key}' is missing from the file"
        if tuple(tensors[key].shape) != tuple(value.shape):
            return f"weight '{key}' has shape {tuple(tensors[key].shape)} in the file but {tuple(value.shape)} in the model"
    extra = [k for k in tensors if k not in expected]
    return f"the file has weight '{extra[0]}' that the model does not" if extra else None


def load_trainer_state(path: str | os.PathLike) -> dict:
    """The ``trainer_state.pt`` of a checkpoint, read with ``weights_only=True``."""
    file = Path(path) / STATE_NAME
    if not file.is_file():
        raise CheckpointError(f"{path} cannot be resumed: {STATE_NAME} is missing (it holds inference weights only)")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises many types for a corrupt or foreign file
        raise CheckpointError(f"{file} is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


def capture_rng() -> dict:
    """This process's random states, as plain tensors and numbers."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": n["bit_generator"],
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


def _save_weights(model: nn.Module, file: Path) -> None:
    from safetensors.torch import save_file

    # Clones: safetensors refuses tensors that share storage (tied weights, views).
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(file), metadata={"format": "pt"})


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


