"""DDPM training noise and DDPM / DDIM sampling, written out because diffusers is not a dependency.

The formulas are those of Ho et al. 2020 (DDPM) and Song et al. 2021 (DDIM) in diffusers'
conventions, so a config means the same thing in both:

* ``betas``: ``linear`` from `beta_start` to `beta_end` over `num_train_timesteps` steps (DDPM's
  1e-4 .. 0.02 at 1000 steps), ``scaled_linear`` (linear in sqrt(beta): Stable Diffusion's, with
  0.00085 .. 0.012, which a model tuned from it must keep), or ``cosine`` (Nichol & Dhariwal 2021,
  ``squaredcos_cap_v2`` in diffusers: alpha-bar follows cos^2, each beta capped at 0.999).
* training: ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``; the network predicts, by
  `prediction_type`, ``epsilon`` (DDPM), ``v_prediction`` (``v = sqrt(abar_t) eps - sqrt(1 - abar_t)
  x_0``, Salimans & Ho 2022) or ``sample`` (``x_0`` itself). An epsilon model's ``x0_hat`` divides
  its error by ``sqrt(abar_t)`` (about 0.007 at t = 999 of the linear schedule), so an undertrained
  one draws noise; v and sample keep ``x0_hat``'s error bounded at every t.
* sampling: DDIM's update from timestep t to an earlier one s,
  ``x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z`` with
  ``sigma = eta * sqrt((1 - abar_s) / (1 - abar_t)) * sqrt(1 - abar_t / abar_s)``.
  ``eta = 0`` is deterministic DDIM; ``eta = 1`` over every training timestep is exactly DDPM's
  ancestral sampler (sigma becomes the posterior standard deviation), which is how "DDPM" is run.
  Timesteps are spaced as diffusers' "leading" spacing: ``range(0, T, T // steps)`` reversed.
* ``x0_hat`` is clipped to [-1, 1] in pixel space (`clip_sample`; never on latents) and ``eps_hat`` stays the network's,
  as diffusers' DDIMScheduler does by default; ``tests/schedulers`` checks the two agree step for
  step when diffusers is installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

BETA_SCHEDULES = ("linear", "scaled_linear", "cosine")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


class DiffusionSchedule:
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        clip_sample: bool = True,
        prediction_type: str = "epsilon",
    ):
        if beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, got {beta_schedule!r}")
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")
        self.prediction_type = prediction_type
        self.num_train_timesteps = num_train_timesteps
        self.clip_sample = clip_sample
        if beta_schedule == "linear":
            betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)
        elif beta_schedule == "scaled_linear":
            betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float64) ** 2
        else:

            def abar(t: float) -> float:
                return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

            n = num_train_timesteps
            betas = torch.tensor(
                [min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)], dtype=torch.float64
            )
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)  # (T,) float64

    def _abar(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))  # (B, 1, ...)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` for clean `x0` ``(B, ...)``, `noise` like it and integer timesteps `t` ``(B,)``."""
        abar = self._abar(x0, t)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the network learns to output at `t`, by `prediction_type`."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "sample":
            return x0
        abar = self._abar(x0, t)
        return abar.sqrt() * noise - (1 - abar).sqrt() * x0

    def split(self, output: torch.Tensor, x: torch.Tensor, abar: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x0_hat, eps_hat)`` from the network's `output` at noisy `x` (alpha-bar `abar`)."""
        a, b = math.sqrt(abar), math.sqrt(1 - abar)
        if self.prediction_type == "epsilon":
            return (x - b * output) / a, output
        if self.prediction_type == "sample":
            return output, (x - a * output) / b
        return a * x - b * output, a * output + b * x

    def timesteps(self, steps: int | None) -> list[int]:
        """The sampling timesteps, last first; None or >= T: every training timestep (DDPM)."""
        n = self.num_train_timesteps
        if steps is None or steps >= n:
            return list(range(n - 1, -1, -1))
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        stride = n // steps
        return list(range(0, stride * steps, stride))[::-1]

    def sample(
        self,
        predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        noise: torch.Tensor,
        steps: int | None = None,
        eta: float = 0.0,
        generator_noise: Callable[[], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run the sampler from `noise` ``(B, ...)``. ``predict(x_t, t (B,))`` is the network's output.

        `generator_noise()` gives the fresh noise ``z`` of each stochastic step (``eta > 0``), so the
        caller decides how it is seeded."""
        if eta > 0 and generator_noise is None:
            raise ValueError("eta > 0 needs generator_noise")
        abar_all = self.alphas_cumprod
        ts = self.timesteps(steps)
        x = noise
        for i, t in enumerate(ts):
            s = ts[i + 1] if i + 1 < len(ts) else -1
            abar_t = float(abar_all[t])
            abar_s = float(abar_all[s]) if s >= 0 else 1.0
            output = predict(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
            x0, eps = self.split(output, x, abar_t)
            if self.clip_sample:
                x0 = x0.clamp(-1, 1)
            sigma = eta * math.sqrt((1 - abar_s) / (1 - abar_t)) * math.sqrt(max(0.0, 1 - abar_t / abar_s))
            x = math.sqrt(abar_s) * x0 + math.sqrt(max(0.0, 1 - abar_s - sigma**2)) * eps
            if sigma > 0:
                x = x + sigma * generator_noise().to(x)
        return x
