"""FS-Words: the bundled fingerspelling corpus, built offline from the spoken-to-signed lexicon.

What goes in (for every one of the package's 19 recorded alphabets):

* every letter clip, as a one-letter item in ``train`` (text = gloss = the letter);
* real words of the spoken language, spelled letter by letter: lemmas from the ``simplemma``
  dictionaries (installed with spoken-to-signed), 3 to 8 letters, every letter in the
  alphabet. Languages without a dictionary get pronounceable pseudo-words instead. Word
  lists of train / dev / test are disjoint: no dev or test word appears in train.

How a word is composed (seeded, so a build is reproducible): the letter clips pass through
:func:`text2sign.pose.concatenate.compose` -- aligned by the shoulders, holds trimmed, each
letter retimed to a random 6-11 frames and joined by a random 3-6 frame smoothstep blend.
The lookup baseline uses the same procedure with fixed timing (8 and 4 frames), so the
references differ from it in rhythm, never in which clip shows which letter.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus, CorpusWriter, check_corpus_output, corpus_output
from text2sign.data.lexicon import DEFAULT_FPS, DEFAULT_LAYOUT, Lexicon, borrowed_alphabets, read_fingerspelling_entries
from text2sign.errors import LanguageError
from text2sign.pose.concatenate import compose

# simplemma names some languages differently from the lexicon's spoken-language codes.
SIMPLEMMA_CODES = {"hr": "hbs"}
VOWELS = set("aeiouyäöüåæøéèêëáàâíìîïóòôúùûůěýαεηιουωаеиоуыэюяіїєё")


@dataclass(frozen=True)
class FSWordsConfig:
    train_words: int = 32
    dev_words: int = 8
    test_words: int = 8
    min_letters: int = 3
    max_letters: int = 8
    letter_frames: tuple[int, int] = (6, 11)  # inclusive range of frames per letter
    transition_frames: tuple[int, int] = (3, 6)
    seed: int = 0
    layout: str = DEFAULT_LAYOUT
    fps: float = DEFAULT_FPS


def language_seed(seed: int, signed_language: str) -> int:
    """A per-language seed that does not change with which other languages are built."""
    return seed * 1_000_003 + zlib.crc32(signed_language.encode())


def dictionary_words(spoken_language: str) -> list[str]:
    """Lemmas of `spoken_language` from simplemma's bundled dictionaries, or [] without one."""
    try:
        from simplemma.strategies.dictionaries.dictionary_factory import DefaultDictionaryFactory
    except ImportError:
        return []
    code = SIMPLEMMA_CODES.get(spoken_language, spoken_language)
    try:
        dictionary = DefaultDictionaryFactory().get_dictionary(code)
    except (ValueError, KeyError, FileNotFoundError):
        return []
    lemmas = set()
    for lemma in dictionary.values():
        word = lemma.decode("utf-8") if isinstance(lemma, bytes) else str(lemma)
        if word.isalpha() and word == word.lower():
            lemmas.add(word)
    return sorted(lemmas)


def pseudo_words(alphabet: list[str], count: int, rng: np.random.Generator, lengths: tuple[int, int]) -> list[str]:
    """Pronounceable-ish strings: consonant-vowel syllables when the alphabet has vowels."""
    singles = sorted(k for k in alphabet if len(k) == 1)
    vowels = [k for k in singles if k in VOWELS] or singles
    consonants = [k for k in singles if k not in VOWELS] or singles
    words: set[str] = set()
    attempts = 0
    while len(words) < count and attempts < count * 100:
        attempts += 1
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        word = "".join(rng.choice(consonants if i % 2 == 0 else vowels) for i in range(n))
        words.add(word)
    return sorted(words)


