"""The objective interface: what the training loop needs from any model family.

An objective is an ``nn.Module`` that owns the networks being trained (generator,
discriminator, ...) and turns a batch into losses. The loop never looks inside it; it asks:

* ``param_groups()`` -- which parameters each optimizer owns, by group name. Every group
  gets its own optimizer, LR schedule and gradient clipping (``train.optimizers.<group>``
  in the YAML overrides lr / betas / weight_decay per group).
* ``schedule(step)`` -- which groups take an optimizer step at iteration `step`, in order.
  A GAN returns ``("discriminator", "generator")``; most objectives keep the default (all).
* ``forward(batch, group)`` -- the losses for one optimizer step of `group`:
  a dict whose ``"loss"`` entry is backpropagated and whose every entry is logged.
  It is called through ``module(batch, group)`` so DistributedDataParallel can sync gradients.
  Entries other than ``"loss"`` are for logging only: detach them unless ``"loss"`` uses them.
* ``dev_losses(batch)`` -- losses on a held-out batch, for validation (called in eval mode
  without gradients, with the EMA weights in place). Default: the losses of the last group in
  ``param_groups()``; a GAN returns its generator's.
* ``inference_model()`` -- the network a user runs after training (e.g. the generator). The
  loop keeps an exponential moving average (EMA) of its weights; **the EMA copy is what a
  checkpoint's ``model.safetensors`` holds** and what ``from_pretrained`` returns.

Per iteration the loop does, for each scheduled group: zero every gradient, run
``forward(micro_batch, group)`` on each of ``train.grad_accum`` micro-batches and backprop
``loss / grad_accum``, clip the group's gradient norm, step the group's optimizer. Gradients
that a group's loss leaves on other groups' parameters are discarded before their own step.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class Objective(nn.Module, abc.ABC):
    """Base class of training objectives; see the module docstring for the contract."""

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters per optimizer group. Default: one group ``"model"`` with all of them."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def schedule(self, step: int) -> Sequence[str]:
        """Groups stepped at iteration `step` (0-based), in order. Default: every group, each once."""
        return tuple(self.param_groups())

    @abc.abstractmethod
    def forward(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """Losses for one optimizer step of `group`; ``"loss"`` (a scalar) is backpropagated."""

    def dev_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """Losses on a held-out batch; entries are averaged over the dev data and logged as ``dev/<key>``."""
        return self.forward(batch, list(self.param_groups())[-1])

    @abc.abstractmethod
    def inference_model(self) -> nn.Module:
        """The network saved as ``model.safetensors`` (its EMA copy) and rebuilt by ``from_pretrained``."""
