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
the first step, into a temporary memory-mapped file (:class:`EncodedClips`), not once a step.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.config import bounded
from text2sign.data.video_corpus import VideoCorpus, fit_frames, frames_to_unit, resize_frames
from text2sign.errors import ConfigError, CorpusError
from text2sign.families.recognizer import split_items
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
class VideoCorpusDataConfig:
    """The ``data:`` section every family that trains on a video corpus starts from."""

    corpus: str = ""  # a video corpus directory
    train_split: str = "train"
    dev_split: str = "dev"
    signed_languages: list[str] = field(default_factory=list)  # empty: all


@dataclass
class VideoDataConfig(VideoCorpusDataConfig):
    max_dev_items: int = bounded(64, min=1)
    # One-clip tuning (Tune-A-Video's original use): train on the one training clip with this text.
    one_clip: str = ""


def train_clips(corpus: VideoCorpus, data: VideoCorpusDataConfig) -> list:
    """The train split's clips in the chosen signed languages; none is an error."""
    items = split_items(corpus, data.train_split, data)
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} clips for the chosen languages")
    return items


def load_video_corpus(data: VideoCorpusDataConfig) -> VideoCorpus:
    if not data.corpus:
        raise CorpusError("data.corpus is empty: name a video corpus (text2sign prepare video --from CORPUS --out DIR)")
    return VideoCorpus.load(data.corpus)


def tiny_video_corpus(workdir: Path) -> Path:
    """A three-word ASL FS-Words drawn at 16 px in `workdir` (once), for the contract tests."""
    from text2sign.data.video_corpus import render_pose_corpus
    from text2sign.testing import tiny_fs_words

    videos = workdir / "fs-ase-video16"
    if not (videos / "manifest.csv").is_file():
        render_pose_corpus(tiny_fs_words(workdir / "fs-ase"), videos, size=16, fps=12.5)
    return videos


class VideoTextDataset(Dataset):
    """``(video (3, T, H, W) float32 in [-1, 1], text, signed language)`` per clip, read from the
    corpus's memory map at each access."""

    def __init__(self, corpus: VideoCorpus, items, frames: int, size: int):
        self.corpus, self.items, self.frames, self.size = corpus, items, frames, size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        item = self.items[i]
        frames = resize_frames(fit_frames(self.corpus.frames(item), self.frames), self.size)
        return frames_to_unit(frames), item.text, item.signed_language


def build(config) -> Experiment:
    data: VideoDataConfig = config.data
    corpus = load_video_corpus(data)
    items = train_clips(corpus, data)
    if data.one_clip:
        items = [i for i in items if i.text == data.one_clip][:1]
        if not items:
            raise CorpusError(f"{corpus.root} has no {data.train_split} clip with the text {data.one_clip!r} (data.one_clip)")
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
    objective = VideoDiffusionObjective(net, make_schedule(inference, pixel_space=net.frame_vae is None), config.objective)
    dev_items = split_items(corpus, data.dev_split, data)[: data.max_dev_items]
    # One clip fills every batch (each copy draws its own noise and timestep).
    train_set = VideoTextDataset(corpus, items * config.train.batch_size if data.one_clip else items, model.frames, model.size)
    dev_set = VideoTextDataset(corpus, dev_items, model.frames, model.size) if dev_items else None
    collate = collate_videos
    prepare = None
    if net.frame_vae is not None:
        train_set = EncodedClips(train_set, net)
        dev_set = EncodedClips(dev_set, net) if dev_set is not None else None
        collate = collate_latents

        def prepare() -> None:
            # Not in a dry run, which needs one batch: a corpus takes minutes through the VAE.
            print(f"note: encoding {len(items) + len(dev_items)} clips through the VAE once, before training", file=sys.stderr)
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
        return {f"{i.signed_language}-{i.text}": pipeline([i.text], i.spoken_language, i.signed_language).outputs[0]
                for i in sample_items}

    resolved = dataclasses.replace(config, model=net.config, inference=inference)
    return Experiment(objective, train_set, dev_data=dev_set, collate_fn=collate, sample=sample, prepare=prepare,
                      config=resolved, metadata={"language_pairs": [list(p) for p in pairs]})


class EncodedClips(Dataset):
    """`clips` (a :class:`VideoTextDataset`) through `net`'s VAE once: ``(latents (C, T, h, w),
    text, signed language)`` per clip, times `scale`. The latents live in a temporary memory-mapped
    file (deleted with this object), so a corpus of any size costs disk, not RAM; a clip that
    appears several times (one-clip tuning) is encoded once. A clip is encoded when first read,
    or all at once by :meth:`encode_all` (before training, so loader workers only read)."""

    def __init__(self, clips: VideoTextDataset, net: VideoDiffusionNet):
        self.clips = clips
        self.scale = 1.0
        rows: dict[str, int] = {}
        self.rows = [rows.setdefault(item.id, len(rows)) for item in clips.items]
        # Open as long as the memmap lives; the OS deletes it when it is closed.
        self._file = tempfile.TemporaryFile(prefix="text2sign-latents-")  # noqa: SIM115
        self.latents = np.memmap(self._file, np.float32, "w+", shape=(len(rows), *net.latent_shape(clips.frames)))
        self.net = net
        self.encoded = np.zeros(len(rows), dtype=bool)
        # Rows are numbered in order of first appearance: the first index of each clip.
        self.first_index = [self.rows.index(row) for row in range(len(rows))]

    def _latent(self, row: int) -> np.ndarray:
        if not self.encoded[row]:
            with torch.no_grad():
                frames = torch.from_numpy(self.clips[self.first_index[row]][0])[None]
                self.latents[row] = self.net.to_latent(frames)[0].numpy()
            self.encoded[row] = True
        return self.latents[row]

    def encode_all(self) -> None:
        for row in range(len(self.encoded)):
            self._latent(row)
        self.latents.flush()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        item = self.clips.items[i]
        return self._latent(self.rows[i]) * np.float32(self.scale), item.text, item.signed_language

    def unit_scaling(self) -> float:
        """1 / the standard deviation of every latent value (Stable Diffusion's scaling factor, measured)."""
        self.encode_all()
        total = total_sq = 0.0
        for row in self.latents:
            values = row.astype(np.float64)
            total, total_sq = total + values.sum(), total_sq + np.square(values).sum()
        count = self.latents.size
        std = float(np.sqrt(max(total_sq / count - (total / count) ** 2, 0.0)))
        if not np.isfinite(std) or std == 0.0:
            raise ConfigError("the autoencoder's latents of the training clips do not vary: is init.autoencoder trained?")
        return 1.0 / std


def load_frame_autoencoder(path, size: int):
    """The trained :class:`FrameAutoencoder` of a ``video-ae`` run or checkpoint (``init.autoencoder``)."""
    from text2sign.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(path)
    if checkpoint.family.name != "video-ae":
        raise ConfigError(f"init.autoencoder {checkpoint.path} is a {checkpoint.family.name} checkpoint, not video-ae")
    network = checkpoint.model
    if network.config.size != size:
        raise ConfigError(f"model.size is {size} px but the autoencoder in {checkpoint.path} learnt {network.config.size} px frames")
    return network


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
    return {
        "family": FAMILY,
        "data": {"corpus": str(tiny_video_corpus(workdir))},
        "model": {"denoiser": "dit3d", "text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2},
                  "frames": 4, "size": 16, "width": 16, "heads": 2, "depth": 1, "patch": 4},
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
