"""Gradient checkpointing: activation memory traded for a second forward pass in backward."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from text2sign.errors import ConfigError
from text2sign.text.layers import Frozen


class GradientCheckpointing:
    """Mixin for networks built of blocks: once enabled, each block called through
    :meth:`run_block` keeps only its inputs while training and recomputes the rest in backward.
    Outputs and gradients are unchanged; inference never recomputes."""

    gradient_checkpointing = False

    def enable_gradient_checkpointing(self) -> None:
        self.gradient_checkpointing = True

    def run_block(self, block, *args):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)


def enable_gradient_checkpointing(model: nn.Module, family: str) -> int:
    """Turn checkpointing on in every outermost part of `model` that supports it (ours and
    diffusers' models alike: both name the method ``enable_gradient_checkpointing``); returns how
    many parts."""
    parts: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        inside_a_part = any(name.startswith(f"{outer}.") for outer in parts)  # the outer part runs its own blocks
        # Frozen parts never train: nothing to save.
        if (
            not inside_a_part
            and not isinstance(module, Frozen)
            and callable(getattr(module, "enable_gradient_checkpointing", None))
        ):
            parts[name] = module
    if not parts:
        raise ConfigError(f"train.gradient_checkpointing: the {family} family's networks do not support it")
    for part in parts.values():
        part.enable_gradient_checkpointing()
    return len(parts)
