"""The text-to-video denoiser: a text encoder, a timestep embedding and one of the backbones of
:mod:`.video_denoisers`, rebuilt from :class:`VideoDiffusionConfig` alone.

``forward(x_t (B, 3, T, H, W), t (B,), context, context_mask) -> eps (B, 3, T, H, W)``, where the
context comes from :meth:`VideoDiffusionNet.encode` (texts + signed languages) or
:meth:`VideoDiffusionNet.null_context` (the learned "no text" of classifier-free guidance).
Videos are pixels in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.video_denoisers import DiT3D, UNet3D
from text2sign.text.build import build_text_encoder
from text2sign.text.encoders import TextEncoderConfig
from text2sign.text.layers import masked_mean, sinusoidal_embedding

DENOISERS = ("unet3d", "dit3d", "factorized", "diffusers-unet3d")


@dataclass
class VideoDiffusionConfig:
    """The `model:` section. Presets of the designs: small / standard / large = 64 / 128 / 256
    channels (`width`), 32 / 64 / 128 px (`size`), 8 / 16 / 32 `frames`."""

    denoiser: str = "dit3d"  # one of DENOISERS; diffusers-unet3d needs the [video] extra
    text: TextEncoderConfig = field(default_factory=lambda: TextEncoderConfig(d_model=64, layers=1, heads=4))
    frames: int = bounded(8, min=1, max=256)
    size: int = bounded(32, min=4, max=1024)
    width: int = bounded(64, min=8, max=4096)  # UNet base channels / DiT token width
    heads: int = bounded(4, min=1, max=64)
    # unet3d
    channel_mults: list[int] = field(default_factory=lambda: [1, 2])
    attention_levels: list[int] = field(default_factory=lambda: [1])
    # dit3d / factorized
    depth: int = bounded(4, min=1, max=64)
    patch: int = bounded(4, min=1, max=64)
    patch_t: int = bounded(1, min=1, max=64)
    fps: float = 0.0  # filled from the data: the rate the frames were rendered at

    def __post_init__(self) -> None:
        if self.denoiser not in DENOISERS:
            raise ConfigError(f"denoiser must be one of {', '.join(DENOISERS)}, got {self.denoiser!r}")
        if self.width % self.heads:
            raise ConfigError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.denoiser in ("unet3d", "diffusers-unet3d") and self.size % 2 ** (len(self.channel_mults) - 1):
            raise ConfigError(f"size {self.size} does not halve {len(self.channel_mults) - 1} times")
        if self.denoiser in ("dit3d", "factorized") and (self.size % self.patch or self.frames % self.patch_t):
            raise ConfigError(f"{self.frames} frames of {self.size} px do not split into ({self.patch_t}, {self.patch}, {self.patch}) patches")


class VideoDiffusionNet(nn.Module):
    def __init__(self, config: VideoDiffusionConfig):
        super().__init__()
        self.config = config
        self.text_encoder = build_text_encoder(config.text)
        self.config.text = self.text_encoder.config
        d = config.width
        self.context_proj = nn.Linear(self.text_encoder.output_dim, d)
        self.null_text = nn.Parameter(torch.zeros(1, 1, d))
        self.pool_text = None
        if config.denoiser == "diffusers-unet3d":
            self.time_mlp = None  # it embeds timesteps itself
            self.backbone = diffusers_unet3d(config)
            return
        self.time_mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d))
        if config.denoiser == "unet3d":
            self.backbone = UNet3D(3, d, tuple(config.channel_mults), tuple(config.attention_levels), config.heads, d, d)
        else:
            self.backbone = DiT3D(3, config.frames, config.size, config.patch, config.patch_t, d, config.depth,
                                  config.heads, factorized=config.denoiser == "factorized")
            self.pool_text = nn.Linear(d, d)

    def encode(self, texts: list[str], languages: list[str] | None) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.text_encoder(texts, languages)  # (B, L, Ct), (B, L)
        return self.context_proj(states), mask

    def null_context(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        mask = torch.ones(batch, 1, dtype=torch.bool, device=self.null_text.device)
        return self.null_text.expand(batch, -1, -1), mask

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        if self.config.denoiser == "diffusers-unet3d":
            # Its cross-attention takes no key mask: padded tokens are zero vectors it still sees.
            return self.backbone(x, t, encoder_hidden_states=context * context_mask[..., None]).sample
        temb = self.time_mlp(sinusoidal_embedding(t.float(), self.config.width))  # (B, D)
        if self.pool_text is not None:
            temb = temb + self.pool_text(masked_mean(context, context_mask))
        return self.backbone(x, temb, context, context_mask)


def diffusers_unet3d(config: VideoDiffusionConfig) -> nn.Module:
    """diffusers' ``UNet3DConditionModel`` (the Tune-A-Video / ModelScope UNet) at our sizes.

    Its ``attention_head_dim`` is, for historical reasons, the number of heads (diffusers issue
    2011), so `heads` goes there. Cross-attention runs at the levels `attention_levels` names;
    the others are plain 3D-conv blocks (its full-resolution attention dominates CPU time).
    """
    try:
        from diffusers import UNet3DConditionModel
    except ImportError:
        raise ConfigError("denoiser diffusers-unet3d needs diffusers: pip install 'text2sign[video]'") from None
    levels = range(len(config.channel_mults))
    attend = set(config.attention_levels)
    return UNet3DConditionModel(
        sample_size=config.size, in_channels=3, out_channels=3,
        down_block_types=tuple("CrossAttnDownBlock3D" if i in attend else "DownBlock3D" for i in levels),
        up_block_types=tuple("CrossAttnUpBlock3D" if i in attend else "UpBlock3D" for i in reversed(levels)),
        block_out_channels=tuple(config.width * m for m in config.channel_mults), layers_per_block=1,
        norm_num_groups=min(8, config.width), cross_attention_dim=config.width, attention_head_dim=config.heads,
    )


def pad_contexts(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (context, mask) batches stacked into one, padding the shorter token axis."""
    length = max(a[0].shape[1], b[0].shape[1])

    def pad(ctx, mask):
        extra = length - ctx.shape[1]
        return F.pad(ctx, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)

    (ca, ma), (cb, mb) = pad(*a), pad(*b)
    return torch.cat([ca, cb]), torch.cat([ma, mb])
