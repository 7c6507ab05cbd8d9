"""Inference with a trained GAN-NAT generator: texts in, ``PoseSequence``s out.

Called like every pipeline (:mod:`text2sign.pipelines.base`), with the options ``frames``,
``signer`` and ``gloss``; text handling and placement are every text-to-pose pipeline's
(:mod:`text2sign.pipelines.text_to_pose`). Per batch of texts:

1. the text encoder reads the texts, conditioned on the signed language;
2. the length predictor picks each text's number of frames, unless ``frames=N`` is given;
3. the generator makes all frames at once from fixed-seed style noise, so the same text,
   language and seed always give the same signing, alone or in a batch;
4. features are de-standardized with the checkpoint's ``normalization.json`` and put back
   into the layout (joints outside the model's kinds stay masked), shoulder-normalized.

Everything runs in eval mode under ``torch.inference_mode``; one text skips all masking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from text2sign.errors import CheckpointError
from text2sign.models.gan_nat import GanNatGenerator
from text2sign.pipelines.text_to_pose import MAX_FRAMES_FACTOR, TextToPoseInferenceConfig, TextToPosePipeline
from text2sign.pose.features import select_feature_stats
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import FeatureStats
from text2sign.pose.sequence import PoseSequence

FAMILY = "gan-nat"


@dataclass
class GanNatInferenceConfig(TextToPoseInferenceConfig):
    """The ``inference:`` section of a GAN-NAT checkpoint."""


class GanNatPipeline(TextToPosePipeline):
    name = FAMILY

    def __init__(
        self,
        generator: GanNatGenerator,
        stats: FeatureStats,
        language_pairs: list[tuple[str, str]] | None = None,
        inference: GanNatInferenceConfig | None = None,
        device: str | torch.device = "cpu",
        alphabets: dict[str, str] | None = None,
    ):
        cfg = generator.cfg
        if not cfg.layout or cfg.fps <= 0:
            raise CheckpointError("the generator config does not say its layout and fps (build it with the data)")
        layout = get_layout(cfg.layout)
        kinds = tuple(cfg.kinds) if cfg.kinds else None
        stats = select_feature_stats(stats, layout, kinds)
        if stats.mean.shape[0] != cfg.feature_dim:
            raise CheckpointError(
                f"normalization has {stats.mean.shape[0]} features; the generator makes {cfg.feature_dim}"
            )
        super().__init__(
            generator,
            stats,
            layout,
            kinds,
            float(cfg.fps),
            language_pairs=language_pairs,
            inference=inference or GanNatInferenceConfig(),
            device=device,
            alphabets=alphabets,
        )

    # --- checkpoints --------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> GanNatPipeline:
        """Load a gan-nat checkpoint directory (or a run's best, else latest, one)."""
        from text2sign.checkpoints import load_checkpoint

        checkpoint = load_checkpoint(path)
        if checkpoint.family.name != FAMILY:
            raise CheckpointError(f"{checkpoint.path} is not a {FAMILY} checkpoint (family {checkpoint.family.name!r})")
        return cls.from_checkpoint(checkpoint, device)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write a checkpoint directory (atomically) that :meth:`from_pretrained` and every other
        checkpoint reader load: the training loop's format, without trainer state."""
        from text2sign.checkpoints import save_checkpoint

        pairs = [list(p) for p in self.language_pairs_known] if self.language_pairs_known else None
        alphabets = {lang: "".join(sorted(chars)) for lang, chars in self.alphabets.items()}
        return save_checkpoint(
            Path(path),
            FAMILY,
            self.generator,
            self.generator.cfg,
            inference=self.inference,
            feature_stats=self.stats,
            metadata={"language_pairs": pairs, "alphabets": alphabets},
        )

    # --- inference ----------------------------------------------------------------------------

    @property
    def max_frames(self) -> int:
        return MAX_FRAMES_FACTOR * self.generator.cfg.max_frames

    def _generate(
        self, texts: list[str], signed: str, frames: int | None, seed: int, signer: str | None
    ) -> list[PoseSequence]:
        cfg = self.generator.cfg
        with torch.inference_mode():
            states, mask = self.generator.encode(
                texts, [signed] * len(texts), None if signer is None else [signer] * len(texts)
            )
            if frames is None:
                lengths = self.generator.predict_lengths(states, mask)
            else:
                lengths = torch.full((len(texts),), frames, dtype=torch.long, device=self.device)
            lengths_list = lengths.tolist()
            num_frames = max(lengths_list)
            noise = torch.zeros(len(texts), num_frames, cfg.noise_dim, device=self.device)
            for i, n in enumerate(lengths_list):
                # Each text's noise depends only on the seed and its own length, never on the batch.
                g = torch.Generator().manual_seed(seed)
                noise[i, :n] = torch.randn(n, cfg.noise_dim, generator=g).to(self.device)
            if len(texts) == 1:
                mask = None
            features, visibility = self.generator.forward_with_visibility(states, mask, lengths, noise, num_frames)
            features = features.float().cpu().numpy()  # (B, T, F)
            if visibility is not None:
                sizes = self.generator.component_sizes
                visible = (visibility > 0).cpu().numpy()  # (B, T, C)
                joint_visible = np.repeat(visible, sizes, axis=-1)  # (B, T, J')
        return [
            self._features_to_pose(
                features[i, :n], None if visibility is None else joint_visible[i, :n], cfg.hand_relative
            )
            for i, n in enumerate(lengths_list)
        ]
