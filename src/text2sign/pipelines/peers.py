"""Other systems wrapped in our pipeline interface, so they are scored and timed like ours.

`SpokenToSignedPipeline` runs the `spoken-to-signed` package's own text -> gloss -> pose path
(simplemma lemmatizer, its fingerspelling lookup and its smoothing) unchanged; only its output
is brought into our frame of reference: the same skeleton layout as our corpora and the corpus
frame rate (resampled in time only where the package's differs). Its coordinates, confidence
values and canvas are kept; the canvas only grows (and the signing moves by whole pixels) where
a joint would otherwise lie outside it or within its margin, and to even sizes
(:meth:`PoseSequence.fit_canvas`).
"""

from __future__ import annotations

import contextlib
import io

from text2sign.data.lexicon import DEFAULT_FPS, DEFAULT_LAYOUT
from text2sign.errors import LanguageError, TextError
from text2sign.pipelines.base import Pipeline, skipped, split_words
from text2sign.pose.io import from_pose_format
from text2sign.pose.sequence import PoseSequence


class SpokenToSignedPipeline(Pipeline):
    name = "spoken-to-signed"

    def __init__(self, layout: str = DEFAULT_LAYOUT, fps: float = DEFAULT_FPS):
        from spoken_to_signed.gloss_to_pose.lookup.fingerspelling_lookup import FingerspellingPoseLookup

        self.lookup = FingerspellingPoseLookup()
        self._alphabet = None  # our reader of the same lexicon, to find what it cannot spell
        self.layout = layout
        self.fps = fps

    def language_pairs(self) -> list[tuple[str, str]]:
        return sorted((spoken, signed) for spoken, table in self.lookup.words_index.items() for signed in table)

    def size_bytes(self) -> int:
        """Bytes on disk of the package's fingerspelling lexicon, the data it reads."""
        from text2sign.data.lexicon import Lexicon

        return Lexicon.fingerspelling().size_bytes()

    def check_languages(self, spoken: str, signed: str) -> None:
        if (spoken, signed) not in self.language_pairs():
            pairs = ", ".join(f"{sp}->{si}" for sp, si in self.language_pairs())
            raise LanguageError(f"spoken-to-signed has no fingerspelling for {spoken}->{signed}; it has {pairs}")

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes) -> list[list[PoseSequence]]:
        return [
            [self._one(self._signable(text, signed, strict, notes), spoken, signed)] * num_samples for text in texts
        ]

    def _signable(self, text: str, signed: str, strict: bool, notes) -> str:
        """`text` without the characters the package's alphabet for `signed` lacks (the rule every
        pipeline follows: skipped and named, an error with `strict` or when nothing is left);
        left in, they make the package fail on the whole text or drop them silently."""
        if self._alphabet is None:
            from text2sign.data.lexicon import Lexicon

            self._alphabet = Lexicon.fingerspelling()
        words = split_words(text)
        unknown = [ch for word in words for ch in self._alphabet.spell(word, signed)[1]]
        if not unknown:
            return text
        if strict:
            raise TextError(f"no sign for {', '.join(repr(u) for u in dict.fromkeys(unknown))} in {signed}")
        dropped = set(unknown)
        kept = [w for w in ("".join(c for c in word if c.lower() not in dropped) for word in words) if w]
        if not kept:
            raise TextError(f"nothing in {text!r} can be signed in {signed}")
        notes.warn(skipped(unknown, f"no sign for {{it}} in {signed}"))
        return " ".join(kept)

    def _one(self, text: str, spoken: str, signed: str) -> PoseSequence:
        from spoken_to_signed.gloss_to_pose import gloss_to_pose
        from spoken_to_signed.text_to_gloss.simple import text_to_gloss

        # The package prints progress from worker threads; keep it off our stdout (JSON reports go there).
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                sentences = text_to_gloss(text, language=spoken)
                glosses = [item for sentence in sentences for item in sentence]
                pose = gloss_to_pose(glosses, self.lookup, spoken, signed).pose
            except Exception as exc:  # noqa: BLE001 -- the package raises a bare Exception ("No poses found for ...")
                raise TextError(f"spoken-to-signed cannot sign {text!r}: {exc}") from None
        return from_pose_format(pose).to_layout(self.layout).resample(fps=self.fps).fit_canvas()
