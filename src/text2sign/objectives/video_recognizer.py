"""The video recognizer's objective: the pose recognizer's CTC over the item's characters, on frames.

The loss is :class:`text2sign.objectives.recognizer.RecognizerObjective`'s (CTC, characters outside
the vocabulary left out of the target, alignment-less items dropped); only how a batch becomes
logits differs. :class:`VideoRecognizerObjectiveConfig` is the ``objective:`` section: how the
train split is augmented (:class:`text2sign.data.video_frames.FrameAugment`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from text2sign.config import bounded
from text2sign.data.video_frames import FrameAugment, FrameBatch
from text2sign.errors import ConfigError
from text2sign.models.video_recognizer import VideoRecognizerNet
from text2sign.objectives.recognizer import RecognizerObjective


@dataclass
class VideoRecognizerObjectiveConfig:
    """Augmentation of the train split (see data/video_frames.py): speed factor range, shift in
    pixels of the recognizer's frame, pixel noise on the [-1, 1] scale."""

    augment: bool = True
    speed: tuple[float, float] = (0.8, 1.25)
    shift: int = bounded(1, min=0, max=64)
    noise_std: float = bounded(0.03, min=0.0, max=1.0)

    def __post_init__(self) -> None:
        low, high = self.speed
        if not 0 < low <= high:
            raise ConfigError(f"speed must be a range [low, high] with 0 < low <= high, got [{low}, {high}]")

    def augmentation(self) -> FrameAugment | None:
        return FrameAugment(tuple(self.speed), self.shift, self.noise_std) if self.augment else None


class VideoRecognizerObjective(RecognizerObjective):
    """CTC loss of a :class:`VideoRecognizerNet` on a :class:`FrameBatch`."""

    def __init__(self, model: VideoRecognizerNet):
        super().__init__(model)

    def logits(self, batch: FrameBatch, language: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(batch.frames, batch.frame_mask, language)