def choose_words(
    lexicon: Lexicon, spoken: str, signed: str, cfg: FSWordsConfig, rng: np.random.Generator
) -> tuple[dict[str, list[str]], str]:
    """Disjoint word lists per split and where they came from ("dictionary" or "pseudo")."""
    need = cfg.train_words + cfg.dev_words + cfg.test_words
    candidates = []
    letters = set("".join(lexicon.keys(signed)))
    for word in dictionary_words(spoken):
        if not (cfg.min_letters <= len(word) <= 3 * cfg.max_letters and letters.issuperset(word)):
            continue
        keys, unknown = lexicon.spell(word, signed)
        if not unknown and cfg.min_letters <= len(keys) <= cfg.max_letters and "".join(keys) == word:
            candidates.append(word)
    source = "dictionary"
    if len(candidates) < need:
        candidates = pseudo_words(lexicon.keys(signed), need * 2, rng, (cfg.min_letters, cfg.max_letters))
        source = "pseudo"
    chosen = [candidates[i] for i in rng.permutation(len(candidates))[:need]]
    splits = {
        "train": sorted(chosen[: cfg.train_words]),
        "dev": sorted(chosen[cfg.train_words : cfg.train_words + cfg.dev_words]),
        "test": sorted(chosen[cfg.train_words + cfg.dev_words :]),
    }
    return splits, source


def build_fs_words(
    out_dir: str | Path,
    cfg: FSWordsConfig = FSWordsConfig(),
    signed_languages: list[str] | None = None,
    on_language: Callable[[str, int], None] | None = None,
) -> Corpus:
    """Build FS-Words into `out_dir` (new, empty or a corpus it replaces); `on_language(signed, items)`
    reports progress."""
    check_corpus_output(out_dir)
    entries = read_fingerspelling_entries()
    pairs = sorted({(e.signed_language, e.spoken_language) for e in entries})
    available = [si for si, _ in pairs]
    if signed_languages:
        unknown = [s for s in signed_languages if s not in available]
        if unknown:
            borrowed = borrowed_alphabets()
            hint = "".join(
                f"; {u} borrows {borrowed[u]}'s clips, build {borrowed[u]}" for u in unknown if u in borrowed
            )
            raise LanguageError(
                f"no fingerspelling alphabet for {', '.join(unknown)}{hint}; available: {', '.join(available)}"
            )
        pairs = [(si, sp) for si, sp in pairs if si in signed_languages]
    lexicon = Lexicon(entries, cfg.layout, cfg.fps, name="fingerspelling")
    with corpus_output(out_dir) as writer:
        word_sources = _add_languages(writer, lexicon, pairs, cfg, on_language)
        writer.close(
            extra_stats={
                "source": "fingerspelling (spoken-to-signed lexicon)",
                "seed": cfg.seed,
                "word_source": word_sources,
                "borrowed_alphabets_not_built": borrowed_alphabets(),
            }
        )
    return Corpus.load(out_dir)


def _add_languages(
    writer: CorpusWriter,
    lexicon: Lexicon,
    pairs: list[tuple[str, str]],
    cfg: FSWordsConfig,
    on_language: Callable[[str, int], None] | None,
) -> dict[str, str]:
    """Every letter clip and chosen word of each (signed, spoken) pair; returns where the words came from."""
    word_sources = {}
    for signed, spoken in pairs:
        rng = np.random.default_rng(language_seed(cfg.seed, signed))
        clips = lexicon.clips(signed)
        count = 0
        for n, (letter, clip) in enumerate(sorted(clips.items())):
            writer.add(
                clip.seq,
                id=f"{signed}-letter-{n:02d}",
                split="train",
                text=letter,
                gloss=lexicon.spelling(signed, letter),
                spoken_language=spoken,
                signed_language=signed,
            )
            count += 1
        splits, word_sources[signed] = choose_words(lexicon, spoken, signed, cfg, rng)
        for split, words in splits.items():
            for word in words:
                keys, _ = lexicon.spell(word, signed)
                seq = compose(
                    [clips[k] for k in keys],
                    core_frames=[int(rng.integers(cfg.letter_frames[0], cfg.letter_frames[1] + 1)) for _ in keys],
                    transition_frames=[
                        int(rng.integers(cfg.transition_frames[0], cfg.transition_frames[1] + 1)) for _ in keys[1:]
                    ],
                )
                writer.add(
                    seq,
                    id=f"{signed}-{split}-{word}",
                    split=split,
                    text=word,
                    gloss=" ".join(lexicon.spelling(signed, k) for k in keys),
                    spoken_language=spoken,
                    signed_language=signed,
                )
                count += 1
        if on_language:
            on_language(signed, count)
    return word_sources
