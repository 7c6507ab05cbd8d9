"""What a config costs at its own size: ``text2sign train CONFIG --profile N``.

Builds the experiment as training would, runs N training steps on real batches and draws one
round of the family's samples, and reports parameters, seconds a step, training samples a second,
peak memory (this process's resident set on the CPU, ``torch.cuda.max_memory_allocated`` on CUDA)
and the FLOPs of one step, counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix
products and convolutions, forward and backward). Nothing is written.

The first step also counts FLOPs and warms allocators up, so it is timed apart; seconds a step is
the median of the others (with ``N = 1``, the first step's time, counting overhead included).

From the FLOPs, :func:`gpu_hours` extrapolates the config's whole ``train.steps`` to a GPU: FLOPs a
step x steps / (the GPU's dense bf16 peak x an assumed utilization). It is an estimate, and a
lower bound for small models, which keep a GPU far below that utilization.

``--count-only`` (:func:`count_step`) runs one step of a video-diffusion denoiser at full size on the
meta device instead: FLOPs, activations and a memory lower bound of steps far too large for the CPU.

The toggles are ``--set`` shortcuts (:func:`profile_overrides`): gradient checkpointing, frame
chunking (``model.frame_chunk``) and precision; ``--precision bf16`` also turns on
``train.cpu_autocast``, so the CPU runs the mixed-precision path a GPU would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from text2sign.training import distributed as dist_utils
from text2sign.training.config import ExperimentConfig
from text2sign.training.loader import BatchStream, epoch_loader
from text2sign.training.logs import peak_memory_mb

# The extrapolation's GPU: an H100 SXM's dense bf16 tensor-core peak (NVIDIA's data sheet, without
# sparsity) and a utilization a well-fed transformer or UNet reaches with AMP.
GPU_NAME = "H100"
GPU_PEAK_FLOPS = 989e12
GPU_UTILIZATION = 0.4
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class ProfileReport:
    """What ``--profile`` prints (``--json`` prints these fields)."""

    config: str
    family: str
    device: str
    precision: str  # what the steps ran in: "fp32", or "bf16 autocast" / "fp16 autocast"
    gradient_checkpointing: bool
    frame_chunk: int | None  # model.frame_chunk where the model has one (0: all frames at once)
    parameters: dict[str, int]  # per optimizer group, and "inference" for the saved network
    batch_size: int  # items a step (train.batch_size x train.grad_accum)
    micro_batch: int  # items a forward pass, smaller than configured after an out-of-memory fallback
    steps: int  # training steps run
    first_step_seconds: float
    seconds_per_step: float
    samples_per_second: float  # training items a second
    flops_per_step: float  # forward and backward of one step
    activations_mb: float  # tensors autograd kept for backward in one micro-batch (weights not counted)
    peak_memory_mb: float  # training steps
    memory: str  # what peak_memory_mb measures: "rss" (CPU) or "cuda" (allocated)
    sample_seconds: float | None  # one round of the family's samples (None: the family has none)
    samples_drawn: int
    peak_memory_with_sampling_mb: float
    schedule_steps: int  # train.steps
    load_average: float  # the machine's 1-minute load when the steps ended: other work slows them

    @property
    def cpu_hours(self) -> float:
        """The whole schedule at this speed."""
        return self.seconds_per_step * self.schedule_steps / 3600

    @property
    def achieved_flops(self) -> float:
        return self.flops_per_step / self.seconds_per_step if self.seconds_per_step else 0.0


def gpu_hours(report: ProfileReport, peak: float = GPU_PEAK_FLOPS, utilization: float = GPU_UTILIZATION) -> float:
    """The schedule's FLOPs at `utilization` of a GPU's `peak`: an estimate, not a measurement."""
    return report.flops_per_step * report.schedule_steps / (peak * utilization) / 3600


def profile_overrides(
    checkpointing: bool | None = None, frame_chunk: int | None = None, precision: str | None = None
) -> list[str]:
    """``--set`` overrides for the profile's toggles (None leaves the config's value)."""
    overrides = []
    if checkpointing is not None:
        overrides.append(f"train.gradient_checkpointing={str(checkpointing).lower()}")
    if frame_chunk is not None:
        overrides.append(f"model.frame_chunk={frame_chunk}")
    if precision is not None:
        if precision not in PRECISIONS:
            from text2sign.errors import ConfigError

            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        # bf16 is the one type the CPU autocasts to; asking for it means the CPU too.
        overrides += [f"train.precision={precision}", f"train.cpu_autocast={str(precision == 'bf16').lower()}"]
    return overrides


def profile(config: ExperimentConfig, steps: int, source: str | Path = "") -> ProfileReport:
    """Build `config`, run `steps` training steps and one round of samples; see the module docstring."""
    from text2sign.training.loop import _Run, _sample_outputs, seed_everything

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    info = dist_utils.setup(config.train.device)
    try:
        run = _Run(config, Path("."), info)
        device = run.device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        tc = run.config.train
        seed_everything(tc.seed)
        loader = epoch_loader(
            run.experiment.train_data,
            tc.batch_size,
            0,
            tc.seed,
            info.rank,
            info.world_size,
            0,
            run.experiment.collate_fn,
            tc.num_workers,
        )

        def make_loader(epoch: int, skip: int):
            return (
                loader
                if epoch == 0 and skip == 0
                else epoch_loader(
                    run.experiment.train_data,
                    tc.batch_size,
                    epoch,
                    tc.seed,
                    info.rank,
                    info.world_size,
                    skip,
                    run.experiment.collate_fn,
                    tc.num_workers,
                )
            )

        stream = BatchStream(make_loader, 0, 0)
        timings = []
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        saved = _SavedTensors(run.objective)
        for i in range(steps):
            _sync(device)
            start = time.perf_counter()
            with counter if i == 0 else contextlib.nullcontext(), saved if i == 0 else contextlib.nullcontext():
                run.train_step(stream)
            _sync(device)
            timings.append(time.perf_counter() - start)
        training_peak = _peak(device)
        sample_seconds, drawn = None, 0
        if run.experiment.sample is not None:
            start = time.perf_counter()
            outputs = _sample_outputs(run.experiment, run.inference_network, device)
            _sync(device)
            sample_seconds = time.perf_counter() - start
            drawn = sum(1 for v in outputs.values() if not isinstance(v, (int, float)))
        per_step = statistics.median(timings[1:]) if len(timings) > 1 else timings[0]
        items = tc.batch_size * tc.grad_accum
        chunk = getattr(run.config.model, "frame_chunk", None)
        return ProfileReport(
            config=str(source),
            family=run.config.family,
            device=_device_name(device),
            precision=f"{tc.precision} autocast" if run.use_amp else "fp32",
            gradient_checkpointing=tc.gradient_checkpointing,
            frame_chunk=chunk,
            parameters=run._parameter_counts(),
            batch_size=items,
            micro_batch=tc.batch_size // run.micro_split,
            steps=steps,
            first_step_seconds=timings[0],
            seconds_per_step=per_step,
            samples_per_second=items / per_step,
            flops_per_step=float(counter.get_total_flops()),
            activations_mb=saved.peak / 2**20,
            peak_memory_mb=training_peak,
            memory="cuda" if device.type == "cuda" else "rss",
            sample_seconds=sample_seconds,
            samples_drawn=drawn,
            peak_memory_with_sampling_mb=_peak(device),
            schedule_steps=tc.steps,
            load_average=os.getloadavg()[0],
        )
    finally:
        dist_utils.teardown()


# Bytes a trained parameter holds in fp32 training: the weight, its gradient, Adam's two moments, the EMA copy.
BYTES_PER_PARAMETER = 20
TOKENS_COUNTED = 16  # text tokens of the stand-in context of count_step (a word or a short sentence)


def count_step(config: ExperimentConfig) -> dict:
    """One training step of a video-diffusion config's denoiser at its full size, on the meta device:
    shapes only, no data and no arithmetic, so a design too big to run here is measured in seconds.
    Returns the parameters, the FLOPs of forward and backward, the activations kept for backward,
    and a memory estimate (weights, gradients, Adam and EMA at 20 bytes a parameter, plus those
    activations; transient buffers are not in it, so it is a lower bound). The text encoder is left
    out (a context of TOKENS_COUNTED random states stands in): it is small beside the denoiser."""
    from torch.utils.flop_counter import FlopCounterMode

    from text2sign.errors import ConfigError
    from text2sign.families import get_family
    from text2sign.models.checkpointing import enable_gradient_checkpointing

    experiment = get_family(config.family).build(config)
    net = experiment.objective.inference_model()
    if not (hasattr(net, "latent_shape") and hasattr(net, "null_text")):
        raise ConfigError(f"--count-only is for video-diffusion configs, not {config.family}")
    config = experiment.config or config
    trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(p.numel() for p in net.parameters())
    net = net.to("meta").train()
    if config.train.gradient_checkpointing:
        enable_gradient_checkpointing(net, config.family)
    batch = config.train.batch_size
    shape = net.latent_shape(config.model.frames)
    x = torch.zeros(batch, *shape, device="meta")
    t = torch.zeros(batch, dtype=torch.long, device="meta")
    context = torch.zeros(batch, TOKENS_COUNTED, net.null_text.shape[-1], device="meta")
    mask = torch.ones(batch, TOKENS_COUNTED, dtype=torch.bool, device="meta")
    counter = FlopCounterMode(display=False)
    saved = _SavedTensors(net)
    with counter, saved:
        loss = net(x, t, context, mask).float().pow(2).mean()
        loss.backward()
    activations = saved.peak
    memory = trained * BYTES_PER_PARAMETER + (total - trained) * 4 + activations
    return {
        "config": config.name,
        "batch_size": batch,
        "frames": config.model.frames,
        "size": config.model.size,
        "parameters": total,
        "gradient_checkpointing": config.train.gradient_checkpointing,
        "flops_per_step": float(counter.get_total_flops()) * config.train.grad_accum,
        "activations_mb": activations / 2**20,
        "memory_estimate_mb": memory / 2**20,
        "schedule_steps": config.train.steps,
        "gpu_hours_estimate": float(counter.get_total_flops())
        * config.train.grad_accum
        * config.train.steps
        / (GPU_PEAK_FLOPS * GPU_UTILIZATION)
        / 3600,
    }


def count_lines(counted: dict) -> list[str]:
    fits = "fits" if counted["memory_estimate_mb"] <= 24 * 1024 else "does not fit"
    return [
        (
            f"{counted['config']}: {counted['parameters']:,} parameters; batch {counted['batch_size']} of "
            f"{counted['frames']} frames at {counted['size']} px, gradient checkpointing "
            f"{'on' if counted['gradient_checkpointing'] else 'off'} (counted on the meta device, without the text "
            "encoder)"
        ),
        (
            f"{counted['flops_per_step'] / 1e9:,.1f} GFLOP a step; {counted['activations_mb']:,.0f} MB of activations "
            f"kept for backward; at least {counted['memory_estimate_mb']:,.0f} MB a step with fp32 weights, gradients, "
            f"Adam and EMA ({fits} in 24 GiB)"
        ),
        (
            f"train.steps {counted['schedule_steps']:,}: estimated {_duration(counted['gpu_hours_estimate'])} on an "
            f"{GPU_NAME} (FLOPs / {GPU_UTILIZATION:.0%} of {GPU_PEAK_FLOPS / 1e12:.0f} TFLOP/s)"
        ),
    ]


def report_lines(report: ProfileReport) -> list[str]:
    """The report as the CLI prints it."""
    groups = ", ".join(f"{g} {n:,}" for g, n in report.parameters.items())
    toggles = [report.precision, f"gradient checkpointing {'on' if report.gradient_checkpointing else 'off'}"]
    if report.frame_chunk is not None:
        toggles.append(f"frame chunk {report.frame_chunk or 'off'}")
    micro = f" (micro-batches of {report.micro_batch})" if report.micro_batch != report.batch_size else ""
    lines = [
        f"{report.family} on {report.device}: parameters {groups}",
        f"{', '.join(toggles)}; batch {report.batch_size}{micro}",
        (
            f"{report.steps} steps: {report.seconds_per_step:.3g} s a step (first {report.first_step_seconds:.3g} s), "
            f"{report.samples_per_second:.3g} samples/s, {report.flops_per_step / 1e9:,.1f} GFLOP a step "
            f"({report.achieved_flops / 1e9:.1f} GFLOP/s achieved)"
        ),
        (
            f"peak memory ({report.memory}): {report.peak_memory_mb:,.0f} MB training, "
            f"{report.peak_memory_with_sampling_mb:,.0f} MB with sampling; "
            f"{report.activations_mb:,.0f} MB of activations kept for backward"
        ),
    ]
    if report.sample_seconds is not None:
        lines.append(f"one round of samples: {report.samples_drawn} in {report.sample_seconds:.3g} s")
    lines.append(
        f"train.steps {report.schedule_steps:,}: {_duration(report.cpu_hours)} at this speed (load average "
        f"{report.load_average:.1f}); estimated {_duration(gpu_hours(report))} on an {GPU_NAME} (FLOPs / "
        f"{GPU_UTILIZATION:.0%} of {GPU_PEAK_FLOPS / 1e12:.0f} TFLOP/s; a lower bound for small models)"
    )
    return lines


def report_dict(report: ProfileReport) -> dict:
    out = dataclasses.asdict(report)
    out["cpu_hours"] = report.cpu_hours
    out["gpu_hours_estimate"] = gpu_hours(report)
    out["gpu_estimate_basis"] = f"{GPU_NAME}: {GPU_PEAK_FLOPS:.3g} FLOP/s x {GPU_UTILIZATION}"
    return out


class _SavedTensors:
    """The bytes autograd keeps for backward, as a ``saved_tensors_hooks`` pair sees them: each
    storage once, the objective's parameters not counted; ``peak`` is the most held at once (the
    count restarts when a backward frees them). Under gradient checkpointing the blocks' inner
    tensors are the checkpoint's own business and are not seen: what it saves is what is counted."""

    def __init__(self, objective: torch.nn.Module):
        self.weights = {p.untyped_storage()._cdata for p in objective.parameters()}
        self.held: dict[int, int] = {}
        self.peak = 0
        self._hooks = None

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        key = storage._cdata  # the storage itself: meta tensors' storages all have data pointer 0
        if key not in self.weights and key not in self.held:
            self.held[key] = storage.nbytes()
            self.peak = max(self.peak, sum(self.held.values()))
        return tensor

    def unpack(self, tensor: torch.Tensor) -> torch.Tensor:
        # Unpacked in backward: from the first one on, the forward's tensors are being freed.
        self.held.clear()
        return tensor

    def __enter__(self):
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, self.unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        return self._hooks.__exit__(*exc)


def _duration(hours: float) -> str:
    return f"{hours * 3600:.3g} s" if hours < 0.1 else f"{hours:,.3g} h"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak(device: torch.device) -> float:
    memory = peak_memory_mb(device)
    return memory.get("perf/peak_cuda_mb", memory["perf/peak_rss_mb"])


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return str(device)
