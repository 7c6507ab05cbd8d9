"""PoseRecognizer: a small temporal convolution network that reads pose features as CTC letter scores.

    features (B, T, F) ++ joint mask (B, T, J)      seen joints flagged, so "missing" != "at the mean"
      -> linear to `hidden` + signed-language embedding
      -> Conv1d (k, stride `downsample`)               T' = ceil(T / downsample)
      -> residual blocks: Conv1d (k, dilation d) -> LayerNorm -> GELU, one per entry of `dilations`
      -> linear to `vocab_size` logits (index 0 is the CTC blank)

Convolutions rather than a recurrent layer: a GRU runs one small matrix product per frame,
which made CPU training steps much slower here, and fingerspelled letters are local events;
with the defaults the receptive field is ~117 frames (4.7 s at 25 fps). Padded frames are zeroed
before every convolution, so a sequence's outputs do not depend on how much padding its batch has.

:class:`RecognizerConfig` is the whole ``model:`` section of a recognizer checkpoint: the
network's hyperparameters and the facts of its training data that reading a new pose needs
(vocabulary, languages, joints, coordinates, frame rate), so ``PoseRecognizer(config)`` and
``text2sign.evaluation.recognizer.Recognizer`` work from ``config.json`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.pose.layout import DEFAULT_KINDS, Layout, check_kinds
from text2sign.text.layers import masked_mean


def check_temporal_layers(config) -> None:
    """The checks of the temporal convolution settings every recognizer config shares."""
    if not config.dilations or min(config.dilations) < 1 or max(config.dilations) > 64 or len(config.dilations) > 32:
        raise ConfigError(f"dilations must be 1 to 32 integers from 1 to 64, got {config.dilations}")
    if config.kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size must be odd, got {config.kernel_size}")


@dataclass
class RecognizerConfig:
    """Fields marked "from the data" are filled in by the family's build (families/recognizer.py)."""

    hidden: int = bounded(128, min=1, max=4096)
    kernel_size: int = bounded(5, min=1, max=31)
    downsample: int = bounded(2, min=1, max=16)  # frames per encoder step
    dilations: list[int] = field(default_factory=lambda: [1, 2, 4, 1, 2, 4])  # one residual block each
    dropout: float = bounded(0.1, min=0.0, max=0.9)
    kinds: list[str] = field(default_factory=lambda: list(DEFAULT_KINDS))  # pose component kinds read
    # MediaPipe's depth is not on the scale of x and y (pose.features.first_dims): read x and y only.
    dims: int = bounded(2, min=1, max=3)
    # Hand joints as offsets from their wrist (pose.features.hands_relative_to_wrist): handshape
    # is what spells a letter, and as absolute positions it drowns in arm movement.
    hand_relative: bool = True
    vocab: list[str] = field(default_factory=list)  # from the data: symbol i + 1 of the output (0 is the blank)
    languages: list[str] = field(default_factory=list)  # from the data: the signed languages embedded
    layout: dict[str, Any] = field(default_factory=dict)  # from the data: the joints read (Layout.to_dict())
    fps: float = bounded(0.0, min=0.0)  # from the data: poses are resampled to it before reading

    def __post_init__(self) -> None:
        self.kinds = list(self.kinds)
        self.dilations = [int(d) for d in self.dilations]
        check_kinds(self.kinds)
        check_temporal_layers(self)

    @property
    def joints(self) -> Layout:
        if not self.layout:
            raise ConfigError("the recognizer config has no layout: it is filled from the corpus when training starts")
        return Layout.from_dict(self.layout)

    @property
    def num_joints(self) -> int:
        """J: joints of the chosen kinds (one mask flag each)."""
        return int(self.joints.kind_indices(*self.kinds).size)

    @property
    def num_features(self) -> int:
        """F: joints x dims of the chosen kinds."""
        return self.num_joints * self.dims


class ConvBlock(nn.Module):
    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(hidden, hidden, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x: (B, T, H), keep: (B, T, 1) float."""
        y = self.conv((x * keep).transpose(1, 2)).transpose(1, 2)  # (B, T, H)
        return x + self.dropout(torch.nn.functional.gelu(self.norm(y)))


class TemporalCTCReader(nn.Module):
    """What the pose and the video recognizer networks share after their own input layers:
    residual dilated convolutions over time and a linear CTC head (index 0 is the blank)."""

    def add_temporal_layers(self, config) -> None:
        # Called at the end of a subclass's __init__: initial weights are drawn in the order the
        # layers are created, and these came last in every run trained so far, so a seed still
        # reproduces those runs.
        self.blocks = nn.ModuleList(
            ConvBlock(config.hidden, config.kernel_size, d, config.dropout) for d in config.dilations
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, len(config.vocab) + 1)

    @property
    def embedding_dim(self) -> int:
        return self.config.hidden

    def temporal(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """The residual blocks on x ``(B, T, H)``; keep ``(B, T, 1)`` float zeroes padding."""
        for block in self.blocks:
            x = block(x, keep)
        return x * keep

    def ctc_logits(self, states: torch.Tensor) -> torch.Tensor:
        """Encoder states ``(B, T, H)`` -> CTC logits ``(B, T, len(vocab) + 1)``."""
        return self.head(self.dropout(states))


class PoseRecognizer(TemporalCTCReader):
    def __init__(self, config: RecognizerConfig):
        super().__init__()
        if not config.vocab or not config.languages:
            raise ConfigError(
                "the recognizer config has no vocab or languages: they are filled from the corpus when training starts"
            )
        self.config = config
        hidden, k = config.hidden, config.kernel_size
        self.input = nn.Linear(config.num_features + config.num_joints, hidden)
        self.language = nn.Embedding(len(config.languages), hidden)
        self.down = nn.Conv1d(hidden, hidden, k, stride=config.downsample, padding=k // 2)
        self.down_norm = nn.LayerNorm(hidden)
        self.add_temporal_layers(config)

    def encode(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states ``(B, T', hidden)`` (zero on padding) and their frame mask ``(B, T')``."""
        keep = frame_mask.unsqueeze(-1).float()  # (B, T, 1)
        x = torch.cat([features, joint_mask.float()], dim=-1)  # (B, T, F + J)
        x = (self.input(self.dropout(x)) + self.language(language).unsqueeze(1)) * keep  # (B, T, H)
        out_mask = frame_mask[:, :: self.config.downsample]  # (B, T')
        keep = out_mask.unsqueeze(-1).float()  # (B, T', 1)
        x = torch.nn.functional.gelu(self.down_norm(self.down(x.transpose(1, 2)).transpose(1, 2)))  # (B, T', H)
        return self.temporal(x, keep), out_mask

    def forward(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC logits ``(B, T', len(vocab) + 1)`` and their frame mask ``(B, T')``."""
        states, out_mask = self.encode(features, joint_mask, frame_mask, language)
        return self.ctc_logits(states), out_mask

    def pooled(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the encoder states over real frames: one ``(B, hidden)`` vector per sequence."""
        return masked_mean(*self.encode(features, joint_mask, frame_mask, language))
