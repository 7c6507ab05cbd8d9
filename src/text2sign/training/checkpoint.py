"""The training side of checkpoints: trainer state for exact resume, RNG capture, pruning.

Checkpoint directories themselves (writing, reading, rebuilding the network) are
:mod:`text2sign.checkpoints`, shared with inference. ``trainer_state.pt`` holds raw weights of
every objective module, optimizers, LR schedulers, grad scaler, EMA, validation history,
per-rank RNG states (python, numpy, torch, CUDA), step, epoch and position in the epoch: plain
tensors and containers only, so ``torch.load(..., weights_only=True)`` reads it.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from text2sign.checkpoints import CONFIG_NAME, STATE_NAME, list_checkpoints, read_meta
from text2sign.errors import CheckpointError, ConfigError, first_line
from text2sign.training.config import ExperimentConfig, parse_experiment


def prune_checkpoints(run_dir: Path, keep_last_k: int) -> list[Path]:
    """Delete all but the newest `keep_last_k` step checkpoints; returns the deleted paths."""
    found = list_checkpoints(run_dir)
    doomed = [p for _, p in found[: max(0, len(found) - keep_last_k)]]
    for p in doomed:
        shutil.rmtree(p)
    return doomed


def read_config(path: str | os.PathLike) -> ExperimentConfig:
    """The experiment a checkpoint was trained from, validated as strictly as a YAML file."""
    meta = read_meta(path)
    if meta.experiment is None:
        raise CheckpointError(f"{path} holds no training config (an inference-only checkpoint cannot be resumed)")
    try:
        return parse_experiment(meta.experiment, source=str(Path(path) / CONFIG_NAME))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


def load_trainer_state(path: str | os.PathLike) -> dict:
    """The ``trainer_state.pt`` of a checkpoint, read with ``weights_only=True``."""
    file = Path(path) / STATE_NAME
    if not file.is_file():
        raise CheckpointError(f"{path} cannot be resumed: {STATE_NAME} is missing (it holds inference weights only)")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises many types for a corrupt or foreign file
        raise CheckpointError(f"{file} is unreadable ({type(exc).__name__}: {first_line(exc)})") from None


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
