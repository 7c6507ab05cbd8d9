"""Other systems wrapped in our pipeline interface, so they are scored and timed like ours.

`SpokenToSignedPipeline` runs the `spoken-to-signed` package's own text -> gloss -> pose path
(simplemma lemmatizer, its fingerspelling lookup and its smoothing) unchanged; only its output
is brought into our frame of reference: the same skeleton layout as our corpora and the
corpus frame rate (it writes 30 fps), by linear resampling in time.
"""

from __future__ import annotations

import contextlib
import io

from text2sign.data.lexicon import DEFAULT_FPS, DEFAULT_LAYOUT
from text2sign.errors import LanguageError, TextError
from text2sign.pipelines.concat import check_text
from text2sign.pose.io import from_pose_format
from text2sign.pose.sequence import PoseSequence

class SpokenToSignedPipeline:
    name = "spoken-to-signed"

    def __init__(self, layout: str = DEFAULT_LAYOUT, fps: float = DEFAULT_FPS):
        from spoken_to_signed.gloss_to_pose.lookup.fingerspelling_lookup import FingerspellingPoseLookup

        self.lookup = FingerspellingPoseLookup()
        self.layout = layout
        self.fps = fps

    def language_pairs(self) -> list[tuple[str, str]]:
        return sorted((spoken, signed) for spoken, table in self.lookup.words_index.items() for signed in table)

    def __call__(self, texts: str | list[str], spoken: str, signed: str, strict: bool = False) -> list[PoseSequence]:
        texts = [texts] if isinstance(texts, str) else texts
        if (spoken, signed) not in self.language_pairs():
            pairs = ", ".join(f"{sp}->{si}" for sp, si in self.language_pairs())
            raise LanguageError(f"spoken-to-signed has no fingerspelling for {spoken}->{signed}; it has {pairs}")
        return [self._one(text, spoken, signed) for text in texts]

    def _one(self, text: str, spoken: str, signed: str) -> PoseSequence:
        from spoken_to_signed.gloss_to_pose import gloss_to_pose
        from spoken_to_signed.text_to_gloss.simple import text_to_gloss

        check_text(text)
        # The package prints progress from worker threads; keep it off our stdout (JSON reports go there).
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                sentences = text_to_gloss(text, language=spoken)
                glosses = [item for sentence in sentences for item in sentence]
                pose = gloss_to_pose(glosses, self.lookup, spoken, signed).pose
            except FileNotFoundError as exc:
                raise TextError(f"spoken-to-signed cannot sign {text!r}: {exc}") from None
        seq = from_pose_format(pose).to_layout(self.layout)
        return seq.resample(fps=self.fps)
