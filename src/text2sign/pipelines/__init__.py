"""Inference: text in, pose sequences out. Every pipeline is called the same way:
``pipeline(texts, spoken=..., signed=...) -> list[PoseSequence]``, and `load_pipeline` is the one
place that turns a model name or a checkpoint directory into one."""

from __future__ import annotations

from pathlib import Path

from text2sign.errors import CheckpointError, Text2SignError

# Learned models that ship inside the package, by name.
SHIPPED_MODELS = {"fs-gan-nat": Path(__file__).parent / "assets" / "fs-gan-nat"}
# What "default" means; see benchmarks/RESULTS.md for why it is this one.
DEFAULT_MODEL = "fs-gan-nat"
MODEL_NAMES = ("default", "concat", "spoken-to-signed", *SHIPPED_MODELS)


def load_pipeline(model: str = "default", lexicon: str | Path | None = None):
    """`model` is a name from MODEL_NAMES (``fs-gan-nat``: the GAN-NAT model shipped with
    text2sign, trained on FS-Words) or a checkpoint directory written by `text2sign train`."""
    if model == "default":
        model = DEFAULT_MODEL
    if model == "concat":
        from text2sign.pipelines.concat import ConcatPipeline

        return ConcatPipeline(lexicon=lexicon)
    if lexicon is not None:
        raise Text2SignError(f"--lexicon only applies to the concat model, not {model!r}")
    if model == "spoken-to-signed":
        from text2sign.pipelines.peers import SpokenToSignedPipeline

        return SpokenToSignedPipeline()
    path = SHIPPED_MODELS.get(model, Path(model))
    if not path.is_dir():
        raise Text2SignError(f"unknown model {model!r}; available: {', '.join(MODEL_NAMES)} or a checkpoint directory")
    return load_checkpoint_pipeline(path)


def load_checkpoint_pipeline(path: Path):
    """The inference pipeline of the model family a checkpoint's config.json names."""
    from text2sign.training.checkpoint import read_metadata, resolve_checkpoint

    path = resolve_checkpoint(path)
    family = read_metadata(path)["experiment"].get("family")
    if family == "gan-nat":
        from text2sign.pipelines.neural import GanNatPipeline

        return GanNatPipeline.from_pretrained(path)
    raise CheckpointError(f"{path}: no inference pipeline for model family {family!r}")
