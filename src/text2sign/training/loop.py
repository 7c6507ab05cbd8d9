"""The training loop. One function, :func:`train`, for every model family and for one process or many.

Per iteration: take ``grad_accum`` micro-batches; for each optimizer group the objective
schedules (a GAN: discriminator, then generator), accumulate the gradients of its loss over the
micro-batches, clip them, step the group's optimizer; then advance every LR schedule, update the
EMA weights, run callbacks, log, sample, validate, checkpoint.

Validation: every ``train.validate_every`` steps and at the end, the EMA network is scored on the
family's dev data (its dev losses, or the family's own ``validate``, e.g. read-back CER). The best
score so far is kept as ``<run>/checkpoints/best/`` beside the last ``keep_last_k`` step
checkpoints; with ``train.patience`` the run stops after that many passes without improvement.

Under ``torchrun`` the objective is wrapped in DistributedDataParallel (gloo on CPU, NCCL on
CUDA) and each process reads its own shard of the data; everything else is unchanged, and
only rank 0 validates and writes files. On CUDA, ``train.precision`` picks bf16 or fp16 autocast
(fp16 with a gradient scaler); on CPU and MPS training is fp32, unless ``train.cpu_autocast`` asks
for bf16 autocast on the CPU (``precision: bf16``).

Out of memory: in one process, a step that runs out of memory is retried with every micro-batch
split in two and twice as many accumulated (``train.adapt_batch_on_oom``, said in one line), so
the effective batch and the loss stay what the config asks; later steps keep the smaller size.

Video families' samples also go to TensorBoard as videos; a diffusion objective's validation
passes add the loss and signal-to-noise ratio per noise level (the ``noise/`` panels).

Stopping: SIGINT (Ctrl-C) or SIGTERM, or a callback raising KeyboardInterrupt, lets the
current step finish, saves a checkpoint and returns with ``interrupted=True``. A second
Ctrl-C more than two seconds after the first aborts at once, without saving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import random
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from text2sign.checkpoints import (
    RUN_CONFIG,
    best_dir,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
    step_dir,
    weights_mismatch,
)
from text2sign.config import config_to_dict
from text2sign.errors import CheckpointError, ConfigError, TrainingError, first_line
from text2sign.families import Experiment, get_family
from text2sign.models.checkpointing import enable_gradient_checkpointing
from text2sign.training import distributed as dist_utils
from text2sign.training.checkpoint import capture_rng, load_trainer_state, prune_checkpoints, read_config, restore_rng
from text2sign.training.config import ExperimentConfig, check_group_overrides
from text2sign.training.ema import EMA
from text2sign.training.loader import BatchStream, epoch_loader, move_to
from text2sign.training.logs import RunLogger, noise_panels, peak_memory_mb
from text2sign.training.optim import build_optimizer, build_scheduler

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

DRY_RUN_TIMED_STEPS = 2


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
    best: Path | None = None  # the best checkpoint by validation, if the run validated
    best_score: float | None = None
    stopped_early: bool = False
    validations: list[dict] = field(default_factory=list)  # {"step": n, name: value, ...} per dev pass


@dataclass
class DryRunReport:
    """What ``text2sign train CONFIG --dry-run`` prints."""

    family: str
    device: str
    parameters: dict[str, int]  # per optimizer group, and "inference" for the saved network
    losses: dict[str, float]
    seconds_per_step: float
    estimated_seconds: float  # for train.steps
    peak_memory_mb: float


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: str | Path | None = None,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    dry_run: bool = False,
    quiet: bool = False,
) -> TrainResult | DryRunReport:
    """Train `config` into `run_dir`, or continue the checkpoint (or run directory) `resume`.

    With `dry_run`, build everything, run one forward/backward on one batch (and time a few more),
    write nothing, and return a :class:`DryRunReport`. `quiet`: no progress bar or log lines on
    the terminal (for callers that show their own); TensorBoard and checkpoints as usual."""
    info = dist_utils.setup(config.train.device)
    try:
        run = _Run(config, Path(run_dir), info)
        if dry_run:
            return run.dry_run()
        return run.fit(resume, list(callbacks), quiet)
    finally:
        dist_utils.teardown()


class _Run:
    """One training run. :meth:`fit` is the loop and reads top to bottom: start (fresh or
    restored), then per step: step, callbacks, log, samples, validate, save; the methods below it
    are those parts, in that order. :meth:`dry_run` is the one-batch check."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, info: dist_utils.DistInfo):
        self.info = info
        self.run_dir = run_dir
        self.device = info.device
        # Same seed on every rank while building, so every rank starts from the same weights.
        seed_everything(config.train.seed)
        self._build(config)
        self._build_optimizers()
        self.model: nn.Module = self.objective
        if info.distributed:
            # find_unused_parameters: a discriminator step leaves the generator unused, and vice versa.
            self.model = DistributedDataParallel(
                self.objective,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.step = 0
        self.micro_split = 1  # pieces each loaded batch is cut into after out-of-memory errors
        self.position = (0, 0)  # (epoch, batches consumed in it) after the last completed step
        self.best_score: float | None = None
        self.passes_without_gain = 0
        self.last_metrics: dict[str, float] = {}
        self.validations: list[dict] = []

    def _build(self, config: ExperimentConfig) -> None:
        """The family's experiment, its config as the build resolved it, and the objective on the device."""
        self.family = get_family(config.family)
        self.experiment: Experiment = self.family.build(config)
        self.config = config = self.experiment.config or config
        if "model" in config.init:
            init_weights(self.experiment.objective.inference_model(), config.init["model"])
        self.objective = self.experiment.objective.to(self.device)
        self.objective.train()
        if config.train.gradient_checkpointing:
            enable_gradient_checkpointing(self.objective, config.family)

    def _build_optimizers(self) -> None:
        """An optimizer and LR schedule per parameter group, mixed precision, and the EMA copy."""
        tc = self.config.train
        self.groups = {name: list(params) for name, params in self.objective.param_groups().items()}
        if len({id(p) for ps in self.groups.values() for p in ps}) != sum(len(ps) for ps in self.groups.values()):
            raise ValueError("a parameter is listed in more than one optimizer group by param_groups()")
        check_group_overrides(tc, list(self.groups))
        self.optimizers = {g: build_optimizer(params, tc, g) for g, params in self.groups.items()}
        self.schedulers = {g: build_scheduler(opt, tc) for g, opt in self.optimizers.items()}
        # The CPU autocasts only when asked: existing configs say bf16 for their GPU runs and
        # train in fp32 on the CPU, which is faster there than bf16 on most CPUs.
        cpu_amp = self.device.type == "cpu" and tc.cpu_autocast
        self.use_amp = tc.precision != "fp32" and (self.device.type == "cuda" or cpu_amp)
        amp_dtype = torch.bfloat16 if tc.precision == "bf16" else torch.float16
        self.autocast = torch.autocast(device_type=self.device.type, dtype=amp_dtype, enabled=self.use_amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and tc.precision == "fp16")
        self.ema = EMA(self.objective.inference_model(), tc.ema_decay) if tc.ema_decay > 0 else None

    # --- the loop ----------------------------------------------------------------------------

    def fit(
        self, resume: str | Path | None, callbacks: list[Callable[[StepInfo], None]], quiet: bool = False
    ) -> TrainResult:
        resumed = self._start(resume)
        stream = self._batch_stream()
        fresh_dir = not self.run_dir.exists()
        logger = self._open_logger(quiet)
        outcome = _Outcome(last_saved=self.step if resumed else None)
        try:
            self._loop(stream, logger, [*self.experiment.callbacks, *callbacks], outcome)
        except Exception:
            logger.close()
            self._remove_failed_run(fresh_dir)
            raise
        finally:
            logger.close()
        if not quiet:
            self._report(outcome)
        best = best_dir(self.run_dir) if (best_dir(self.run_dir) / "config.json").is_file() else None
        return TrainResult(
            self.run_dir,
            self.step,
            outcome.checkpoint,
            outcome.interrupted,
            best,
            self.best_score,
            outcome.stopped_early,
            self.validations,
        )

    def _loop(self, stream: BatchStream, logger: RunLogger, callbacks: list[Callable], outcome: _Outcome) -> None:
        tc = self.config.train
        clock = _Clock(self.step)
        with _StopOnSignal() as stop:
            while self.step < tc.steps:
                losses, grad_norms, lrs = self.train_step(stream)
                done = self.step == tc.steps
                if self._call_back(callbacks, losses, lrs, done):
                    stop.requested = True
                self._log(logger, clock, losses, grad_norms, lrs, done)
                self._sample_if_due(logger, done)
                give_up = self._validate_if_due(logger, done, outcome)
                self._save_if_due(done or give_up, outcome)
                if give_up:
                    outcome.stopped_early = True
                    break
                if dist_utils.any_rank(stop.requested, self.info):
                    outcome.interrupted = not done
                    break
            if outcome.interrupted and outcome.last_saved != self.step:
                outcome.checkpoint = self.save(step_dir(self.run_dir, self.step)) or outcome.checkpoint

    # --- start -------------------------------------------------------------------------------

    def _start(self, resume: str | Path | None) -> bool:
        """Restore `resume` (a checkpoint or run directory), or seed a fresh run, which must not
        write over another run's checkpoints. True when resumed."""
        resume = resolve_checkpoint(resume) if resume is not None else None
        if resume is None and list_checkpoints(self.run_dir):
            raise ConfigError(
                f"{self.run_dir} already holds checkpoints: continue with --resume {self.run_dir}, or pick "
                "another --out"
            )
        if resume is not None:
            self.restore(resume)
        else:
            seed_everything(self.config.train.seed + 1000 * (self.info.rank + 1))
        return resume is not None

    def restore(self, resume: Path) -> None:
        """Continue exactly where the checkpoint `resume` stopped (same weights, optimizers, data order, RNG)."""
        _check_resumable(self.config, resume, self.experiment.measured)
        state = load_trainer_state(resume)
        self._load_state_dicts(state, resume)
        self.step = state["step"]
        self.position = (state["epoch"], state["batch_in_epoch"])
        validation = state.get("validation") or {}
        self.best_score = validation.get("best_score")
        self.passes_without_gain = int(validation.get("passes_without_gain", 0))
        self.last_metrics = dict(validation.get("last_metrics", {}))
        tc = self.config.train
        if self.step >= tc.steps:
            raise ConfigError(
                f"{resume} is at step {self.step} and train.steps is {tc.steps}: raise it, e.g. --set "
                f"train.steps={2 * self.step}"
            )
        if state["world_size"] == self.info.world_size:
            restore_rng(state["rng"][self.info.rank])
        else:
            # Data shards and per-rank noise cannot match the original run; say so and go on.
            seed_everything(tc.seed + 1000 * (self.info.rank + 1) + self.step)
            if self.info.is_main:
                print(
                    f"note: resuming with {self.info.world_size} processes, saved with {state['world_size']}: "
                    "the data order differs from an uninterrupted run",
                    file=sys.stderr,
                )

    def _load_state_dicts(self, state: dict, resume: Path) -> None:
        try:
            self.objective.load_state_dict(state["objective"])
            for g in self.groups:
                self.optimizers[g].load_state_dict(state["optimizers"][g])
                self.schedulers[g].load_state_dict(state["schedulers"][g])
            if state["scaler"] and self.scaler.is_enabled():
                self.scaler.load_state_dict(state["scaler"])
            if self.ema is not None and state["ema"] is not None:
                self.ema.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            reason = first_line(exc)
            raise CheckpointError(
                f"cannot resume {resume}: its trainer state does not fit this experiment ({reason})"
            ) from None

    def _batch_stream(self) -> BatchStream:
        """The training batches from where the run stands, after the family's one-off preparation."""
        tc, info = self.config.train, self.info

        def make_loader(ep: int, skip: int):
            return epoch_loader(
                self.experiment.train_data,
                tc.batch_size,
                ep,
                tc.seed,
                info.rank,
                info.world_size,
                skip,
                self.experiment.collate_fn,
                tc.num_workers,
                pin_memory=self.device.type == "cuda",
            )

        if self.experiment.prepare is not None:
            self.experiment.prepare()
        return BatchStream(make_loader, *self.position)

    def _open_logger(self, quiet: bool) -> RunLogger:
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            _write_run_config(self.run_dir, self.config)
        logger = RunLogger(
            self.run_dir,
            self.config.train.steps,
            self.step,
            enabled=self.info.is_main,
            name=self.config.name or "train",
            show_progress=not quiet,
        )
        logger.describe(self.config, self._parameter_counts())
        return logger

    # --- step --------------------------------------------------------------------------------

    def train_step(self, stream: BatchStream) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """One iteration: every scheduled group steps once. Returns (losses, grad norms, learning rates)."""
        tc = self.config.train
        micro = [move_to(b, self.device) for b in stream.take(tc.grad_accum)]
        if self.micro_split > 1:
            micro = [piece for b in micro for piece in split_batch(b, self.micro_split)]
        losses, grad_norms = {}, {}
        for group in self.objective.schedule(self.step):
            while True:
                try:
                    values, grad_norms[group] = _step_group(
                        self.model,
                        self.objective,
                        group,
                        micro,
                        self.optimizers[group],
                        self.groups[group],
                        self.scaler,
                        self.autocast,
                        tc,
                    )
                    break
                except (RuntimeError, MemoryError) as exc:
                    if not is_out_of_memory(exc):
                        raise
                    micro = self._halve(micro, exc)
            losses.update(values)
        lrs = {g: s.get_last_lr()[0] for g, s in self.schedulers.items()}
        with warnings.catch_warnings():
            # A group the objective did not schedule this step still follows the clock.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            for s in self.schedulers.values():
                s.step()
        if self.ema is not None:
            self.ema.update(self.objective.inference_model())
        self.step += 1
        self.position = stream.position
        return losses, grad_norms, lrs

    def _halve(self, micro: list, exc: BaseException) -> list:
        """Out of memory: every micro-batch cut in two, or one clear error when that cannot help.
        A group that already stepped this iteration keeps its step; the failed one is retried whole."""
        self.objective.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        tc = self.config.train
        size = min(_batch_size(b) for b in micro)
        if not tc.adapt_batch_on_oom or self.info.distributed or size < 2:
            why = (
                "train.adapt_batch_on_oom is off"
                if not tc.adapt_batch_on_oom
                else "a DDP run cannot change its micro-batches on one rank"
                if self.info.distributed
                else "the micro-batch is already 1"
            )
            raise TrainingError(
                f"out of memory at step {self.step + 1} with micro-batches of {size} ({why}): lower "
                "train.batch_size, the model's size or frames, or set train.gradient_checkpointing: true"
            ) from None
        try:
            halves = [piece for b in micro for piece in split_batch(b, 2)]
        except TypeError as split_error:
            raise TrainingError(
                f"out of memory at step {self.step + 1}, and {split_error}: lower train.batch_size"
            ) from None
        self.micro_split *= 2
        per_step = tc.batch_size * tc.grad_accum
        print(
            f"note: out of memory at step {self.step + 1} ({first_line(exc)}); micro-batches of "
            f"{size} -> {min(_batch_size(b) for b in halves)}, {len(halves)} accumulated a step "
            f"(effective batch still {per_step})",
            file=sys.stderr,
        )
        return halves

    def _call_back(self, callbacks: list[Callable], losses: dict, lrs: dict, done: bool) -> bool:
        """Every callback after a step; True when one asks the run to stop (KeyboardInterrupt)."""
        info = StepInfo(
            self.step,
            self.position[0],
            losses,
            lrs,
            self.objective,
            self.info.rank,
            self.info.world_size,
            self.run_dir,
            done,
        )
        try:
            for callback in callbacks:
                callback(info)
        except KeyboardInterrupt:
            return True
        return False

    # --- log ---------------------------------------------------------------------------------

    def _log(self, logger: RunLogger, clock: _Clock, losses: dict, grad_norms: dict, lrs: dict, done: bool) -> None:
        """The progress line every step; every ``train.log_every`` steps the losses and gradient
        norms (means over ranks), learning rates and speed; weight histograms every ``train.histogram_every``."""
        tc, step = self.config.train, self.step
        logger.step(step, "  ".join(f"{k} {v:.4g}" for k, v in losses.items() if k.endswith("/loss")))
        if step % tc.log_every == 0 or done:
            steps_per_s = clock.lap(step)
            reduced = dist_utils.all_reduce_mean(
                {
                    **{f"train/{k}": v for k, v in losses.items()},
                    **{f"grad_norm/{g}": v for g, v in grad_norms.items()},
                },
                self.info,
            )
            reduced.update({f"lr/{g}": v for g, v in lrs.items()})
            reduced["perf/steps_per_s"] = steps_per_s
            reduced["perf/epoch"] = float(self.position[0])
            reduced.update(peak_memory_mb(self.device))
            logger.scalars(step, reduced, tc.steps)
        if tc.histogram_every and step % tc.histogram_every == 0:
            logger.histograms(step, self.inference_network)

    def _sample_if_due(self, logger: RunLogger, done: bool) -> None:
        tc = self.config.train
        due = (tc.sample_every and self.step % tc.sample_every == 0) or done
        if self.experiment.sample is not None and self.info.is_main and due:
            _sample(self.experiment, self.inference_network, self.device, logger, self.step)

    # --- validate ----------------------------------------------------------------------------

    @property
    def can_validate(self) -> bool:
        return self.experiment.validate is not None or self.experiment.dev_data is not None

    def _validate_if_due(self, logger: RunLogger, done: bool, outcome: _Outcome) -> bool:
        """Validate every ``train.validate_every`` steps and at the end; True when the run gives up
        (``train.patience`` passes without improvement, on any rank)."""
        tc = self.config.train
        if not (self.can_validate and ((tc.validate_every and self.step % tc.validate_every == 0) or done)):
            return False
        best_now, give_up = self._validation_pass(logger)
        outcome.best = best_now or outcome.best
        return dist_utils.any_rank(give_up, self.info)

    def _validation_pass(self, logger: RunLogger) -> tuple[Path | None, bool]:
        """Validate on rank 0, keep ``best/`` if it improved; returns (best path if saved, give up?)."""
        saved = None
        give_up = False
        if self.info.is_main:
            logger.phase(self.step, "validating on the dev split")
            values = self.validate()
            self.last_metrics = values
            self.validations.append({"step": self.step, **values})
            logger.scalars(self.step, values, self.config.train.steps)
            logger.noise(self.step, self.noise_panels())
            score = values[self.experiment.metric]
            if self.improved(score):
                self.best_score = score
                self.passes_without_gain = 0
                saved = self.save(best_dir(self.run_dir), with_trainer_state=False)
            else:
                self.passes_without_gain += 1
                patience = self.config.train.patience
                give_up = bool(patience) and self.passes_without_gain >= patience
        dist_utils.barrier(self.info)
        return saved, give_up

    def validate(self) -> dict[str, float]:
        """Score the EMA network on the dev data (rank 0), without disturbing the training RNG streams."""
        rng = capture_rng()
        try:
            with torch.no_grad(), _evaluating(self.objective, self.ema):
                if self.experiment.validate is not None:
                    net = self.ema.model if self.ema is not None else self.objective.inference_model()
                    values = dict(self.experiment.validate(net, self.device))
                else:
                    values = self._dev_losses()
        finally:
            restore_rng(rng)
        metric = self.experiment.metric
        if metric not in values:
            raise KeyError(f"validation gave {', '.join(sorted(values))} but the family's metric is {metric!r}")
        return {k: float(v) for k, v in values.items()}

    def noise_panels(self) -> dict:
        """The noise panels (logs.noise_panels) of the EMA network on the first dev batch (else the
        first training batch), for diffusion objectives; empty for others."""
        if getattr(self.objective, "noise_schedule", None) is None:
            return {}
        from torch.utils.data import DataLoader

        data = self.experiment.dev_data if self.experiment.dev_data is not None else self.experiment.train_data
        loader = DataLoader(data, batch_size=self.config.train.batch_size, collate_fn=self.experiment.collate_fn)
        batch = move_to(next(iter(loader)), self.device)
        rng = capture_rng()
        try:
            with torch.no_grad(), _evaluating(self.objective, self.ema), self.autocast:
                return noise_panels(self.objective, batch)
        finally:
            restore_rng(rng)

    def _dev_losses(self) -> dict[str, float]:
        from torch.utils.data import DataLoader

        tc = self.config.train
        loader = DataLoader(self.experiment.dev_data, batch_size=tc.batch_size, collate_fn=self.experiment.collate_fn)
        sums: dict[str, float] = {}
        count = 0
        for batch in loader:
            with self.autocast:
                out = self.objective.dev_losses(move_to(batch, self.device))
            size = _batch_size(batch)
            for key, value in out.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach().float()) * size
            count += size
        if count == 0:
            raise ConfigError("the dev data is empty: nothing to validate on")
        return {f"dev/{k}": v / count for k, v in sums.items()}

    def improved(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score < self.best_score if self.experiment.metric_mode == "min" else score > self.best_score

    # --- save --------------------------------------------------------------------------------

    def _save_if_due(self, forced: bool, outcome: _Outcome) -> None:
        """A step checkpoint every ``train.checkpoint_every`` steps, and whenever `forced` (the
        last step, or giving up)."""
        every = self.config.train.checkpoint_every
        if (every and self.step % every == 0) or forced:
            outcome.checkpoint = self.save(step_dir(self.run_dir, self.step)) or outcome.checkpoint
            outcome.last_saved = self.step

    def save(self, path: Path, with_trainer_state: bool = True) -> Path | None:
        """Write a checkpoint of the EMA network (rank 0). A step checkpoint (with trainer state) is
        written by every rank together (RNG gather, barrier); ``best/`` by rank 0 alone."""
        rngs = dist_utils.gather_objects(capture_rng(), self.info) if with_trainer_state else None
        written = None
        if self.info.is_main:
            written = save_checkpoint(
                path,
                self.config.family,
                self.inference_network,
                self.config.model,
                inference=self.config.inference,
                feature_stats=self.experiment.feature_stats,
                trainer_state=self._trainer_state(rngs) if with_trainer_state else None,
                experiment=config_to_dict(self.config),
                metadata=self.experiment.metadata,
                metrics=self.last_metrics,
                step=self.step,
            )
            if with_trainer_state:
                prune_checkpoints(self.run_dir, self.config.train.keep_last_k)
        if with_trainer_state:
            dist_utils.barrier(self.info)
        return written

    def _trainer_state(self, rngs: list) -> dict:
        """Everything :meth:`restore` needs to continue as if the run had not stopped."""
        return {
            "step": self.step,
            "epoch": self.position[0],
            "batch_in_epoch": self.position[1],
            "world_size": self.info.world_size,
            "objective": self.objective.state_dict(),
            "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
            "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "validation": {
                "best_score": self.best_score,
                "passes_without_gain": self.passes_without_gain,
                "last_metrics": self.last_metrics,
            },
            "rng": rngs,
        }

    @property
    def inference_network(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.objective.inference_model()

    # --- finish ------------------------------------------------------------------------------

    def _remove_failed_run(self, fresh_dir: bool) -> None:
        """A run that fails before its first checkpoint leaves no directory that looks like a run."""
        run_dir = self.run_dir
        if (
            self.info.is_main
            and fresh_dir
            and not list_checkpoints(run_dir)
            and not (best_dir(run_dir) / "config.json").exists()
        ):
            shutil.rmtree(run_dir, ignore_errors=True)

    def _report(self, outcome: _Outcome) -> None:
        if not self.info.is_main or outcome.checkpoint is None:
            return
        verb = (
            "interrupted; saved"
            if outcome.interrupted
            else "stopped early (no dev improvement); saved"
            if outcome.stopped_early
            else "saved"
        )
        print(f"{verb} {outcome.checkpoint} (step {self.step})", file=sys.stderr)
        if outcome.best is not None:
            print(f"best {self.experiment.metric} {self.best_score:.4g}: {outcome.best}", file=sys.stderr)

    def _parameter_counts(self) -> dict[str, int]:
        counts = {g: sum(p.numel() for p in params) for g, params in self.groups.items()}
        counts["inference"] = sum(p.numel() for p in self.objective.inference_model().parameters())
        return counts

    # --- dry run -----------------------------------------------------------------------------

    def dry_run(self) -> DryRunReport:
        """One forward/backward on one batch, then a few timed steps; nothing is written."""
        tc = self.config.train
        seed_everything(tc.seed)
        loader = epoch_loader(
            self.experiment.train_data,
            tc.batch_size,
            0,
            tc.seed,
            self.info.rank,
            self.info.world_size,
            0,
            self.experiment.collate_fn,
            tc.num_workers,
        )
        stream = BatchStream(lambda ep, skip: loader, 0, 0)
        losses, _, _ = self.train_step(stream)
        timings = []
        for _ in range(DRY_RUN_TIMED_STEPS):
            start = time.perf_counter()
            self.train_step(stream)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - start)
        per_step = float(np.median(timings))
        memory = peak_memory_mb(self.device)
        return DryRunReport(
            family=self.config.family,
            device=str(self.device),
            parameters=self._parameter_counts(),
            losses=losses,
            seconds_per_step=per_step,
            estimated_seconds=per_step * tc.steps,
            peak_memory_mb=max(memory.values()),
        )


