"""Inference: text in, pose sequences out. Every pipeline is called the same way:
``pipeline(texts, spoken=..., signed=...) -> list[PoseSequence]``, and `load_pipeline` is the one
place that turns a model name or a checkpoint directory into one."""

from __future__ import annotations

from pathlib import Path

from text2sign.errors import Text2SignError

MODEL_NAMES = ("concat", "spoken-to-signed")


def load_pipeline(model: str, lexicon: str | Path | None = None):
    """`model` is a name from MODEL_NAMES or a checkpoint directory."""
    if model == "concat":
        from text2sign.pipelines.concat import ConcatPipeline

        return ConcatPipeline(lexicon=lexicon)
    if lexicon is not None:
        raise Text2SignError(f"--lexicon only applies to the concat model, not {model!r}")
    if model == "spoken-to-signed":
        from text2sign.pipelines.peers import SpokenToSignedPipeline

        return SpokenToSignedPipeline()
    raise Text2SignError(f"unknown model {model!r}; available: {', '.join(MODEL_NAMES)} or a checkpoint directory")
