"""The recognizer's objective: CTC over the characters of each item's text.

The network (:class:`text2sign.models.recognizer.PoseRecognizer`) gives per-frame letter scores
``(B, T', V)``, one every ``downsample`` frames; CTC sums over every alignment of the text to
those frames, so no letter timing is needed. Characters of a text that
are not in the model's vocabulary are left out of its target.

:class:`RecognizerObjectiveConfig` is the ``objective:`` section: how the train split is augmented
(speed, rotation, scale, then noise: :func:`text2sign.data.augment.default_augmentation`).
The optimizer and its schedule are the loop's (``train:``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.recognizer import PoseRecognizer
from text2sign.objectives.base import Objective


@dataclass
class RecognizerObjectiveConfig:
    """Augmentation of the train split, in shoulder widths and degrees (see data/augment.py)."""

    augment: bool = True
    speed: tuple[float, float] = (0.8, 1.25)  # drawn log-uniformly: signing slowed down or sped up
    noise_std: float = bounded(0.01, min=0.0)
    max_vertical_degrees: float = bounded(15.0, min=0.0)  # turn about the vertical axis
    max_view_degrees: float = bounded(10.0, min=0.0)  # tilt about the viewing axis
    scale: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        for name in ("speed", "scale"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigError(f"{name} must be a range [low, high] with 0 < low <= high, got [{low}, {high}]")


class RecognizerObjective(Objective):
    """CTC loss of a :class:`PoseRecognizer` on a ``PoseBatch``."""

    def __init__(self, model: PoseRecognizer):
        super().__init__()
        self.model = model
        self.char_index = {c: i + 1 for i, c in enumerate(model.config.vocab)}
        self.language_index = {lang: i for i, lang in enumerate(model.config.languages)}

    def logits(self, batch, language: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's CTC logits ``(B, T', V)`` and their frame mask ``(B, T')`` for a batch
        (a ``PoseBatch`` here; a reader of other inputs overrides this and keeps the loss)."""
        return self.model(batch.features, batch.joint_mask, batch.frame_mask, language)

    def forward(self, batch, group: str = "model") -> dict[str, torch.Tensor]:
        device = batch.frame_mask.device
        language = torch.tensor([self.language_index[s] for s in batch.signed_languages], device=device)
        targets = [[self.char_index[c] for c in text if c in self.char_index] for text in batch.texts]
        logits, out_mask = self.logits(batch, language)  # (B, T', V)
        log_probs = logits.float().log_softmax(dim=-1).transpose(0, 1)  # (T', B, V)
        loss = F.ctc_loss(
            log_probs,
            torch.tensor([c for t in targets for c in t], dtype=torch.long, device=device),
            out_mask.sum(dim=1),
            torch.tensor([len(t) for t in targets], dtype=torch.long, device=device),
            blank=0,
            # A text longer than its frames can hold has no alignment; its infinite loss is dropped.
            zero_infinity=True,
        )
        return {"loss": loss}

    def inference_model(self) -> nn.Module:
        return self.model
