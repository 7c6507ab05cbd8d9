"""Reading and writing poses: ``.pose`` (pose-format), ``.npz`` and Progressive Transformers ``.skels``.

Every writer is atomic (temporary file, then rename). Every reader turns a bad file into a
:class:`PoseFileError` with one line saying what is wrong, never a library traceback.

Every writer stores a masked joint (confidence 0) as coordinates 0, so that readers which take
the raw values (pose-evaluation, plain numpy loaders) see no joint that is not there.

What a ``.pose`` round trip (:func:`read_pose` then :func:`write_pose`) keeps:

* **bytes**, for a file pose-format wrote (version 0.2) with finite coordinates, 0 at its
  confidence-0 points, a header whose width and height contain its observed image joints, and a
  layout without a pixel frame;
* otherwise **values**: observed coordinates, confidence (float32, bit for bit), fps and the
  header size, which only grows (with a margin, to even sizes) where it did not contain the
  points. Coordinates of a layout with a pixel frame (phoenix-50) come back to within 1e-7 of
  its units.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from text2sign.errors import InvalidPoseError, PoseFileError
from text2sign.fileio import atomic_path, write_bytes_atomic
from text2sign.limits import MAX_POSE_BYTES, MAX_POSE_FRAMES, MAX_POSE_HEADER_BYTES
from text2sign.npfiles import check_npz
from text2sign.pose.layout import Layout, get_layout, layout_from_components
from text2sign.pose.sequence import PoseSequence, canvas_containing, column_extremes, figure_margin, framed_canvas

POSE_FORMAT_VERSION = 0.2
UINT16_MAX = 65535
PHOENIX_SCALE_NOTE = "values as stored by Progressive Transformers (joints divided by 3)"


# --- pose-format ----------------------------------------------------------------------------


def from_pose_format(pose: Pose, person: int = 0) -> PoseSequence:
    """Convert a ``pose_format.Pose`` (one person of it) losslessly: confidence 0 <=> masked.

    The header's width and height become the canvas, except for a layout with a pixel frame,
    whose pixels are turned back into the layout's own units (no canvas then).
    """
    data = np.asarray(pose.body.data.data if np.ma.isMaskedArray(pose.body.data) else pose.body.data)
    if data.ndim != 4:
        raise PoseFileError(f"pose body must be (frames, people, points, dims), got shape {data.shape}")
    if not 0 <= person < data.shape[1]:
        count = f"{data.shape[1]} people" if data.shape[1] != 1 else "1 person"
        raise PoseFileError(f"pose has {count}; person {person} does not exist (persons are numbered from 0)")
    confidence = np.asarray(pose.body.confidence)[:, person].astype(np.float32)  # (T, J)
    layout = layout_from_components(pose.header.components, dims=data.shape[-1])
    mask = confidence > 0
    frame_data = data[:, person].astype(np.float32)  # (T, J, D)
    # pose-format leaves whatever the detector wrote under masked points; NaN there is noise, not data.
    frame_data = np.where(mask[..., None], frame_data, np.nan_to_num(frame_data, nan=0.0, posinf=0.0, neginf=0.0))
    canvas = None
    if layout.pixel_frame is not None:
        frame_data = layout.pixel_frame.from_pixels(frame_data)
    else:
        dims = pose.header.dimensions
        if dims.width >= 1 and dims.height >= 1:
            canvas = (int(dims.width), int(dims.height))
    return PoseSequence(frame_data, mask, float(pose.body.fps), layout, confidence, canvas)


def to_pose_format(seq: PoseSequence, width: int | None = None, height: int | None = None) -> Pose:
    """Convert to ``pose_format.Pose``, with coordinates 0 at every point of confidence 0.

    The header's width and height are `width` and `height` when given; otherwise the sequence's
    canvas (the pixel frame's canvas for a layout with one) where it contains every observed
    image joint, else one grown to contain them with a margin, to even sizes
    (:func:`~text2sign.pose.sequence.framed_canvas`), so that viewers draw every point. Points at
    negative coordinates stay where they are (:meth:`PoseSequence.fit_canvas` moves them).
    """
    frame = seq.layout.pixel_frame
    data = zero_unobserved(seq.data if frame is None else frame.to_pixels(seq.data), seq.mask)
    if width is None or height is None:
        canvas = (frame.width, frame.height) if frame is not None else seq.canvas
        image = np.setdiff1d(np.arange(seq.layout.num_joints), seq.layout.kind_indices("world"))
        points = data[:, image][seq.mask[:, image]][:, :2]
        if canvas is None or canvas_containing(points, canvas) != canvas:
            low = column_extremes(points, np.min) if points.size else np.zeros(2)
            high = column_extremes(points, np.max) if points.size else np.zeros(2)
            canvas = framed_canvas(high, figure_margin(low, high), canvas)
        # pose-format stores the header size as uint16; its largest even value keeps H.264 possible.
        width, height = width or min(canvas[0], UINT16_MAX - 1), height or min(canvas[1], UINT16_MAX - 1)
    components = [
        PoseHeaderComponent(
            name=c.name,
            points=list(c.points),
            limbs=[tuple(limb) for limb in c.limbs],
            colors=[tuple(color) for color in c.colors],
            point_format=c.point_format,
        )
        for c in seq.layout.components
    ]
    header = PoseHeader(
        POSE_FORMAT_VERSION, PoseHeaderDimensions(width=int(width), height=int(height), depth=0), components
    )
    confidence = seq.confidence if seq.confidence is not None else seq.mask.astype(np.float32)
    data = np.ma.masked_array(data[:, None], mask=np.repeat(~seq.mask[:, None, :, None], seq.layout.dims, axis=-1))
    body = NumPyPoseBody(fps=seq.fps, data=data, confidence=confidence[:, None])
    return Pose(header, body)


def zero_unobserved(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`data` (``(T, J, D)``) with 0 at every coordinate of a masked joint, as written to files.

    A point a model leaves out is confidence 0 and coordinates 0 in MediaPipe's and pose-format's
    files; readers that do not apply the mask (pose-evaluation's metrics, plain numpy loaders)
    take whatever is stored there as a joint, so a stale or shifted value would count as one."""
    return np.where(mask[..., None], data, 0.0).astype(np.float32)


def read_pose(path: str | Path, person: int | None = None) -> PoseSequence:
    """One person of a ``.pose`` file. `person` None: the only one; a file with several people
    must name one (signing is one person's; averaging or guessing would be wrong silently)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"pose file not found: {path}")
    payload = _declared_pose_bytes(path)
    try:
        pose = Pose.read(payload)
    except Exception as exc:  # noqa: BLE001  pose-format raises struct/Unicode/Value errors... on foreign or cut files
        raise PoseFileError(f"{path} is not a readable .pose file ({type(exc).__name__}: {exc})") from None
    shape = np.shape(pose.body.data)  # (frames, people, points, dims)
    people = shape[1] if len(shape) == 4 else 1
    if person is None:
        if people > 1:
            raise PoseFileError(f"{path} holds {people} people; pick one with --person 0 to {people - 1}")
        person = 0
    try:
        return from_pose_format(pose, person)
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{path}: {exc}") from None


def _declared_pose_bytes(path: Path) -> bytes:
    """The bytes of a ``.pose`` file that its header declares, and no more: the frame count and the
    points are read first and checked against :mod:`text2sign.limits`, so neither a header asking
    for billions of frames nor gigabytes after the data are ever read into memory."""
    import struct

    from pose_format.pose_header import PoseHeader
    from pose_format.utils.reader import BufferReader

    size = path.stat().st_size
    if size == 0:
        raise PoseFileError(f"{path} is empty")
    with open(path, "rb") as f:
        head = f.read(min(size, MAX_POSE_HEADER_BYTES))
        try:
            reader = BufferReader(head)
            header = PoseHeader.read(reader)
            start = reader.read_offset
            points = sum(len(c.points) for c in header.components)
            dims = header.num_dims()
            version = round(header.version, 3)
            if version == 0.2:
                _, frames, people = struct.unpack_from("<fIH", head, start)
                body = 10 + 4 * frames * people * points * (dims + 1)
            elif version == 0.1:
                (people,) = struct.unpack_from("<H", head, start + 4)
                per_frame = 4 * people * points * (dims + 1)
                # Version 0.1 stores no frame count: every byte after the header is data.
                frames, body = ((size - start - 6) // per_frame if per_frame else 0), size - start
            else:
                raise PoseFileError(
                    f"{path} is a .pose file of version {header.version:g}; text2sign reads 0.1 and 0.2"
                )
        except PoseFileError:
            raise
        except Exception as exc:  # noqa: BLE001  pose-format raises struct/Unicode/Value... on foreign or cut headers
            raise PoseFileError(f"{path} is not a readable .pose file ({type(exc).__name__}: {exc})") from None
        if frames > MAX_POSE_FRAMES:
            raise PoseFileError(f"{path} declares {frames:,} frames; a pose may have at most {MAX_POSE_FRAMES:,}")
        if body > MAX_POSE_BYTES:
            raise PoseFileError(
                f"{path} declares {body:,} bytes of pose data; a pose file may hold at most {MAX_POSE_BYTES:,}"
            )
        if start + body > size:
            raise PoseFileError(
                f"{path} is not a readable .pose file (cut short: its header declares {start + body:,} bytes, the "
                f"file has {size:,})"
            )
        f.seek(0)
        return f.read(start + body)


def write_pose(seq: PoseSequence, path: str | Path, width: int | None = None, height: int | None = None) -> Path:
    buffer = io.BytesIO()
    to_pose_format(seq, width, height).write(buffer)
    return write_bytes_atomic(path, buffer.getvalue())


# --- npz ----------------------------------------------------------------------------------


def write_npz(seq: PoseSequence, path: str | Path) -> Path:
    """NumPy archive with ``data``, ``mask``, ``fps``, the layout as JSON (custom layouts survive)
    and, where known, ``confidence`` and ``canvas``: a round trip gives back equal arrays (0 at
    masked joints, as in every file we write)."""
    arrays = {
        "data": zero_unobserved(seq.data, seq.mask),
        "mask": seq.mask,
        "fps": np.float64(seq.fps),
        "layout": np.array(seq.layout.to_json()),
    }
    if seq.confidence is not None:
        arrays["confidence"] = seq.confidence
    if seq.canvas is not None:
        arrays["canvas"] = np.asarray(seq.canvas, dtype=np.int64)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def read_npz(path: str | Path) -> PoseSequence:
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"pose file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"data", "mask", "fps", "layout"} - set(archive.files)
            if missing:
                raise PoseFileError(f"{path} lacks the arrays {sorted(missing)} of a text2sign .npz pose")
            check_npz(path, archive, PoseFileError, text=("layout",))
            layout = Layout.from_dict(json.loads(str(archive["layout"])))
            confidence = archive["confidence"] if "confidence" in archive.files else None
            canvas = tuple(int(v) for v in archive["canvas"]) if "canvas" in archive.files else None
            return PoseSequence(archive["data"], archive["mask"], float(archive["fps"]), layout, confidence, canvas)
    except PoseFileError:
        raise
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  numpy, JSON and the layout raise many kinds on foreign or cut files
        raise PoseFileError(f"{path} is not a readable .npz pose file ({type(exc).__name__}: {exc})") from None


# --- Progressive Transformers .skels ------------------------------------------------------


def parse_skels_line(line: str, fps: float = 25.0, where: str = "") -> PoseSequence:
    """One ``.skels`` line: per frame 50 joints x 3 values then a counter t/T (151 values)."""
    layout = get_layout("phoenix-50")
    per_frame = layout.num_joints * layout.dims + 1
    try:
        values = np.array(line.split(), dtype=np.float64)
    except ValueError:
        raise PoseFileError(f"{where}non-numeric value in .skels data") from None
    if values.size == 0 or values.size % per_frame:
        raise PoseFileError(
            f"{where}.skels line has {values.size} values, not a multiple of {per_frame} (50 joints x 3 + counter)"
        )
    frames = values.reshape(-1, per_frame)[:, :-1].reshape(-1, layout.num_joints, layout.dims)
    mask = np.ones(frames.shape[:2], bool)
    try:
        return PoseSequence(frames, mask, fps, layout)  # cast by PoseSequence, which refuses what float32 cannot hold
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{where}{exc}") from None


def format_skels_line(seq: PoseSequence) -> str:
    """Inverse of :func:`parse_skels_line`, byte for byte: joints with 5 decimals, the counter t/T with 4."""
    seq = seq.to_layout("phoenix-50")
    frames = seq.num_frames
    flat = zero_unobserved(seq.data, seq.mask).reshape(frames, -1)
    return " ".join(" ".join(f"{v:.5f}" for v in row) + f" {t / frames:.4f}" for t, row in enumerate(flat))


def read_skels(path: str | Path, fps: float = 25.0) -> list[PoseSequence]:
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f".skels file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError:
        raise PoseFileError(f"{path} is not a text .skels file") from None
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    # Every line is a sequence: a blank one is an error, never silently skipped, so the result
    # stays aligned with the .text / .gloss / .files lines.
    return [parse_skels_line(line.rstrip("\r"), fps, where=f"{path}:{i + 1}: ") for i, line in enumerate(lines)]


def write_skels(sequences: Iterable[PoseSequence], path: str | Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(format_skels_line(seq) + "\n" for seq in sequences)
    return Path(path)


# --- by suffix ----------------------------------------------------------------------------

POSE_SUFFIXES = (".pose", ".npz")


def load_pose(path: str | Path, person: int | None = None) -> PoseSequence:
    """Read a ``.pose`` or ``.npz`` pose by its suffix (`person`: see :func:`read_pose`)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pose":
        return read_pose(path, person)
    if suffix == ".npz":
        if person not in (None, 0):
            raise PoseFileError(f"{path}: an .npz pose holds one person; --person {person} does not exist")
        return read_npz(path)
    raise PoseFileError(f"{path}: unknown pose file type {suffix or '(none)'}; use .pose or .npz")


def save_pose(seq: PoseSequence, path: str | Path) -> Path:
    suffix = Path(path).suffix.lower()
    if suffix == ".pose":
        return write_pose(seq, path)
    if suffix == ".npz":
        return write_npz(seq, path)
    raise PoseFileError(f"{path}: unknown pose file type {suffix or '(none)'}; use .pose or .npz")
