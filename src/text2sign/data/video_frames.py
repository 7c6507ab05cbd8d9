"""Clips as a recognizer reads them: frames at one size and frame rate, a Dataset, padded batches.

How a clip becomes the input of :class:`text2sign.models.video_recognizer.VideoRecognizerNet`
(:func:`clip_frames`), the same in training and at inference:

1. resampled to the recognizer's frame rate (nearest frame in time, :meth:`VideoClip.resample`);
2. every frame scaled to ``size`` x ``size`` pixels (area averaging when shrinking, so thin
   skeleton lines do not vanish; a non-square clip is stretched, as our renderer fits a pose
   to any canvas);
3. optional augmentation (training only, :class:`FrameAugment`);
4. ``(T, 3, size, size)`` float32 in [-1, 1].

A batch pads every clip to the longest one: padded frames are zero and False in ``frame_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from text2sign.data.torch_data import EpochSeededDataset
from text2sign.data.video_corpus import VideoCorpus, VideoItem
from text2sign.video.clip import VideoClip, resize_frame


@dataclass
class FrameItem:
    frames: np.ndarray  # (T, 3, H, W) float32 in [-1, 1]
    text: str
    signed_language: str
    id: str = ""


@dataclass
class FrameBatch:
    frames: torch.Tensor  # (B, T, 3, H, W) float32, zero at padded frames
    frame_mask: torch.Tensor  # (B, T) bool, True on real frames
    texts: list[str]
    signed_languages: list[str]
    ids: list[str]

    def to(self, device: torch.device | str) -> FrameBatch:
        return FrameBatch(
            self.frames.to(device), self.frame_mask.to(device), self.texts, self.signed_languages, self.ids
        )

    def __len__(self) -> int:
        return len(self.ids)


def clip_frames(clip: VideoClip, size: int, fps: float) -> np.ndarray:
    """The clip at `fps`, every frame `size` x `size`: uint8 ``(T, size, size, 3)``."""
    frames = clip.resample(fps).frames
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([resize_frame(f, size, size) for f in frames])  # (T, size, size, 3)


def to_unit(frames: np.ndarray) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` -> float32 ``(T, 3, H, W)`` in [-1, 1]."""
    return frames.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0


@dataclass(frozen=True)
class FrameAugment:
    """Training-time changes a reader must not care about, in frames and pixels.

    `speed`: the signing slowed down or sped up (drawn log-uniformly; frames picked by nearest
    time); `shift`: the figure moved by up to this many pixels each way (edges repeated, which
    keeps the renderer's plain background); `noise_std`: Gaussian pixel noise on the [-1, 1]
    scale, so the speckle of a generated clip is not new to the reader.
    """

    speed: tuple[float, float] = (0.8, 1.25)
    shift: int = 1
    noise_std: float = 0.03

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 ``(T, H, W, 3)`` -> float32 ``(T', 3, H, W)`` in [-1, 1]."""
        low, high = np.log(self.speed[0]), np.log(self.speed[1])
        factor = float(np.exp(rng.uniform(low, high)))
        count = max(1, round(len(frames) / factor))
        frames = frames[np.round(np.linspace(0, len(frames) - 1, count)).astype(int)]  # (T', H, W, 3)
        if self.shift > 0:
            dy, dx = rng.integers(-self.shift, self.shift + 1, 2)
            s = self.shift
            padded = np.pad(frames, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
            frames = padded[:, s + dy : s + dy + frames.shape[1], s + dx : s + dx + frames.shape[2]]
        unit = to_unit(frames)
        if self.noise_std > 0:
            unit = np.clip(unit + rng.normal(0.0, self.noise_std, unit.shape).astype(np.float32), -1.0, 1.0)
        return unit


class VideoFramesDataset(EpochSeededDataset):
    """Clips of a video corpus with their text, read from its memory map at each access.

    `augment` runs on every access with the generator of
    :meth:`text2sign.data.torch_data.EpochSeededDataset.draw_rng`, so a resumed run draws what an
    uninterrupted one would. `max_frames`: longer clips are sampled down to this many frames
    (never cropped, so no letter loses its signing).
    """

    def __init__(
        self,
        corpus: VideoCorpus,
        items: Sequence[VideoItem],
        size: int,
        fps: float,
        augment: FrameAugment | None = None,
        max_frames: int | None = None,
        seed: int = 0,
    ):
        super().__init__(items, seed)
        self.corpus, self.size, self.fps = corpus, size, fps
        self.augment, self.max_frames = augment, max_frames

    def __getitem__(self, index: int) -> FrameItem:
        item = self.items[index]
        frames = clip_frames(VideoClip(np.asarray(self.corpus.frames(item)), item.fps), self.size, self.fps)
        if self.max_frames is not None and len(frames) > self.max_frames:
            frames = frames[np.round(np.linspace(0, len(frames) - 1, self.max_frames)).astype(int)]
        unit = to_unit(frames) if self.augment is None else self.augment(frames, self.draw_rng(index))
        return FrameItem(unit, item.text, item.signed_language, item.id)


def collate_frame_batch(items: Sequence[FrameItem]) -> FrameBatch:
    """Pad `items` to the longest clip; padding is zero / False."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    lengths = [len(it.frames) for it in items]
    longest = max(lengths)
    frames = np.zeros((len(items), longest, *items[0].frames.shape[1:]), np.float32)  # (B, T, 3, H, W)
    frame_mask = np.zeros((len(items), longest), bool)
    for b, (it, n) in enumerate(zip(items, lengths)):
        frames[b, :n] = it.frames
        frame_mask[b, :n] = True
    return FrameBatch(
        torch.from_numpy(frames),
        torch.from_numpy(frame_mask),
        [it.text for it in items],
        [it.signed_language for it in items],
        [it.id for it in items],
    )


class SingleFrames(torch.utils.data.Dataset):
    """Every `stride`-th frame of `items`' clips as one ``(3, size, size)`` float32 image in
    [-1, 1] (what a per-frame autoencoder learns from), read from the corpus's memory map at each
    access; `limit` keeps that many, evenly spread (a bounded dev set)."""

    def __init__(
        self, corpus: VideoCorpus, items: Sequence[VideoItem], size: int, stride: int = 1, limit: int | None = None
    ):
        self.corpus, self.items, self.size = corpus, list(items), size
        index = [(i, f) for i, item in enumerate(self.items) for f in range(0, item.num_frames, stride)]
        if limit is not None and len(index) > limit:
            index = [index[k] for k in np.linspace(0, len(index) - 1, limit).round().astype(int)]
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> torch.Tensor:
        item, frame = self.index[index]
        image = resize_frame(np.asarray(self.corpus.frames(self.items[item])[frame]), self.size, self.size)
        return torch.from_numpy(to_unit(image[None])[0])
