"""The training loop. One function, :func:`train`, for every model family and for one process or many.

Per iteration: take ``grad_accum`` micro-batches; for each optimizer group the objective
schedules (a GAN: discriminator, then generator), accumulate the gradients of its loss over the
micro-batches, clip them, step the group's optimizer; then advance every LR schedule, update the
EMA weights, run callbacks, log, sample, checkpoint.

Under ``torchrun`` the objective is wrapped in DistributedDataParallel (gloo on CPU, NCCL on
CUDA) and each process reads its own shard of the data; everything else is unchanged, and
only rank 0 writes files. On CUDA, ``train.precision`` picks bf16 or fp16 autocast (fp16 with a
gradient scaler); on CPU training is fp32.

Stopping: SIGINT (Ctrl-C) or SIGTERM, or a callback raising KeyboardInterrupt, lets the
current step finish, saves a checkpoint and returns with ``interrupted=True``. A second
Ctrl-C more than two seconds after the first aborts at once, without saving.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from text2sign.errors import CheckpointError, ConfigError
from text2sign.training import distributed as dist_utils
from text2sign.training.checkpoint import (
    capture_rng,
    list_checkpoints,
    load_trainer_state,
    prune_checkpoints,
    read_config,
    resolve_checkpoint,
    restore_rng,
    save_checkpoint,
    step_dir,
)
from text2sign.training.config import ExperimentConfig, check_group_overrides, config_to_dict
from text2sign.training.ema import EMA
from text2sign.training.loader import BatchStream, epoch_loader, move_to
from text2sign.training.logs import RunLogger
from text2sign.training.optim import build_optimizer, build_scheduler
from text2sign.training.registry import Experiment, get_family


@dataclass
class StepInfo:
    """What callbacks see after each iteration."""

    step: int  # iterations completed so far
    epoch: int
    losses: dict[str, float]  # "group/key" -> this rank's value, averaged over micro-batches
    lrs: dict[str, float]  # learning rate each group used in this step
    objective: nn.Module  # the objective itself (not the DDP wrapper)
    rank: int
    world_size: int
    run_dir: Path
    is_last: bool


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    checkpoint: Path | None  # the last checkpoint written
    interrupted: bool


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: str | Path | None = None,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
) -> TrainResult:
    """Train `config` into `run_dir`, or continue the checkpoint (or run directory) `resume`."""
    info = dist_utils.setup(config.train.device)
    try:
        return _train(config, Path(run_dir), resume, list(callbacks), info)
    finally:
        dist_utils.teardown()


def _train(config, run_dir, resume, callbacks, info: dist_utils.DistInfo) -> TrainResult:
    tc = config.train
    device = info.device
    resume = resolve_checkpoint(resume) if resume is not None else None
    if resume is None and list_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} already holds checkpoints: continue with --resume {run_dir}, or pick another --out")

    # Same seed on every rank while building, so every rank starts from the same weights.
    seed_everything(tc.seed)
    experiment: Experiment = get_family(config.family).build(config)
    config = experiment.config or config
    if resume is not None:
        # After build: a family fills parts of the model config from the data (vocabulary, feature
        # size), and the checkpoint stores that resolved config.
        _check_resumable(config, resume)
    objective = experiment.objective.to(device)
    objective.train()
    groups = {name: list(params) for name, params in objective.param_groups().items()}
    if len({id(p) for params in groups.values() for p in params}) != sum(len(params) for params in groups.values()):
        raise ValueError("a parameter is listed in more than one optimizer group by param_groups()")
    check_group_overrides(tc, list(groups))
    optimizers = {g: build_optimizer(params, tc, g) for g, params in groups.items()}
    schedulers = {g: build_scheduler(opt, tc) for g, opt in optimizers.items()}
    use_amp = device.type == "cuda" and tc.precision != "fp32"
    amp_dtype = torch.bfloat16 if tc.precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and tc.precision == "fp16")
    ema = EMA(objective.inference_model(), tc.ema_decay) if tc.ema_decay > 0 else None

    step, epoch, batch_in_epoch = 0, 0, 0
    if resume is not None:
        state = load_trainer_state(resume)
        try:
            objective.load_state_dict(state["objective"])
            for g in groups:
                optimizers[g].load_state_dict(state["optimizers"][g])
                schedulers[g].load_state_dict(state["schedulers"][g])
            if state["scaler"] and scaler.is_enabled():
                scaler.load_state_dict(state["scaler"])
            if ema is not None and state["ema"] is not None:
                ema.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"cannot resume {resume}: its trainer state does not fit this experiment ({reason})") from None
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if step >= tc.steps:
            raise ConfigError(f"{resume} is at step {step} and train.steps is {tc.steps}: raise it, e.g. --set train.steps={2 * step}")
        if state["world_size"] == info.world_size:
            restore_rng(state["rng"][info.rank])
        else:
            # Data shards and per-rank noise cannot match the original run; say so and go on.
            seed_everything(tc.seed + 1000 * (info.rank + 1) + step)
            if info.is_main:
                print(f"note: resuming with {info.world_size} processes, saved with {state['world_size']}: "
                      "the data order differs from an uninterrupted run", file=sys.stderr)
    else:
        seed_everything(tc.seed + 1000 * (info.rank + 1))

    model = objective
    if info.distributed:
        # find_unused_parameters: a discriminator step leaves the generator unused, and vice versa.
        model = DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True
        )

    def make_loader(ep: int, skip: int):
        return epoch_loader(
            experiment.train_data, tc.batch_size, ep, tc.seed, info.rank, info.world_size, skip,
            experiment.collate_fn, tc.num_workers, pin_memory=device.type == "cuda",
        )

    stream = BatchStream(make_loader, epoch, batch_in_epoch)
    committed = stream.position  # data position after the last completed step
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_run_config(run_dir, config)
    logger = RunLogger(run_dir, tc.steps, step, enabled=info.is_main, name=config.name or "train")
    callbacks = [*experiment.callbacks, *callbacks]
    autocast = torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp)
    last_saved = step if resume is not None else None
    checkpoint = None
    interrupted = False
    tick, ticked_at = time.perf_counter(), step

    def save() -> Path | None:
        nonlocal last_saved
        last_saved = step
        rngs = dist_utils.gather_objects(capture_rng(), info)
        path = None
        if info.is_main:
            trainer_state = {
                "step": step,
                "epoch": committed[0],
                "batch_in_epoch": committed[1],
                "world_size": info.world_size,
                "objective": objective.state_dict(),
                "optimizers": {g: o.state_dict() for g, o in optimizers.items()},
                "schedulers": {g: s.state_dict() for g, s in schedulers.items()},
                "scaler": scaler.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "rng": rngs,
            }
            inference = ema.model if ema is not None else objective.inference_model()
            path = save_checkpoint(
                step_dir(run_dir, step), config, inference, trainer_state, experiment.feature_stats, step=step
            )
            prune_checkpoints(run_dir, tc.keep_last_k)
        dist_utils.barrier(info)
        return path

    try:
        with _StopOnSignal() as stop:
            while step < tc.steps:
                micro = [move_to(b, device) for b in stream.take(tc.grad_accum)]
                losses, grad_norms = {}, {}
                for group in objective.schedule(step):
                    values, grad_norms[group] = _step_group(
                        model, objective, group, micro, optimizers[group], groups[group], scaler, autocast, tc
                    )
                    losses.update(values)
                lrs = {g: s.get_last_lr()[0] for g, s in schedulers.items()}
                with warnings.catch_warnings():
                    # A group the objective did not schedule this step still follows the clock.
                    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
                    for s in schedulers.values():
                        s.step()
                if ema is not None:
                    ema.update(objective.inference_model())
                step += 1
                committed = stream.position

                done = step == tc.steps
                step_info = StepInfo(step, committed[0], losses, lrs, objective, info.rank, info.world_size, run_dir, done)
                try:
                    for callback in callbacks:
                        callback(step_info)
                except KeyboardInterrupt:
                    stop.requested = True
                logger.step(step, "  ".join(f"{k} {v:.4g}" for k, v in losses.items() if k.endswith("/loss")))
                if step % tc.log_every == 0 or done:
                    now = time.perf_counter()
                    reduced = dist_utils.all_reduce_mean(
                        {**{f"train/{k}": v for k, v in losses.items()},
                         **{f"grad_norm/{g}": v for g, v in grad_norms.items()}},
                        info,
                    )
                    reduced.update({f"lr/{g}": v for g, v in lrs.items()})
                    reduced["perf/steps_per_s"] = (step - ticked_at) / max(now - tick, 1e-9)
                    reduced["perf/epoch"] = float(committed[0])
                    logger.scalars(step, reduced, tc.steps)
                    tick, ticked_at = now, step
                if experiment.sample is not None and info.is_main and (
                    (tc.sample_every and step % tc.sample_every == 0) or done
                ):
                    _sample(experiment, ema, objective, device, logger, step)
                if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or done:
                    checkpoint = save() or checkpoint
                if dist_utils.any_rank(stop.requested, info):
                    interrupted = not done
                    break
            if interrupted and last_saved != step:
                checkpoint = save() or checkpoint
    finally:
        logger.close()
    if info.is_main and checkpoint is not None:
        verb = "interrupted; saved" if interrupted else "saved"
        print(f"{verb} {checkpoint} (step {step})", file=sys.stderr)
    return TrainResult(run_dir, step, checkpoint, interrupted)


def _step_group(model, objective, group, micro, optimizer, params, scaler, autocast, tc) -> tuple[dict, float]:
    """One optimizer step of `group`: accumulate over micro-batches, clip, step. Returns (losses, grad norm)."""
    objective.zero_grad(set_to_none=True)
    sums: dict[str, torch.Tensor] = {}
    for i, batch in enumerate(micro):
        # DDP all-reduces gradients on the last micro-batch only.
        last = i == len(micro) - 1
        sync = model.no_sync() if isinstance(model, DistributedDataParallel) and not last else contextlib.nullcontext()
        with sync:
            with autocast:
                out = model(batch, group)
            if "loss" not in out:
                raise KeyError(f"the objective's losses for group {group!r} have no 'loss' entry: {sorted(out)}")
            scaler.scale(out["loss"] / len(micro)).backward()
        for key, value in out.items():
            sums[key] = sums.get(key, 0.0) + value.detach().float()
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip if tc.grad_clip else math.inf)
    scaler.step(optimizer)
    scaler.update()
    losses = {f"{group}/{k}": (v / len(micro)).item() for k, v in sums.items()}
    if not scaler.is_enabled() and not math.isfinite(losses[f"{group}/loss"]):
        raise FloatingPointError(f"the {group} loss is {losses[f'{group}/loss']}; lower train.lr or set train.grad_clip")
    return losses, float(norm)


def _sample(experiment, ema, objective, device, logger, step) -> None:
    """Render samples from the EMA network without disturbing the training RNG streams."""
    net = ema.model if ema is not None else objective.inference_model()
    was_training = net.training
    rng = capture_rng()
    net.eval()
    try:
        with torch.no_grad():
            samples = experiment.sample(net, device)
        logger.samples(step, samples)
    finally:
        net.train(was_training)
        restore_rng(rng)


def _check_resumable(config: ExperimentConfig, checkpoint: Path) -> None:
    """The weights in `checkpoint` must fit `config`: same family and model section."""
    saved = read_config(checkpoint)
    for key in ("family", "model"):
        diff = _first_difference(config_to_dict(getattr(saved, key)), config_to_dict(getattr(config, key)), key)
        if diff:
            raise CheckpointError(f"cannot resume {checkpoint}: the config differs from the checkpoint's at {diff}")


def _first_difference(saved, new, path: str) -> str | None:
    if isinstance(saved, dict) and isinstance(new, dict):
        for key in [*saved, *(k for k in new if k not in saved)]:
            diff = _first_difference(saved.get(key), new.get(key), f"{path}.{key}")
            if diff:
                return diff
        return None
    return None if saved == new else f"'{path}' ({saved!r} in the checkpoint, {new!r} now)"


def _write_run_config(run_dir: Path, config: ExperimentConfig) -> None:
    import yaml

    from text2sign.fileio import write_text_atomic

    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(config_to_dict(config), sort_keys=False))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _StopOnSignal:
    """Turns SIGINT / SIGTERM into a request to stop after the current step."""

    GRACE_S = 2.0  # torchrun forwards the Ctrl-C the terminal already sent; only a later one aborts

    def __init__(self):
        self.requested = False
        self._first_at = 0.0
        self._previous = {}

    def __enter__(self) -> _StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if not self.requested:
            self.requested = True
            self._first_at = now
            print("\nstopping: finishing this step and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)
        elif signum == signal.SIGINT and now - self._first_at > self.GRACE_S:
            raise KeyboardInterrupt
