"""What a text-to-sign model reads for an item: its text, its gloss, or both (``data.input``)."""

from __future__ import annotations

from text2sign.errors import TextError

INPUTS = ("text", "gloss", "both")
BOTH_SEPARATOR = " | "


def model_input(text: str, gloss: str, mode: str) -> str:
    """What a model with input `mode` reads for one item."""
    if mode == "text":
        return text
    if not gloss.strip():
        raise TextError(f"this model reads glosses ({mode}); {text!r} has none")
    return gloss if mode == "gloss" else f"{text}{BOTH_SEPARATOR}{gloss}"
