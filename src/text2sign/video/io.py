"""Reading and writing video: animated GIF, H.264 MP4 and folders of numbered PNG frames.

The writers take any iterable of ``(H, W, 3)`` uint8 frames and encode each as it arrives,
so a long render streams through them with memory bounded by one frame. Every write is
atomic: on any error (a bad frame, a full disk, an encoder failure) nothing half-written is
left, and a previous output at the path stays as it was. Paths a user can get wrong end in a
one-line :class:`~text2sign.errors.Text2SignError`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from text2sign.errors import Text2SignError
from text2sign.fileio import atomic_dir, atomic_path, check_output_path
from text2sign.limits import MAX_VIDEO_BYTES
from text2sign.outputs import OutputKind, check_output_dir
from text2sign.video.clip import InvalidVideoError, VideoClip, check_fps

VIDEO_SUFFIXES = (".gif", ".mp4")
DEFAULT_FOLDER_FPS = 25.0
FRAME_NAME = "frame-{:06d}.png"
FRAME_PATTERN = re.compile(r"frame-(\d{6,})\.png")
# An existing frame folder is replaced as a whole, so it may only hold frames of an earlier write.
FRAMES_OUTPUT = OutputKind("folder of PNG frames", entries=("frame-[0-9][0-9][0-9][0-9][0-9][0-9]*.png",))

# GIF stores each frame's delay in hundredths of a second, and players show delays under 2 as 10.
GIF_TICKS_PER_SECOND = 100
GIF_MIN_DELAY = 2


class VideoFileError(Text2SignError):
    """A video file or frame folder is missing, unreadable or not in a known format."""


def save_video(clip: VideoClip, path: str | os.PathLike) -> Path:
    """Write `clip` as `path` says: ``.gif``, ``.mp4``, or a folder of PNG frames (no suffix, or an
    existing folder)."""
    if not isinstance(clip, VideoClip):
        raise TypeError(f"save_video takes a VideoClip, got {type(clip).__name__}")
    return write_frames(clip.frames, path, clip.fps)


def write_frames(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float) -> Path:
    """Stream `frames` to `path` in the format its suffix names (see :func:`save_video`).

    A PNG folder stores no frame rate, so `fps` is only checked there.
    """
    fps = check_fps(fps)
    kind = video_kind(path)
    if kind == ".gif":
        return write_gif(frames, path, fps)
    if kind == ".mp4":
        return write_mp4(frames, path, fps)
    return write_png_frames(frames, path)


def video_kind(path: str | os.PathLike) -> str:
    """``".gif"``, ``".mp4"`` or ``"folder"`` for an output path, or one clear error."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return suffix
    if not suffix or path.is_dir():
        return "folder"
    raise VideoFileError(
        f"{path}: cannot write video as {suffix}; use {', '.join(VIDEO_SUFFIXES)} or a folder name without suffix"
    )


def check_video_path(path: str | os.PathLike) -> str:
    """:func:`video_kind`, after checking that a video could be written there, so a caller can fail
    before spending minutes making the frames."""
    kind = video_kind(path)
    if kind == "folder":
        _check_frame_folder(path)
    else:
        check_output_path(path)
    return kind


def write_gif(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float) -> Path:
    """Animated GIF that loops forever.

    Pillow only writes a GIF from every frame at once, so frames go through FFmpeg's GIF encoder
    (PyAV) instead, each quantised on its own to a 256-colour palette (fast octree). A palette per
    frame streams, and fits each frame better than one palette shared by all (on rendered poses
    the mean error is about a third of a shared palette's); the cost is that a photographic video
    with more than 256 colours may shimmer slightly between frames.

    Delays are whole hundredths of a second placed on the exact time grid, so 30 fps plays as
    3, 3, 4, 3, 3, 4, ... hundredths; rates above 50 fps play at 50, the fastest GIF players honour.
    """
    import av

    fps = check_fps(fps)
    check_output_path(path)
    (height, width), frames = _peek(frames, path)
    with _user_errors(path), atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="gif") as container:
        stream = container.add_stream("gif", rate=GIF_TICKS_PER_SECOND)
        stream.width, stream.height = width, height
        stream.pix_fmt = "pal8"
        stream.codec_context.time_base = Fraction(1, GIF_TICKS_PER_SECOND)
        pts = 0
        for index, rgb in enumerate(frames):
            indices, palette = _palettise(_check_frame(rgb, index, (height, width)))
            frame = av.VideoFrame.from_ndarray((indices, palette), format="pal8")
            frame.pts = pts
            frame.time_base = stream.codec_context.time_base
            delay = max(GIF_MIN_DELAY, round((index + 1) * GIF_TICKS_PER_SECOND / fps) - pts)
            for packet in stream.encode(frame):
                # The muxer takes a frame's delay from its packet's duration; unset, the last frame gets 0.1 s.
                packet.duration = delay
                container.mux(packet)
            pts += delay
        container.mux(stream.encode())
    return Path(path)


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float, crf: int = 20) -> Path:
    """H.264 MP4 in yuv420p, which plays everywhere; `crf` is x264's quality (lower is better).

    yuv420p needs even sizes, so a frame with an odd width or height gets its last column or row
    repeated once; reading the file back gives the padded size.
    """
    import av

    fps = check_fps(fps)
    check_output_path(path)
    (height, width), frames = _peek(frames, path)
    rate = Fraction(fps).limit_denominator(1001)
    codec = "libx264" if "libx264" in av.codecs_available else "h264"
    with _user_errors(path), atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        stream.options = {"crf": str(crf)} if codec == "libx264" else {}
        for index, rgb in enumerate(frames):
            rgb = _check_frame(rgb, index, (height, width))
            if width % 2 or height % 2:
                rgb = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")  # (H even, W even, 3)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = stream.codec_context.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return Path(path)


