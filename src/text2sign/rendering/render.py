"""Drawing poses: skeleton frames, animated GIF, H.264 MP4 and a PNG contact sheet; and
:func:`write_output`, the one call that writes any output a model makes (pose or video) by its path.

Drawing is pose-format's :class:`PoseVisualizer` (so skeletons look like they do everywhere
else in the pose-format world); this module decides what is drawn and where:

* components of a hidden kind are dropped first -- world landmarks by default, since they are
  metres around the hips, not pixels;
* the remaining observed joints are fitted into the canvas with one uniform scale and a small
  margin, so any pose (pixels of a 1080p video, normalised units, ...) fills the picture;
* an output frame rate other than the pose's resamples the motion before drawing.

GIF and MP4 are encoded by :mod:`text2sign.video.io`, the one writer of each format, fed frame by
frame as they are drawn, so memory stays bounded by one frame however long the pose.
Every writer is atomic: the file appears complete or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from text2sign.errors import InvalidPoseError, PoseFileError, Text2SignError
from text2sign.fileio import atomic_path, check_output_path
from text2sign.pose.canvas import fit_to_canvas
from text2sign.pose.io import POSE_SUFFIXES, save_pose, to_pose_format
from text2sign.pose.layout import KINDS
from text2sign.pose.sequence import PoseSequence
from text2sign.video import io as video_io
from text2sign.video.clip import (
    VideoClip,
    check_output_fps,
    check_output_side,
    fit_size,
    resample_indices,
    resize_frame,
)

DEFAULT_HIDE = ("world",)
DEFAULT_POSE_SIZE = 384  # pixels a side of a drawn pose when none is asked (generate --gif / --mp4, render, serve)
RENDER_SUFFIXES = (".gif", ".mp4", ".png")

Color = tuple[int, int, int]
FrameCallback = Callable[[int, int], None]


def resample_for_output(seq: PoseSequence, fps: float | None) -> PoseSequence:
    """`seq` at the output frame rate `fps` (unchanged when `fps` is None or already the pose's)."""
    if fps is None:
        return seq
    fps = check_output_fps(fps)
    if abs(fps - seq.fps) < 1e-6 or seq.num_frames == 0:
        return seq
    return seq.resample(fps=fps)


def iter_frames(
    seq: PoseSequence,
    width: int = 512,
    height: int = 512,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
    fps: float | None = None,
    on_frame: FrameCallback | None = None,
) -> Iterator[np.ndarray]:
    """Every frame of `seq` as an RGB ``uint8`` array ``(height, width, 3)``, drawn one at a time
    as the iterator is advanced (``list(...)`` for all of them).

    `hide` lists component kinds (body, face, left_hand, right_hand, world) not to draw.
    `thickness` is the line width in pixels; by default about 1 px per 150 px of canvas (at least 1).
    `fps`, if given, resamples the motion to that frame rate first. `on_frame(done, total)` is
    called after each frame (a progress bar). Options are checked at the call, before any frame
    is drawn.
    """
    seq = resample_for_output(seq, fps)
    frames = _draw(seq, width, height, hide, background, thickness)
    return frames if on_frame is None else _counted(frames, seq.num_frames, on_frame)


def _counted(frames: Iterator[np.ndarray], total: int, on_frame: FrameCallback) -> Iterator[np.ndarray]:
    for done, frame in enumerate(frames, start=1):
        yield frame
        on_frame(done, total)


def _draw(
    seq: PoseSequence,
    width: int,
    height: int,
    hide: Sequence[str],
    background: Color,
    thickness: int | None,
    picks: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Frames `picks` (all by default) of `seq`, fitted to the canvas over all of its frames.

    Everything that can fail is checked before returning; the frames are drawn lazily.
    """
    from pose_format.pose_visualizer import PoseVisualizer

    width, height = _check_size(width, height)
    background = _check_color(background)
    if thickness is None:
        # pose-format's own default rounds to 0 on small canvases, which OpenCV rejects.
        thickness = max(1, round(math.sqrt(width * height) / 150))
    if not isinstance(thickness, (int, np.integer)) or isinstance(thickness, bool) or thickness < 1:
        raise Text2SignError(f"thickness must be a positive whole number of pixels, got {thickness!r}")
    seq = _visible(seq, hide)
    fitted = fit_to_canvas(seq, width, height)
    if picks is not None:
        conf = None if fitted.confidence is None else fitted.confidence[picks]
        fitted = PoseSequence(fitted.data[picks], fitted.mask[picks], fitted.fps, fitted.layout, conf)

    visualizer = PoseVisualizer(to_pose_format(fitted, width, height), thickness=int(thickness))
    # The visualizer draws in OpenCV's BGR order, background included, so give it BGR and flip back.
    bgr_background = tuple(reversed(background))
    return (np.ascontiguousarray(frame[..., ::-1]) for frame in visualizer.draw(background_color=bgr_background))


def write_gif(
    seq: PoseSequence,
    path: str | Path,
    width: int = 512,
    height: int = 512,
    fps: float | None = None,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
    on_frame: FrameCallback | None = None,
) -> Path:
    """Animated GIF that loops forever, at `fps` (the pose's own frame rate by default).

    GIF stores frame delays in whole hundredths of a second: a rate that does not divide 100
    alternates delays to keep time (30 fps: 3, 3, 4, ...), and rates above 50 fps play at 50.
    See :func:`text2sign.video.io.write_gif`.
    """
    check_output_path(path)
    fps = seq.fps if fps is None else fps
    return video_io.write_gif(iter_frames(seq, width, height, hide, background, thickness, fps, on_frame), path, fps)


def write_side_by_side_gif(
    sequences: Sequence[PoseSequence],
    path: str | Path,
    titles: Sequence[str] | None = None,
    width: int = 256,
    height: int = 256,
    fps: float | None = None,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
) -> Path:
    """One GIF with the sequences next to each other (e.g. generated | reference), each fitted to
    its own `width` x `height` panel and captioned with its title. Shorter sequences hold their
    last frame until the longest ends; all play at `fps` (the first sequence's by default)."""
    if not sequences:
        raise Text2SignError("nothing to render side by side")
    if titles is not None and len(titles) != len(sequences):
        raise Text2SignError(f"{len(titles)} titles for {len(sequences)} sequences")
    check_output_path(path)
    fps = sequences[0].fps if fps is None else fps
    resampled = [resample_for_output(seq, fps) for seq in sequences]
    panels = [_draw(seq, width, height, hide, background, None) for seq in resampled]
    strips = _side_by_side(panels, [seq.num_frames for seq in resampled], titles, width)
    return video_io.write_gif(strips, path, fps)


def _side_by_side(
    panels: Sequence[Iterator[np.ndarray]], lengths: Sequence[int], titles: Sequence[str] | None, width: int
) -> Iterator[np.ndarray]:
    """Panels drawn in step and joined left to right; a finished panel keeps showing its last frame."""
    from PIL import Image, ImageDraw

    latest: list[np.ndarray | None] = [None] * len(panels)
    for t in range(max(lengths)):
        for i, (panel, length) in enumerate(zip(panels, lengths)):
            if t < length:
                latest[i] = next(panel)
        strip = np.concatenate(latest, axis=1)  # (H, panels * W, 3)
        if titles:
            image = Image.fromarray(strip)
            draw = ImageDraw.Draw(image)
            for i, title in enumerate(titles):
                draw.text((i * width + 4, 4), title, fill=(0, 0, 0))
            strip = np.asarray(image)
        yield strip


def write_mp4(
    seq: PoseSequence,
    path: str | Path,
    width: int = 512,
    height: int = 512,
    fps: float | None = None,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
    crf: int = 20,
    on_frame: FrameCallback | None = None,
) -> Path:
    """H.264 MP4 (yuv420p, plays everywhere). Odd `width`/`height` are rounded up to even,
    which yuv420p requires, so the pose is drawn on the whole frame rather than padded."""
    check_output_path(path)
    fps = seq.fps if fps is None else fps
    width, height = _check_size(width, height)
    width, height = width + width % 2, height + height % 2
    frames = iter_frames(seq, width, height, hide, background, thickness, fps, on_frame)
    return video_io.write_mp4(frames, path, fps, crf=crf)


def write_contact_sheet(
    seq: PoseSequence,
    path: str | Path,
    columns: int = 6,
    frames: int = 12,
    width: int = 256,
    height: int = 256,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
    fps: float | None = None,
) -> Path:
    """PNG grid of `frames` evenly spaced frames, `columns` per row, each `width` x `height`.

    Fewer frames are shown when the pose is shorter; unused cells of the last row stay background.
    `fps` resamples first, like the video writers do, so :func:`render` takes the same options for
    every suffix. The PNG is encoded one row of cells at a time, so memory is bounded by one row
    of the sheet, not the whole sheet.
    """
    if not isinstance(columns, (int, np.integer)) or columns < 1:
        raise Text2SignError(f"columns must be a positive whole number, got {columns!r}")
    if not isinstance(frames, (int, np.integer)) or frames < 1:
        raise Text2SignError(f"frames must be a positive whole number, got {frames!r}")
    background = _check_color(background)
    check_output_path(path)
    seq = resample_for_output(seq, fps)
    _require_frames(seq)
    count = min(frames, seq.num_frames)
    picks = np.unique(np.round(np.linspace(0, seq.num_frames - 1, count)).astype(int))
    # Fitted over the whole sequence, so every cell shares one scale and the motion reads across cells.
    drawn = _draw(seq, width, height, hide, background, thickness, picks)
    width, height = _check_size(width, height)
    columns = min(columns, len(picks))
    rows = math.ceil(len(picks) / columns)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        png = StreamedPNG(out, columns * width, rows * height)
        band = np.empty((height, columns * width, 3), np.uint8)  # one row of cells, reused for each
        for _ in range(rows):
            band[...] = background
            for c, frame in zip(range(columns), drawn):
                band[:, c * width : (c + 1) * width] = frame
            png.write(band)
        png.close()
    return Path(path)


class StreamedPNG:
    """An 8-bit RGB PNG written a band of rows at a time (Pillow encodes only whole images)."""

    CHUNK = 1 << 20

    def __init__(self, out, width: int, height: int):
        import struct
        import zlib

        self.out, self.width = out, width
        self._zlib = zlib.compressobj(6)
        self._pending = b""
        out.write(b"\x89PNG\r\n\x1a\n")
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))

    def write(self, rows: np.ndarray) -> None:
        """Rows ``(n, width, 3)`` uint8, top to bottom; each gets PNG's filter byte 0 (none)."""
        for start in range(0, rows.shape[0], 64):
            part = rows[start : start + 64]
            lines = np.zeros((part.shape[0], 1 + 3 * self.width), np.uint8)
            lines[:, 1:] = part.reshape(part.shape[0], -1)
            self._pending += self._zlib.compress(lines.tobytes())
            if len(self._pending) >= self.CHUNK:
                self._chunk(b"IDAT", self._pending)
                self._pending = b""

    def close(self) -> None:
        self._chunk(b"IDAT", self._pending + self._zlib.flush())
        self._chunk(b"IEND", b"")

    def _chunk(self, kind: bytes, data: bytes) -> None:
        import struct
        import zlib

        self.out.write(
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )


_WRITERS = {".gif": write_gif, ".mp4": write_mp4, ".png": write_contact_sheet}


def render(output: PoseSequence | VideoClip, path: str | Path, **options) -> Path:
    """Write a pose or a video to `path` as the suffix says.

    A pose becomes ``.gif``, ``.mp4`` or ``.png`` (contact sheet); `options` go to
    :func:`write_gif`, :func:`write_mp4` or :func:`write_contact_sheet`. A :class:`VideoClip`
    goes to :func:`write_video` (``.gif``, ``.mp4`` or a folder of PNG frames).
    """
    if isinstance(output, VideoClip):
        return write_video(output, path, **options)
    seq = output
    suffix = Path(path).suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise Text2SignError(
            f"{path}: cannot render to {suffix or 'a file without suffix'}; use one of {', '.join(RENDER_SUFFIXES)}"
        )
    return writer(seq, path, **options)


def write_video(
    clip: VideoClip,
    path: str | Path,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> Path:
    """Write `clip` as ``.gif``, ``.mp4`` or a folder of PNG frames, scaled and retimed on the way.

    `width` and `height` resize every frame (give one to keep the aspect ratio); `fps` resamples
    to the nearest frame in time. Frames are resized one at a time as they are written, so no
    second copy of the clip is ever held.
    """
    if not isinstance(clip, VideoClip):
        raise TypeError(f"write_video takes a VideoClip, got {type(clip).__name__}")
    fps = clip.fps if fps is None else check_output_fps(fps)
    size = fit_size(clip.width, clip.height, width, height)
    picks = resample_indices(clip.num_frames, clip.fps, fps)  # (T',) source frame of each output frame
    frames = (resize_frame(clip.frames[t], *size) for t in picks)
    return video_io.write_frames(frames, path, fps)


def check_output_kind(kind: str, path: str | Path) -> Path:
    """Fail now, with one clear line, if `path` cannot hold a model's main output of `kind`.

    A pose model's main output is its data, ``.pose`` or ``.npz`` (drawings of it are extra
    outputs); a video model's is ``.gif``, ``.mp4`` or a folder of PNG frames. Called before
    generating, so a wrong path costs nothing.
    """
    if kind == "pose":
        suffix = Path(path).suffix.lower()
        if suffix not in POSE_SUFFIXES:
            raise PoseFileError(
                f"{path}: unknown pose file type {suffix or '(none)'}; use {' or '.join(POSE_SUFFIXES)} "
                "(this model makes poses; --gif / --mp4 draw them)"
            )
        check_output_path(path)
    elif kind == "video":
        video_io.check_video_path(path)
    else:
        raise ValueError(f"no file output for models of kind {kind!r}; kinds with one are pose and video")
    return Path(path)


def write_output(output: PoseSequence | VideoClip, path: str | Path, **options) -> Path:
    """Write whatever a model produced, choosing the writer by the output's type and the path.

    * :class:`PoseSequence`: ``.pose`` / ``.npz`` are saved as data (no options apply);
      ``.gif``, ``.mp4`` and ``.png`` are drawn by :func:`render` with `options`.
    * :class:`VideoClip`: ``.gif``, ``.mp4`` or a PNG-frame folder, via :func:`write_video`
      (options `width`, `height`, `fps`).
    """
    if isinstance(output, VideoClip):
        return write_video(output, path, **options)
    if not isinstance(output, PoseSequence):
        raise TypeError(f"cannot write a {type(output).__name__}: expected a PoseSequence or a VideoClip")
    suffix = Path(path).suffix.lower()
    if suffix in POSE_SUFFIXES:
        if options:
            raise TypeError(f"options {', '.join(sorted(options))} do not apply to {suffix} pose files")
        return save_pose(output, path)
    if suffix in RENDER_SUFFIXES:
        return render(output, path, **options)
    raise Text2SignError(
        f"{path}: cannot write a pose as {suffix or 'a file without suffix'}; "
        f"use one of {', '.join(POSE_SUFFIXES + RENDER_SUFFIXES)}"
    )


def write_signing(
    signing: PoseSequence | VideoClip,
    path: str | Path,
    size: int | None = None,
    hide: Sequence[str] = DEFAULT_HIDE,
    on_frame: FrameCallback | None = None,
) -> Path:
    """Write what a model made to `path`, as ``generate`` and the server do: a pose as data
    (``.pose``, ``.npz``) or drawn as a skeleton `size` pixels square (default
    :data:`DEFAULT_POSE_SIZE`) without the `hide` kinds; a video at its own size unless `size` is
    given. `on_frame(done, total)` follows a pose's drawing."""
    if isinstance(signing, VideoClip):
        return write_video(signing, path, **({"width": size, "height": size} if size is not None else {}))
    if Path(path).suffix.lower() in POSE_SUFFIXES:
        return write_output(signing, path)
    side = size or DEFAULT_POSE_SIZE
    return write_output(
        signing, path, width=side, height=side, hide=tuple(hide), **({"on_frame": on_frame} if on_frame else {})
    )


# --- helpers --------------------------------------------------------------------------------


def _check_size(width: int, height: int) -> tuple[int, int]:
    return check_output_side(width, "width"), check_output_side(height, "height")


def _check_color(color: Color) -> Color:
    values = tuple(color) if isinstance(color, (tuple, list)) else ()
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
        raise Text2SignError(f"colour must be three integers 0-255 (R, G, B), got {color!r}")
    return tuple(int(v) for v in values)


def _require_frames(seq: PoseSequence) -> None:
    if seq.num_frames == 0:
        raise InvalidPoseError("cannot render a pose with no frames")


def _visible(seq: PoseSequence, hide: Sequence[str]) -> PoseSequence:
    """`seq` without the components of hidden kinds; fails if nothing observed is left to draw."""
    hide = (hide,) if isinstance(hide, str) else tuple(hide)
    unknown = [k for k in hide if k not in KINDS]
    if unknown:
        raise Text2SignError(f"cannot hide {unknown}: component kinds are {', '.join(KINDS)}")
    _require_frames(seq)
    keep = [c.name for c in seq.layout.components if c.kind not in hide]
    if not keep:
        raise InvalidPoseError(f"nothing to draw: every component of layout {seq.layout.name} is hidden")
    if len(keep) < len(seq.layout.components):
        seq = seq.select_components(keep)
    if not seq.mask.any():
        shown = ", ".join(sorted({c.kind for c in seq.layout.components}))
        raise InvalidPoseError(f"nothing to draw: no joint is observed in any of {seq.num_frames} frames ({shown})")
    return seq
