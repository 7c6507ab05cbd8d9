"""Inference: text in, signing out. Every pipeline is called the same way (:mod:`.base`), and
:func:`load_pipeline` is the one place that turns a model name or a checkpoint directory into one.

Which family a model belongs to comes from the registry (:mod:`text2sign.families`): a named
model says it, a checkpoint's ``config.json`` records it. Only that family's code is imported.
The registry is read inside these functions, never when this package is imported: the families
it registers import the pipeline modules beside this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from text2sign.errors import CheckpointError, Text2SignError


def model_names() -> tuple[str, ...]:
    """What ``--model`` accepts by name (besides a checkpoint or run directory)."""
    from text2sign.families.registry import MODELS

    return ("default", *MODELS)


def resolve_model_name(model: str) -> str:
    from text2sign.families.registry import DEFAULT_MODEL

    return DEFAULT_MODEL if model == "default" else model


def model_family(model: str) -> str:
    """The family of a model name or checkpoint (run) directory, read without loading it."""
    from text2sign.checkpoints import read_meta, resolve_checkpoint
    from text2sign.families.registry import MODELS

    model = resolve_model_name(model)
    named = MODELS.get(model)
    return named.family if named is not None else read_meta(resolve_checkpoint(model)).family


def load_pipeline(model: str = "default", device: Any = "cpu", **load_options: Any):
    """`model` is a name from :func:`model_names` or a checkpoint (or run) directory written by
    ``text2sign train``. `load_options` (e.g. ``lexicon``) go to families that take them."""
    from text2sign.families.registry import MODELS, get_family

    model = resolve_model_name(model)
    load_options = {k: v for k, v in load_options.items() if v is not None}
    named = MODELS.get(model)
    if named is not None and named.checkpoint is None:
        family = get_family(named.family)
        _check_load_options(family, load_options, model)
        return family.pipeline(**load_options).labelled(model)
    path = named.checkpoint if named is not None else Path(model)
    if not path.is_dir():
        raise Text2SignError(
            f"unknown model {model!r}; available: {', '.join(model_names())} or a checkpoint directory"
        )
    from text2sign.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(path, device)
    family = checkpoint.family
    if family.pipeline is None:
        raise CheckpointError(f"{checkpoint.path} holds a {family.name} model, which does not generate signing")
    _check_load_options(family, load_options, model)
    return family.pipeline(checkpoint, device, **load_options).labelled(model)


def load_reconstruction(path: str | Path, device: Any = "cpu"):
    """The reconstruction function of an autoencoder checkpoint (or run) directory, or None when
    `path` is not a directory holding a model that reconstructs poses."""
    from text2sign.checkpoints import load_checkpoint, read_meta, resolve_checkpoint
    from text2sign.families.registry import MODELS, get_family

    path = Path(path)
    if str(path) in MODELS or not path.is_dir():
        return None
    meta = read_meta(resolve_checkpoint(path))
    if get_family(meta.family, str(meta.path)).reconstruct is None:
        return None
    checkpoint = load_checkpoint(path, device)
    return checkpoint.family.reconstruct(checkpoint)


def _check_load_options(family, options: dict, model: str) -> None:
    for option in options:
        if option not in family.load_options:
            from text2sign.families.registry import MODELS, get_family

            takers = sorted(n for n, m in MODELS.items() if option in get_family(m.family).load_options)
            raise Text2SignError(f"--{option} applies to {', '.join(takers) or 'no model'}, not to {model!r}")


@dataclass(frozen=True)
class ModelInfo:
    """A row of ``text2sign models``."""

    name: str
    family: str
    output: str
    languages: list[tuple[str, str]]
    size_bytes: int | None  # on disk: the checkpoint, or the data the model reads
    about: str
    default: bool = False

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "output": self.output,
            "default": self.default,
            "languages": [list(p) for p in self.languages],
            "size_bytes": self.size_bytes,
            "about": self.about,
        }


def list_models(load: Callable[[str], Any] = load_pipeline) -> list[ModelInfo]:
    """Every model a user can name, with its family, output kind, language pairs and size on disk.

    A checkpoint is described from its ``config.json`` alone, never loaded: listing stays fast
    and works where a model's optional extra is missing. `load` gets the pipeline of a model
    without a checkpoint (a lookup reads its lexicon for its languages): a caller that holds
    them (the server) passes its own."""
    from text2sign.checkpoints import directory_size, read_meta
    from text2sign.families.registry import DEFAULT_MODEL, MODELS, get_family, missing_extra

    rows = []
    for named in MODELS.values():
        family = get_family(named.family)
        about = named.about
        if named.checkpoint is not None:
            size = directory_size(named.checkpoint)
            pairs = read_meta(named.checkpoint).language_pairs()
            install = missing_extra(named.extra)
            if install is not None:
                about = f"{about} [cannot load here: {install}]"
        else:
            pipeline = load(named.name)
            size = pipeline.size_bytes() if hasattr(pipeline, "size_bytes") else None
            pairs = pipeline.language_pairs()
        rows.append(ModelInfo(named.name, family.name, family.output, pairs, size, about, named.name == DEFAULT_MODEL))
    return rows
