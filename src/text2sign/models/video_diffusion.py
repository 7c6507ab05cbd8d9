"""The text-to-video denoiser: a text encoder, a timestep embedding and one of the backbones of
:mod:`.video_denoisers` (or Tune-A-Video's inflated UNet, or the per-frame image DiT), rebuilt
from :class:`VideoDiffusionConfig` alone.

``forward(x_t (B, C, T, h, w), t (B,), context, context_mask) -> prediction (B, C, T, h, w)``, where
the context comes from :meth:`VideoDiffusionNet.encode` (texts + signed languages) or
:meth:`VideoDiffusionNet.null_context` (the learned "no text" of classifier-free guidance).
Videos are pixels in [-1, 1]. Diffusion runs on pixels (C = 3, h = w = `size`) or on the latents
of a VAE (`model.vae`, and always for Tune-A-Video) or of a trained ``video-ae`` stage
(`model.autoencoder`): :meth:`to_latent` / :meth:`from_latent`.
Pretrained weights (`model.pretrained`) are copied in by :meth:`load_pretrained` when training
starts; a trained checkpoint holds every trained weight itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.frame_codec import FrameAutoencoder, FrameAutoencoderConfig, FrameVAE
from text2sign.models.frame_dit import FrameDiT, load_image_dit
from text2sign.models.tune_a_video import InflatedUNet
from text2sign.models.video_denoisers import DiT3D, UNet3D
from text2sign.text.build import build_text_encoder
from text2sign.text.encoders import TextEncoderConfig
from text2sign.text.layers import masked_mean, sinusoidal_embedding

DENOISERS = ("unet3d", "dit3d", "factorized", "diffusers-unet3d", "tune-a-video", "frame-dit")
PRETRAINED_DENOISERS = ("tune-a-video", "frame-dit")
TEMPORAL_LAYERS = ("attention", "conv")
PACED_DENOISERS = ("dit3d", "factorized")


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
    # tune-a-video: a local Stable Diffusion directory (diffusers layout); frame-dit: an image DiT
    # checkpoint in facebookresearch/DiT's format (file or folder; "" trains it from scratch)
    pretrained: str = ""
    # tune-a-video: tune only temporal layers and attention queries (the paper's recipe);
    # frame-dit: only temporal layers, text cross-attention and pooling
    freeze_pretrained: bool = False
    sparse_causal: bool = True  # tune-a-video: frames attend to the first and previous frame
    temporal: str = "attention"  # frame-dit: the layer after each block that mixes frames (TEMPORAL_LAYERS)
    frame_chunk: int = bounded(0, min=0, max=4096)  # frames at a time through per-frame parts (VAE, frame-dit); 0: all
    # latent space: a local diffusers AutoencoderKL (a Stable Diffusion directory or its vae/ folder);
    # "" is pixel space, except for tune-a-video, which uses its directory's VAE
    vae: str = ""
    # latent space of a trained `video-ae` stage: copied from init.autoencoder by the family's build,
    # weights and all, so checkpoints load alone
    autoencoder: FrameAutoencoderConfig | None = None
    # dit3d / factorized with the char encoder: each frame's tokens also get the state of the letter
    # it should be signing, letter k over frames [text_lead + k * text_pace, text_lead + (k + 1) * text_pace),
    # a learned "start" vector before the first and a "done" vector after the last, so the model need
    # not discover when each letter is signed from cross-attention alone. text_pace (frames a letter)
    # and text_lead (frames before the first) are measured from the training clips when text_pace is 0.
    paced_text: bool = False
    text_pace: float = bounded(0.0, min=0.0, max=1000.0)
    text_lead: float = bounded(0.0, min=0.0, max=1000.0)
    fps: float = 0.0  # filled from the data: the rate the frames were rendered at

    def __post_init__(self) -> None:
        if self.denoiser not in DENOISERS:
            raise ConfigError(f"denoiser must be one of {', '.join(DENOISERS)}, got {self.denoiser!r}")
        if self.width % self.heads:
            raise ConfigError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.denoiser == "tune-a-video" and not self.pretrained:
            raise ConfigError("denoiser tune-a-video needs model.pretrained: a local Stable Diffusion directory")
        if self.denoiser == "tune-a-video" and self.text.kind == "hf" and not self.text.path:
            self.text = dataclasses.replace(self.text, path=self.pretrained)  # the directory's own CLIP text encoder
        if self.pretrained and self.denoiser not in PRETRAINED_DENOISERS:
            raise ConfigError(
                f"model.pretrained is for the {' and '.join(PRETRAINED_DENOISERS)} denoisers, not {self.denoiser}"
            )
        if self.paced_text and self.denoiser not in PACED_DENOISERS:
            raise ConfigError(f"paced_text is for the {' and '.join(PACED_DENOISERS)} denoisers, not {self.denoiser}")
        if self.paced_text and (self.text.kind != "char" or self.text.language_mode != "add"):
            raise ConfigError("paced_text needs the char text encoder with language_mode add (one state per letter)")
        if self.temporal not in TEMPORAL_LAYERS:
            raise ConfigError(f"temporal must be one of {', '.join(TEMPORAL_LAYERS)}, got {self.temporal!r}")
        if self.autoencoder is not None and (self.vae or self.denoiser == "tune-a-video"):
            raise ConfigError(
                "model.vae (or tune-a-video's VAE) and init.autoencoder are two latent spaces: choose one"
            )
        if not self.vae and self.autoencoder is None and self.denoiser != "tune-a-video":
            check_backbone_shape(self, self.size)


def check_backbone_shape(config: VideoDiffusionConfig, side: int) -> None:
    """The backbone's grid must fit `side` (pixels, or latents under a VAE) and the frame count."""
    if config.denoiser in ("unet3d", "diffusers-unet3d") and side % 2 ** (len(config.channel_mults) - 1):
        raise ConfigError(f"size {side} does not halve {len(config.channel_mults) - 1} times")
    if config.denoiser in ("dit3d", "factorized", "frame-dit") and (
        side % config.patch or config.frames % config.patch_t
    ):
        raise ConfigError(
            f"{config.frames} frames of {side} px do not split into ({config.patch_t}, {config.patch}, "
            f"{config.patch}) patches"
        )