def write_png_frames(frames: Iterable[np.ndarray], directory: str | os.PathLike) -> Path:
    """A folder holding ``frame-000000.png``, ``frame-000001.png``, ... and nothing else.

    An existing folder is replaced as a whole, so it may only hold frames of an earlier write:
    a folder with anything else in it is refused rather than deleted.
    """
    from PIL import Image

    target = _check_frame_folder(directory)
    shape, frames = _peek(frames, directory)
    with _user_errors(directory), atomic_dir(target) as tmp:
        for index, rgb in enumerate(frames):
            Image.fromarray(_check_frame(rgb, index, shape)).save(tmp / FRAME_NAME.format(index), format="PNG")
    return Path(directory)


def load_video(path: str | os.PathLike, fps: float | None = None) -> VideoClip:
    """Read a ``.gif``, an ``.mp4`` or a folder of PNG frames into memory.

    A file's frame rate is its own: for MP4 the stream's average rate, for GIF the number of
    frames over the sum of their delays. A folder stores none, so it gets `fps`
    (:data:`DEFAULT_FOLDER_FPS` by default); a given `fps` overrides a file's own rate as well.
    """
    path = Path(path)
    if path.is_dir():
        return VideoClip(_read_png_frames(path), DEFAULT_FOLDER_FPS if fps is None else check_fps(fps))
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise VideoFileError(
            f"{path}: unknown video type {suffix or '(none)'}; use {', '.join(VIDEO_SUFFIXES)} or a folder"
        )
    if not path.is_file():
        raise VideoFileError(f"video file not found: {path}")
    frames, own_fps = _read_av(path)
    return VideoClip(frames, own_fps if fps is None else check_fps(fps))


# --- helpers --------------------------------------------------------------------------------


@contextlib.contextmanager
def _user_errors(path: str | os.PathLike) -> Iterator[None]:
    """An unwritable path or a full disk as one line naming the path, not an OS traceback."""
    try:
        yield
    except OSError as exc:
        raise Text2SignError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _peek(frames: Iterable[np.ndarray], path: str | os.PathLike) -> tuple[tuple[int, int], Iterator[np.ndarray]]:
    """The frame size ``(H, W)``, read off the first frame before anything is opened, and all frames again.

    Only the size is returned, not the frame, so no caller keeps frame 0 alive for the whole write.
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise InvalidVideoError(f"{path}: no frames to write")
    first = _check_frame(first, 0, None)
    return first.shape[:2], _prepend(first, iterator)


def _prepend(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    # Unlike itertools.chain([first], rest), this lets go of `first` once it is written.
    yield first
    del first
    yield from rest


def _check_frame(frame: np.ndarray, index: int, shape: tuple[int, int] | None) -> np.ndarray:
    """`frame` as a contiguous ``(H, W, 3)`` uint8 array of the stream's size, or one clear error."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
        if isinstance(frame, np.ndarray):
            described = f"{frame.dtype} array of shape {frame.shape}"
        else:
            described = type(frame).__name__
        raise InvalidVideoError(f"frame {index} must be a uint8 array of shape (height, width, 3), got a {described}")
    if min(frame.shape[:2]) < 1:
        raise InvalidVideoError(f"frame {index} is empty: shape {frame.shape}")
    if shape is not None and frame.shape[:2] != shape:
        height, width = frame.shape[:2]
        raise InvalidVideoError(f"frame {index} is {width} x {height}, frame 0 is {shape[1]} x {shape[0]}")
    return np.ascontiguousarray(frame)


