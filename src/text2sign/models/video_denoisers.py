"""Video denoisers behind one interface (designs "UNet3D" and "DiT video").

Every backbone maps a noisy video to a prediction of the same shape::

    backbone(x (B, C, T, H, W), temb (B, D), context (B, L, D), context_mask (B, L)) -> (B, C, T, H, W)

`temb` is the timestep embedding (plus pooled text for the adaLN backbones); `context` holds the
text tokens that cross-attention reads. Three kinds (``model.denoiser``):

* ``unet3d`` -- residual blocks with a (1, 3, 3) spatial and a (3, 1, 1) temporal convolution and
  the time embedding added in between, spatial and temporal self-attention and text
  cross-attention at the levels `attention_levels` names (full-resolution attention dominates CPU
  time, so level 0 is off by default), skip connections, spatial down/up-sampling only.
* ``dit3d`` -- a DiT over space-time patches ``(patch_t, patch, patch)``: joint attention over all
  tokens, adaLN-Zero modulation from the timestep and pooled text, cross-attention to the text.
* ``factorized`` -- the same transformer with each block's self-attention split into attention
  over space (within a frame) then over time (at a patch position): the DiT design's ViViT /
  ViT3D variant, cheaper as clips grow longer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.models.checkpointing import GradientCheckpointing
from text2sign.text.layers import Attention, TransformerBlock, sinusoidal_embedding


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class ResBlock3D(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.spatial = nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.temb = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.temporal = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        nn.init.zeros_(self.temporal.weight)  # starts as a per-frame block; time mixing is learned
        nn.init.zeros_(self.temporal.bias)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.spatial(F.silu(self.norm1(x)))  # (B, Cout, T, H, W)
        h = h + self.temb(F.silu(temb))[:, :, None, None, None]
        h = h + self.temporal(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SpaceTimeAttention(nn.Module):
    """Spatial self-attention, temporal self-attention (with frame positions), text cross-attention."""

    def __init__(self, channels: int, heads: int, context_dim: int):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.spatial = TransformerBlock(channels, heads, ff_mult=2)
        self.temporal = TransformerBlock(channels, heads, ff_mult=2, context_dim=context_dim, cross=True)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.norm(x).permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)  # (B*T, HW, C)
        y = self.spatial(y)
        y = y.view(b, t, h * w, c).transpose(1, 2).reshape(b * h * w, t, c)  # (B*HW, T, C)
        y = y + sinusoidal_embedding(torch.arange(t, device=x.device), c)[None]
        ctx = context.repeat_interleave(h * w, dim=0)  # (B*HW, L, C)
        cmask = None if context_mask is None else context_mask.repeat_interleave(h * w, dim=0)
        y = self.temporal(y, context=ctx, context_mask=cmask)
        y = y.view(b, h, w, t, c).permute(0, 4, 3, 1, 2)  # (B, C, T, H, W)
        return x + y


class TemporalAttention(nn.Module):
    """Residual attention over the frames at each token position, with sinusoidal frame positions:
    ``(B, T, N, D) -> (B, T, N, D)``. Its output starts at zero, so a pretrained image model it is
    added to stays per-frame until the layer is trained (frame-dit, Tune-A-Video)."""

    def __init__(self, dim: int, heads: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        nn.init.zeros_(self.attn.out.weight)
        nn.init.zeros_(self.attn.out.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t, n, d = tokens.shape
        y = tokens.transpose(1, 2).reshape(b * n, t, d)  # (B*N, T, D): one sequence per token position
        y = self.norm(y) + sinusoidal_embedding(torch.arange(t, device=tokens.device), d).to(y.dtype)
        return tokens + self.attn(y).view(b, n, t, d).transpose(1, 2)


class UNet3D(GradientCheckpointing, nn.Module):
    def __init__(
        self,
        channels: int,
        base: int,
        mults: tuple[int, ...],
        attention_levels: tuple[int, ...],
        heads: int,
        temb: int,
        context_dim: int,
    ):
        super().__init__()
        self.conv_in = nn.Conv3d(channels, base, (1, 3, 3), padding=(0, 1, 1))
        widths = [base * m for m in mults]
        self.down, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        cin = base
        for level, width in enumerate(widths):
            self.down.append(ResBlock3D(cin, width, temb))
            self.down_attn.append(
                SpaceTimeAttention(width, heads, context_dim) if level in attention_levels else nn.Identity()
            )
            last = level == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv3d(width, width, (1, 3, 3), (1, 2, 2), (0, 1, 1)))
            cin = width
        self.mid1 = ResBlock3D(cin, cin, temb)
        self.mid_attn = SpaceTimeAttention(cin, heads, context_dim)
        self.mid2 = ResBlock3D(cin, cin, temb)
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            width = widths[level]
            self.up.append(ResBlock3D(cin + width, width, temb))
            self.up_attn.append(
                SpaceTimeAttention(width, heads, context_dim) if level in attention_levels else nn.Identity()
            )
            self.upsample.append(
                nn.Identity() if level == 0 else nn.Conv3d(width, widths[level - 1], (1, 3, 3), padding=(0, 1, 1))
            )
            cin = width if level == 0 else widths[level - 1]
        self.norm_out = nn.GroupNorm(_groups(base), base)
        self.conv_out = nn.Conv3d(base, channels, (1, 3, 3), padding=(0, 1, 1))
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def _attend(self, block: nn.Module, h, context, context_mask):
        return h if isinstance(block, nn.Identity) else self.run_block(block, h, context, context_mask)

    def forward(self, x, temb, context, context_mask):
        h = self.conv_in(x)  # (B, base, T, H, W)
        skips = []
        for block, attn, down in zip(self.down, self.down_attn, self.downsample):
            h = self._attend(attn, self.run_block(block, h, temb), context, context_mask)
            skips.append(h)
            h = down(h)
        h = self._attend(self.mid_attn, self.run_block(self.mid1, h, temb), context, context_mask)
        h = self.run_block(self.mid2, h, temb)
        for block, attn, up in zip(self.up, self.up_attn, self.upsample):
            h = self._attend(
                attn, self.run_block(block, torch.cat([h, skips.pop()], dim=1), temb), context, context_mask
            )
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=(1, 2, 2), mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """adaLN-Zero block: self-attention (joint, or space then time), cross-attention, MLP."""

    def __init__(self, dim: int, heads: int, factorized: bool, grid: tuple[int, int]):
        super().__init__()
        self.factorized, self.grid = factorized, grid
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = Attention(dim, heads)
        self.norm_t = nn.LayerNorm(dim, elementwise_affine=False) if factorized else None
        self.attn_t = Attention(dim, heads) if factorized else None
        self.norm_c = nn.LayerNorm(dim)
        self.cross = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))
        self.ada = nn.Linear(dim, (9 if factorized else 6) * dim)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, c, context, context_mask):
        mods = self.ada(F.silu(c)).chunk(9 if self.factorized else 6, dim=-1)  # each (B, D)
        b, n, d = x.shape
        t, s = self.grid
        if self.factorized:
            y = _modulate(self.norm1(x), mods[0], mods[1]).view(b * t, s, d)  # (B*T', S, D): one frame's patches
            x = x + mods[2][:, None] * self.attn(y).view(b, n, d)
            y = _modulate(self.norm_t(x), mods[6], mods[7]).view(b, t, s, d).transpose(1, 2).reshape(b * s, t, d)
            y = self.attn_t(y).view(b, s, t, d).transpose(1, 2).reshape(b, n, d)  # back to (B, T'S, D)
            x = x + mods[8][:, None] * y
        else:
            x = x + mods[2][:, None] * self.attn(_modulate(self.norm1(x), mods[0], mods[1]))
        x = x + self.cross(self.norm_c(x), context, key_mask=context_mask)
        return x + mods[5][:, None] * self.mlp(_modulate(self.norm2(x), mods[3], mods[4]))


class DiT3D(GradientCheckpointing, nn.Module):
    def __init__(
        self,
        channels: int,
        frames: int,
        size: int,
        patch: int,
        patch_t: int,
        dim: int,
        depth: int,
        heads: int,
        factorized: bool,
        in_channels: int | None = None,
    ):
        """`in_channels` (default `channels`): what the input has beside the noisy video, e.g. a
        condition's maps concatenated to it; the output always has `channels`."""
        super().__init__()
        if size % patch or frames % patch_t:
            raise ValueError(f"{frames} frames of {size} px do not split into ({patch_t}, {patch}, {patch}) patches")
        self.channels, self.patch, self.patch_t = channels, patch, patch_t
        self.grid = (frames // patch_t, (size // patch) ** 2)
        self.embed = nn.Conv3d(in_channels or channels, dim, (patch_t, patch, patch), (patch_t, patch, patch))
        self.register_buffer("pos", _pos_3d(frames // patch_t, size // patch, dim), persistent=False)
        self.blocks = nn.ModuleList(DiTBlock(dim, heads, factorized, self.grid) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False)
        self.ada_out = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, channels * patch_t * patch * patch)
        for layer in (self.ada_out, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, temb, context, context_mask, frame_context=None, token_context=None):
        """`frame_context` (B, T, D), optional: added to every token of its frame (paced text).
        `token_context` (B, N, D), optional: added to each token (a condition embedded on the same
        patch grid, e.g. joint heatmaps at full resolution)."""
        b, _, t, h, w = x.shape
        c = self.channels
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (B, T'*H'*W', D)
        if frame_context is not None:
            steps, per_step = self.grid
            per_patch = frame_context.view(b, steps, self.patch_t, -1).mean(2)  # (B, T', D)
            tokens = tokens + per_patch[:, :, None].expand(-1, -1, per_step, -1).reshape(tokens.shape)
        if token_context is not None:
            tokens = tokens + token_context
        for block in self.blocks:
            tokens = self.run_block(block, tokens, temb, context, context_mask)
        shift, scale = self.ada_out(F.silu(temb)).chunk(2, dim=-1)
        y = self.out(_modulate(self.norm_out(tokens), shift, scale))  # (B, N, C*pt*p*p)
        pt, p = self.patch_t, self.patch
        y = y.view(b, t // pt, h // p, w // p, c, pt, p, p).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return y.reshape(b, c, t, h, w)


def _pos_3d(t: int, side: int, dim: int) -> torch.Tensor:
    """Fixed sine/cosine positions: a third of the channels each for time, row and column."""
    part = (dim // 6) * 2
    tt, yy, xx = torch.meshgrid(torch.arange(t), torch.arange(side), torch.arange(side), indexing="ij")
    pos = torch.cat([sinusoidal_embedding(v.flatten().float(), part) for v in (tt, yy, xx)], dim=-1)  # (N, 3*part)
    return F.pad(pos, (0, dim - pos.shape[-1]))[None]  # (1, N, D)
