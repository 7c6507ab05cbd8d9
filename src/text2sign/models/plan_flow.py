"""Plan-conditioned flow networks (``lookup-flow``): a pose plan in, natural timing and a residual out.

Networks only -- the flow-matching losses are in :mod:`text2sign.objectives.plan_flow`, sampling in
:mod:`text2sign.pipelines.lookup_flow`. A *plan* is a pose sequence that already signs the right
thing (the lookup's assembly of recorded clips, another model's output, any ``.pose`` file). The
model keeps its detail and changes what the plan gets wrong, in two flows over pose space:

1. **Timing.** :class:`PlanFlowNet.duration` drives a flow over the log-duration of every plan
   frame (how many output frames it lasts, ``(B, Tp)``), read from the plan's frames.
   :func:`warp_plan` turns durations into the output frames' positions in the plan and resamples
   the plan there: a time warp that keeps every pose of the plan, at the pace of the recordings.
2. **Residual.** :class:`PlanFlowNet.residual` drives a flow over ``target - warped plan`` in
   standardized feature space, conditioned frame by frame on the warped plan (the plan enters
   *after alignment*, added to each output frame's input). It fills what the plan lacks (a lost
   wrist, the face between clips) and smooths the joins.

Both networks predict the flow's end point (the clean data, "x-prediction"); the velocity that
sampling integrates is ``(x1_hat - z_t) / (1 - t)``. Their output layers start at zero, so an
untrained model lands on the plan at its mean pace, and training only has to learn how the
recordings differ from it -- a velocity network would first have to learn to cancel the noise
exactly, which costs every dimension of every frame an error the recognizer reads as a wrong
handshape.

No autoencoder sits between the plan and the output, so its detail reaches the output without a
reconstruction loss (the shipped pose autoencoder alone reads back at 8.67 % CER).
Tensors: features ``(B, T, F)``, frame masks ``(B, T)``; ``F = joints * dims`` of the layout's
``kinds`` (x and y only: MediaPipe's depth is noise at this scale and passes from the plan unchanged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded

ALL_KINDS = ["body", "face", "left_hand", "right_hand"]
MIN_DURATION = 0.1  # output frames a plan frame lasts at least (log-durations are clamped there)


@dataclass
class PlanFlowConfig:
    """The ``model:`` section; fields marked "filled from the data" are set by the family's build."""

    d_model: int = bounded(128, min=8, max=2048)
    layers: int = bounded(4, min=1, max=32)  # residual conv blocks of each flow network
    kernel: int = bounded(5, min=1, max=31)
    duration_layers: int = bounded(4, min=1, max=32)
    max_frames: int = bounded(30_000, min=8, max=100_000)  # the longest plan or output, frames (20 min at 25 fps)
    feature_dim: int = bounded(0, min=0)  # filled from the data
    dims: int = bounded(2, min=1, max=3)
    layout: str = ""  # filled from the data
    kinds: list[str] = field(default_factory=lambda: list(ALL_KINDS))
    fps: float = bounded(0.0, min=0.0, max=1000.0)  # filled from the data
    log_duration_mean: float = 0.0  # filled from the data: log-durations are standardized by these
    log_duration_std: float = bounded(1.0, min=1e-3, max=100.0)
    # The duration flow starts from noise averaged over this many plan frames (1: white noise), so
    # that a sample's tempo changes a sign at a time, as a signer's does, not frame by frame.
    duration_noise_frames: int = bounded(1, min=1, max=256)


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the flow time ``t`` (B,) in [0, 1]: ``(B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    angles = t.float()[:, None] * 1000.0 * freqs[None]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ConvBlock(nn.Module):
    """A dilated residual conv over frames, scaled and shifted by the flow time (FiLM)."""

    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.film = nn.Linear(channels, 2 * channels)
        self.out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x (B, C, T), t_emb (B, C), mask (B, 1, T)
        scale, shift = self.film(t_emb)[..., None].chunk(2, dim=1)  # (B, C, 1) each
        h = self.conv(self.norm(x) * mask) * (1 + scale) + shift
        return (x + self.out(F.gelu(h))) * mask


class ConvEstimator(nn.Module):
    """The end point ``(B, T, out)`` of a flow over ``(B, T, out)`` states, given per-frame
    conditions ``(B, T, cond)`` and the flow time; padded frames are zero in and out."""

    def __init__(self, state_dim: int, cond_dim: int, d_model: int, layers: int, kernel: int):
        super().__init__()
        self.d_model = d_model
        self.inp = nn.Conv1d(state_dim + cond_dim, d_model, 1)
        self.time = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.blocks = nn.ModuleList(ConvBlock(d_model, kernel, 2 ** (i % 4)) for i in range(layers))
        self.head = nn.Conv1d(d_model, state_dim, 1)
        # An estimate that starts at zero: the plan as it is, at the mean pace.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, state: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[:, None, :].float()  # (B, 1, T)
        x = self.inp(torch.cat([state, cond], dim=-1).transpose(1, 2)) * m  # (B, C, T)
        t_emb = self.time(time_embedding(t, self.d_model))  # (B, C)
        for block in self.blocks:
            x = block(x, t_emb, m)
        return (self.head(x) * m).transpose(1, 2)  # (B, T, state)


def velocity(estimate: torch.Tensor, state: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The rectified-flow velocity towards an end-point `estimate` from `state` at time ``t`` (B,)."""
    remaining = (1 - t).clamp(min=1e-3).view((-1,) + (1,) * (state.dim() - 1))
    return (estimate - state) / remaining


class PlanFlowNet(nn.Module):
    """The two end-point estimators; see the module docstring."""

    def __init__(self, config: PlanFlowConfig):
        super().__init__()
        self.config = config
        f = config.feature_dim
        # A plan frame: its features and which of them are observed.
        self.duration = ConvEstimator(1, 2 * f, config.d_model, config.duration_layers, config.kernel)
        self.residual = ConvEstimator(f, 2 * f, config.d_model, config.layers, config.kernel)

    def duration_estimate(self, log_durations, plan, plan_observed, t, plan_mask) -> torch.Tensor:
        """``(B, Tp)`` standardized log-durations estimated from their noisy state ``(B, Tp)`` at time
        ``t`` and the plan ``(B, Tp, F)``."""
        cond = torch.cat([plan, plan_observed.float()], dim=-1)
        return self.duration(log_durations[..., None], cond, t, plan_mask)[..., 0]

    def residual_estimate(self, residual, warped, warped_observed, t, mask) -> torch.Tensor:
        """``(B, T, F)`` residual estimated from its noisy state ``(B, T, F)`` at time ``t`` and the
        warped plan ``(B, T, F)``."""
        cond = torch.cat([warped, warped_observed.float()], dim=-1)
        return self.residual(residual, cond, t, mask)

    def durations(self, standardized: torch.Tensor, plan_mask: torch.Tensor) -> torch.Tensor:
        """Output frames per plan frame ``(B, Tp)`` from standardized log-durations (0 on padding)."""
        cfg = self.config
        log_d = standardized * cfg.log_duration_std + cfg.log_duration_mean
        return torch.exp(log_d).clamp(min=MIN_DURATION) * plan_mask


def tempo_noise(rows: int, length: int, window: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(rows, length)`` Gaussian noise with unit variance, each value the mean of `window`
    consecutive white-noise values (times ``sqrt(window)``): neighbouring frames share their noise."""
    white = torch.randn(rows, 1, length + window - 1, generator=generator)
    return F.avg_pool1d(white, window, stride=1)[:, 0] * math.sqrt(window)


def warp_positions(durations: torch.Tensor, length: int) -> torch.Tensor:
    """Where in the plan each of `length` output frames lies, ``(B, length)`` fractional plan frames.

    Plan frame ``i`` lasts ``durations[:, i]`` output frames (``(B, Tp)``, 0 on padding); the output
    frames inside its span move linearly from ``i - 1/2`` to ``i + 1/2``, so durations of 1 give the
    plan back frame for frame. Positions are clamped to the plan's frames.
    """
    ends = torch.cumsum(durations, dim=1)  # (B, Tp)
    starts = ends - durations
    centers = torch.arange(length, device=durations.device, dtype=durations.dtype)[None] + 0.5  # (1, L)
    centers = centers.expand(durations.shape[0], -1).contiguous()
    last = (durations > 0).sum(dim=1, keepdim=True) - 1  # (B, 1) the last real plan frame
    index = torch.searchsorted(ends.contiguous(), centers, right=True).clamp(max=durations.shape[1] - 1)
    index = torch.minimum(index, last.clamp(min=0))
    span = durations.gather(1, index).clamp(min=1e-6)
    fraction = (centers - starts.gather(1, index)) / span
    positions = index.to(durations.dtype) - 0.5 + fraction
    return torch.minimum(positions.clamp(min=0.0), last.to(durations.dtype).clamp(min=0.0))


def warp_plan(
    frames: torch.Tensor, observed: torch.Tensor, positions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The plan ``(B, Tp, C)`` with per-channel observation ``(B, Tp, C)`` resampled at `positions`
    ``(B, L)``: linear between the two nearest frames where both are observed, else the observed one.
    Returns ``(frames (B, L, C), observed (B, L, C))``."""
    lo = positions.floor().long()
    hi = (lo + 1).clamp(max=frames.shape[1] - 1)
    w = (positions - lo.to(positions.dtype))[..., None]  # (B, L, 1)

    def take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))

    x_lo, x_hi = take(frames, lo), take(frames, hi)
    m_lo, m_hi = take(observed.float(), lo) > 0, take(observed.float(), hi) > 0
    mixed = x_lo * (1 - w) + x_hi * w
    values = torch.where(m_lo & m_hi, mixed, torch.where(m_lo, x_lo, x_hi))
    seen = m_lo | m_hi
    return values * seen, seen
