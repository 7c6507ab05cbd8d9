"""Training pairs of a pose-conditioned video model: each clip of a video corpus and the joint
positions of the pose it shows, cut into windows of the model's frame count.

The pose of clip ``ID`` is item ``ID`` of a pose corpus (``prepare video --from`` keeps the ids) or
``ID.pose`` under a folder of pose files (``extract``'s output for the videos ``prepare
video-folder`` imported, which names clips by their path). Positions are computed as the model
reads them (``positions_of``, from :mod:`text2sign.pose.canvas`), one row per video frame.

A clip and its positions are encoded once, into temporary memory-mapped files (deleted with the
object): a corpus of any size costs disk, not RAM. Windows start half a window apart
(:func:`~text2sign.data.video_clips.window_starts`, as sampling lays them), so every frame is in
one or two; a clip shorter than a window is padded with its last frame.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.data.corpus import MANIFEST, Corpus
from text2sign.data.video_clips import window_starts
from text2sign.data.video_corpus import VideoCorpus, VideoItem, frames_to_unit, resize_frames
from text2sign.errors import CorpusError, PoseFileError, Text2SignError
from text2sign.pose.io import load_pose
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

# Frames of one clip sent through the autoencoder at a time while encoding.
ENCODE_CHUNK = 256


def pose_source(path: str | Path, allow_outside: bool = False) -> Callable[[str], PoseSequence]:
    """``pose_of(clip id)`` for a pose corpus (by item id) or a folder of ``ID.pose`` files."""
    root = Path(path)
    if not root.is_dir():
        raise CorpusError(f"data.poses: {root} is not a folder (a pose corpus, or extract's output)")
    if (root / MANIFEST).is_file():
        corpus = Corpus.load(root)
        by_id = {item.id: item for item in corpus.items}

        def from_corpus(clip_id: str) -> PoseSequence:
            if clip_id not in by_id:
                raise CorpusError(f"the pose corpus {root} has no item {clip_id!r} for the video clip of that id")
            return corpus.load_pose(by_id[clip_id])

        return from_corpus

    def from_folder(clip_id: str) -> PoseSequence:
        relative = f"{clip_id}.pose"
        file = inside(root, relative, relative, allow_outside, hint="data.poses reads only files inside its folder")
        if not file.is_file():
            raise CorpusError(f"{root} has no {relative} for the video clip {clip_id!r} (extract the videos into it)")
        try:
            return load_pose(file)
        except PoseFileError as exc:
            raise CorpusError(str(exc)) from None

    return from_folder


class PoseVideoWindows(Dataset):
    """``(latents (C, T, h, w), positions (T, J, 3))`` per window of `frames` frames.

    `positions_of(item)` gives a clip's ``(num_frames, J, 3)`` positions; `encode(videos (1, 3, n,
    H, W) in [-1, 1])` its latents ``(1, C, n, h, w)``; `latent_shape` is ``(C, h, w)``. Clips are
    read and encoded when first used, or all at once by :meth:`encode_all` (before training, so
    loader workers only read)."""

    def __init__(
        self,
        corpus: VideoCorpus,
        items: list[VideoItem],
        positions_of: Callable[[VideoItem], np.ndarray],
        encode: Callable[[torch.Tensor], torch.Tensor],
        latent_shape: tuple[int, int, int],
        num_joints: int,
        frames: int,
        size: int,
    ):
        self.corpus, self.items, self.frames, self.size = corpus, items, frames, size
        self.positions_of, self.encode = positions_of, encode
        self.offsets = np.concatenate([[0], np.cumsum([i.num_frames for i in items])]).astype(np.int64)
        total = int(self.offsets[-1])
        # Both files stay open as long as their memmaps live; the OS deletes them when closed.
        self._files = [tempfile.TemporaryFile(prefix="text2sign-pose-video-") for _ in range(2)]  # noqa: SIM115
        self.latents = np.memmap(self._files[0], np.float32, "w+", shape=(max(total, 1), *latent_shape))
        self.positions = np.memmap(self._files[1], np.float32, "w+", shape=(max(total, 1), num_joints, 3))
        self.encoded = np.zeros(len(items), dtype=bool)
        self.scale = 1.0
        self.windows = [
            (row, start) for row, item in enumerate(items) for start in window_starts(item.num_frames, frames)
        ]

    def _clip(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        if not self.encoded[row]:
            item = self.items[row]
            positions = self.positions_of(item)
            if positions.shape != (item.num_frames, self.positions.shape[1], 3):
                raise CorpusError(
                    f"clip {item.id}: its pose gives positions of shape {positions.shape}, "
                    f"the video has {item.num_frames} frames of {self.positions.shape[1]} joints"
                )
            self.positions[a:b] = positions
            frames = self.corpus.frames(item)
            with torch.no_grad():
                for i in range(0, len(frames), ENCODE_CHUNK):
                    pixels = frames_to_unit(resize_frames(np.asarray(frames[i : i + ENCODE_CHUNK]), self.size))
                    self.latents[a + i : a + i + len(pixels[0])] = (
                        self.encode(torch.from_numpy(pixels)[None])[0].transpose(0, 1).numpy()
                    )
            self.encoded[row] = True
        return self.latents[a:b], self.positions[a:b]

    def encode_all(self, on_clip: Callable[[], None] | None = None) -> None:
        for row in range(len(self.items)):
            self._clip(row)
            if on_clip:
                on_clip()
        self.latents.flush()
        self.positions.flush()

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int):
        row, start = self.windows[i]
        latents, positions = self._clip(row)
        picked = np.minimum(np.arange(start, start + self.frames), len(latents) - 1)  # the last frame pads
        return (
            np.ascontiguousarray(latents[picked].transpose(1, 0, 2, 3)) * np.float32(self.scale),
            np.ascontiguousarray(positions[picked]),
        )

    def unit_scaling(self) -> float:
        """1 / the standard deviation of every latent value (as Stable Diffusion's scaling factor)."""
        self.encode_all()
        total = total_sq = 0.0
        count = 0
        for row in range(len(self.items)):
            values = np.asarray(self._clip(row)[0], np.float64)
            total, total_sq, count = total + values.sum(), total_sq + np.square(values).sum(), count + values.size
        std = float(np.sqrt(max(total_sq / max(count, 1) - (total / max(count, 1)) ** 2, 0.0)))
        if not np.isfinite(std) or std == 0.0:
            raise Text2SignError("the autoencoder's latents of the training clips do not vary: is it trained?")
        return 1.0 / std
