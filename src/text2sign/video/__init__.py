"""The video type: :class:`VideoClip` (``(T, H, W, 3)`` uint8 + fps), GIF/MP4/PNG-folder I/O, and
:func:`fake_video` so tests and examples need no downloads."""

from __future__ import annotations

import numpy as np

from text2sign.video.clip import InvalidVideoError, VideoClip, check_size
from text2sign.video.io import (
    VIDEO_SUFFIXES,
    VideoFileError,
    check_video_path,
    load_video,
    save_video,
    write_frames,
    write_gif,
    write_mp4,
    write_png_frames,
)


def fake_video(num_frames: int = 8, height: int = 32, width: int = 32, fps: float = 12.5, seed: int = 0) -> VideoClip:
    """A bright square bouncing across a dark background; colours, size, start and speed come from `seed`.

    Consecutive frames differ whenever the square has room to move, and the two colours are far
    apart, so lossy codecs keep the square findable.
    """
    width, height = check_size(width, height)
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 100, 3, dtype=np.uint8)
    colour = rng.integers(155, 256, 3, dtype=np.uint8)
    side = max(1, min(height, width) // 4)
    span = np.array([height - side, width - side])  # (2,) free room along y, x
    start = rng.integers(0, span + 1)  # (2,)
    speed = rng.integers(1, 4, 2) * rng.choice([-1, 1], 2)  # (2,) pixels per frame
    frames = np.empty((max(num_frames, 0), height, width, 3), np.uint8)  # (T, H, W, 3)
    frames[:] = background
    for t in range(frames.shape[0]):
        # Bounce off the edges: fold the straight-line position back into [0, span].
        travelled = np.mod(start + speed * t, np.maximum(2 * span, 1))
        y, x = np.where(travelled > span, 2 * span - travelled, travelled)
        frames[t, y : y + side, x : x + side] = colour
    return VideoClip(frames, fps)


__all__ = [
    "VIDEO_SUFFIXES",
    "InvalidVideoError",
    "VideoClip",
    "VideoFileError",
    "check_video_path",
    "fake_video",
    "load_video",
    "save_video",
    "write_frames",
    "write_gif",
    "write_mp4",
    "write_png_frames",
]
