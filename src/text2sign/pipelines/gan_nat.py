"""Inference with a trained GAN-NAT generator: texts in, ``PoseSequence``s out.

Called like every pipeline (:mod:`text2sign.pipelines.base`), with the options ``frames`` and
``signer``:

1. the text encoder reads the texts, conditioned on the signed language;
2. the length predictor picks each text's number of frames, unless ``frames=N`` is given;
3. the generator makes all frames at once from fixed-seed style noise, so the same text,
   language and seed always give the same signing, alone or in a batch;
4. features are de-standardized with the checkpoint's ``normalization.json`` and put back
   into the layout (joints outside the model's kinds stay masked), shoulder-normalized;
5. they are placed where the training corpus's signer usually is (the inference section's
   shoulder centre and width, in the corpus's units, on its canvas), so a ``.pose`` file looks
   like the data to pose-format's viewer, sign.mt's pose-viewer and ``normalize()``.

Everything runs in eval mode under ``torch.inference_mode``; one text skips all masking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from text2sign.config import bounded
from text2sign.data.torch_data import hands_from_wrist_offsets
from text2sign.errors import CheckpointError, LanguageError, Text2SignError, TextError
from text2sign.models.gan_nat import GanNatGenerator
from text2sign.objectives.gan_nat import select_feature_stats
from text2sign.pipelines.base import Notes, Pipeline, skipped, split_words
from text2sign.text.encoders import normalize_text
from text2sign.text.inputs import model_input
from text2sign.pose.concatenate import WORD_PAUSE_FRAMES, join_words
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats, ShoulderNormalization
from text2sign.pose.sequence import PoseSequence

FAMILY = "gan-nat"
MAX_FRAMES_FACTOR = 4  # --frames may ask for up to this many times the longest trained length


@dataclass
class GanNatInferenceConfig:
    """The ``inference:`` section of a GAN-NAT checkpoint."""

    seed: int = bounded(0, min=0)  # style noise seed when a call gives none
    word_pause_frames: int = bounded(WORD_PAUSE_FRAMES, min=0, max=100)  # word-level models: frames between words
    # The training corpus's typical frame, measured by the family's build (families/gan_nat.py):
    # median shoulder centre (one value per coordinate) and shoulder width, median canvas
    # (width, height; null for units that are not pixels, e.g. phoenix-50). The defaults are
    # FS-Words' (text2sign prepare fingerspelling): checkpoints of format 1 have no inference
    # section, and FS-Words is the only corpus they were trained on.
    shoulder_center: tuple[float, ...] = (250.06, 247.98, 250.14)
    shoulder_width: float = bounded(198.32, min=1e-6)
    canvas: tuple[int, int] | None = (397, 558)


class GanNatPipeline(Pipeline):
    name = FAMILY
    output = "pose"
    options = frozenset({"frames", "signer", "gloss"})
    stochastic = True

    def __init__(
        self,
        generator: GanNatGenerator,
        stats: FeatureStats,
        language_pairs: list[tuple[str, str]] | None = None,
        inference: GanNatInferenceConfig | None = None,
        device: str | torch.device = "cpu",
        alphabets: dict[str, str] | None = None,
    ):
        """`alphabets`: for a character model, the characters seen in training per signed
        language (checkpoint metadata): a vocabulary shared by many alphabets must not let one
        language sign another's letters."""
        cfg = generator.cfg
        if not cfg.layout or cfg.fps <= 0:
            raise CheckpointError("the generator config does not say its layout and fps (build it with the data)")
        self.layout: Layout = get_layout(cfg.layout)
        self.kinds = tuple(cfg.kinds) if cfg.kinds else None
        self.fps = float(cfg.fps)
        self.stats = select_feature_stats(stats, self.layout, self.kinds)
        if self.stats.mean.shape[0] != cfg.feature_dim:
            raise CheckpointError(f"normalization has {self.stats.mean.shape[0]} features; the generator makes {cfg.feature_dim}")
        self._attach(generator, language_pairs, inference or GanNatInferenceConfig(), device, alphabets)

    def _attach(self, generator, language_pairs, inference, device, alphabets) -> None:
        """What every pipeline built on this one keeps, once layout, kinds, fps and stats are set."""
        self.generator = generator.to(device).eval()
        self.device = torch.device(device)
        self.language_pairs_known = [tuple(p) for p in language_pairs] if language_pairs else None
        self.alphabets = {lang: set(chars) for lang, chars in (alphabets or {}).items()}
        self.inference = inference
        center = self.inference.shoulder_center
        if len(center) != self.layout.dims:
            raise CheckpointError(f"inference.shoulder_center has {len(center)} values; layout {self.layout.name} has {self.layout.dims} dims")
        self.frame = ShoulderNormalization(np.asarray(center, dtype=np.float32), self.inference.shoulder_width)

    # --- checkpoints --------------------------------------------------------------------------

    @classmethod
    def from_checkpoint(cls, checkpoint, device: str | torch.device = "cpu") -> GanNatPipeline:
        """The pipeline of a loaded gan-nat :class:`~text2sign.checkpoints.Checkpoint`."""
        if checkpoint.feature_stats is None:
            raise CheckpointError(f"{checkpoint.path} is incomplete: normalization.json is missing")
        meta = checkpoint.metadata
        return cls(
            checkpoint.model, checkpoint.feature_stats, language_pairs=meta.get("language_pairs"),
            inference=checkpoint.inference, device=device, alphabets=meta.get("alphabets"),
        )

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
            Path(path), FAMILY, self.generator, self.generator.cfg, inference=self.inference,
            feature_stats=self.stats, metadata={"language_pairs": pairs, "alphabets": alphabets},
        )

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
            raise LanguageError(f"signed language {signed!r} is not supported by {self.label}; supported: {', '.join(known)}")
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

    def generate(
        self, texts, spoken, signed, *, num_samples, seed, strict, notes: Notes, frames: int | None = None,
        signer: str | None = None, gloss: str | list[str] | None = None,
    ) -> list[list[PoseSequence]]:
        """`frames` fixes the length (of each word, for a word-level model); sample k of every text
        uses style noise seeded by ``seed + k``; `signer` picks a style a model trained with signers
        knows (default: its first); `gloss` (one per text) is what a model trained on glosses reads."""
        seed = self.inference.seed if seed is None else seed
        signer = self._signer(signer)
        inputs = self._inputs(texts, gloss)
        if not self.signs_words_separately:
            inputs = [self._signable(text, [text], signed, strict, notes)[0] for text in inputs]
            per_sample = [self._generate(inputs, signed, frames, seed + k, signer) for k in range(num_samples)]
            return [[self._place(sample[i]) for sample in per_sample] for i in range(len(texts))]
        words = []
        for text in inputs:
            if not split_words(text):
                raise TextError(f"text {text!r} has no words to sign (only punctuation)")
            words.append(self._signable(text, split_words(text), signed, strict, notes))
        flat = [w for text_words in words for w in text_words]
        out: list[list[PoseSequence]] = [[] for _ in texts]
        for k in range(num_samples):
            signed_words = iter(self._generate(flat, signed, frames, seed + k, signer))
            for i, text_words in enumerate(words):
                out[i].append(self._place(join_words([next(signed_words) for _ in text_words], self.inference.word_pause_frames)))
        return out

    def frames_at_least(self, text: str, signed: str, frames: int | None = None, **options) -> int:
        """With `frames` given the length is known before generating: a word-level model makes
        each signable word `frames` long with a pause between words."""
        if frames is None:
            return 0
        if not self.signs_words_separately:
            return frames
        try:
            words = self._signable(text, split_words(text), signed, strict=False, notes=Notes())
        except Text2SignError:
            return 0
        return len(words) * frames + max(0, len(words) - 1) * self.inference.word_pause_frames

    def _place(self, seq: PoseSequence) -> PoseSequence:
        return self.frame.invert(seq, self.inference.canvas).fit_canvas()

    def _inputs(self, texts: list[str], gloss: str | list[str] | None) -> list[str]:
        """What the generator reads for each text (see ``data.input``)."""
        mode = self.generator.cfg.input
        if mode == "text":
            if gloss is not None:
                raise Text2SignError(f"model {self.label} reads text only; a gloss does not apply")
            return texts
        if gloss is None:
            if mode == "both":
                raise TextError(f"model {self.label} reads text and gloss: give the gloss too (--gloss)")
            return texts  # a gloss model's text is its gloss
        glosses = [gloss] if isinstance(gloss, str) else list(gloss)
        if len(glosses) != len(texts):
            raise Text2SignError(f"{len(glosses)} glosses for {len(texts)} texts")
        return [model_input(t, g, mode) for t, g in zip(texts, glosses)]

    def _signer(self, signer: str | None) -> str | None:
        known = self.generator.cfg.text.signers
        if signer is None:
            return known[0] if known else None
        if not known:
            raise Text2SignError(f"model {self.label} was trained without signers; --signer does not apply")
        if signer not in known:
            raise Text2SignError(f"unknown signer {signer!r}; this model knows: {', '.join(known)}")
        return signer

    def _signable(self, text: str, pieces: list[str], signed: str, strict: bool, notes: Notes) -> list[str]:
        """`pieces` of `text` as the model can sign them in `signed`. A character model skips
        characters it has never seen for that language (said in `notes`; an error with `strict`,
        or when nothing is left), as concat skips what its lexicon lacks; other encoders read
        unseen words as unknown, with a note."""
        encoder = self.generator.text_encoder
        alphabet = self.alphabets.get(signed)
        lowercase = encoder.config.lowercase

        def unseen(piece: str) -> list[str]:
            out = [tok for tok in encoder.unknown_tokens(piece) if not tok.isspace()]
            if alphabet is not None and self.generator.cfg.text.kind == "char":
                out += [ch for ch in normalize_text(piece, lowercase) if not ch.isspace() and ch not in alphabet and ch not in out]
            return out

        unknown = [tok for piece in pieces for tok in unseen(piece)]
        if not unknown:
            return pieces
        shown = ", ".join(repr(u) for u in dict.fromkeys(unknown))
        if strict:
            raise TextError(f"{self.label} cannot sign {shown}")
        if self.generator.cfg.text.kind != "char":
            notes.warn(f"{self.label} has never seen {shown}; read as unknown")
            return pieces
        kept = ["".join(ch for ch in normalize_text(p, lowercase) if not unseen(ch)) for p in pieces]
        kept = [p for p in kept if p.strip()]
        if not kept:
            raise TextError(f"nothing in {text!r} can be signed by {self.label} in this alphabet")
        notes.warn(skipped(unknown, f"{self.label} has never seen {{it}} in {signed}"))
        return kept

    def _generate(self, texts: list[str], signed: str, frames: int | None, seed: int, signer: str | None) -> list[PoseSequence]:
        cfg = self.generator.cfg
        if frames is not None and not 1 <= frames <= MAX_FRAMES_FACTOR * cfg.max_frames:
            raise Text2SignError(f"frames must be between 1 and {MAX_FRAMES_FACTOR * cfg.max_frames}, got {frames}")
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
