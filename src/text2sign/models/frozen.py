"""A pretrained part that training leaves alone and checkpoints leave out."""

from __future__ import annotations

import torch
from torch import nn


class Frozen(nn.Module):
    """Holds `module` outside ``_modules``: it is not in ``parameters()``, ``state_dict()`` or the
    ``train()``/``eval()`` switch, so a checkpoint stores only what was trained and the part is read
    again from its own files when the checkpoint is loaded. ``.to()``/``.half()`` still move it,
    calls run without autograd, and its attributes read through."""

    def __init__(self, module: nn.Module):
        super().__init__()
        module.requires_grad_(False).eval()
        self.__dict__["module"] = module

    @property
    def module(self) -> nn.Module:
        return self.__dict__["module"]

    def __getattr__(self, name: str):
        # Its attributes read through (a frozen text backbone's tokenizer, a VAE's config).
        try:
            return super().__getattr__(name)
        except AttributeError:
            if "module" not in self.__dict__:
                raise
            return getattr(self.__dict__["module"], name)

    def _apply(self, fn, *args, **kwargs):
        self.module._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.module(*args, **kwargs)
