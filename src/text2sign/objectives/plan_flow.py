"""Flow matching for the plan-conditioned networks (``lookup-flow``, :mod:`text2sign.models.plan_flow`).

Both flows are rectified flows (``t = 0``: Gaussian noise, ``t = 1``: data) whose networks
estimate the end point: the loss is the squared error of that estimate against the data, at a
random time per row. They are trained together on one batch of (plan, recording) pairs:

* timing: the standardized log-duration of every plan frame, measured by aligning the plan with
  the recording (:func:`text2sign.data.plan_pairs.plan_durations`);
* residual: ``recording - plan warped by those durations`` in standardized features, over the
  recording's observed points only (elsewhere the recording says nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from text2sign.config import bounded
from text2sign.models.plan_flow import PlanFlowNet, tempo_noise, warp_plan, warp_positions
from text2sign.objectives.base import Objective


@dataclass
class PlanFlowObjectiveConfig:
    duration_weight: float = bounded(1.0, min=0.0, max=100.0)
    residual_weight: float = bounded(1.0, min=0.0, max=100.0)
    # Validation: the flows' dev losses, or the CER with which the shipped recognizer reads the
    # sampled dev words back (what picks the best checkpoint when set).
    dev_metric: Literal["loss", "cer"] = "loss"


def noisy(data: torch.Tensor, noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t, t)``: `data` on the rectified flow from `noise` (default: white Gaussian noise), at a
    random time per row."""
    t = torch.rand(data.shape[0], device=data.device)
    noise = torch.randn_like(data) if noise is None else noise.to(data.device)
    shape = (-1,) + (1,) * (data.dim() - 1)
    return (1 - t.view(shape)) * noise + t.view(shape) * data, t


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight.to(pred.dtype)
    return ((pred - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


class PlanFlowObjective(Objective):
    def __init__(self, net: PlanFlowNet, cfg: PlanFlowObjectiveConfig):
        super().__init__()
        self.net = net
        self.cfg = cfg

    def inference_model(self) -> PlanFlowNet:
        return self.net

    def forward(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        net = self.net
        rows, frames = batch.log_durations.shape
        x_t, t = noisy(batch.log_durations, tempo_noise(rows, frames, net.config.duration_noise_frames))
        estimate = net.duration_estimate(x_t, batch.plan, batch.plan_observed, t, batch.plan_mask)  # (B, Tp)
        duration = masked_mse(estimate, batch.log_durations, batch.plan_mask)

        positions = warp_positions(batch.durations, batch.target.shape[1])  # (B, Ty)
        warped, warped_observed = warp_plan(batch.plan, batch.plan_observed, positions)  # (B, Ty, F)
        residual = torch.where(batch.target_observed, batch.target - warped, torch.zeros_like(warped))
        r_t, s = noisy(residual)
        estimate = net.residual_estimate(r_t, warped, warped_observed, s, batch.target_mask)
        residual_loss = masked_mse(estimate, residual, batch.target_observed & batch.target_mask[..., None])
        loss = self.cfg.duration_weight * duration + self.cfg.residual_weight * residual_loss
        return {"loss": loss, "duration": duration.detach(), "residual": residual_loss.detach()}
