"""Denoising objective for text-to-video diffusion (epsilon, v or sample prediction, as the schedule
says), with the condition dropout that classifier-free guidance needs.

A batch is :class:`VideoBatch`: videos ``(B, 3, T, H, W)`` in [-1, 1] (or their latents, encoded
once before training), texts and signed languages.
Each step draws a timestep and Gaussian noise per video (per latent, under a VAE), noises it with the schedule, and
the loss is the mean squared error of the network's output against the schedule's target. With probability
`cond_dropout` a video's text is replaced by the network's learned null context, so one network learns both the
conditional and the unconditional prediction that guidance mixes at sampling time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from text2sign.config import bounded
from text2sign.models.video_diffusion import VideoDiffusionNet
from text2sign.objectives.base import Objective
from text2sign.schedulers.ddpm import DiffusionSchedule

DEV_SEED = 0


@dataclass
class VideoDiffusionObjectiveConfig:
    cond_dropout: float = bounded(0.1, min=0.0, max=1.0)


@dataclass
class VideoBatch:
    videos: torch.Tensor  # (B, 3, T, H, W) pixels, or (B, C, T, h, w) latents when `encoded`
    texts: list[str]
    languages: list[str]
    encoded: bool = False  # already through the network's VAE (clips encoded once, before training)

    def to(self, device) -> VideoBatch:
        return VideoBatch(self.videos.to(device), self.texts, self.languages, self.encoded)


def collate_videos(items) -> VideoBatch:
    """Items ``(video (3, T, H, W) float32, text, signed language)`` -> one :class:`VideoBatch`."""
    return VideoBatch(
        torch.stack([torch.as_tensor(v) for v, _, _ in items]), [t for _, t, _ in items], [lang for _, _, lang in items]
    )


def collate_latents(items) -> VideoBatch:
    """Items ``(latents (C, T, h, w) float32, text, signed language)`` -> one encoded :class:`VideoBatch`."""
    return dataclasses.replace(collate_videos(items), encoded=True)


class VideoDiffusionObjective(Objective):
    def __init__(self, net: VideoDiffusionNet, schedule: DiffusionSchedule, config: VideoDiffusionObjectiveConfig):
        super().__init__()
        self.net, self.noise_schedule, self.config = net, schedule, config

    def clean(self, batch: VideoBatch) -> torch.Tensor:
        """What the diffusion runs on: the batch's latents (or pixels without a VAE)."""
        return batch.videos if batch.encoded else self.net.to_latent(batch.videos)

    def prediction_at(
        self,
        batch: VideoBatch,
        x0: torch.Tensor,
        t: torch.Tensor,
        noise: torch.Tensor,
        drop: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on `x0` noised to timesteps `t` with `noise`, and the schedule's
        target for it; rows where `drop` is True see the null context instead of their text."""
        context, mask = self.net.encode(batch.texts, batch.languages)
        if drop is not None and bool(drop.any()):
            null, _ = self.net.null_context(x0.shape[0])
            context = torch.where(drop[:, None, None], null.expand(-1, context.shape[1], -1), context)
            # A dropped row keeps one real token: the null vector.
            mask = torch.where(drop[:, None], torch.arange(mask.shape[1], device=x0.device)[None] == 0, mask)
        output = self.net(self.noise_schedule.add_noise(x0, noise, t), t, context, mask)
        return output, self.noise_schedule.target(x0, noise, t)

    def forward(
        self, batch: VideoBatch, group: str, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        x0 = self.clean(batch)
        b, device = x0.shape[0], x0.device
        t = torch.randint(0, self.noise_schedule.num_train_timesteps, (b,), generator=generator).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        drop = torch.rand(b, generator=generator).to(device) < (self.config.cond_dropout if self.training else 0.0)
        return {"loss": F.mse_loss(*self.prediction_at(batch, x0, t, noise, drop))}

    def dev_losses(self, batch: VideoBatch) -> dict[str, torch.Tensor]:
        """The same loss with fixed timesteps and noise, so dev passes compare with each other."""
        return self.forward(batch, "model", torch.Generator().manual_seed(DEV_SEED))

    def inference_model(self) -> VideoDiffusionNet:
        return self.net
