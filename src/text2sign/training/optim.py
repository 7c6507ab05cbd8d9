"""Optimizers and the learning-rate schedule (linear warmup, then cosine decay)."""

from __future__ import annotations

import math

import torch
from torch import nn

from text2sign.training.config import TrainConfig


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """LR multiplier used by optimizer step `step` (0-based).

    Warmup: ``(step + 1) / warmup_steps`` for the first `warmup_steps` steps, so the first step
    already moves. Then a half cosine from 1 down to `min_ratio` at the last step.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    if decay_steps <= 1:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (decay_steps - 1))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(params: list[nn.Parameter], config: TrainConfig, group: str) -> torch.optim.Optimizer:
    """The optimizer of one group: the ``train`` defaults, overridden by ``train.optimizers.<group>``."""
    override = config.optimizers.get(group)
    lr = override.lr if override and override.lr is not None else config.lr
    betas = override.betas if override and override.betas is not None else config.betas
    weight_decay = override.weight_decay if override and override.weight_decay is not None else config.weight_decay
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    # A closure rather than a callable object: LambdaLR then saves no lambda state, so a resumed
    # run may extend train.steps and the schedule follows the new length.
    def factor(step: int) -> float:
        return warmup_cosine(step, config.warmup_steps, config.steps, config.min_lr_ratio)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
