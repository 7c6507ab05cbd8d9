"""Video diffusion conditioned on poses (family ``pose-video``, model ``fs-pose-video``): joint
positions in, video in the appearance of the training videos out.

``forward(x_t (B, C, T, h, w), t (B,), positions (B, T, J, 3), keep (B,) bool) -> prediction``,
where ``x_t`` are noisy latents of a trained frame autoencoder (the ``video-ae`` stage, as
``fs-video`` uses) and ``positions`` say where each joint of the model's layout is in each frame:
x and y as fractions of the frame's width and height, and 1 where the joint is seen
(:mod:`text2sign.pose.canvas`). A row whose ``keep`` is False gets the learned "no pose" instead
(the condition dropout that guidance needs).

The pose enters the DiT-3D (:class:`~text2sign.models.video_denoisers.DiT3D`) three ways, none of
them the drawn skeleton (which would make the model a copier of our drawing):

* **heatmaps at the latent resolution**: per body part, a Gaussian bump at every seen joint,
  concatenated to the noisy latents -- where each part is;
* **per-frame joint tokens**: one token per part and frame from all of that part's coordinates,
  which every video token cross-attends to (with the frame's position in time) -- the handshape
  detail an 8 x 8 latent cannot place by itself;
* the frame's tokens pooled into one vector added to every video token of that frame;
* optionally (``pixel_heatmaps``), heatmaps at the frame's full resolution -- one per hand joint,
  one per other part -- embedded on the DiT's patch grid (a strided convolution, each token
  seeing the joints inside its own patch) and added to its tokens: where each finger is, to the
  pixel.

What the model learns is the appearance: how bones, hands, face and colours look in its videos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.frame_codec import FrameAutoencoder, FrameAutoencoderConfig, FrameVAE
from text2sign.models.video_denoisers import DiT3D
from text2sign.pose.layout import KINDS, get_layout
from text2sign.text.layers import sinusoidal_embedding

PLACEMENTS = ("fit", "frame")


@dataclass
class PoseVideoConfig:
    """The ``model:`` section; ``layout``, ``kinds``, ``fps`` and the signer's place are filled in
    from the data by the family's build."""

    layout: str = ""  # the pose layout whose joints it reads (the pose corpus's)
    kinds: list[str] = field(default_factory=list)  # one part token and heatmap each; [] = all drawn kinds
    # How joints are placed on the frame. fit: the whole sequence fitted to the frame as
    # `text2sign render` draws it (videos drawn from poses). frame: the pixels of the video the pose
    # was extracted from (a signer's own videos); any other pose is placed where that signer stood.
    placement: str = "fit"
    signer_centre: list[float] = field(default_factory=lambda: [0.5, 0.4])  # frame: median shoulder centre
    signer_width: float = bounded(0.3, min=1e-3, max=10.0)  # frame: median shoulder width / frame width
    frames: int = bounded(16, min=1, max=256)  # frames of one training window
    size: int = bounded(32, min=4, max=1024)  # frame side in pixels
    width: int = bounded(128, min=8, max=4096)
    heads: int = bounded(4, min=1, max=64)
    depth: int = bounded(4, min=1, max=64)
    patch: int = bounded(2, min=1, max=64)
    heatmap_sigma: float = bounded(0.75, min=0.05, max=16.0)  # in latent pixels
    # Also heatmaps at the frame's full resolution, one per hand joint (the finger detail) and one
    # per other part, embedded on the DiT's patch grid and added to its tokens; sigma in pixels.
    pixel_heatmaps: bool = False
    pixel_sigma: float = bounded(1.0, min=0.05, max=64.0)
    frame_chunk: int = bounded(256, min=0, max=4096)  # frames at a time through the autoencoder; 0: all
    fps: float = 0.0  # the rate of the training videos: one video frame per pose frame at this rate
    autoencoder: FrameAutoencoderConfig | None = None  # copied from init.autoencoder with its weights

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ConfigError(f"model.placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        if self.width % self.heads:
            raise ConfigError(f"model.width {self.width} is not divisible by model.heads {self.heads}")
        unknown = [k for k in self.kinds if k not in KINDS or k == "world"]
        if unknown:
            raise ConfigError(f"model.kinds {unknown}: drawn kinds are {', '.join(k for k in KINDS if k != 'world')}")
        if len(self.signer_centre) != 2:
            raise ConfigError(f"model.signer_centre is (x, y), got {self.signer_centre}")


class PoseCondition(NamedTuple):
    maps: torch.Tensor  # (B, P, T, h, w) part heatmaps at the latent resolution
    context: torch.Tensor  # (B, T*P, D) part tokens with their frame's time position
    per_frame: torch.Tensor  # (B, T, D) each frame's tokens pooled
    fine: torch.Tensor | None  # (B, N, D) full-resolution heatmaps on the patch grid, or None


def part_indices(config: PoseVideoConfig) -> list[torch.Tensor]:
    layout = get_layout(config.layout)
    return [torch.as_tensor(layout.kind_indices(kind), dtype=torch.long) for kind in config.kinds]


class PoseEncoder(nn.Module):
    """``positions (B, T, J, 3), keep (B,) -> part tokens (B, T, P, D), frame vectors (B, T, D)``."""

    def __init__(self, parts: list[torch.Tensor], dim: int):
        super().__init__()
        self.count = len(parts)
        for i, index in enumerate(parts):
            self.register_buffer(f"index{i}", index, persistent=False)
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(3 * len(index), 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)) for index in parts
        )
        self.part_embedding = nn.Parameter(torch.zeros(len(parts), dim))
        self.null = nn.Parameter(torch.zeros(len(parts), dim))
        self.frame = nn.Linear(len(parts) * dim, dim)

    @property
    def parts(self) -> list[torch.Tensor]:
        """Each part's joint indices (buffers, so they follow the module to its device)."""
        return [getattr(self, f"index{i}") for i in range(self.count)]

    def forward(self, positions: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Centred coordinates: a joint that is not seen (0, 0, 0) sits in the middle, flagged unseen.
        centred = torch.cat([2 * positions[..., :2] - positions[..., 2:], positions[..., 2:]], dim=-1)
        tokens = torch.stack(
            [mlp(centred[:, :, index].flatten(-2)) for index, mlp in zip(self.parts, self.mlps)], dim=2
        )
        tokens = torch.where(keep[:, None, None, None], tokens, self.null)
        return tokens + self.part_embedding, self.frame(tokens.flatten(-2))


def pixel_map_groups(parts: list[torch.Tensor], kinds: list[str]) -> list[torch.Tensor]:
    """The joint groups of full-resolution heatmaps: each hand joint alone, every other part whole."""
    groups = []
    for kind, index in zip(kinds, parts):
        groups += [index[i : i + 1] for i in range(len(index))] if kind.endswith("hand") else [index]
    return groups


def heatmaps(positions: torch.Tensor, parts: list[torch.Tensor], side: int, sigma: float) -> torch.Tensor:
    """``(B, P, T, side, side)``: per part, the Gaussian bumps (sigma in grid cells) of its seen
    joints at each cell of a `side` x `side` grid over the frame, summed and capped at 1. A bump is
    separable, so a part's map is one batched product of its row and column profiles."""
    cells = torch.arange(side, device=positions.device, dtype=positions.dtype) + 0.5
    x = positions[..., 0, None] * side - cells  # (B, T, J, side)
    y = positions[..., 1, None] * side - cells
    columns = torch.exp(-(x**2) / (2 * sigma**2))
    rows = torch.exp(-(y**2) / (2 * sigma**2)) * positions[..., 2, None]  # an unseen joint has no bump
    maps = [torch.einsum("btjr,btjc->btrc", rows[:, :, index], columns[:, :, index]) for index in parts]
    return torch.stack(maps, dim=1).clamp(max=1.0)


class PoseVideoNet(nn.Module):
    def __init__(self, config: PoseVideoConfig):
        super().__init__()
        if config.autoencoder is None:
            raise ConfigError("pose-video needs a trained frame autoencoder: init.autoencoder (a video-ae run)")
        if not config.layout or not config.kinds:
            raise ConfigError("model.layout and model.kinds are empty: the pose-video family fills them from the data")
        self.config = config
        self.frame_vae = FrameVAE(FrameAutoencoder(config.autoencoder).vae, config.frame_chunk, stored=True)
        self.channels = self.frame_vae.channels
        if config.size % self.frame_vae.factor:
            raise ConfigError(
                f"model.size {config.size} is not a multiple of the autoencoder's factor {self.frame_vae.factor}"
            )
        self.side = config.size // self.frame_vae.factor
        if self.side % config.patch:
            raise ConfigError(
                f"{self.side} x {self.side} latents do not split into {config.patch} x {config.patch} patches"
            )
        self.num_joints = get_layout(config.layout).num_joints
        parts = part_indices(config)
        self.pose = PoseEncoder(parts, config.width)
        d = config.width
        self.time_mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d))
        self.pixel_groups = None
        if config.pixel_heatmaps:
            groups = pixel_map_groups(parts, config.kinds)
            for i, index in enumerate(groups):
                self.register_buffer(f"pixel_group{i}", index, persistent=False)
            self.pixel_groups = len(groups)
            cell = self.frame_vae.factor * config.patch  # pixels a side of one DiT patch
            self.pixel_embed = nn.Conv3d(len(groups), d, (1, cell, cell), (1, cell, cell))
        self.backbone = DiT3D(
            self.channels,
            config.frames,
            self.side,
            config.patch,
            1,
            d,
            config.depth,
            config.heads,
            factorized=False,
            in_channels=self.channels + len(parts),
        )

    def latent_shape(self, frames: int) -> tuple[int, int, int, int]:
        return self.channels, frames, self.side, self.side

    def to_latent(self, videos: torch.Tensor) -> torch.Tensor:
        """Pixels (B, 3, T, H, W) in [-1, 1] -> latents (B, C, T, h, w)."""
        return self.frame_vae.encode(videos)

    def from_latent(self, latents: torch.Tensor) -> torch.Tensor:
        return self.frame_vae.decode(latents)

    def condition(self, positions: torch.Tensor, keep: torch.Tensor | None = None) -> PoseCondition:
        """What the pose gives the denoiser, which does not change with the noise level: sampling
        computes it once per window and reuses it at every step."""
        b, frames = positions.shape[:2]
        keep = torch.ones(b, dtype=torch.bool, device=positions.device) if keep is None else keep
        tokens, per_frame = self.pose(positions, keep)  # (B, T, P, D), (B, T, D)
        maps = heatmaps(positions, self.pose.parts, self.side, self.config.heatmap_sigma)
        maps = maps * keep[:, None, None, None, None]
        when = sinusoidal_embedding(torch.arange(frames, device=positions.device).float(), self.config.width)
        context = (tokens + when[None, :, None]).flatten(1, 2)  # (B, T*P, D)
        fine = None
        if self.pixel_groups:
            groups = [getattr(self, f"pixel_group{i}") for i in range(self.pixel_groups)]
            pixel_maps = heatmaps(positions, groups, self.config.size, self.config.pixel_sigma)
            pixel_maps = pixel_maps * keep[:, None, None, None, None]
            fine = self.pixel_embed(pixel_maps).flatten(2).transpose(1, 2)  # (B, T*h'*w', D)
        return PoseCondition(maps, context, per_frame, fine)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        positions: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
        condition: PoseCondition | None = None,
    ) -> torch.Tensor:
        """The prediction for `x` at `t`, given the pose as `positions` (and `keep`) or as the
        `condition` :meth:`condition` made of them."""
        c = self.condition(positions, keep) if condition is None else condition
        mask = torch.ones(c.context.shape[:2], dtype=torch.bool, device=x.device)
        temb = self.time_mlp(sinusoidal_embedding(t.float(), self.config.width))
        fine = None if c.fine is None else c.fine.to(x.dtype)
        return self.backbone(torch.cat([x, c.maps.to(x.dtype)], dim=1), temb, c.context, mask, c.per_frame, fine)
