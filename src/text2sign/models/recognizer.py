"""PoseRecognizer: a small temporal encoder that reads pose features as CTC letter scores.

    features (B, T, F) ++ joint mask (B, T, J)      seen joints flagged, so "missing" != "at the mean"
      -> linear to `hidden` + signed-language embedding
      -> Conv1d (k) -> Conv1d (k, stride `downsample`)   local motion, T' = ceil(T / downsample)
      -> BiGRU x `rnn_layers` (packed: padding never leaks into real frames)
      -> linear to `vocab_size` logits (index 0 is the CTC blank)

The constructor arguments are the config (:class:`RecognizerConfig`), so a checkpoint's
``config.json`` rebuilds the network with ``PoseRecognizer(**config)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


@dataclass(frozen=True)
class RecognizerConfig:
    num_features: int  # F: joints x dims of the chosen kinds
    num_joints: int  # J: joints of the chosen kinds (one mask flag each)
    vocab_size: int  # output symbols including the CTC blank at index 0
    num_languages: int  # signed languages the embedding knows
    hidden: int = 192
    kernel_size: int = 5
    downsample: int = 2
    rnn_hidden: int = 128
    rnn_layers: int = 2
    dropout: float = 0.1


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
        rnn_hidden: int = 128,
        rnn_layers: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.config = RecognizerConfig(
            num_features, num_joints, vocab_size, num_languages, hidden, kernel_size, downsample, rnn_hidden, rnn_layers, dropout
        )
        self.input = nn.Linear(num_features + num_joints, hidden)
        self.language = nn.Embedding(num_languages, hidden)
        self.conv1 = nn.Conv1d(hidden, hidden, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size, stride=downsample, padding=kernel_size // 2)
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(
            hidden, rnn_hidden, rnn_layers, batch_first=True, bidirectional=True, dropout=dropout if rnn_layers > 1 else 0.0
        )
        self.head = nn.Linear(2 * rnn_hidden, vocab_size)

    @property
    def embedding_dim(self) -> int:
        return 2 * self.config.rnn_hidden

    def config_dict(self) -> dict:
        return asdict(self.config)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames after the strided convolution: ceil(T / downsample)."""
        return (lengths + self.config.downsample - 1) // self.config.downsample

    def encode(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states ``(B, T', 2 * rnn_hidden)`` and their frame mask ``(B, T')``."""
        keep = frame_mask.unsqueeze(-1).float()  # (B, T, 1)
        x = torch.cat([features, joint_mask.float()], dim=-1) * keep  # (B, T, F + J)
        x = self.input(self.dropout(x)) + self.language(language).unsqueeze(1)  # (B, T, H)
        x = x * keep
        x = torch.nn.functional.gelu(self.norm1(self.conv1(x.transpose(1, 2)).transpose(1, 2))) * keep  # (B, T, H)
        x = torch.nn.functional.gelu(self.norm2(self.conv2(x.transpose(1, 2)).transpose(1, 2)))  # (B, T', H)
        out_mask = frame_mask[:, :: self.config.downsample]  # (B, T')
        lengths = out_mask.sum(dim=1)  # (B,)
        packed = pack_padded_sequence(self.dropout(x), lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        states, _ = self.rnn(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=x.shape[1])  # (B, T', 2R)
        return states * out_mask.unsqueeze(-1), out_mask

    def forward(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC logits ``(B, T', vocab_size)`` and their frame mask ``(B, T')``."""
        states, out_mask = self.encode(features, joint_mask, frame_mask, language)
        return self.head(self.dropout(states)), out_mask

    def pooled(
        self, features: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, language: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the encoder states over real frames: one ``(B, 2 * rnn_hidden)`` vector per sequence."""
        states, out_mask = self.encode(features, joint_mask, frame_mask, language)
        weights = out_mask.unsqueeze(-1).float()  # (B, T', 1)
        return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
