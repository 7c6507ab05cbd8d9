"""VideoRecognizerNet: a small per-frame CNN and temporal convolutions that read a clip as CTC letter scores.

    frames (B, T, 3, S, S) in [-1, 1], real frames only
      -> per frame: Conv2d 3x3 stride 2 -> BatchNorm -> GELU, one per entry of `channels`   S -> S / 2^len(channels)
      -> flatten (where in the frame the hand is matters, so no global pooling)
      -> linear to `hidden` + signed-language embedding
      -> residual blocks: Conv1d (k, dilation d) -> LayerNorm -> GELU, one per entry of `dilations`
         (the pose recognizer's, :class:`text2sign.models.recognizer.TemporalCTCReader`)
      -> linear to `vocab_size` logits (index 0 is the CTC blank), one per frame

The frame CNN runs on the real frames of a batch only, and padded frames are zeroed before every
temporal convolution, so a clip's outputs do not depend on how much padding its batch has.
No temporal downsampling: at 12.5 fps a fingerspelled letter lasts 3 to 6 frames, and CTC needs
a frame per letter plus a blank between repeated ones.

:class:`VideoRecognizerConfig` is the whole ``model:`` section of a video recognizer checkpoint:
the network's hyperparameters and the facts of its training data that reading a new clip needs
(vocabulary, languages, frame size and rate), so ``VideoRecognizerNet(config)`` and
:class:`text2sign.evaluation.video_recognizer.VideoRecognizer` work from ``config.json`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.recognizer import TemporalCTCReader, check_temporal_layers
from text2sign.text.layers import masked_mean


@dataclass
class VideoRecognizerConfig:
    """Fields marked "from the data" are filled in by the family's build (families/video_recognizer.py)."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # one stride-2 conv each
    hidden: int = bounded(128, min=1, max=4096)
    kernel_size: int = bounded(5, min=1, max=31)
    dilations: list[int] = field(default_factory=lambda: [1, 2, 4, 1, 2, 4])  # one residual block each
    dropout: float = bounded(0.1, min=0.0, max=0.9)
    vocab: list[str] = field(default_factory=list)  # from the data: symbol i + 1 of the output (0 is the blank)
    languages: list[str] = field(default_factory=list)  # from the data: the signed languages embedded
    size: int = bounded(0, min=0, max=1024)  # from the data: frames are scaled to size x size
    fps: float = bounded(0.0, min=0.0)  # from the data: clips are resampled to it before reading

    def __post_init__(self) -> None:
        self.channels = [int(c) for c in self.channels]
        self.dilations = [int(d) for d in self.dilations]
        if not self.channels or min(self.channels) < 1 or max(self.channels) > 1024 or len(self.channels) > 8:
            raise ConfigError(f"channels must be 1 to 8 integers from 1 to 1024, got {self.channels}")
        check_temporal_layers(self)

    @property
    def feature_side(self) -> int:
        """Side of the CNN's last feature map: each stride-2 conv (padding 1) halves it, rounding up."""
        side = self.size
        for _ in self.channels:
            side = (side + 1) // 2
        return side


class FrameEncoder(nn.Module):
    """One frame ``(N, 3, S, S)`` -> one vector ``(N, channels[-1] * side^2)``."""

    def __init__(self, channels: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for c in channels:
            # Batch statistics over the batch's real frames only (padding never reaches this network).
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.GELU()]
            previous = c
        self.net = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames).flatten(1)


class VideoRecognizerNet(TemporalCTCReader):
    def __init__(self, config: VideoRecognizerConfig):
        super().__init__()
        if not config.vocab or not config.languages or not config.size or not config.fps:
            raise ConfigError(
                "the video recognizer config has no vocab, languages, size or fps: they are filled from the "
                "corpus when training starts"
            )
        self.config = config
        hidden = config.hidden
        self.frames = FrameEncoder(config.channels)
        self.input = nn.Linear(config.channels[-1] * config.feature_side**2, hidden)
        self.language = nn.Embedding(len(config.languages), hidden)
        self.input_norm = nn.LayerNorm(hidden)
        self.add_temporal_layers(config)

    def encode(self, frames: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor) -> torch.Tensor:
        """Encoder states ``(B, T, hidden)``, zero on padding."""
        b, t = frame_mask.shape
        per_frame = self.frames(frames[frame_mask])  # (N real, C * side^2)
        x = frames.new_zeros(b, t, per_frame.shape[-1])  # (B, T, C * side^2)
        x[frame_mask] = per_frame
        keep = frame_mask.unsqueeze(-1).float()  # (B, T, 1)
        x = self.input(self.dropout(x)) + self.language(language).unsqueeze(1)  # (B, T, H)
        x = torch.nn.functional.gelu(self.input_norm(x)) * keep
        return self.temporal(x, keep)

    def forward(
        self, frames: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC logits ``(B, T, len(vocab) + 1)`` and their frame mask ``(B, T)`` (the input's)."""
        return self.ctc_logits(self.encode(frames, frame_mask, language)), frame_mask

    def pooled(self, frames: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor) -> torch.Tensor:
        """Mean of the encoder states over real frames: one ``(B, hidden)`` vector per clip."""
        return masked_mean(self.encode(frames, frame_mask, language), frame_mask)
