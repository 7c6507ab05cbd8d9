"""Text encoders: ``encoder(texts, languages) -> (states (B, L, C), mask (B, L))``.

Learned character / word / BPE encoders (:mod:`.encoders`) and frozen pretrained encoders read
offline from a local directory or a PyPI package (:mod:`.pretrained`), all conditioned on the
target signed language. Build any of them from a :class:`TextEncoderConfig` with
:func:`build_text_encoder`.
"""

from text2sign.text.build import build_text_encoder
from text2sign.text.encoders import (
    ENCODER_KINDS,
    BPEEncoder,
    CharEncoder,
    Conditioning,
    TextEncoder,
    TextEncoderConfig,
    WordEncoder,
    normalize_text,
    resolve_text_config,
)

__all__ = [
    "ENCODER_KINDS",
    "BPEEncoder",
    "CharEncoder",
    "Conditioning",
    "TextEncoder",
    "TextEncoderConfig",
    "WordEncoder",
    "build_text_encoder",
    "normalize_text",
    "resolve_text_config",
]
