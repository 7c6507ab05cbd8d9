"""Which items of a corpus a family trains on, and the facts its build reads off them.

Pose and video corpora alike: their items have ``text``, ``gloss``, ``signed_language``,
``spoken_language``, ``signer`` and ``fps``; a ``data:`` section has ``train_split``,
``dev_split`` and ``signed_languages`` (:class:`~text2sign.data.config.PoseDataConfig`,
:class:`~text2sign.data.config.VideoCorpusDataConfig`).
"""

from __future__ import annotations

import numpy as np

from text2sign.errors import ConfigError, CorpusError, InvalidPoseError
from text2sign.pose.normalize import ShoulderNormalization, typical_frame
from text2sign.text.inputs import model_input

FRAME_ITEMS = 256  # evenly spaced training sequences measured for the typical frame; a median needs no more


def split_items(corpus, split: str, data) -> list:
    """The items of a pose or video corpus split in `data.signed_languages` (empty or None: all)."""
    items = corpus.split(split)
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    return items


def train_clips(corpus, data) -> list:
    """The train split's clips in the chosen signed languages; none is an error."""
    items = split_items(corpus, data.train_split, data)
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} clips for the chosen languages")
    return items


def has_model_input(item, mode: str) -> bool:
    """Whether a text-to-pose model reading `mode` can learn from `item` (imported corpora may
    hold poses without text or gloss)."""
    text, gloss = item.text.strip(), item.gloss.strip()
    return bool(text) if mode == "text" else bool(gloss) and (mode == "gloss" or bool(text))


def model_conditioning(items, data, signers: list[str]) -> tuple[str, list[str]]:
    """What a text-to-pose model trained on `items` reads, per `data`: its input (text, gloss or
    both, which every item must have) and the signers whose styles it learns (with
    ``data.signer``: every train item's, which must all be named; else `signers` as they are)."""
    signers = list(signers)
    if data.signer:
        unnamed = [i.id for i in items if not i.signer]
        if unnamed:
            raise CorpusError(f"data.signer is on but {len(unnamed)} train items have no signer (e.g. {unnamed[0]})")
        signers = sorted({i.signer for i in items})
    for item in items:
        model_input(item.text, item.gloss, data.input)  # every item must have what the model reads
    return data.input, signers


def alphabets(items, model) -> dict[str, str]:
    """The characters each signed language's training inputs use, as the text encoder of `model`
    (a text-to-pose model config: its ``input`` and ``text``) reads them."""
    from text2sign.text.encoders import normalize_text

    seen: dict[str, set[str]] = {}
    for item in items:
        text = normalize_text(model_input(item.text, item.gloss, model.input), model.text.lowercase)
        seen.setdefault(item.signed_language, set()).update(ch for ch in text if not ch.isspace())
    return {lang: "".join(sorted(chars)) for lang, chars in sorted(seen.items())}


def corpus_frame(corpus, items) -> tuple[ShoulderNormalization, tuple[int, int] | None]:
    """The typical frame (median shoulder centre and width, median canvas) of `items`' poses."""
    chosen = items[:: max(1, len(items) // FRAME_ITEMS)][:FRAME_ITEMS]
    try:
        return typical_frame(corpus.load_pose(item) for item in chosen)
    except InvalidPoseError as exc:
        raise CorpusError(f"{corpus.root}: {exc}") from None


def read_facts(model, items: list, noun: str) -> dict:
    """A recognizer config's vocabulary, signed languages and frame rate, from the train `items`.

    A vocabulary or language list `model` already gives is kept (e.g. to fine-tune a recognizer
    on new data in the same output order); `noun` names the items in errors."""
    languages = model.languages or sorted({i.signed_language for i in items})
    missing = sorted({i.signed_language for i in items} - set(languages))
    if missing:
        raise ConfigError(
            f"model.languages lacks {', '.join(missing)} of the train {noun}: add them, or leave them out with "
            "data.signed_languages"
        )
    return {
        "vocab": model.vocab or sorted(set("".join(i.text for i in items))),
        "languages": languages,
        "fps": float(np.median([i.fps for i in items])),
    }
