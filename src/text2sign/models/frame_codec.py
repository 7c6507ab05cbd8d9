"""Latent space for video diffusion: an image autoencoder applied frame by frame.

The designs train in a VAE's latent space when frames are large (the UNet3D design through
Stable Diffusion's VAE: 8x smaller on each side, 4 channels). :class:`FrameVAE` encodes and decodes
clips in chunks of frames, so memory stays bounded however long the clip, through one of two
diffusers ``AutoencoderKL``s:

* a local pretrained one (:meth:`FrameVAE.from_directory`: a Stable Diffusion directory, its
  ``vae/`` folder or the VAE's own folder), frozen and out of checkpoints (it is read again from
  the directory);
* one trained here as its own stage (:class:`FrameAutoencoder`, family ``video-ae``), whose weights
  a video model copies in (``init: {autoencoder: RUN}``) and keeps in its checkpoints, so the model
  loads alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from text2sign.config import bounded
from text2sign.errors import CheckpointError, ConfigError, first_line
from text2sign.text.layers import Frozen


def diffusers_component(path: str | Path, folder: str) -> Path:
    """`path`/`folder` for a diffusers pipeline directory (model_index.json), else `path` itself."""
    path = Path(path).expanduser()
    if (path / "model_index.json").is_file():
        path = path / folder
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path} is not a diffusers model directory (no config.json)")
    return path


def import_diffusers(what: str):
    try:
        import diffusers
    except ImportError:
        raise ConfigError(f"{what} needs diffusers and transformers: pip install 'text2sign[video]'") from None
    diffusers.utils.logging.disable_progress_bar()  # our own progress display is the training loop's
    return diffusers


@dataclass
class FrameAutoencoderConfig:
    """The ``model:`` section of the ``video-ae`` family: a small diffusers ``AutoencoderKL``.

    Each level after the first halves the frame's side (``channels`` [32, 64, 64]: 32 px frames
    become 8 x 8 latents of ``latent_channels``).
    """

    size: int = bounded(0, min=0, max=1024)  # frame side in pixels; 0: the corpus's
    channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    latent_channels: int = bounded(8, min=1, max=64)
    layers_per_block: int = bounded(1, min=1, max=4)
    norm_groups: int = bounded(16, min=1, max=64)
    attention: bool = True  # self-attention in the middle block (at the latent resolution)
    # Latents are multiplied by this before diffusion: the video model's stage sets it to 1 / their
    # standard deviation over its training clips (as Stable Diffusion's 0.18215 was measured).
    scaling_factor: float = bounded(1.0, min=1e-6, max=1e6)

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("model.channels is empty: give one channel count per level")
        uneven = [c for c in self.channels if c % self.norm_groups]
        if uneven:
            raise ConfigError(f"model.channels {uneven} are not divisible by model.norm_groups {self.norm_groups}")
        if self.size and self.size % self.factor:
            raise ConfigError(f"frames of {self.size} px do not halve {len(self.channels) - 1} times (model.channels)")

    @property
    def factor(self) -> int:
        return 2 ** (len(self.channels) - 1)


class FrameAutoencoder(nn.Module):
    """``forward(frames (N, 3, H, W) in [-1, 1]) -> (reconstructions, posterior)``: the network of
    the ``video-ae`` family; the posterior is diffusers' ``DiagonalGaussianDistribution``."""

    def __init__(self, config: FrameAutoencoderConfig):
        super().__init__()
        diffusers = import_diffusers("the video-ae family")
        self.config = config
        levels = len(config.channels)
        self.vae = diffusers.AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * levels,
            up_block_types=("UpDecoderBlock2D",) * levels,
            block_out_channels=tuple(config.channels),
            layers_per_block=config.layers_per_block,
            latent_channels=config.latent_channels,
            norm_num_groups=config.norm_groups,
            sample_size=config.size or 32,
            scaling_factor=config.scaling_factor,
            mid_block_add_attention=config.attention,
        )

    def forward(self, frames: torch.Tensor, sample: bool = True):
        posterior = self.vae.encode(frames).latent_dist
        latents = posterior.sample() if sample else posterior.mode()
        return self.vae.decode(latents).sample, posterior


class FrameVAE(nn.Module):
    """``encode(videos (B, 3, T, H, W) in [-1, 1]) -> latents (B, C, T, H/f, W/f)`` and back.

    Encoding takes the posterior mean (no sampling), so a clip has one latent and dev losses
    compare across passes; latents are shifted and scaled by the VAE's ``shift_factor`` (if any) and
    ``scaling_factor`` to unit variance, as diffusers' pipelines do. `stored`: the VAE's weights
    are part of this module's state (a trained :class:`FrameAutoencoder`), not re-read from a directory.
    """

    def __init__(self, vae: nn.Module, frame_chunk: int = 0, stored: bool = False):
        super().__init__()
        self.vae = vae.requires_grad_(False) if stored else Frozen(vae)
        self.channels = vae.config.latent_channels
        self.factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling = float(vae.config.scaling_factor)
        self.shift = float(getattr(vae.config, "shift_factor", None) or 0.0)  # SD3-style VAEs centre their latents too
        self.frame_chunk = frame_chunk

    @classmethod
    def from_directory(cls, path: str | Path, frame_chunk: int = 0) -> FrameVAE:
        diffusers = import_diffusers("model.vae")
        folder = diffusers_component(path, "vae")
        try:
            vae = diffusers.AutoencoderKL.from_pretrained(str(folder), local_files_only=True, low_cpu_mem_usage=False)
        except (OSError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"cannot read the VAE in {folder}: {first_line(error)}") from None
        return cls(vae, frame_chunk)

    @property
    def autoencoder(self) -> nn.Module:
        return self.vae.module if isinstance(self.vae, Frozen) else self.vae

    @torch.no_grad()
    def _per_frame(self, videos: torch.Tensor, step) -> torch.Tensor:
        b, _, t = videos.shape[:3]
        frames = videos.transpose(1, 2).flatten(0, 1)  # (B*T, C, H, W)
        chunk = self.frame_chunk or len(frames)
        out = torch.cat([step(frames[i : i + chunk]) for i in range(0, len(frames), chunk)])
        return out.view(b, t, *out.shape[1:]).transpose(1, 2)

    def encode(self, videos: torch.Tensor) -> torch.Tensor:
        vae = self.autoencoder
        return self._per_frame(videos, lambda x: (vae.encode(x).latent_dist.mean - self.shift) * self.scaling)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.autoencoder
        return self._per_frame(latents, lambda z: vae.decode(z / self.scaling + self.shift).sample.clamp(-1, 1))
