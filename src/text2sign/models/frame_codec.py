"""Latent space for video diffusion: a pretrained image autoencoder applied frame by frame.

The designs train in a VAE's latent space when frames are large (the UNet3D design through
Stable Diffusion's VAE: 8x smaller on each side, 4 channels). :class:`FrameVAE` opens a local
diffusers ``AutoencoderKL`` -- a Stable Diffusion directory (its ``vae/`` folder) or the VAE's own
folder -- frozen and out of checkpoints (it is read again from the directory), and encodes and
decodes clips in chunks of frames so memory stays bounded however long the clip.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from text2sign.errors import CheckpointError, ConfigError, first_line
from text2sign.models.frozen import Frozen


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


class FrameVAE(nn.Module):
    """``encode(videos (B, 3, T, H, W) in [-1, 1]) -> latents (B, C, T, H/f, W/f)`` and back.

    Encoding takes the posterior mean (no sampling), so a clip has one latent and dev losses
    compare across passes; latents are shifted and scaled by the VAE's ``shift_factor`` (if any) and
    ``scaling_factor`` to unit variance, as diffusers' pipelines do.
    """

    def __init__(self, path: str | Path, frame_chunk: int = 0):
        super().__init__()
        diffusers = import_diffusers("model.vae")
        folder = diffusers_component(path, "vae")
        try:
            vae = diffusers.AutoencoderKL.from_pretrained(str(folder), local_files_only=True, low_cpu_mem_usage=False)
        except (OSError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"cannot read the VAE in {folder}: {first_line(error)}") from None
        self.vae = Frozen(vae)
        self.channels = vae.config.latent_channels
        self.factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling = float(vae.config.scaling_factor)
        self.shift = float(getattr(vae.config, "shift_factor", None) or 0.0)  # SD3-style VAEs centre their latents too
        self.frame_chunk = frame_chunk

    @torch.no_grad()
    def _per_frame(self, videos: torch.Tensor, step) -> torch.Tensor:
        b, _, t = videos.shape[:3]
        frames = videos.transpose(1, 2).flatten(0, 1)  # (B*T, C, H, W)
        chunk = self.frame_chunk or len(frames)
        out = torch.cat([step(frames[i : i + chunk]) for i in range(0, len(frames), chunk)])
        return out.view(b, t, *out.shape[1:]).transpose(1, 2)

    def encode(self, videos: torch.Tensor) -> torch.Tensor:
        vae = self.vae.module
        return self._per_frame(videos, lambda x: (vae.encode(x).latent_dist.mean - self.shift) * self.scaling)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.vae.module
        return self._per_frame(latents, lambda z: vae.decode(z / self.scaling + self.shift).sample.clamp(-1, 1))
