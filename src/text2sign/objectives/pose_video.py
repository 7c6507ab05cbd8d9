"""Denoising objective of pose-conditioned video diffusion (``pose-video``).

A batch is :class:`PoseVideoBatch`: windows of latents ``(B, C, T, h, w)`` (clips encoded once
through the frame autoencoder before training) and the joint positions of the same frames
``(B, T, J, 3)``. Each step draws a timestep and Gaussian noise per window; the loss is the mean
squared error of the network's output against the schedule's target (epsilon, v or sample). With
probability `cond_dropout` a window's pose is replaced by the learned "no pose", so one network
learns the conditional and the unconditional prediction that guidance mixes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from text2sign.config import bounded
from text2sign.models.pose_video import PoseVideoNet
from text2sign.objectives.base import Objective
from text2sign.schedulers.ddpm import DiffusionSchedule

DEV_SEED = 0


@dataclass
class PoseVideoObjectiveConfig:
    cond_dropout: float = bounded(0.1, min=0.0, max=1.0)


@dataclass
class PoseVideoBatch:
    latents: torch.Tensor  # (B, C, T, h, w)
    positions: torch.Tensor  # (B, T, J, 3)

    def to(self, device) -> PoseVideoBatch:
        return PoseVideoBatch(self.latents.to(device), self.positions.to(device))


def collate_pose_video(items) -> PoseVideoBatch:
    """Items ``(latents (C, T, h, w), positions (T, J, 3))`` -> one :class:`PoseVideoBatch`."""
    return PoseVideoBatch(
        torch.stack([torch.as_tensor(z) for z, _ in items]), torch.stack([torch.as_tensor(p) for _, p in items])
    )


class PoseVideoObjective(Objective):
    def __init__(self, net: PoseVideoNet, schedule: DiffusionSchedule, config: PoseVideoObjectiveConfig):
        super().__init__()
        self.net, self.noise_schedule, self.config = net, schedule, config

    def clean(self, batch: PoseVideoBatch) -> torch.Tensor:
        return batch.latents

    def prediction_at(
        self, batch: PoseVideoBatch, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, drop=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on `x0` noised to timesteps `t` with `noise`, and the schedule's
        target for it; rows where `drop` is True see the learned "no pose" instead of their pose."""
        keep = None if drop is None else ~drop
        output = self.net(self.noise_schedule.add_noise(x0, noise, t), t, batch.positions, keep)
        return output, self.noise_schedule.target(x0, noise, t)

    def forward(
        self, batch: PoseVideoBatch, group: str, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        x0 = batch.latents
        b, device = x0.shape[0], x0.device
        t = torch.randint(0, self.noise_schedule.num_train_timesteps, (b,), generator=generator).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        dropout = self.config.cond_dropout if self.training else 0.0
        drop = torch.rand(b, generator=generator).to(device) < dropout
        return {"loss": F.mse_loss(*self.prediction_at(batch, x0, t, noise, drop))}

    def dev_losses(self, batch: PoseVideoBatch) -> dict[str, torch.Tensor]:
        """The same loss with fixed timesteps and noise, so dev passes compare with each other."""
        return self.forward(batch, "model", torch.Generator().manual_seed(DEV_SEED))

    def inference_model(self) -> PoseVideoNet:
        return self.net
