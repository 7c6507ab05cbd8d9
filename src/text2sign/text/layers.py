"""Small network pieces shared by the text encoders and the generators: transformer blocks, and
:class:`Frozen`, a pretrained part that training leaves alone and checkpoints leave out.

Masks follow one convention everywhere: a boolean tensor that is True on real positions
(tokens, frames) and False on padding. Attention never reads a padded key, so what sits at
a padded position cannot change any real position's output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(positions: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer sine/cosine features of (possibly fractional) `positions`: ``(...,) -> (..., dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.float()[..., None] * freqs  # (..., half)
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths -> ``(B, T)`` bool mask, True on the first ``lengths[b]`` positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over dim 1 of ``(B, L, C)`` using only real positions: ``-> (B, C)``."""
    if mask is None:
        return x.mean(dim=1)
    weights = mask.to(x.dtype)[..., None]  # (B, L, 1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class Attention(nn.Module):
    """Multi-head attention on ``F.scaled_dot_product_attention`` with a key padding mask."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model width {dim} is not divisible by {heads} heads")
        context_dim = context_dim or dim
        self.heads = heads
        self.dropout = dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        context = x if context is None else context
        b, t, d = x.shape
        h = self.heads
        q = self.q(x).view(b, t, h, d // h).transpose(1, 2)  # (B, H, T, dh)
        k, v = self.kv(context).view(b, context.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)  # (B, H, S, dh) each
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, S)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, dh)
        return self.out(out.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention to a context, feed-forward."""

    def __init__(
        self,
        dim: int,
        heads: int,
        ff_mult: int = 2,
        dropout: float = 0.0,
        context_dim: int | None = None,
        cross: bool = False,
    ):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, dropout=dropout)
        self.norm_cross = nn.LayerNorm(dim) if cross else None
        self.cross_attn = Attention(dim, heads, context_dim=context_dim, dropout=dropout) if cross else None
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_mult * dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.norm_self(x), key_mask=mask))
        if self.cross_attn is not None:
            x = x + self.drop(self.cross_attn(self.norm_cross(x), context, key_mask=context_mask))
        return x + self.drop(self.ff(self.norm_ff(x)))


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
