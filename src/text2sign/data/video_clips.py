"""Whole clips as a text-to-video model trains on them: a clip-and-text Dataset, and the same
clips encoded once through a VAE.

Every clip is sampled or padded to the model's frame count (:func:`~text2sign.data.video_corpus.fit_frames`),
scaled to its size and mapped to ``(3, T, H, W)`` float32 in [-1, 1] (the diffusion models' pixel space).
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.data.video_corpus import VideoCorpus, fit_frames, frames_to_unit, resize_frames
from text2sign.errors import ConfigError


def window_starts(total: int, window: int) -> list[int]:
    """First frames of the windows of `window` frames covering `total`, half a window apart."""
    if total <= window:
        return [0]
    stride = max(1, window // 2)
    starts = list(range(0, total - window + 1, stride))
    if starts[-1] != total - window:
        starts.append(total - window)
    return starts


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


class EncodedClips(Dataset):
    """`clips` (a :class:`VideoTextDataset`) through the VAE of `net` (a
    :class:`~text2sign.models.video_diffusion.VideoDiffusionNet`) once: ``(latents (C, T, h, w),
    text, signed language)`` per clip, times `scale`. The latents live in a temporary memory-mapped
    file (deleted with this object), so a corpus of any size costs disk, not RAM; a clip that
    appears several times (one-clip tuning) is encoded once. A clip is encoded when first read,
    or all at once by :meth:`encode_all` (before training, so loader workers only read)."""

    def __init__(self, clips: VideoTextDataset, net):
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
            raise ConfigError(
                "the autoencoder's latents of the training clips do not vary: is init.autoencoder trained?"
            )
        return 1.0 / std
