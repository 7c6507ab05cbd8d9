"""The lookup + concatenation baseline (``--model concat``).

text -> words -> a dictionary sign per word when the lexicon has one, otherwise the word's
letters from the fingerspelling lexicon (as sign.mt's pipeline does) -> coarticulated
concatenation (:mod:`text2sign.pose.concatenate`). Every learned model is compared with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from text2sign.data.lexicon import DEFAULT_LAYOUT, Lexicon, normalize_key
from text2sign.errors import InvalidPoseError, TextError
from text2sign.pipelines.base import MAX_TEXT_CHARS, Notes, Pipeline, check_text, skipped, split_words
from text2sign.pipelines.options import LEXICON
from text2sign.pose.concatenate import WORD_PAUSE_FRAMES, PreparedClip, compose
from text2sign.pose.layout import get_layout
from text2sign.pose.sequence import PoseSequence


@dataclass(frozen=True)
class ConcatConfig:
    letter_frames: int = 8  # a fluent signer spells about 3 letters a second at 25 fps
    transition_frames: int = 4
    word_pause_frames: int = WORD_PAUSE_FRAMES
    max_chars: int = MAX_TEXT_CHARS


@dataclass(frozen=True)
class PlannedSign:
    key: str
    clip: PreparedClip
    fingerspelled: bool
    word_end: bool


class ConcatPipeline(Pipeline):
    name = "concat"
    load_options = (LEXICON,)  # no call options: timing is fixed, and lookup has no randomness

    def __init__(
        self,
        lexicon: str | Path | Lexicon | None = None,
        layout: str = DEFAULT_LAYOUT,
        config: ConcatConfig = ConcatConfig(),
    ):
        if isinstance(lexicon, (str, Path)):
            lexicon = Lexicon.from_corpus(lexicon)
        self.signs = lexicon
        self.layout = lexicon.layout if lexicon is not None else get_layout(layout)
        self.fingerspelling: Lexicon | None = None
        try:
            self.layout.index_in(get_layout("holistic"))
            self.fingerspelling = Lexicon.fingerspelling(layout=self.layout)
        except InvalidPoseError:
            pass  # e.g. a phoenix-50 lexicon: MediaPipe letter clips cannot be put in that skeleton
        self.config = config
        self.max_chars = config.max_chars

    def language_pairs(self) -> list[tuple[str, str]]:
        pairs = set(self.fingerspelling.language_pairs()) if self.fingerspelling else set()
        if self.signs is not None:
            pairs |= set(self.signs.language_pairs())
        return sorted(pairs)

    def size_bytes(self) -> int:
        """Bytes on disk of the clips this pipeline can use."""
        return sum(lex.size_bytes() for lex in (self.signs, self.fingerspelling) if lex is not None)

    def check_languages(self, spoken: str, signed: str) -> None:
        if self.signs is not None and signed in self.signs.signed_languages:
            self.signs.check_languages(spoken, signed)
        elif self.fingerspelling is not None:
            self.fingerspelling.check_languages(spoken, signed)
        else:
            self.signs.check_languages(spoken, signed)

    def plan(
        self, text: str, spoken: str, signed: str, strict: bool = False, notes: Notes | None = None
    ) -> list[PlannedSign]:
        """The signs that will be shown for `text`, in order; what cannot be signed is said in `notes`."""
        check_text(text, self.config.max_chars)
        self.check_languages(spoken, signed)
        words = split_words(text)
        if not words:
            raise TextError(f"text {text!r} has no words to sign (only punctuation)")
        can_spell = self.fingerspelling is not None and signed in self.fingerspelling.signed_languages
        plan: list[PlannedSign] = []
        unknown: list[str] = []
        for word in words:
            if self.signs is not None and self.signs.has(signed, word):
                plan.append(PlannedSign(normalize_key(word), self.signs.clip(signed, word), False, True))
                continue
            if not can_spell:
                unknown.append(word)
                continue
            keys, missing = self.fingerspelling.spell(word, signed)
            unknown.extend(missing)
            letters = [PlannedSign(k, self.fingerspelling.clip(signed, k), True, False) for k in keys]
            if letters:
                letters[-1] = PlannedSign(letters[-1].key, letters[-1].clip, True, True)
            plan.extend(letters)
        if unknown:
            if strict:
                raise TextError(f"no sign for {', '.join(repr(u) for u in dict.fromkeys(unknown))} in {signed}")
            if notes is not None:
                notes.warn(skipped(unknown, f"no sign for {{it}} in {signed}"))
        if not plan:
            raise TextError(f"nothing in {text!r} can be signed in {signed}")
        return plan

    def compose_plan(self, plan: list[PlannedSign]) -> PoseSequence:
        cfg = self.config
        core = [cfg.letter_frames if p.fingerspelled else p.clip.core_length for p in plan]
        hold = [cfg.word_pause_frames if p.word_end and i < len(plan) - 1 else 0 for i, p in enumerate(plan)]
        return compose([p.clip for p in plan], core, cfg.transition_frames, hold)

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes) -> list[list[PoseSequence]]:
        # Lookup is deterministic: every sample of a text is the same sequence.
        return [[self.compose_plan(self.plan(text, spoken, signed, strict, notes))] * num_samples for text in texts]
