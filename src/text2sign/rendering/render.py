"""Drawing poses: skeleton frames, animated GIF, H.264 MP4 and a PNG contact sheet.

Drawing is pose-format's :class:`PoseVisualizer` (so skeletons look like they do everywhere
else in the pose-format world); this module decides what is drawn and where:

* components of a hidden kind are dropped first -- world landmarks by default, since they are
  metres around the hips, not pixels;
* the remaining observed joints are fitted into the canvas with one uniform scale and a small
  margin, so any pose (pixels of a 1080p video, normalised units, ...) fills the picture;
* an output frame rate other than the pose's resamples the motion before drawing.

Every writer is atomic: the file appears complete or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from text2sign.errors import InvalidPoseError, Text2SignError
from text2sign.fileio import atomic_path, check_output_path
from text2sign.pose.io import to_pose_format
from text2sign.pose.layout import KINDS
from text2sign.pose.sequence import PoseSequence

DEFAULT_HIDE = ("world",)
MARGIN = 0.05
RENDER_SUFFIXES = (".gif", ".mp4", ".png")

Color = tuple[int, int, int]


def resample_for_output(seq: PoseSequence, fps: float | None) -> PoseSequence:
    """`seq` at the output frame rate `fps` (unchanged when `fps` is None or already the pose's)."""
    if fps is None:
        return seq
    if not math.isfinite(fps) or fps <= 0:
        raise Text2SignError(f"output fps must be a positive number, got {fps}")
    if abs(fps - seq.fps) < 1e-6 or seq.num_frames == 0:
        return seq
    return seq.resample(fps=fps)


def render_frames(
    seq: PoseSequence,
    width: int = 512,
    height: int = 512,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
    fps: float | None = None,
) -> list[np.ndarray]:
    """Draw every frame of `seq` as an RGB ``uint8`` array of shape ``(height, width, 3)``.

    `hide` lists component kinds (body, face, left_hand, right_hand, world) not to draw.
    `thickness` is the line width in pixels; by default about 1 px per 150 px of canvas (at least 1).
    `fps`, if given, resamples the motion to that frame rate first.
    """
    return _draw(resample_for_output(seq, fps), width, height, hide, background, thickness)


def _draw(
    seq: PoseSequence,
    width: int,
    height: int,
    hide: Sequence[str],
    background: Color,
    thickness: int | None,
    picks: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Frames `picks` (all by default) of `seq`, fitted to the canvas over all of its frames."""
    from pose_format.pose_visualizer import PoseVisualizer

    width, height = _check_size(width, height)
    background = _check_color(background)
    if thickness is None:
        # pose-format's own default rounds to 0 on small canvases, which OpenCV rejects.
        thickness = max(1, round(math.sqrt(width * height) / 150))
    if not isinstance(thickness, (int, np.integer)) or isinstance(thickness, bool) or thickness < 1:
        raise Text2SignError(f"thickness must be a positive whole number of pixels, got {thickness!r}")
    seq = _visible(seq, hide)
    fitted = _fit_to_canvas(seq, width, height)
    if picks is not None:
        conf = None if fitted.confidence is None else fitted.confidence[picks]
        fitted = PoseSequence(fitted.data[picks], fitted.mask[picks], fitted.fps, fitted.layout, conf)

    visualizer = PoseVisualizer(to_pose_format(fitted, width, height), thickness=int(thickness))
    # The visualizer draws in OpenCV's BGR order, background included, so give it BGR and flip back.
    bgr_background = tuple(reversed(background))
    return [np.ascontiguousarray(frame[..., ::-1]) for frame in visualizer.draw(background_color=bgr_background)]


def write_gif(
    seq: PoseSequence,
    path: str | Path,
    width: int = 512,
    height: int = 512,
    fps: float | None = None,
    hide: Sequence[str] = DEFAULT_HIDE,
    background: Color = (255, 255, 255),
    thickness: int | None = None,
) -> Path:
    """Animated GIF that loops forever, at `fps` (the pose's own frame rate by default).

    GIF stores frame delays in hundredths of a second, so rates that do not divide 100 play
    slightly off; Pillow also merges identical consecutive frames into one longer frame.
    """
    check_output_path(path)
    fps = seq.fps if fps is None else fps
    return _save_gif(render_frames(seq, width, height, hide, background, thickness, fps=fps), path, fps)


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
    from PIL import Image, ImageDraw

    if not sequences:
        raise Text2SignError("nothing to render side by side")
    if titles is not None and len(titles) != len(sequences):
        raise Text2SignError(f"{len(titles)} titles for {len(sequences)} sequences")
    check_output_path(path)
    fps = sequences[0].fps if fps is None else fps
    panels = [render_frames(seq, width, height, hide, background, fps=fps) for seq in sequences]
    length = max(len(frames) for frames in panels)
    combined = []
    for t in range(length):
        strip = np.concatenate([frames[min(t, len(frames) - 1)] for frames in panels], axis=1)
        if titles:
            image = Image.fromarray(strip)
            draw = ImageDraw.Draw(image)
            for i, title in enumerate(titles):
                draw.text((i * width + 4, 4), title, fill=(0, 0, 0))
            strip = np.asarray(image)
        combined.append(strip)
    return _save_gif(combined, path, fps)


def _save_gif(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    images = _to_palette_images(frames)
    with atomic_path(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(1, round(1000 / fps)),
            loop=0,
            disposal=1,
        )
    return Path(path)


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
) -> Path:
    """H.264 MP4 (yuv420p, plays everywhere). Odd `width`/`height` are rounded up to even,
    which yuv420p requires."""
    import av

    check_output_path(path)
    fps = seq.fps if fps is None else fps
    width, height = _check_size(width, height)
    width, height = width + width % 2, height + height % 2
    frames = render_frames(seq, width, height, hide, background, thickness, fps=fps)
    rate = Fraction(fps).limit_denominator(1001)
    codec = "libx264" if "libx264" in av.codecs_available else "h264"
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = 1 / rate
            stream.options = {"crf": str(crf)} if codec == "libx264" else {}
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                frame.time_base = stream.codec_context.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
    return Path(path)


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
    every suffix.
    """
    from PIL import Image

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
    width, height = drawn[0].shape[1], drawn[0].shape[0]
    columns = min(columns, len(picks))
    rows = math.ceil(len(picks) / columns)
    sheet = np.empty((rows * height, columns * width, 3), np.uint8)
    sheet[...] = background
    for cell, frame in enumerate(drawn):
        r, c = divmod(cell, columns)
        sheet[r * height : (r + 1) * height, c * width : (c + 1) * width] = frame
    with atomic_path(path) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG", optimize=False)
    return Path(path)


_WRITERS = {".gif": write_gif, ".mp4": write_mp4, ".png": write_contact_sheet}


def render(seq: PoseSequence, path: str | Path, **options) -> Path:
    """Write `seq` to `path` as the suffix says: ``.gif``, ``.mp4`` or ``.png`` (contact sheet).

    `options` go to :func:`write_gif`, :func:`write_mp4` or :func:`write_contact_sheet`.
    """
    suffix = Path(path).suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise Text2SignError(
            f"{path}: cannot render to {suffix or 'a file without suffix'}; use one of {', '.join(RENDER_SUFFIXES)}"
        )
    return writer(seq, path, **options)


# --- helpers --------------------------------------------------------------------------------


def _check_size(width: int, height: int) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 2 <= value <= 8192:
            raise Text2SignError(f"{name} must be a whole number of pixels between 2 and 8192, got {value!r}")
    return int(width), int(height)


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


def _fit_to_canvas(seq: PoseSequence, width: int, height: int) -> PoseSequence:
    """Scale (uniformly) and shift x, y so every observed joint of every frame fits the canvas."""
    xy = seq.data[..., :2][seq.mask]
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = high - low
    room = np.array([width, height], np.float64) * (1 - 2 * MARGIN)
    nonzero = extent > 1e-9
    # A pose with no extent along an axis (one joint, a flat line) is only centred along it.
    scale = float(np.min(room[nonzero] / extent[nonzero])) if nonzero.any() else 1.0
    centre_in = (low + high) / 2
    centre_out = np.array([width, height], np.float64) / 2
    data = seq.data.astype(np.float64)
    data[..., :2] = (data[..., :2] - centre_in) * scale + centre_out
    if data.shape[-1] > 2:
        data[..., 2:] *= scale
    # Masked joints are never drawn, but the visualizer still rounds them to int; keep them finite.
    data = np.where(seq.mask[..., None], data, 0.0).astype(np.float32)
    return PoseSequence(data, seq.mask, seq.fps, seq.layout, seq.confidence)


def _to_palette_images(frames: list[np.ndarray]):
    """RGB frames as "P" images sharing one palette.

    One palette for all frames keeps colours from flickering between frames and lets Pillow
    skip re-quantising each frame, the slow part of writing a GIF.
    """
    from PIL import Image

    step = max(1, len(frames) // 16)
    sample = np.concatenate(frames[::step], axis=0)
    palette = Image.fromarray(sample).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [
        Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames
    ]