def _palettise(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An RGB frame as palette indices ``(H, W)`` and the ``(256, 4)`` ARGB palette PyAV's pal8 takes."""
    from PIL import Image

    # Fast octree: a third of median cut's time (6 against 22 ms a 384-pixel frame), still a mean
    # error near 1 level of 255 on drawn poses; GIF writing is the slowest path a server has.
    image = Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    colours = np.asarray(image.getpalette(), np.uint8).reshape(-1, 3)[:256]  # (N, 3) RGB
    palette = np.zeros((256, 4), np.uint8)  # (256, 4) A, R, G, B
    palette[:, 0] = 255
    palette[: len(colours), 1:] = colours
    return np.asarray(image), palette


def _check_frame_folder(directory: str | os.PathLike) -> Path:
    # Resolved so that "." or "frames/" still name a folder with a parent to hold the temporary copy.
    directory = Path(directory).resolve()
    if directory.exists() and not directory.is_dir():
        raise Text2SignError(f"output path is a file, expected a folder for PNG frames: {directory}")
    return check_output_dir(directory, FRAMES_OUTPUT, option="the frame folder")


def _read_png_frames(directory: Path) -> np.ndarray:
    from PIL import Image

    names = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := FRAME_PATTERN.fullmatch(p.name)))
    if not names:
        raise VideoFileError(f"{directory} holds no PNG frames named like {FRAME_NAME.format(0)}")
    frames = []
    for _, name in names:
        try:
            with Image.open(name) as image:
                frames.append(np.asarray(image.convert("RGB")))  # (H, W, 3)
        except OSError as exc:
            raise VideoFileError(f"cannot read frame {name}: {exc}") from exc
        height, width = frames[-1].shape[:2]
        if frames[-1].shape != frames[0].shape:
            raise VideoFileError(f"{name} is {width} x {height}, unlike the frames before it")
    return np.stack(frames)  # (T, H, W, 3)


def _read_av(path: Path) -> tuple[np.ndarray, float]:
    """Every frame of the file's first video stream as RGB, and the stream's frame rate; a video
    whose frames would take over :data:`~text2sign.limits.MAX_VIDEO_BYTES` is refused as soon as
    the decoder gets there (:func:`iter_video` streams one of any length)."""
    frames: list[np.ndarray] = []
    held = 0
    with _video_stream(path) as (container, stream):
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))  # (H, W, 3)
            held += frames[-1].nbytes
            if held > MAX_VIDEO_BYTES:
                raise VideoFileError(
                    f"{path}: its frames take over {MAX_VIDEO_BYTES // 2**20:,} MiB decoded, too many to hold at once; "
                    "cut the video shorter or make it smaller"
                )
        seconds, rate = _timing(stream)
    if not frames:
        raise VideoFileError(f"{path} holds no video frames")
    return np.stack(frames), _frame_rate(path, len(frames), seconds, rate)  # (T, H, W, 3)


def video_rate_and_count(path: str | os.PathLike) -> tuple[float, int]:
    """A video file's frame rate and number of frames, from one pass of the decoder that keeps no frame."""
    path = Path(path)
    count = 0
    with _video_stream(path) as (container, stream):
        for _ in container.decode(stream):
            count += 1
        seconds, rate = _timing(stream)
    if not count:
        raise VideoFileError(f"{path} holds no video frames")
    return _frame_rate(path, count, seconds, rate), count


def video_rate(path: str | os.PathLike) -> float:
    """A video file's frame rate; only a GIF's takes a decoding pass (it is its frames over its length)."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        return video_rate_and_count(path)[0]
    with _video_stream(path) as (_, stream):
        return _frame_rate(path, 0, *_timing(stream))


def iter_video(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """The RGB frames ``(H, W, 3)`` uint8 of a video file, decoded one at a time as they are asked for."""
    path = Path(path)
    with _video_stream(path) as (container, stream):
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


@contextlib.contextmanager
def _video_stream(path: Path):
    """The open container and its first video stream; FFmpeg's errors as one line naming the file."""
    import av

    if not path.is_file():
        raise VideoFileError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoFileError(f"{path} has no video stream")
            yield container, container.streams.video[0]
    except av.FFmpegError as exc:
        # FFmpeg's own words without its error number and the path it repeats.
        raise VideoFileError(f"cannot read {path} as video: {getattr(exc, 'strerror', None) or exc}") from exc


def _timing(stream) -> tuple[float, Any]:
    seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
    return seconds, stream.average_rate or stream.guessed_rate


def _frame_rate(path: Path, count: int, seconds: float, rate: Any) -> float:
    if path.suffix.lower() == ".gif" and seconds > 0:
        # The average rate FFmpeg reports for a GIF comes from a few early delays; the total is exact.
        return count / seconds
    if rate:
        return float(rate)
    raise VideoFileError(f"{path} does not say its frame rate")
