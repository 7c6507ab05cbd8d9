"""What a run shows: TensorBoard scalars, sample images and videos, sample GIFs, a progress bar with ETA,
and for diffusion objectives the loss and signal-to-noise ratio per noise level (:func:`noise_panels`).

Only rank 0 logs; the other ranks get a logger whose methods do nothing.
Run directory layout::

    <run>/tensorboard/              event files (``tensorboard --logdir <run>``)
    <run>/samples/step-000500/*.gif rendered samples
    <run>/checkpoints/step-000500/  checkpoints (see checkpoint.py)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import TextColumn

from text2sign.checkpoints import RUN_LOGS
from text2sign.progress import progress_bar

SAMPLE_SIZE = 256
STRIP_FRAMES = 4  # frames of each sample shown side by side in TensorBoard
NOISE_LEVELS = 5  # timesteps the noise panels score, spread evenly over the schedule
NOISE_SEED = 0
HISTOGRAM_VALUES = 100_000  # values a noise histogram keeps of a design-sized video batch


class RunLogger:
    def __init__(
        self,
        run_dir: Path,
        total_steps: int,
        start_step: int,
        enabled: bool,
        name: str = "train",
        show_progress: bool = True,
    ):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.writer = None
        self.progress = None
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a crashed run wrote after the checkpoint we resume from.
        self.writer = SummaryWriter(str(self.run_dir / RUN_LOGS), purge_step=start_step or None)
        self.show_progress = show_progress
        self.progress = progress_bar(
            self.console,
            TextColumn("{task.fields[info]}"),
            transient=False,
            disable=not (show_progress and self.console.is_terminal),
        )
        self.task = self.progress.add_task(name, total=total_steps, completed=start_step, info="")
        self.progress.start()

    def step(self, step: int, info: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, info=info)

    def phase(self, step: int, text: str) -> None:
        """Say what a long pause between steps is (a dev pass), so the bar does not sit at "eta 0:00"."""
        if self.progress is not None:
            self.progress.update(self.task, info=text)
        if self.enabled and self.show_progress and not self.console.is_terminal:
            self.console.print(f"step {step}: {text}", highlight=False, markup=False)

    def scalars(self, step: int, values: Mapping[str, float], total_steps: int) -> None:
        if not self.enabled:
            return
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()
        if self.show_progress and not self.console.is_terminal:
            # Logs redirected to a file get a plain line instead of the live bar.
            shown = " ".join(f"{k}={v:.4g}" for k, v in values.items() if k.startswith("train/"))
            self.console.print(f"step {step}/{total_steps} {shown}", highlight=False, markup=False, soft_wrap=True)

    def samples(self, step: int, samples: Mapping[str, Any]) -> list[Path]:
        """Write each sample as a GIF (poses and videos) or a scalar; returns the GIF paths."""
        if not self.enabled:
            return []
        from PIL import Image

        from text2sign.pose.sequence import PoseSequence
        from text2sign.rendering import write_gif
        from text2sign.video import VideoClip, save_video

        out = self.run_dir / "samples" / f"step-{step:06d}"
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, value in samples.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"sample/{name}", float(value), step)
                continue
            path = out / f"{_safe_name(name)}.gif"
            if isinstance(value, PoseSequence):
                write_gif(value, path, width=SAMPLE_SIZE, height=SAMPLE_SIZE)
            elif isinstance(value, VideoClip):
                save_video(value, path)
            else:
                raise TypeError(
                    f"sample {name!r} must be a PoseSequence, a VideoClip or a number, got {type(value).__name__}"
                )
            with Image.open(path) as gif:
                frames = []
                for i in range(gif.n_frames):
                    gif.seek(i)
                    frames.append(np.asarray(gif.convert("RGB")))
            self.writer.add_image(f"samples/{name}", _strip(frames), step, dataformats="HWC")
            if isinstance(value, VideoClip):
                self.add_video(f"videos/{name}", path, step)
            written.append(path)
        self.writer.flush()
        return written

    def add_video(self, tag: str, gif: Path, step: int) -> None:
        """A GIF as a TensorBoard video (it plays in the Images tab). This is the record
        ``SummaryWriter.add_video`` writes, made from the GIF we already encoded: ``add_video`` itself
        needs moviepy's old ``moviepy.editor`` and logs an empty image without it."""
        if not self.enabled:
            return
        from PIL import Image
        from torch.utils.tensorboard.summary import Summary

        data = Path(gif).read_bytes()
        with Image.open(gif) as image:
            width, height = image.size
        video = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=data)
        self.writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=video)]), step)

    def noise(self, step: int, panels: Mapping[str, Any]) -> None:
        """The noise panels of :func:`noise_panels`: scalars, and arrays as histograms."""
        if not self.enabled:
            return
        for tag, value in panels.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(tag, value, step)
            else:
                self.writer.add_histogram(tag, value, step)
        self.writer.flush()

    def describe(self, config: Any, parameters: Mapping[str, int]) -> None:
        """The resolved config and the parameter counts, as TensorBoard text (and counts as scalars)."""
        if not self.enabled:
            return
        import yaml

        from text2sign.config import config_to_dict

        text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
        # TensorBoard renders text as Markdown: indenting by four spaces keeps the YAML verbatim.
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), 0)
        rows = "\n".join(f"| {name} | {count:,} |" for name, count in parameters.items())
        self.writer.add_text("parameters", "| group | parameters |\n| --- | --- |\n" + rows, 0)
        for name, count in parameters.items():
            self.writer.add_scalar(f"parameters/{name}", count, 0)
        self.writer.flush()

    def histograms(self, step: int, net: Any) -> None:
        """Weight histograms of the network that gets saved."""
        if not self.enabled:
            return
        for name, param in net.named_parameters():
            self.writer.add_histogram(f"weights/{name}", param.detach().float().cpu(), step)
        self.writer.flush()

    def close(self) -> None:
        """Stop the bar and flush TensorBoard; safe to call more than once."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def peak_memory_mb(device: Any) -> dict[str, float]:
    """Peak memory so far: this process's resident set, and the accelerator's allocations on CUDA."""
    import torch

    from text2sign.resources import peak_rss_mb

    out = {"perf/peak_rss_mb": peak_rss_mb()}
    if getattr(device, "type", str(device)) == "cuda":
        out["perf/peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def noise_panels(objective: Any, batch: Any, levels: int = NOISE_LEVELS, seed: int = NOISE_SEED) -> dict[str, Any]:
    """What the DiT design's "Diffusion" and "Noise analysis" panels show, for an objective with a
    ``noise_schedule`` (:class:`~text2sign.schedulers.ddpm.DiffusionSchedule`), ``clean(batch)``
    (what it diffuses) and ``prediction_at(batch, x0, t, noise)`` (the network's output and the
    schedule's target there, as its loss sees them): at `levels` timesteps spread over the schedule, the
    loss against the schedule's target, the signal-to-noise ratio in dB, and the spread of the
    prediction and of the target (their histograms too). Fixed noise (`seed`) and one batch, so the
    curves compare between passes. Empty for other objectives. Call under ``torch.no_grad``."""
    import torch
    import torch.nn.functional as F

    schedule = getattr(objective, "noise_schedule", None)
    if schedule is None or not hasattr(objective, "prediction_at"):
        return {}
    x0 = objective.clean(batch)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    n = schedule.num_train_timesteps
    panels: dict[str, Any] = {}
    for level in range(levels):
        step = min(n - 1, int((level + 0.5) * n / levels))
        t = torch.full((x0.shape[0],), step, dtype=torch.long, device=x0.device)
        output, target = (v.float() for v in objective.prediction_at(batch, x0, t, noise))
        abar = float(schedule.alphas_cumprod[step])
        key = f"t{step:04d}"
        panels[f"noise/loss_{key}"] = float(F.mse_loss(output, target))
        panels[f"noise/snr_db_{key}"] = 10 * math.log10(max(abar, 1e-20) / max(1 - abar, 1e-20))
        panels[f"noise/prediction_std_{key}"] = float(output.std())
        panels[f"noise/target_std_{key}"] = float(target.std())
        stride = max(1, output.numel() // HISTOGRAM_VALUES)
        panels[f"noise_hist/prediction_{key}"] = output.flatten()[::stride].cpu().numpy()
        panels[f"noise_hist/target_{key}"] = target.flatten()[::stride].cpu().numpy()
    return panels


def _strip(frames: list[np.ndarray]) -> np.ndarray:
    """Up to STRIP_FRAMES evenly spaced frames side by side, (H, W * n, 3)."""
    n = min(STRIP_FRAMES, len(frames))
    picks = [round(i * (len(frames) - 1) / max(1, n - 1)) for i in range(n)]
    return np.concatenate([frames[i] for i in picks], axis=1)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"
