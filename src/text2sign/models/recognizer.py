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

The constructor arguments are the config (:class:`RecognizerConfig`), so a checkpoint's
``config.json`` rebuilds the network with ``PoseRecognizer(**config)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class RecognizerConfig:
    num_features: int  # F: joints x dims of the chosen kinds
    num_joints: int  # J: joints of the chosen kinds (one mask flag each)
    vocab_size: int  # output symbols including the CTC blank at index 0
    num_languages: int  # signed languages the embedding knows
    hidden: int = 192
    kernel_size: int = 5
    downsample: int = 2
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    dropout: float = 0.1


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


class PoseRecognizer(nn.Module):
    def __init__(
        self,
        num_features: int,
        num_joints: int,
        vocab_size: int,
        num_languages: int,
        hidden: int = 192,
        kernel_size: int = 5,
        downsample: int = 2,
        dilations: tuple[int, ...] | list[int] = (1, 2, 4, 1, 2, 4),
        dropout: float = 0.1,
    ):
        super().__init__()
        dilations = tuple(int(d) for d in dilations)
        self.config = RecognizerConfig(
            num_features, num_joints, vocab_size, num_languages, hidden, kernel_size, downsample, dilations, dropout
        )
        self.input = nn.Linear(num_features + num_joints, hidden)
        self.language = nn.Embedding(num_languages, hidden)
        self.down = nn.Conv1d(hidden, hidden, kernel_size, stride=downsample, padding=kernel_size // 2)
        self.down_norm = nn.LayerNorm(hidden)
        self.blocks = nn.ModuleList(ConvBlock(hidden, kernel_size, d, dropout) for d in dilations)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    @property
    def embedding_dim(self) -> int:
        return self.config.hidden

    def config_dict(self) -> dict:
        d = asdict(self.config)
        d["dilations"] = list(d["dilations"])
        return d

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames after the strided convolution: ceil(T / downsample)."""
        return (lengths + self.config.downsample - 1) // self.config.downsample

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
        for block in self.blocks:
            x = block(x, keep)
        return x * keep, out_mask

    def forward(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC logits ``(B, T', vocab_size)`` and their frame mask ``(B, T')``."""
        states, out_mask = self.encode(features, joint_mask, frame_mask, language)
        return self.head(self.dropout(states)), out_mask

    def pooled(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the encoder states over real frames: one ``(B, hidden)`` vector per sequence."""
        states, out_mask = self.encode(features, joint_mask, frame_mask, language)
        weights = out_mask.unsqueeze(-1).float()  # (B, T', 1)
        return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
