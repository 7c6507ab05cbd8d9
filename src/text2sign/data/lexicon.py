"""Lexicons: text or gloss -> an isolated sign clip, for the lookup baseline and corpus builders.

Two sources, one interface:

* the fingerspelling lexicon that ships inside the ``spoken-to-signed`` package (600 real
  MediaPipe Holistic letter clips, read with ``importlib.resources``; never downloaded);
* any text2sign corpus whose items are single signs (a user's dictionary of isolated signs):
  an item is a sign when its gloss (or, without a gloss, its text) is one token.

Clips are loaded lazily per signed language, resampled to a common frame rate, converted to
the requested layout and prepared for concatenation once; lookups after that are dict hits.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from text2sign.data.corpus import Corpus
from text2sign.errors import LanguageError, TextError
from text2sign.pose.concatenate import PreparedClip, prepare_clip
from text2sign.pose.io import read_pose
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.sequence import PoseSequence

LEXICON_PACKAGE = "spoken_to_signed"
LEXICON_SUBDIR = "assets/fingerspelling_lexicon"
DEFAULT_LAYOUT = "holistic-178"
DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class LexiconEntry:
    key: str  # the letter, word or gloss as the source spells it
    spoken_language: str
    signed_language: str
    path: Path


def fingerspelling_lexicon_dir() -> Path:
    try:
        root = resources.files(LEXICON_PACKAGE).joinpath(LEXICON_SUBDIR)
    except ModuleNotFoundError:
        raise LanguageError(
            "the spoken-to-signed package is not installed; it ships the fingerspelling lexicon"
        ) from None
    return Path(str(root))


def read_fingerspelling_entries(include_borrowed: bool = False) -> list[LexiconEntry]:
    """Rows of the package's lexicon.

    ``data.csv`` lists the 19 recorded alphabets. ``index.csv`` adds rows that reuse another
    language's clips (French Sign Language, ``fsl``, borrows ASL's); those come only with
    `include_borrowed`, because they are not distinct data.
    """
    root = fingerspelling_lexicon_dir()
    entries = []
    with (root / ("index.csv" if include_borrowed else "data.csv")).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            entries.append(
                LexiconEntry(row["words"], row["spoken_language"], row["signed_language"], root / row["path"])
            )
    return entries


def borrowed_alphabets() -> dict[str, str]:
    """Signed languages whose fingerspelling clips are another language's: {borrower: source}."""
    own = {e.signed_language for e in read_fingerspelling_entries()}
    borrowed = {}
    for e in read_fingerspelling_entries(include_borrowed=True):
        source = e.path.parent.name
        if e.signed_language not in own and source != e.signed_language:
            borrowed[e.signed_language] = source
    return borrowed


def load_clip(path: Path, layout: Layout, fps: float) -> PoseSequence:
    seq = read_pose(path)
    if abs(seq.fps - fps) > 1e-3:
        seq = seq.resample(fps=fps)
    return seq.to_layout(layout)


def normalize_key(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().lower()


def strip_diacritics(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))


