"""The `video-diffusion` family (designs "UNet3D" and "DiT video"): text -> video by denoising
diffusion in pixel space.

Network :class:`VideoDiffusionNet` (``models/video_diffusion.py``, backbones in
``models/video_denoisers.py``: ``unet3d``, ``dit3d``, ``factorized``), objective
``objectives/video_diffusion.py``, schedule ``schedulers/ddpm.py``, pipeline
:class:`VideoDiffusionPipeline`, configs ``configs/fs-video-*.yaml``. The data is a video corpus
(``text2sign prepare video`` / ``prepare video-folder``); every clip is sampled or padded to
``model.frames`` frames and scaled to ``model.size`` pixels. The text encoder's vocabulary and
signed languages, and the playback rate of generated clips, are filled in from the corpus.

Latent space: a local VAE (``model.vae``) or a ``video-ae`` stage trained here
(``init: {autoencoder: RUN}``, copied into the model with its weights, its latents scaled to unit
spread over the training clips). Either way every training clip goes through the VAE once, before
the first step, into a temporary memory-mapped file
(:class:`~text2sign.data.video_clips.EncodedClips`), not once a step.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2sign.config import bounded
from text2sign.data.config import VideoCorpusDataConfig
from text2sign.data.selection import split_items, train_clips
from text2sign.data.video_clips import EncodedClips, VideoTextDataset
from text2sign.data.video_corpus import load_video_corpus
from text2sign.errors import CorpusError
from text2sign.families.frame_autoencoder import load_frame_autoencoder
from text2sign.families.registry import Experiment, register_family
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.objectives.video_diffusion import (
    VideoDiffusionObjective,
    VideoDiffusionObjectiveConfig,
    collate_latents,
    collate_videos,
)
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig, VideoDiffusionPipeline, make_schedule
from text2sign.text.encoders import resolve_text_config

FAMILY = "video-diffusion"
SAMPLES = 2


@dataclass
class VideoDataConfig(VideoCorpusDataConfig):
    max_dev_items: int = bounded(64, min=1)
    # One-clip tuning (Tune-A-Video's original use): train on the one training clip with this text.
    one_clip: str = ""


def build(config) -> Experiment:
    data: VideoDataConfig = config.data
    corpus = load_video_corpus(data)
    items = train_clips(corpus, data)
    if data.one_clip:
        items = [i for i in items if i.text == data.one_clip][:1]
        if not items:
            raise CorpusError(
                f"{corpus.root} has no {data.train_split} clip with the text {data.one_clip!r} (data.one_clip)"
            )
    model = _resolved_model(config.model, items)
    autoencoder = None
    if "autoencoder" in config.init:
        autoencoder = load_frame_autoencoder(config.init["autoencoder"], model.size)
        model = dataclasses.replace(model, autoencoder=autoencoder.config)
    inference = dataclasses.replace(config.inference, fps=playback_rate(items, model.frames))
    net = VideoDiffusionNet(model)
    if autoencoder is not None:
        net.frame_vae.vae.load_state_dict(autoencoder.vae.state_dict())
    for note in net.load_pretrained():
        print(f"note: {note}", file=sys.stderr)
    objective = VideoDiffusionObjective(
        net, make_schedule(inference, pixel_space=net.frame_vae is None), config.objective
    )
    dev_items = split_items(corpus, data.dev_split, data)[: data.max_dev_items]
    # One clip fills every batch (each copy draws its own noise and timestep).
    train_set = VideoTextDataset(
        corpus, items * config.train.batch_size if data.one_clip else items, model.frames, model.size
    )
    dev_set = VideoTextDataset(corpus, dev_items, model.frames, model.size) if dev_items else None
    collate = collate_videos
    prepare = None
    if net.frame_vae is not None:
        train_set = EncodedClips(train_set, net)
        dev_set = EncodedClips(dev_set, net) if dev_set is not None else None
        collate = collate_latents

        def prepare() -> None:
            # Not in a dry run, which needs one batch: a corpus takes minutes through the VAE.
            print(
                f"note: encoding {len(items) + len(dev_items)} clips through the VAE once, before training",
                file=sys.stderr,
            )
            for encoded in (train_set, dev_set):
                if encoded is not None:
                    encoded.encode_all()
            if autoencoder is not None:
                scaling = train_set.unit_scaling()
                net.frame_vae.scaling = net.config.autoencoder.scaling_factor = scaling
                for encoded in (train_set, dev_set):
                    if encoded is not None:
                        encoded.scale = scaling

    pairs = sorted({(i.spoken_language, i.signed_language) for i in items})
    sample_items = dev_items[:: max(1, len(dev_items) // SAMPLES)][:SAMPLES]

    def sample(network, device):
        pipeline = VideoDiffusionPipeline(network, inference, pairs, device)
        return {
            f"{i.signed_language}-{i.text}": pipeline([i.text], i.spoken_language, i.signed_language).outputs[0]
            for i in sample_items
        }

    resolved = dataclasses.replace(config, model=net.config, inference=inference)
    return Experiment(
        objective,
        train_set,
        dev_data=dev_set,
        collate_fn=collate,
        sample=sample,
        prepare=prepare,
        measured=("model.autoencoder.scaling_factor",),
        config=resolved,
        metadata={"language_pairs": [list(p) for p in pairs]},
    )


def playback_rate(items, frames: int) -> float:
    """The rate a generated clip plays at: the median over training clips of the rate their
    `frames` frames stood for. A clip sampled down to `frames` was squeezed into them (its rate
    falls to frames / its duration); a shorter one was padded and kept its own rate."""
    rates = [i.fps * min(1.0, frames / i.num_frames) for i in items]
    return round(float(np.median(rates)), 3)


def _resolved_model(model: VideoDiffusionConfig, items) -> VideoDiffusionConfig:
    text = resolve_text_config(model.text, [i.text for i in items])
    if not text.signed_languages:
        text = dataclasses.replace(text, signed_languages=sorted({i.signed_language for i in items}))
    fps = float(np.median([i.fps for i in items]))
    if model.paced_text and not model.text_pace:
        pace, lead = text_pace(items, model.frames)
        model = dataclasses.replace(model, text_pace=pace, text_lead=lead)
    return dataclasses.replace(model, text=text, fps=fps)


def text_pace(items, frames: int) -> tuple[float, float]:
    """(frames a letter, frames before the first letter) from a least-squares line of clip length
    against letters, lead-in and lead-out taken as equal halves of its intercept. Only clips that fit
    `frames` count: longer ones are squeezed into them at another pace."""
    fitting = [i for i in items if i.num_frames <= frames]
    if not fitting:  # every clip is squeezed into `frames`: its letters share them evenly
        return round(frames / float(np.median([max(1, len(i.text)) for i in items])), 3), 0.0
    letters = np.array([max(1, len(i.text)) for i in fitting], float)
    lengths = np.array([i.num_frames for i in fitting], float)
    if np.ptp(letters) == 0:  # one text length: no line to fit, no lead to tell apart
        return round(float(np.median(lengths / letters)), 3), 0.0
    pace, intercept = np.polyfit(letters, lengths, 1)
    if pace <= 0:
        raise CorpusError("clip lengths do not grow with their texts' letters: paced_text has no pace to learn")
    return round(float(pace), 3), round(max(0.0, float(intercept)) / 2, 3)


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words drawn at 16 px, for the contract test."""
    from text2sign.testing import tiny_video_corpus

    return {
        "family": FAMILY,
        "data": {"corpus": str(tiny_video_corpus(workdir))},
        "model": {
            "denoiser": "dit3d",
            "text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2},
            "frames": 4,
            "size": 16,
            "width": 16,
            "heads": 2,
            "depth": 1,
            "patch": 4,
        },
        "inference": {"train_timesteps": 100, "steps": 4},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }


register_family(
    FAMILY,
    output="video",
    pipeline=VideoDiffusionPipeline.from_checkpoint,
    about="text-to-video diffusion: UNet3D, DiT-3D or factorised space-time denoiser, DDPM/DDIM, guidance",
    model_config=VideoDiffusionConfig,
    build_model=VideoDiffusionNet,
    inference_config=VideoDiffusionInferenceConfig,
    objective_config=VideoDiffusionObjectiveConfig,
    data_config=VideoDataConfig,
    build=build,
    init_keys=("autoencoder",),
    tiny=tiny_config,
)
