"""The ``data:`` sections shared by families that train on a pose corpus or on a video corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from text2sign.config import bounded


@dataclass
class PoseDataConfig:
    """Which corpus and which features to train on."""

    corpus: str
    train_split: str = "train"
    dev_split: str = "dev"  # validation every train.validate_every steps, and the texts of rendered samples
    kinds: list[str] | None = None  # pose component kinds in the features (None: all but world)
    max_frames: int | None = bounded(None, min=1)
    signed_languages: list[str] | None = None  # None: every language in the corpus
    # What a text-to-sign model reads: the item text, its gloss (the GAN-NAT design signs from the
    # gloss when a corpus has one), or both (text.inputs.model_input).
    input: Literal["text", "gloss", "both"] = "text"
    signer: bool = False  # condition on the corpus `signer` column (a style id); --signer picks one


@dataclass
class VideoCorpusDataConfig:
    """The ``data:`` section every family that trains on a video corpus starts from."""

    corpus: str = ""  # a video corpus directory
    train_split: str = "train"
    dev_split: str = "dev"
    signed_languages: list[str] = field(default_factory=list)  # empty: all
