"""What the server adds to a pipeline's output: pauses at punctuation, per-word time spans and
the JSON form of a pose that the web page draws. Pure functions, no web framework.

**Pauses.** Pipelines read punctuation as a word separator, so "Hello. How are you?" comes out as
one run of signs. Users of sign.mt asked for the sentence boundary to be visible. The text is cut
into clauses at punctuation, all clauses are signed in *one* pipeline call (a batch of texts, so
no model runs word by word), and each clause's last pose is held for a pause before a
``WORD_PAUSE_FRAMES`` bridge into the next clause (:func:`join_words`): 0.3 s after a comma-like
mark, 0.7 s after a sentence end. A mark counts only where no letter or digit follows it, so
"3.5" and "e.g" are not cut; CJK full-width marks always count (no space follows them).

**Word spans.** Which frames sign which word is not something every pipeline reports, so the
spans are an estimate that works for any pose model: clause boundaries (and pauses) are exact,
and a clause's frames are shared among its words in proportion to their letters, which is what
fingerspelling spends (every letter gets the same time in ``concat`` and ``fs-gan-nat``). For a
lexicon of whole-word signs, a long word's share is overestimated.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from text2sign.pipelines.base import split_words
from text2sign.pose.concatenate import WORD_PAUSE_FRAMES, join_words
from text2sign.pose.sequence import PoseSequence

COMMA_PAUSE_S = 0.3
SENTENCE_PAUSE_S = 0.7
SENTENCE_ENDS = frozenset(".!?…")
COMMA_MARKS = frozenset(",;:—–")
# Full-width marks are written without a following space.
CJK_SENTENCE_ENDS = frozenset("。！？")
CJK_COMMA_MARKS = frozenset("，、；：")


@dataclass(frozen=True)
class Clause:
    text: str
    words: tuple[str, ...]
    pause_s: float  # stillness after this clause; 0 after the last


@dataclass(frozen=True)
class Span:
    label: str  # the word, or "," / "." for a pause
    start: int  # first frame
    end: int  # one past the last frame

    def to_dict(self) -> dict:
        return {"label": self.label, "start": self.start, "end": self.end}


def _pause_at(text: str, i: int) -> float:
    ch = text[i]
    if ch in CJK_SENTENCE_ENDS:
        return SENTENCE_PAUSE_S
    if ch in CJK_COMMA_MARKS:
        return COMMA_PAUSE_S
    at_boundary = i + 1 == len(text) or not text[i + 1].isalnum()
    if not at_boundary:
        return 0.0
    if ch in SENTENCE_ENDS:
        return SENTENCE_PAUSE_S
    if ch in COMMA_MARKS:
        return COMMA_PAUSE_S
    return 0.0


def split_clauses(text: str) -> list[Clause]:
    """`text` cut at punctuation into clauses with the pause that follows each.

    Pieces without words (a run of marks, "...") add their pause to the clause before; the
    strongest mark wins. Text with no words at all is one clause, so that the pipeline says why
    it cannot be signed."""
    pieces: list[tuple[str, float]] = []
    start = 0
    for i in range(len(text)):
        pause = _pause_at(text, i)
        if pause:
            pieces.append((text[start:i], pause))
            start = i + 1
    pieces.append((text[start:], 0.0))
    clauses: list[Clause] = []
    for piece, pause in pieces:
        words = tuple(split_words(piece))
        if words:
            clauses.append(Clause(piece.strip(), words, pause))
        elif clauses:
            last = clauses[-1]
            clauses[-1] = Clause(last.text, last.words, max(last.pause_s, pause))
    if not clauses:
        return [Clause(text, tuple(split_words(text)), 0.0)]
    last = clauses[-1]
    clauses[-1] = Clause(last.text, last.words, 0.0)
    return clauses


def pause_frames(pause_s: float, fps: float) -> int:
    return round(pause_s * fps)


def word_spans(words: tuple[str, ...], start: int, end: int) -> list[Span]:
    """Frames [start, end) shared among `words` in proportion to their letters (see the module doc)."""
    if not words:
        return []
    weights = np.array([max(1, len(w)) for w in words], dtype=np.float64)
    edges = np.round(start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])).astype(int)
    return [Span(w, int(a), int(b)) for w, a, b in zip(words, edges[:-1], edges[1:])]


def join_clauses(clauses: list[Clause], signed: list[PoseSequence]) -> tuple[PoseSequence, list[Span], list[Span]]:
    """One sequence from each clause's signing, with its pause held after it and a bridge into the
    next; also the word spans and the pause spans (labelled "," or ".") in its frames."""
    parts: list[PoseSequence] = []
    words: list[Span] = []
    pauses: list[Span] = []
    offset = 0
    for k, (clause, seq) in enumerate(zip(clauses, signed)):
        words.extend(word_spans(clause.words, offset, offset + seq.num_frames))
        hold = pause_frames(clause.pause_s, seq.fps)
        if hold:
            pauses.append(
                Span(
                    "." if clause.pause_s >= SENTENCE_PAUSE_S else ",",
                    offset + seq.num_frames,
                    offset + seq.num_frames + hold,
                )
            )
            seq = PoseSequence.concatenate([seq] + [seq[-1:]] * hold)
        parts.append(seq)
        offset += seq.num_frames + (WORD_PAUSE_FRAMES if k < len(clauses) - 1 else 0)
    joined = join_words(parts, WORD_PAUSE_FRAMES)
    canvases = {seq.canvas for seq in signed}
    if joined.canvas is None and len(canvases) == 1:
        # The bridges have no canvas of their own; the signing's is still the clauses' one.
        joined = dataclasses.replace(joined, canvas=canvases.pop())
    return joined, words, pauses


# --- the JSON the web page draws ------------------------------------------------------------


def pose_json(seq: PoseSequence, **fields) -> bytes:
    """A pose as compact JSON: the image components' x, y per frame (``frames[t]`` is
    ``[x0, y0, x1, y1, ...]``, null where a joint is not observed), the skeleton to draw them
    (components with their kind and joint range, bones as joint-index pairs) and `fields`.

    World landmarks (metres around the hips, not image positions) are left out. Coordinates keep
    about four significant digits of the pose's extent, enough for any screen."""
    keep = [c.name for c in seq.layout.components if c.kind != "world"]
    if len(keep) < len(seq.layout.components):
        seq = seq.select_components(keep)
    xy = seq.data[..., :2].astype(np.float64)  # (T, J, 2)
    seen = xy[seq.mask]
    extent = float(np.ptp(seen, axis=0).max()) if seen.size else 1.0
    decimals = max(0, 3 - math.floor(math.log10(extent))) if extent > 0 else 3
    xy = np.where(seq.mask[..., None], np.round(xy, decimals), np.nan).reshape(seq.num_frames, -1)  # (T, 2J)
    # json writes NaN as a bare token; in a list of numbers only, it can be swapped for null.
    frames = json.dumps(xy.tolist(), separators=(",", ":")).replace("NaN", "null")
    components, start = [], 0
    for c in seq.layout.components:
        components.append({"name": c.name, "kind": c.kind, "start": start, "count": len(c.points)})
        start += len(c.points)
    head = {
        **fields,
        "fps": seq.fps,
        "num_frames": seq.num_frames,
        "layout": {"name": seq.layout.name, "components": components, "bones": seq.layout.bones.tolist()},
        "canvas": list(seq.canvas) if seq.canvas else None,
    }
    text = json.dumps(head, separators=(",", ":"))
    return (text[:-1] + ',"frames":' + frames + "}").encode("utf-8")
