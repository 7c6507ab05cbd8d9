"""The `video-ae` family: a per-frame image autoencoder, the latent space of a video model trained
as its own stage (the video-diffusion designs' VAE, at our sizes).

Network :class:`FrameAutoencoder` (``models/frame_codec.py``: a small diffusers ``AutoencoderKL``),
objective :class:`FrameAutoencoderObjective` (``objectives/frame_autoencoder.py``), config
``configs/fs-video-ae.yaml``. It learns from single frames of a video corpus; it is no
text-to-sign model (no pipeline). A ``video-diffusion`` experiment names its checkpoint in
``init: {autoencoder: RUN}``, copies its weights and diffuses over its latents. Dev passes log
the reconstruction's PSNR (``dev/psnr``); ``benchmarks/video_baselines.py --autoencoder RUN``
scores its reconstructions of whole clips like a generated video (the latent models' ceiling).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from text2sign.config import bounded
from text2sign.data.config import VideoCorpusDataConfig
from text2sign.data.selection import split_items, train_clips
from text2sign.data.video_corpus import load_video_corpus, resize_frames
from text2sign.data.video_frames import SingleFrames, to_unit
from text2sign.families.registry import Experiment, register_family
from text2sign.models.frame_codec import FrameAutoencoder, FrameAutoencoderConfig
from text2sign.objectives.frame_autoencoder import FrameAutoencoderObjective, FrameAutoencoderObjectiveConfig

FAMILY = "video-ae"


@dataclass
class FrameDataConfig(VideoCorpusDataConfig):
    # Neighbouring frames of a clip are nearly the same image: every `frame_stride`-th one is enough.
    frame_stride: int = bounded(1, min=1, max=1000)
    max_dev_frames: int = bounded(512, min=1)


def build(config) -> Experiment:
    data: FrameDataConfig = config.data
    corpus = load_video_corpus(data)
    items = train_clips(corpus, data)
    model: FrameAutoencoderConfig = config.model
    if not model.size:
        model = dataclasses.replace(model, size=min(corpus.height, corpus.width))
    train_set = SingleFrames(corpus, items, model.size, data.frame_stride)
    dev_items = split_items(corpus, data.dev_split, data)
    dev_set = SingleFrames(corpus, dev_items, model.size, limit=data.max_dev_frames) if dev_items else None
    mean = mean_frame(corpus, items, model.size) if config.objective.motion_weight > 0 else None
    objective = FrameAutoencoderObjective(FrameAutoencoder(model), config.objective, mean)
    return Experiment(objective, train_set, dev_data=dev_set, config=dataclasses.replace(config, model=model))


def mean_frame(corpus, items, size: int) -> torch.Tensor:
    """The mean of every frame of `items` at `size` px: (3, size, size) in [-1, 1]."""
    total = np.zeros((size, size, 3), np.float64)
    count = 0
    for item in items:
        frames = resize_frames(np.asarray(corpus.frames(item)), size)
        total += frames.sum(axis=0, dtype=np.float64)
        count += len(frames)
    return torch.from_numpy(to_unit((total / count)[None])[0])


def tiny_config(workdir: Path) -> dict:
    """A seconds-long run on a three-word ASL FS-Words drawn at 16 px, for the contract test."""
    from text2sign.testing import tiny_video_corpus

    return {
        "family": FAMILY,
        "data": {"corpus": str(tiny_video_corpus(workdir)), "frame_stride": 2, "max_dev_frames": 16},
        "model": {"channels": [8, 8], "latent_channels": 2, "norm_groups": 4},
        "objective": {"motion_weight": 10.0},
        "train": {"steps": 2, "batch_size": 8, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0, "validate_every": 2},
    }


register_family(
    FAMILY,
    output="video",
    pipeline=None,
    about="per-frame image autoencoder (diffusers AutoencoderKL): the latent space of latent video diffusion "
    "(init.autoencoder)",
    model_config=FrameAutoencoderConfig,
    build_model=FrameAutoencoder,
    objective_config=FrameAutoencoderObjectiveConfig,
    data_config=FrameDataConfig,
    build=build,
    tiny=tiny_config,
    extra="video",
)