@dataclass
class _Outcome:
    """Where a run stands as the loop goes: the last checkpoint written and why it stopped."""

    checkpoint: Path | None = None  # the last step checkpoint written
    best: Path | None = None  # best/ when a validation pass improved on the best score
    last_saved: int | None = None  # the step of `checkpoint` (or of the resumed one)
    interrupted: bool = False
    stopped_early: bool = False


class _Clock:
    """Training speed between two logged steps."""

    def __init__(self, step: int):
        self.at, self.step = time.perf_counter(), step

    def lap(self, step: int) -> float:
        """Steps per second since the last lap (or the start), then start a new lap."""
        now = time.perf_counter()
        speed = (step - self.step) / max(now - self.at, 1e-9)
        self.at, self.step = now, step
        return speed


def init_weights(net: nn.Module, path: str | Path) -> None:
    """Start `net` from the inference weights of checkpoint `path` (names and shapes must match)."""
    source = load_checkpoint(path)
    problem = weights_mismatch(net, source.model.state_dict())
    if problem:
        raise CheckpointError(f"init.model {path} does not fit this model: {problem}")
    net.load_state_dict(source.model.state_dict())


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
        raise TrainingError(f"the {group} loss is {losses[f'{group}/loss']}; lower train.lr or set train.grad_clip")
    return losses, float(norm)