class Lexicon:
    """Signs by (signed language, key), with the spoken languages each signed language serves."""

    def __init__(
        self,
        entries: list[LexiconEntry],
        layout: Layout | str = DEFAULT_LAYOUT,
        fps: float = DEFAULT_FPS,
        name: str = "",
    ):
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        self.fps = fps
        self.name = name
        self._entries: dict[str, dict[str, LexiconEntry]] = defaultdict(dict)
        self._spoken: dict[str, set[str]] = defaultdict(set)
        for e in entries:
            self._entries[e.signed_language].setdefault(normalize_key(e.key), e)
            self._spoken[e.signed_language].add(e.spoken_language)
        self._loaded: dict[str, dict[str, PreparedClip]] = {}
        self._keys_by_length: dict[str, list[str]] = {}
        self._patterns: dict[str, re.Pattern] = {}

    @classmethod
    def fingerspelling(cls, layout: Layout | str = DEFAULT_LAYOUT, fps: float = DEFAULT_FPS) -> Lexicon:
        return cls(read_fingerspelling_entries(include_borrowed=True), layout, fps, name="fingerspelling")

    @classmethod
    def from_corpus(
        cls, corpus_dir: str | Path, layout: Layout | str | None = None, fps: float = DEFAULT_FPS
    ) -> Lexicon:
        corpus = Corpus.load(corpus_dir)
        entries = [
            LexiconEntry(item.lexicon_key, item.spoken_language, item.signed_language, corpus.item_path(item))
            for item in corpus.items
            if item.lexicon_key and len(item.lexicon_key.split()) == 1
        ]
        if not entries:
            raise TextError(f"{corpus_dir} has no single-sign items (one-token gloss or text) to use as a lexicon")
        return cls(entries, layout or corpus.layout_name or DEFAULT_LAYOUT, fps, name=str(corpus_dir))

    # --- languages -----------------------------------------------------------------------

    @property
    def signed_languages(self) -> list[str]:
        return sorted(self._entries)

    def language_pairs(self) -> list[tuple[str, str]]:
        return sorted((sp, si) for si, sps in self._spoken.items() for sp in sps)

    def check_languages(self, spoken: str | None, signed: str) -> None:
        if signed not in self._entries:
            raise LanguageError(
                f"signed language {signed!r} is not in the {self.name or 'given'} lexicon; "
                f"supported: {', '.join(self.signed_languages)}"
            )
        if spoken is not None and spoken not in self._spoken[signed]:
            raise LanguageError(
                f"spoken language {spoken!r} is not paired with {signed!r}; "
                f"supported for {signed}: {', '.join(sorted(self._spoken[signed]))}"
            )

    # --- lookups -------------------------------------------------------------------------

    def keys(self, signed: str) -> list[str]:
        """Keys of a signed language, longest first (so "sch" is tried before "s")."""
        if signed not in self._keys_by_length:
            self.check_languages(None, signed)
            self._keys_by_length[signed] = sorted(self._entries[signed], key=len, reverse=True)
        return self._keys_by_length[signed]

    def spelling(self, signed: str, key: str) -> str:
        """How the source writes a key ("ẞ", "Ch", "SCH"): used as the gloss of a letter."""
        return self._entries[signed][normalize_key(key)].key

    def has(self, signed: str, key: str) -> bool:
        return normalize_key(key) in self._entries.get(signed, {})

    def clips(self, signed: str) -> dict[str, PreparedClip]:
        """All prepared clips of a signed language (each loaded on first use, then cached)."""
        self.check_languages(None, signed)
        return {key: self.clip(signed, key) for key in self._entries[signed]}

    def clip(self, signed: str, key: str) -> PreparedClip:
        """One prepared clip, loaded on first use: signing a word reads only its letters' files."""
        key = normalize_key(key)
        loaded = self._loaded.setdefault(signed, {})
        if key not in loaded:
            loaded[key] = prepare_clip(load_clip(self._entries[signed][key].path, self.layout, self.fps))
        return loaded[key]

    def size_bytes(self) -> int:
        """Bytes of this lexicon's clip files on disk."""
        paths = {e.path for entries in self._entries.values() for e in entries.values()}
        return sum(p.stat().st_size for p in paths if p.is_file())

    def spell(self, word: str, signed: str) -> tuple[list[str], list[str]]:
        """Split `word` into the longest matching keys; returns (keys, characters nobody can sign).

        A character without its own clip falls back to its base letter (é -> e) when the
        alphabet has that.
        """
        if signed not in self._patterns:
            # An alternation tries keys in order, so longest-first gives greedy longest match.
            self._patterns[signed] = re.compile("|".join(re.escape(k) for k in self.keys(signed)))
        pattern = self._patterns[signed]
        text = normalize_key(word)
        tokens, unknown = [], []
        i = 0
        while i < len(text):
            match = pattern.match(text, i)
            if match is not None:
                tokens.append(match.group())
                i = match.end()
                continue
            base = strip_diacritics(text[i])
            if base != text[i] and base in self._entries[signed]:
                tokens.append(base)
            elif not text[i].isspace():
                unknown.append(text[i])
            i += 1
        return tokens, unknown
