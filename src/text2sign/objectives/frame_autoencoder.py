"""The per-frame autoencoder's objective (family ``video-ae``): reconstruction plus a small KL term.

The KL term keeps the latents near a unit Gaussian, as Stable Diffusion's VAE is trained, so a
diffusion model over them starts from well-scaled, smooth latents; it is weighted low enough that
reconstructions stay sharp. A signer's hands are a few pixels of a frame whose rest (background,
torso, head) barely moves, so an unweighted loss is lowest for a still, handless figure:
`motion_weight` weights each pixel by 1 + motion_weight x its distance from the mean training frame
(averaged over colour), so what moves counts. Dev passes decode the posterior mean
(deterministic) and log the reconstruction's PSNR beside the losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.frame_codec import FrameAutoencoder
from text2sign.objectives.base import Objective

RECONSTRUCTION_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss}


@dataclass
class FrameAutoencoderObjectiveConfig:
    # l1: thin skeleton lines stay sharp (an L2 loss is content to blur them into the background)
    reconstruction: str = "l1"
    kl_weight: float = bounded(1e-4, min=0.0, max=1.0)  # per latent value, against the per-pixel reconstruction
    motion_weight: float = bounded(0.0, min=0.0, max=1000.0)  # 0: every pixel counts the same

    def __post_init__(self) -> None:
        if self.reconstruction not in RECONSTRUCTION_LOSSES:
            raise ConfigError(
                f"objective.reconstruction must be one of {', '.join(RECONSTRUCTION_LOSSES)}, got "
                f"{self.reconstruction!r}"
            )


class FrameAutoencoderObjective(Objective):
    def __init__(
        self, net: FrameAutoencoder, config: FrameAutoencoderObjectiveConfig, mean_frame: torch.Tensor | None = None
    ):
        """`mean_frame` (3, H, W) in [-1, 1]: the training frames' mean, needed when `motion_weight` > 0."""
        super().__init__()
        if config.motion_weight > 0 and mean_frame is None:
            raise ValueError("motion_weight needs the training frames' mean frame")
        self.net, self.config = net, config
        self.register_buffer("mean_frame", mean_frame, persistent=False)

    def forward(self, frames: torch.Tensor, group: str) -> dict[str, torch.Tensor]:
        reconstructions, posterior = self.net(frames, sample=self.training)
        per_pixel = RECONSTRUCTION_LOSSES[self.config.reconstruction](reconstructions, frames, reduction="none")
        if self.config.motion_weight > 0:
            weight = 1.0 + self.config.motion_weight * (frames - self.mean_frame).abs().mean(dim=1, keepdim=True)
            rec = (per_pixel * weight).sum() / (weight.sum() * frames.shape[1])
        else:
            rec = per_pixel.mean()
        kl = posterior.kl().sum() / posterior.mean.numel()
        mse = F.mse_loss(reconstructions.detach().clamp(-1, 1), frames)
        # Pixels span 2 (from -1 to 1): PSNR = 10 log10(2^2 / MSE).
        psnr = 10 * math.log10(4.0) - 10 * torch.log10(mse.clamp_min(1e-10))
        return {"loss": rec + self.config.kl_weight * kl, "rec": rec.detach(), "kl": kl.detach(), "psnr": psnr}

    def inference_model(self) -> FrameAutoencoder:
        return self.net