@contextlib.contextmanager
def _evaluating(objective: nn.Module, ema: EMA | None):
    """The objective in eval mode with the EMA weights in its inference network, restored after."""
    net = objective.inference_model()
    saved = {k: v.detach().clone() for k, v in net.state_dict().items()} if ema is not None else None
    was_training = objective.training
    objective.eval()
    try:
        if ema is not None:
            net.load_state_dict(ema.model.state_dict())
        yield
    finally:
        if saved is not None:
            net.load_state_dict(saved)
        objective.train(was_training)


def _batch_size(batch) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        tensors = [v for v in vars(batch).values() if isinstance(v, torch.Tensor) and v.dim()]
        if tensors:
            return tensors[0].shape[0]
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return len(batch) if hasattr(batch, "__len__") else 1


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's and MPS's out-of-memory errors, and the CPU allocator's failure (a plain RuntimeError)."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def split_batch(batch, parts: int) -> list:
    """`batch` cut into `parts` consecutive pieces along its first dimension: tensors whose first
    dimension is the batch size and lists of one entry per item are cut, everything else (padding
    lengths, flags) is shared. Dataclasses, dicts, named tuples and tuples keep their structure.
    Raises TypeError when the batch's size cannot be told or is below `parts`."""
    n = _batch_size(batch)
    if not isinstance(n, int) or n < parts:
        raise TypeError(f"a batch of {n} items cannot be cut into {parts}")
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    pieces = [_slice(batch, a, b, n) for a, b in itertools.pairwise(bounds)]
    if any(_batch_size(piece) != b - a for piece, (a, b) in zip(pieces, itertools.pairwise(bounds), strict=True)):
        raise TypeError(f"a batch of type {type(batch).__name__} cannot be cut into {parts}")
    return pieces


