"""Inference with a trained GAN-NAT generator: texts in, ``PoseSequence``s out.

``GanNatPipeline(texts, spoken, signed, frames=None)``:

1. the text encoder reads the texts, conditioned on the signed language;
2. the length predictor picks each text's number of frames, unless ``frames=N`` is given;
3. the generator makes all frames at once from fixed-seed style noise, so the same text,
   language and seed always give the same signing, alone or in a batch;
4. features are de-standardized with the checkpoint's ``normalization.json`` and put back
   into the layout (joints outside the model's kinds stay masked). Coordinates are
   shoulder-normalized: centred between the shoulders, one shoulder width = 1.

Everything runs in eval mode under ``torch.inference_mode``; one text skips all masking.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from text2sign.errors import CheckpointError, ConfigError, LanguageError, Text2SignError, TextError
from text2sign.models.gan_nat import GanNatConfig, GanNatGenerator
from text2sign.objectives.gan_nat import select_feature_stats
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats
from text2sign.data.torch_data import hands_from_wrist_offsets
from text2sign.pipelines.concat import check_text, split_words
from text2sign.pose.sequence import PoseSequence, interpolate_frames
from text2sign.training.checkpoint import STATS_NAME, load_pretrained, save_checkpoint
from text2sign.training.config import ExperimentConfig, PoseDataConfig

FAMILY = "gan-nat"
MAX_FRAMES_FACTOR = 4  # --frames may ask for up to this many times the longest trained length


WORD_PAUSE_FRAMES = 6  # frames of movement from one word's end to the next word's start


def join_words(words: list[PoseSequence], pause_frames: int) -> PoseSequence:
    """Words one after another, each pair bridged by `pause_frames` frames moving linearly from
    the last frame of one word to the first frame of the next."""
    parts = [words[0]]
    for previous, following in zip(words, words[1:]):
        if pause_frames > 0:
            ends_data = np.stack([previous.data[-1], following.data[0]])  # (2, J, D)
            ends_mask = np.stack([previous.mask[-1], following.mask[0]])
            positions = np.linspace(0, 1, pause_frames + 2)[1:-1]
            data, mask = interpolate_frames(ends_data, ends_mask & ends_mask.all(axis=0), positions)
            parts.append(PoseSequence(data, mask, previous.fps, previous.layout))
        parts.append(following)
    return PoseSequence.concatenate(parts)


class UnknownCharacters(UserWarning):
    """Parts of a text that the model's vocabulary does not contain (read as <unk>)."""


