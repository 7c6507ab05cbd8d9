"""What every pipeline of a learned text-to-pose generator shares, whatever makes its frames.

GAN-NAT (:mod:`.gan_nat`) and the latent stages (:mod:`.latent`) read text the same way and
differ only in how a batch of texts becomes poses (:meth:`TextToPosePipeline._generate`):

* what the generator reads for each text: the text, its gloss or both (``data.input``), and for
  a model trained with signers, whose style (``signer``);
* which characters it can sign: a character model skips those it never saw in training for the
  signed language (checkpoint metadata ``alphabets``), as concat skips what its lexicon lacks;
* a model trained on single words signs multi-word text word by word, with a pause between;
* the shoulder-normalized output is placed where the training corpus's signer usually is (the
  inference section's shoulder centre and width, in the corpus's units, on its canvas), so a
  ``.pose`` file looks like the data to pose-format's viewer, sign.mt's pose-viewer and
  ``normalize()``.

The generator is any network whose config has ``text`` (a TextEncoderConfig), ``input`` and
``max_frames`` where its subclass needs it, with ``text_encoder`` and ``encode(texts, languages,
signers)``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import torch

from text2sign.config import bounded
from text2sign.errors import CheckpointError, LanguageError, Text2SignError, TextError
from text2sign.pipelines.base import Notes, Pipeline, skipped, split_words
from text2sign.pipelines.options import FRAMES_PER_WORD, GLOSS, SIGNER, Option
from text2sign.pose.concatenate import WORD_PAUSE_FRAMES, join_words
from text2sign.pose.features import hands_from_wrist_offsets
from text2sign.pose.layout import Layout
from text2sign.pose.normalize import FeatureStats, ShoulderNormalization
from text2sign.pose.sequence import PoseSequence
from text2sign.text.encoders import normalize_text
from text2sign.text.inputs import model_input

MAX_FRAMES_FACTOR = 4  # --frames may ask for up to this many times the longest trained length
# What every text-to-pose model takes; a subclass adds its own.
TEXT_OPTIONS = (FRAMES_PER_WORD, SIGNER, GLOSS)


@dataclass
class TextToPoseInferenceConfig:
    """The ``inference:`` settings every text-to-pose checkpoint has."""

    seed: int = bounded(0, min=0)  # style noise seed when a call gives none
    word_pause_frames: int = bounded(WORD_PAUSE_FRAMES, min=0, max=100)  # word-level models: frames between words
    # The training corpus's typical frame, measured by the family's build
    # (data.selection.corpus_frame): median shoulder centre (one value per coordinate) and
    # shoulder width, median canvas (width, height; null for units that are not pixels, e.g.
    # phoenix-50). The defaults are FS-Words' (text2sign prepare fingerspelling): GAN-NAT
    # checkpoints of format 1 have no inference section, and FS-Words is the only corpus they
    # were trained on.
    shoulder_center: tuple[float, ...] = (250.06, 247.98, 250.14)
    shoulder_width: float = bounded(198.32, min=1e-6)
    canvas: tuple[int, int] | None = (397, 558)


class TextToPosePipeline(Pipeline):
    """Text handling and placement for a generator; a subclass makes the frames (:meth:`_generate`)."""

    output = "pose"
    options = TEXT_OPTIONS
    stochastic = True

    def __init__(
        self,
        generator,
        stats: FeatureStats,
        layout: Layout,
        kinds: tuple[str, ...] | None,
        fps: float,
        *,
        language_pairs: list[tuple[str, str]] | None,
        inference: TextToPoseInferenceConfig,
        device: str | torch.device,
        alphabets: dict[str, str] | None,
    ):
        """`stats` standardize the generator's features of `kinds` of `layout`. `alphabets`: for a
        character model, the characters seen in training per signed language (checkpoint
        metadata): a vocabulary shared by many alphabets must not let one language sign another's
        letters."""
        self.layout = layout
        self.kinds = kinds
        self.fps = fps
        self.stats = stats
        self.generator = generator.to(device).eval()
        self.device = torch.device(device)
        self.language_pairs_known = [tuple(p) for p in language_pairs] if language_pairs else None
        self.alphabets = {lang: set(chars) for lang, chars in (alphabets or {}).items()}
        self.inference = inference
        center = self.inference.shoulder_center
        if len(center) != self.layout.dims:
            raise CheckpointError(
                f"inference.shoulder_center has {len(center)} values; layout {self.layout.name} has "
                f"{self.layout.dims} dims"
            )
        self.frame = ShoulderNormalization(np.asarray(center, dtype=np.float32), self.inference.shoulder_width)

    @classmethod
    def from_checkpoint(cls, checkpoint, device: str | torch.device = "cpu"):
        """The pipeline of a loaded :class:`~text2sign.checkpoints.Checkpoint` of its family."""
        if checkpoint.feature_stats is None:
            raise CheckpointError(f"{checkpoint.path} is incomplete: normalization.json is missing")
        meta = checkpoint.metadata
        return cls(
            checkpoint.model,
            checkpoint.feature_stats,
            language_pairs=meta.get("language_pairs"),
            inference=checkpoint.inference,
            device=device,
            alphabets=meta.get("alphabets"),
        )

    # --- languages and devices ----------------------------------------------------------------

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
            raise LanguageError(
                f"signed language {signed!r} is not supported by {self.label}; supported: {', '.join(known)}"
            )
        if self.language_pairs_known and spoken and (spoken, signed) not in self.language_pairs_known:
            spoken_for = sorted(sp for sp, si in self.language_pairs_known if si == signed)
            raise LanguageError(
                f"this model signs {signed} from {', '.join(spoken_for) or 'no spoken language'}, not from {spoken!r}"
            )

    def to(self, device: str | torch.device):
        self.device = torch.device(device)
        self.generator.to(self.device)
        return self

    # --- generation ---------------------------------------------------------------------------

    @property
    def signs_words_separately(self) -> bool:
        """A model trained on single words (no space in its vocabulary) gets multi-word text word by word."""
        text_cfg = self.generator.cfg.text
        return text_cfg.kind == "char" and " " not in text_cfg.vocab

    def generate(
        self,
        texts,
        spoken,
        signed,
        *,
        num_samples,
        seed,
        strict,
        notes: Notes,
        frames: int | None = None,
        signer: str | None = None,
        gloss: str | list[str] | None = None,
        **sampling,
    ) -> list[list[PoseSequence]]:
        """`frames` fixes the length (of each word, for a word-level model); sample k of every text
        uses noise seeded by ``seed + k``; `signer` picks a style a model trained with signers
        knows (default: its first); `gloss` (one per text) is what a model trained on glosses reads.
        `sampling` (a subclass's checked options) goes to :meth:`_generate`."""
        seed = self.inference.seed if seed is None else seed
        signer = self._signer(signer)
        inputs = self._inputs(texts, gloss)
        if not self.signs_words_separately:
            inputs = [self._signable(text, [text], signed, strict, notes)[0] for text in inputs]
            per_sample = [
                self._generate(inputs, signed, frames, seed + k, signer, **sampling) for k in range(num_samples)
            ]
            return [[self._place(sample[i]) for sample in per_sample] for i in range(len(texts))]
        words = []
        for text in inputs:
            if not split_words(text):
                raise TextError(f"text {text!r} has no words to sign (only punctuation)")
            words.append(self._signable(text, split_words(text), signed, strict, notes))
        flat = [w for text_words in words for w in text_words]
        out: list[list[PoseSequence]] = [[] for _ in texts]
        for k in range(num_samples):
            signed_words = iter(self._generate(flat, signed, frames, seed + k, signer, **sampling))
            for i, text_words in enumerate(words):
                out[i].append(
                    self._place(join_words([next(signed_words) for _ in text_words], self.inference.word_pause_frames))
                )
        return out

    @abc.abstractmethod
    def _generate(
        self, texts: list[str], signed: str, frames: int | None, seed: int, signer: str | None, **sampling
    ) -> list[PoseSequence]:
        """One shoulder-normalized pose per (signable) text; each text's noise depends only on
        `seed` and its own length, never on the batch."""

    @property
    @abc.abstractmethod
    def max_frames(self) -> int:
        """The most frames ``frames`` may ask for (a multiple of the longest trained length)."""

    def call_options(self) -> dict[str, Option]:
        options = super().call_options()
        if "frames" in options:
            options["frames"] = options["frames"].within(high=self.max_frames)
        return options

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
                out += [
                    ch
                    for ch in normalize_text(piece, lowercase)
                    if not ch.isspace() and ch not in alphabet and ch not in out
                ]
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

    def _features_to_pose(
        self, features: np.ndarray, joint_mask: np.ndarray | None, hand_relative: bool
    ) -> PoseSequence:
        """One text's ``(T, F)`` standardized features (and ``(T, J')`` visibility) as a pose."""
        coords = self.stats.destandardize(features)
        seq = PoseSequence.from_features(coords, self.layout, self.fps, joint_mask=joint_mask, kinds=self.kinds)
        return hands_from_wrist_offsets(seq) if hand_relative else seq
