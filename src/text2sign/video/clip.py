"""The video type: RGB frames ``(T, H, W, 3)`` uint8 at a frame rate, and the edits that keep it one.

Nothing here knows about poses: a clip is whatever a video model, a renderer or a file produced.
Edits return new clips and never change the frames of the one they are called on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from text2sign.errors import Text2SignError


class InvalidVideoError(Text2SignError):
    """Video data is malformed (wrong dtype, shape or frame rate) or an edit cannot apply to it."""


@dataclass(eq=False)
class VideoClip:
    """`frames` is a ``uint8`` array ``(T, H, W, 3)`` in RGB order; `fps` is frames per second."""

    frames: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        frames = self.frames
        if not isinstance(frames, np.ndarray):
            raise InvalidVideoError(f"video frames must be a numpy array, got {type(frames).__name__}")
        if frames.dtype != np.uint8:
            raise InvalidVideoError(f"video frames must be uint8 (0-255), got {frames.dtype}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InvalidVideoError(f"video frames must have shape (frames, height, width, 3), got {frames.shape}")
        if min(frames.shape[:3]) < 1:
            raise InvalidVideoError(f"video needs at least one frame of at least 1 x 1 pixels, got {frames.shape}")
        self.fps = check_fps(self.fps)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]

    @property
    def duration(self) -> float:
        """Seconds of playback: each frame lasts 1 / fps."""
        return self.num_frames / self.fps

    def resample(self, fps: float) -> VideoClip:
        """The clip at `fps`, each new frame a copy of the source frame nearest to its time.

        The duration is kept to the nearest frame; an unchanged rate returns this clip itself.
        """
        fps = check_fps(fps)
        if abs(fps - self.fps) < 1e-9:
            return self
        return VideoClip(self.frames[resample_indices(self.num_frames, self.fps, fps)], fps)  # (T', H, W, 3)

    def resize(self, width: int, height: int) -> VideoClip:
        """Every frame scaled to `width` x `height` pixels (aspect ratio not kept; see :func:`fit_size`)."""
        width, height = check_size(width, height)
        resized = np.empty((self.num_frames, height, width, 3), np.uint8)  # (T, height, width, 3)
        for t, frame in enumerate(self.frames):
            resized[t] = resize_frame(frame, width, height)
        return VideoClip(resized, self.fps)

    def center_crop(self, size: int | tuple[int, int]) -> VideoClip:
        """The central `size` region, `size` being ``(width, height)`` or one number for a square.

        When the margin to remove is odd, the extra pixel comes off the right or bottom edge.
        """
        width, height = check_size(*((size, size) if isinstance(size, (int, np.integer)) else size))
        if width > self.width or height > self.height:
            raise InvalidVideoError(f"cannot crop {width} x {height} out of a {self.width} x {self.height} video")
        left, top = (self.width - width) // 2, (self.height - height) // 2
        return VideoClip(self.frames[:, top : top + height, left : left + width].copy(), self.fps)  # (T, h, w, 3)

    @classmethod
    def concatenate(cls, clips: Sequence[VideoClip]) -> VideoClip:
        """One clip playing `clips` one after another; they must share frame size and frame rate."""
        clips = list(clips)
        if not clips:
            raise InvalidVideoError("nothing to concatenate: no clips given")
        first = clips[0]
        for i, clip in enumerate(clips[1:], start=1):
            if (clip.width, clip.height) != (first.width, first.height):
                raise InvalidVideoError(
                    f"clip {i} is {clip.width} x {clip.height} but clip 0 is {first.width} x {first.height}; "
                    "resize first"
                )
            if abs(clip.fps - first.fps) > 1e-6:
                raise InvalidVideoError(
                    f"clip {i} plays at {clip.fps:g} fps but clip 0 at {first.fps:g} fps; resample first"
                )
        return cls(np.concatenate([clip.frames for clip in clips], axis=0), first.fps)  # (sum T, H, W, 3)


def check_fps(fps: float) -> float:
    """`fps` as a float, or one clear error when it is not a positive finite number."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise InvalidVideoError(f"fps must be a positive number, got {fps!r}")
    if not math.isfinite(fps) or fps <= 0:
        raise InvalidVideoError(f"fps must be a positive number, got {fps}")
    return float(fps)


# What a user may ask an output to be: wide enough for any screen, small enough that one frame
# (the memory a streamed render holds) stays under 50 MB, and frame rates players handle.
MAX_OUTPUT_SIDE = 4096
MIN_OUTPUT_SIDE = 2
MAX_OUTPUT_FPS = 120.0
MIN_OUTPUT_FPS = 1.0


def check_output_fps(fps: float, name: str = "fps") -> float:
    """A requested output frame rate, or one clear error naming the option."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not math.isfinite(fps):
        raise InvalidVideoError(f"{name} must be a number from {MIN_OUTPUT_FPS:g} to {MAX_OUTPUT_FPS:g}, got {fps!r}")
    if not MIN_OUTPUT_FPS <= fps <= MAX_OUTPUT_FPS:
        raise InvalidVideoError(
            f"{name} must be from {MIN_OUTPUT_FPS:g} to {MAX_OUTPUT_FPS:g} frames a second, got {fps:g}"
        )
    return float(fps)


def check_output_side(value: int, name: str) -> int:
    """A requested output width or height in pixels, or one clear error naming the option."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not MIN_OUTPUT_SIDE <= value <= MAX_OUTPUT_SIDE
    ):
        raise InvalidVideoError(
            f"{name} must be a whole number of pixels from {MIN_OUTPUT_SIDE} to {MAX_OUTPUT_SIDE}, got {value!r}"
        )
    return int(value)


def check_size(width: int, height: int) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InvalidVideoError(f"{name} must be a positive whole number of pixels, got {value!r}")
    return int(width), int(height)


def fit_size(width: int, height: int, new_width: int | None, new_height: int | None) -> tuple[int, int]:
    """Target size when one side may be left out: the missing side keeps the aspect ratio."""
    if new_width is None and new_height is None:
        return width, height
    if new_width is None:
        new_width = max(1, round(width * new_height / height))
    elif new_height is None:
        new_height = max(1, round(height * new_width / width))
    return check_size(new_width, new_height)


def resample_indices(num_frames: int, fps: float, new_fps: float) -> np.ndarray:
    """Source frame shown at each frame time of the `new_fps` clip: the one nearest in time.

    Frame ``i`` of a clip is at time ``i / fps``; halves round up, so 25 -> 10 fps picks
    0, 3, 5, 8, ... rather than alternating directions.
    """
    count = max(1, round(num_frames * new_fps / fps))
    times = np.arange(count) * (fps / new_fps)  # (T',) in source frames
    return np.minimum(np.floor(times + 0.5).astype(np.int64), num_frames - 1)


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """One ``(H, W, 3)`` frame scaled to ``(height, width, 3)``.

    Shrinking averages the pixels each output pixel covers (no aliasing on thin skeleton lines);
    growing interpolates linearly.
    """
    import cv2

    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrinking = width <= frame.shape[1] and height <= frame.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)