class GanNatPipeline:
    name = FAMILY

    def __init__(
        self,
        generator: GanNatGenerator,
        stats: FeatureStats,
        language_pairs: list[tuple[str, str]] | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        cfg = generator.cfg
        if not cfg.layout or cfg.fps <= 0:
            raise CheckpointError("the generator config does not say its layout and fps (build it with the data)")
        self.layout: Layout = get_layout(cfg.layout)
        self.kinds = tuple(cfg.kinds) if cfg.kinds else None
        self.fps = float(cfg.fps)
        self.stats = select_feature_stats(stats, self.layout, self.kinds)
        if self.stats.mean.shape[0] != cfg.feature_dim:
            raise CheckpointError(f"normalization has {self.stats.mean.shape[0]} features; the generator makes {cfg.feature_dim}")
        self.generator = generator.to(device).eval()
        self.device = torch.device(device)
        self.language_pairs_known = [tuple(p) for p in language_pairs] if language_pairs else None
        self.seed = seed

    @classmethod
    def from_parts(
        cls,
        text_encoder,
        generator: GanNatGenerator,
        stats: FeatureStats,
        layout: Layout | str | None = None,
        kinds: tuple[str, ...] | None = None,
        fps: float | None = None,
        **kwargs,
    ) -> GanNatPipeline:
        """Assemble from trained parts; `layout`, `kinds`, `fps` override what the generator's config says.

        `text_encoder` replaces the generator's own (None keeps it); its output width must match.
        """
        overrides = {}
        if text_encoder is not None and text_encoder is not generator.text_encoder:
            if text_encoder.output_dim != generator.text_encoder.output_dim:
                raise ConfigError(
                    f"text encoder gives {text_encoder.output_dim}-wide states; the generator reads {generator.text_encoder.output_dim}"
                )
            generator.text_encoder = text_encoder
            overrides["text"] = text_encoder.config.to_dict()
        if layout is not None:
            overrides["layout"] = layout if isinstance(layout, str) else layout.name
        if kinds is not None:
            overrides["kinds"] = list(kinds)
        if fps is not None:
            overrides["fps"] = float(fps)
        if overrides:
            generator.cfg = GanNatConfig.from_dict({**generator.cfg.to_dict(), **overrides})
        return cls(generator, stats, **kwargs)

    # --- checkpoints --------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu", seed: int = 0) -> GanNatPipeline:
        """Load a gan-nat checkpoint directory (or a run's latest), as the training loop or
        :meth:`save_pretrained` writes it: the generator is rebuilt from ``config.json`` alone."""
        pretrained = load_pretrained(path)
        if pretrained.config.family != FAMILY:
            raise CheckpointError(f"{pretrained.path} is not a {FAMILY} checkpoint (family {pretrained.config.family!r})")
        if pretrained.feature_stats is None:
            raise CheckpointError(f"{pretrained.path} is incomplete: {STATS_NAME} is missing")
        pairs = pretrained.metadata.get("language_pairs")
        return cls(pretrained.model, pretrained.feature_stats, language_pairs=pairs, seed=seed, device=device)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write a checkpoint directory (atomically) that :meth:`from_pretrained` and every other
        checkpoint reader load: the training loop's format, without trainer state."""
        from text2sign.objectives.gan_nat import GanNatObjectiveConfig

        config = ExperimentConfig(FAMILY, PoseDataConfig(corpus=""), self.generator.cfg, GanNatObjectiveConfig())
        pairs = [list(p) for p in self.language_pairs_known] if self.language_pairs_known else None
        return save_checkpoint(Path(path), config, self.generator, feature_stats=self.stats, metadata={"language_pairs": pairs})

    # --- inference ----------------------------------------------------------------------------

    @property
    def signed_languages(self) -> list[str]:
        return self.generator.text_encoder.signed_languages

    def language_pairs(self) -> list[tuple[str, str]]:
        """Known (spoken, signed) pairs; "*" as spoken when the model reads text of any language."""
        if self.language_pairs_known:
            return sorted(self.language_pairs_known)
        return [("*", signed) for signed in self.signed_languages]

    def check_languages(self, spoken: str, signed: str) -> None:
        known = self.signed_languages
        if known and signed not in known:
            raise LanguageError(f"signed language {signed!r} is not supported by this model; supported: {', '.join(known)}")
        if self.language_pairs_known and spoken and (spoken, signed) not in self.language_pairs_known:
            spoken_for = sorted(sp for sp, si in self.language_pairs_known if si == signed)
            raise LanguageError(
                f"this model signs {signed} from {', '.join(spoken_for) or 'no spoken language'}, not from {spoken!r}"
            )

    def to(self, device: str | torch.device) -> GanNatPipeline:
        self.device = torch.device(device)
        self.generator.to(self.device)
        return self

    @property
    def signs_words_separately(self) -> bool:
        """A model trained on single words (no space in its vocabulary) gets multi-word text word by word."""
        text_cfg = self.generator.cfg.text
        return text_cfg.kind == "char" and " " not in text_cfg.vocab

    def __call__(
        self,
        texts: str | list[str],
        spoken: str,
        signed: str,
        frames: int | None = None,
        seed: int | None = None,
        signer: str | None = None,
        strict: bool = False,
    ) -> list[PoseSequence]:
        """Signing for each text. `frames` fixes the length (of each word, for a word-level model);
        `strict` turns characters the model has never seen into an error instead of a warning."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        for text in texts:
            check_text(text)
        if not self.signs_words_separately:
            return self._generate(texts, spoken, signed, frames, seed, signer, strict)
        words = [split_words(text) for text in texts]
        for text, text_words in zip(texts, words):
            if not text_words:
                raise TextError(f"text {text!r} has no words to sign (only punctuation)")
        flat = [w for text_words in words for w in text_words]
        signed_words = iter(self._generate(flat, spoken, signed, frames, seed, signer, strict))
        return [join_words([next(signed_words) for _ in text_words], WORD_PAUSE_FRAMES) for text_words in words]

    def _generate(self, texts, spoken, signed, frames, seed, signer, strict) -> list[PoseSequence]:
        self.check_languages(spoken, signed)
        encoder = self.generator.text_encoder
        encoder.check_texts(texts)
        unknown = [tok for text in texts for tok in encoder.unknown_tokens(text)]
        if unknown:
            shown = ", ".join(repr(u) for u in dict.fromkeys(unknown))
            if strict:
                raise TextError(f"the model has never seen {shown}")
            warnings.warn(f"the model has never seen {shown}; they are read as unknown", UnknownCharacters, stacklevel=3)
        cfg = self.generator.cfg
        if frames is not None and not 1 <= frames <= MAX_FRAMES_FACTOR * cfg.max_frames:
            raise Text2SignError(f"frames must be between 1 and {MAX_FRAMES_FACTOR * cfg.max_frames}, got {frames}")
        seed = self.seed if seed is None else seed
        with torch.inference_mode():
            states, mask = self.generator.encode(texts, [signed] * len(texts), None if signer is None else [signer] * len(texts))
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
        out = []
        for i, n in enumerate(lengths_list):
            coords = self.stats.destandardize(features[i, :n])
            joint_mask = None if visibility is None else joint_visible[i, :n]
            seq = PoseSequence.from_features(coords, self.layout, self.fps, joint_mask=joint_mask, kinds=self.kinds)
            out.append(hands_from_wrist_offsets(seq) if cfg.hand_relative else seq)
        return out
