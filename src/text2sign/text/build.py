"""Building any text encoder from its config: the one place that knows both the learned encoders
(:mod:`.encoders`) and the pretrained ones (:mod:`.pretrained`), so neither imports the other."""

from __future__ import annotations

from collections.abc import Iterable

from text2sign.text.encoders import (
    LEARNED_ENCODERS,
    PRETRAINED_KINDS,
    TextEncoder,
    TextEncoderConfig,
    resolve_text_config,
)


def build_text_encoder(config: TextEncoderConfig | dict, texts: Iterable[str] | None = None) -> TextEncoder:
    """The encoder a config describes; `texts` (corpus training texts) fill in a missing vocabulary.

    The returned encoder's ``config`` is complete (vocabulary / tokenizer included), so
    ``build_text_encoder(encoder.config)`` rebuilds the same architecture later.
    """
    config = resolve_text_config(config, texts)
    if config.kind in PRETRAINED_KINDS:
        from text2sign.text.pretrained import PretrainedEncoder  # imports the backbones only when asked for

        return PretrainedEncoder(config)
    return LEARNED_ENCODERS[config.kind](config)