def _slice(value, a: int, b: int, n: int):
    if isinstance(value, torch.Tensor):
        return value[a:b] if value.dim() and value.shape[0] == n else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: _slice(getattr(value, f.name), a, b, n) for f in dataclasses.fields(value) if f.init}
        )
    if isinstance(value, dict):
        return {k: _slice(v, a, b, n) for k, v in value.items()}
    if (
        isinstance(value, list)
        and len(value) == n
        and not any(isinstance(v, (torch.Tensor, list, tuple, dict)) for v in value)
    ):
        return value[a:b]  # one entry per item (texts, ids)
    if isinstance(value, (tuple, list)):
        parts = [_slice(v, a, b, n) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return value


def _sample_outputs(experiment, net, device) -> dict:
    """The family's samples from `net` in eval mode, without disturbing the training RNG streams."""
    was_training = net.training
    rng = capture_rng()
    net.eval()
    try:
        with torch.no_grad():
            return experiment.sample(net, device)
    finally:
        net.train(was_training)
        restore_rng(rng)


def _sample(experiment, net, device, logger, step) -> None:
    """Render samples from the EMA network."""
    logger.phase(step, "drawing samples")
    logger.samples(step, _sample_outputs(experiment, net, device))


def _check_resumable(config: ExperimentConfig, checkpoint: Path, measured: tuple[str, ...] = ()) -> None:
    """The weights in `checkpoint` must fit `config`: same family and model section, except at the
    `measured` paths (values the experiment's ``prepare`` measures from the data, not yet run)."""
    saved = read_config(checkpoint)
    for key in ("family", "model"):
        diff = _first_difference(
            config_to_dict(getattr(saved, key)), config_to_dict(getattr(config, key)), key, frozenset(measured)
        )
        if diff:
            raise CheckpointError(f"cannot resume {checkpoint}: the config differs from the checkpoint's at {diff}")


def _first_difference(saved, new, path: str, skipped: frozenset[str] = frozenset()) -> str | None:
    if path in skipped:
        return None
    if isinstance(saved, dict) and isinstance(new, dict):
        for key in [*saved, *(k for k in new if k not in saved)]:
            diff = _first_difference(saved.get(key), new.get(key), f"{path}.{key}", skipped)
            if diff:
                return diff
        return None
    return None if saved == new else f"'{path}' ({saved!r} in the checkpoint, {new!r} now)"


def _write_run_config(run_dir: Path, config: ExperimentConfig) -> None:
    import yaml

    from text2sign.fileio import write_text_atomic

    write_text_atomic(run_dir / RUN_CONFIG, yaml.safe_dump(config_to_dict(config), sort_keys=False))


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

    def __enter__(self) -> Self:
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