class VideoDiffusionNet(nn.Module):
    def __init__(self, config: VideoDiffusionConfig):
        super().__init__()
        self.config = config
        self.text_encoder = build_text_encoder(config.text)
        self.config.text = self.text_encoder.config
        vae = config.vae or (config.pretrained if config.denoiser == "tune-a-video" else "")
        self.frame_vae = FrameVAE.from_directory(vae, config.frame_chunk) if vae else None
        if config.autoencoder is not None:
            self.frame_vae = FrameVAE(FrameAutoencoder(config.autoencoder).vae, config.frame_chunk, stored=True)
        self.channels = self.frame_vae.channels if self.frame_vae else 3
        factor = self.frame_vae.factor if self.frame_vae else 1
        if config.size % factor:
            raise ConfigError(f"size {config.size} is not a multiple of the VAE's downsampling factor {factor}")
        self.side = config.size // factor
        self.time_mlp = None  # for backbones that embed timesteps themselves
        self.pool_text = None
        # The text projection is built before the backbone, so a seed draws the weights earlier runs started from.
        unet = _inflated_unet(config, self.channels) if config.denoiser == "tune-a-video" else None
        d = unet.cross_attention_dim if unet is not None else config.width
        text_dim = self.text_encoder.output_dim
        # Stable Diffusion's cross-attention was trained on CLIP's states: hand them on unchanged.
        self.context_proj = nn.Identity() if unet is not None and text_dim == d else nn.Linear(text_dim, d)
        self.null_text = nn.Parameter(torch.zeros(1, 1, d))
        if unet is not None:
            self.backbone = unet
            return
        check_backbone_shape(config, self.side)
        if config.denoiser == "diffusers-unet3d":
            self.backbone = diffusers_unet3d(config, self.channels, self.side)
        elif config.denoiser == "frame-dit":
            self.backbone = FrameDiT(
                self.channels,
                config.frames,
                self.side,
                config.patch,
                d,
                config.depth,
                config.heads,
                context_dim=d,
                temporal=config.temporal,
                frame_chunk=config.frame_chunk,
            )
        else:
            self.time_mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d))
            if config.denoiser == "unet3d":
                self.backbone = UNet3D(
                    self.channels, d, tuple(config.channel_mults), tuple(config.attention_levels), config.heads, d, d
                )
            else:
                self.backbone = DiT3D(
                    self.channels,
                    config.frames,
                    self.side,
                    config.patch,
                    config.patch_t,
                    d,
                    config.depth,
                    config.heads,
                    factorized=config.denoiser == "factorized",
                )
                self.pool_text = nn.Linear(d, d)
                if config.paced_text:
                    if not config.text_pace:
                        raise ConfigError(
                            "paced_text needs text_pace: the video-diffusion family measures it from the training clips"
                        )
                    self.pace_proj = nn.Linear(d, d)
                    self.pace_start = nn.Parameter(torch.zeros(1, 1, d))
                    self.pace_done = nn.Parameter(torch.zeros(1, 1, d))

    def latent_shape(self, frames: int) -> tuple[int, int, int, int]:
        """What the diffusion runs on for a clip of `frames` frames: (C, T, h, w)."""
        return self.channels, frames, self.side, self.side

    def to_latent(self, videos: torch.Tensor) -> torch.Tensor:
        """Pixels (B, 3, T, H, W) in [-1, 1] -> what the diffusion runs on (the same, without a VAE)."""
        return videos if self.frame_vae is None else self.frame_vae.encode(videos)

    def from_latent(self, latents: torch.Tensor) -> torch.Tensor:
        return latents if self.frame_vae is None else self.frame_vae.decode(latents)

    def load_pretrained(self) -> list[str]:
        """Copy `model.pretrained` into the backbone and apply `freeze_pretrained`; one line per
        thing done or adapted. Training calls it once, before any checkpoint is loaded."""
        config, notes = self.config, []
        if config.denoiser == "tune-a-video":
            notes += self.backbone.load_pretrained()
            if config.freeze_pretrained:
                notes += self.backbone.freeze_to_recipe()
        elif config.denoiser == "frame-dit" and config.pretrained:
            notes += load_image_dit(self.backbone, config.pretrained)
            if config.freeze_pretrained:
                self.backbone.freeze_spatial()
                notes.append(
                    "frame-dit: the image DiT's weights are frozen; temporal layers, cross-attention and text "
                    "pooling train"
                )
        return notes

    def encode(self, texts: list[str], languages: list[str] | None) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.text_encoder(texts, languages)  # (B, L, Ct), (B, L)
        return self.context_proj(states), mask

    def null_context(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        mask = torch.ones(batch, 1, dtype=torch.bool, device=self.null_text.device)
        return self.null_text.expand(batch, -1, -1), mask

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor
    ) -> torch.Tensor:
        if self.config.denoiser == "diffusers-unet3d":
            # Its cross-attention takes no key mask: padded tokens are zero vectors it still sees.
            return self.backbone(x, t, encoder_hidden_states=context * context_mask[..., None]).sample
        if self.time_mlp is None:
            return self.backbone(x, t, context, context_mask)
        temb = self.time_mlp(sinusoidal_embedding(t.float(), self.config.width))  # (B, D)
        if self.pool_text is not None:
            temb = temb + self.pool_text(masked_mean(context, context_mask))
        if self.config.paced_text:
            return self.backbone(
                x, temb, context, context_mask, self.pace_proj(self.paced_context(context, context_mask, x.shape[2]))
            )
        return self.backbone(x, temb, context, context_mask)

    def paced_context(self, context: torch.Tensor, context_mask: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, frames, D): frame f gets the state of letter floor((f - text_lead) / text_pace), the
        "start" vector before the first letter and the "done" vector once the text's letters are used
        up (the null context is a one-letter text)."""
        config = self.config
        letters = context_mask.sum(1)  # (B,): the char encoder's states are left-aligned, one a letter
        which = (
            ((torch.arange(frames, device=context.device) - config.text_lead) / config.text_pace).floor().long()
        )  # (T,)
        index = torch.minimum(which.clamp_min(0)[None], letters[:, None] - 1)  # (B, T)
        states = torch.gather(context, 1, index[..., None].expand(-1, -1, context.shape[-1]))
        states = torch.where((which[None] < letters[:, None])[..., None], states, self.pace_done)
        return torch.where((which < 0)[None, :, None], self.pace_start, states)


def _inflated_unet(config: VideoDiffusionConfig, channels: int) -> nn.Module:
    unet = InflatedUNet(config.pretrained, config.sparse_causal, config.heads)
    if unet.in_channels != channels:
        raise ConfigError(
            f"the UNet in {config.pretrained} takes {unet.in_channels} channels, its VAE gives {channels}"
        )
    return unet


def diffusers_unet3d(config: VideoDiffusionConfig, channels: int, side: int) -> nn.Module:
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
        sample_size=side,
        in_channels=channels,
        out_channels=channels,
        down_block_types=tuple("CrossAttnDownBlock3D" if i in attend else "DownBlock3D" for i in levels),
        up_block_types=tuple("CrossAttnUpBlock3D" if i in attend else "UpBlock3D" for i in reversed(levels)),
        block_out_channels=tuple(config.width * m for m in config.channel_mults),
        layers_per_block=1,
        norm_num_groups=min(8, config.width),
        cross_attention_dim=config.width,
        attention_head_dim=config.heads,
    )


def pad_contexts(
    a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (context, mask) batches stacked into one, padding the shorter token axis."""
    length = max(a[0].shape[1], b[0].shape[1])

    def pad(ctx, mask):
        extra = length - ctx.shape[1]
        return F.pad(ctx, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)

    (ca, ma), (cb, mb) = pad(*a), pad(*b)
    return torch.cat([ca, cb]), torch.cat([ma, mb])
