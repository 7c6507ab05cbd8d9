"""Exponential moving average of a network's weights (the copy that gets saved for inference)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``ema = d * ema + (1 - d) * weights`` after every optimizer iteration.

    The decay warms up as ``d_n = min(decay, (1 + n) / (10 + n))`` for the n-th update
    (0-based), so early averages are not dominated by the random initialization. Buffers
    (e.g. normalization statistics) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for ema_p, p in zip(self.model.parameters(), model.parameters(), strict=True):
            if ema_p.dtype.is_floating_point:
                ema_p.lerp_(p.detach(), 1.0 - d)
            else:
                ema_p.copy_(p)
        for ema_b, b in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_b.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.num_updates = int(state["num_updates"])
        self.model.load_state_dict(state["weights"])
