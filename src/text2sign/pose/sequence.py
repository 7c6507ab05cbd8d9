"""PoseSequence: the one in-memory pose type of text2sign.

Layout of the arrays (the only one used anywhere in the toolkit):

* ``data``: float32 ``(T, J, D)`` -- T frames, J joints of ``layout``, D = ``layout.dims`` coordinates
* ``mask``: bool ``(T, J)`` -- True where the joint was observed; masked joints carry no meaning
* ``fps``: frames per second
* ``confidence``: optional float32 ``(T, J)`` detector confidences, kept so that a ``.pose``
  file survives a round trip unchanged; ``mask == (confidence > 0)`` always holds
* ``canvas``: optional ``(width, height)`` of the image whose pixels the coordinates are (a
  ``.pose`` header's dimensions); None where unknown or where the coordinates are not pixels

Every operation that keeps the coordinates keeps ``confidence`` and ``canvas`` (slicing, layout
changes, resampling, which interpolates confidence like the coordinates); operations that make
new coordinates (normalization, generation) say what they keep.

Only one person per sequence: sign language production produces one signer.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from text2sign.errors import InvalidPoseError
from text2sign.pose.layout import Layout, get_layout

# Free space around a figure on a canvas we choose, as a fraction of the figure's larger side.
CANVAS_MARGIN = 0.05
# float32 rounding of a point moved by whole pixels, far below anything a viewer shows.
SHIFT_TOLERANCE_PX = 1e-3


def real_float32(values, what: str) -> np.ndarray:
    """`values` as float32, refused when they are not real numbers (complex, text, objects). A value
    beyond float32's range becomes infinite, quietly: the caller's finiteness check says so in one
    line, where numpy would print a warning first."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise InvalidPoseError(f"{what} must be real numbers, got {array.dtype} values")
    with np.errstate(over="ignore", invalid="ignore"):
        return array.astype(np.float32, copy=False)


@dataclass
class PoseSequence:
    data: np.ndarray
    mask: np.ndarray
    fps: float
    layout: Layout
    confidence: np.ndarray | None = field(default=None, repr=False)
    canvas: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.data = real_float32(self.data, "pose data")
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.data.ndim != 3:
            raise InvalidPoseError(f"pose data must be (frames, joints, dims), got shape {self.data.shape}")
        frames, joints, dims = self.data.shape
        if (joints, dims) != (self.layout.num_joints, self.layout.dims):
            raise InvalidPoseError(
                f"pose data has {joints} joints x {dims} dims but layout {self.layout.name} "
                f"expects {self.layout.num_joints} x {self.layout.dims}"
            )
        if self.mask.shape != (frames, joints):
            raise InvalidPoseError(f"mask shape {self.mask.shape} does not match data shape {self.data.shape}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InvalidPoseError(f"fps must be a positive number, got {self.fps}")
        if self.confidence is not None:
            self.confidence = real_float32(self.confidence, "confidence")
            if self.confidence.shape != self.mask.shape or not np.array_equal(self.confidence > 0, self.mask):
                raise InvalidPoseError("confidence must have the mask's shape and be > 0 exactly where mask is True")
        if self.canvas is not None:
            canvas = tuple(int(v) for v in self.canvas)
            if len(canvas) != 2 or min(canvas) < 1:
                raise InvalidPoseError(f"canvas must be a positive (width, height), got {self.canvas}")
            self.canvas = canvas
        bad = ~np.isfinite(self.data).all(axis=-1) & self.mask
        if bad.any():
            t, j = np.argwhere(bad)[0]
            comp, point = self.layout.joint_names[j]
            raise InvalidPoseError(
                f"pose data has {int(bad.sum())} NaN or infinite joint values (first at frame {t}, joint "
                f"{comp}/{point})"
            )

    # --- basic facts ------------------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return self.data.shape[0]

    @property
    def duration(self) -> float:
        """Seconds of signing."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, frames: slice) -> PoseSequence:
        if not isinstance(frames, slice):
            raise TypeError("index a PoseSequence with a slice of frames, e.g. seq[10:20]")
        conf = None if self.confidence is None else self.confidence[frames]
        return PoseSequence(self.data[frames], self.mask[frames], self.fps, self.layout, conf, self.canvas)

    def copy(self) -> PoseSequence:
        conf = None if self.confidence is None else self.confidence.copy()
        return PoseSequence(self.data.copy(), self.mask.copy(), self.fps, self.layout, conf, self.canvas)

    def allclose(self, other: PoseSequence, atol: float = 1e-5) -> bool:
        """Same layout, fps, mask, and data equal within `atol` on observed joints."""
        return (
            self.layout.same_joints(other.layout)
            and self.data.shape == other.data.shape
            and abs(self.fps - other.fps) < 1e-6
            and np.array_equal(self.mask, other.mask)
            and np.allclose(self.data[self.mask], other.data[other.mask], atol=atol)
        )

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def empty_like(cls, layout: Layout, fps: float, num_frames: int = 0) -> PoseSequence:
        return cls(
            np.zeros((num_frames, layout.num_joints, layout.dims), np.float32),
            np.zeros((num_frames, layout.num_joints), bool),
            fps,
            layout,
        )

    @classmethod
    def concatenate(cls, parts: list[PoseSequence]) -> PoseSequence:
        """Frames of `parts` one after another (no smoothing; see text2sign.pose.concatenate for that).

        Confidence is kept where every part has it; the canvas where all parts share one."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if not p.layout.same_joints(first.layout) or abs(p.fps - first.fps) > 1e-6:
                raise InvalidPoseError("can only concatenate poses with the same layout and fps")
        confidences = [p.confidence for p in parts]
        conf = None if any(c is None for c in confidences) else np.concatenate(confidences)
        canvas = first.canvas if all(p.canvas == first.canvas for p in parts) else None
        return cls(
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.mask for p in parts]),
            first.fps,
            first.layout,
            conf,
            canvas,
        )

    # --- layouts and features ---------------------------------------------------------------

    def to_layout(self, layout: Layout | str) -> PoseSequence:
        """The same motion in another layout, picking joints by name (e.g. holistic -> holistic-178)."""
        layout = get_layout(layout) if isinstance(layout, str) else layout
        if layout.same_joints(self.layout):
            return PoseSequence(self.data, self.mask, self.fps, layout, self.confidence, self.canvas)
        if layout.dims != self.layout.dims:
            raise InvalidPoseError(
                f"cannot convert {self.layout.dims}D layout {self.layout.name} to {layout.dims}D {layout.name}"
            )
        index = layout.index_in(self.layout)
        conf = None if self.confidence is None else self.confidence[:, index]
        return PoseSequence(self.data[:, index], self.mask[:, index], self.fps, layout, conf, self.canvas)

    def select_components(self, components: list[str]) -> PoseSequence:
        layout, index = self.layout.select(components, name=f"{self.layout.name}[{'+'.join(components)}]")
        conf = None if self.confidence is None else self.confidence[:, index]
        return PoseSequence(self.data[:, index], self.mask[:, index], self.fps, layout, conf, self.canvas)

    def to_features(self, kinds: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flatten joints of the chosen component kinds to ``(T, F)`` features, ``F = J' * D``.

        Returns ``(features, joint_mask)`` with ``joint_mask`` of shape ``(T, J')``. Masked joints
        are zero in the features so they never carry stale coordinates into a model.
        """
        index = self.layout.kind_indices(*kinds) if kinds else np.arange(self.layout.num_joints)
        data = np.where(self.mask[:, index, None], self.data[:, index], 0.0).astype(np.float32)  # (T, J', D)
        return data.reshape(self.num_frames, -1), self.mask[:, index].copy()

    @classmethod
    def from_features(
        cls,
        features: np.ndarray,
        layout: Layout,
        fps: float,
        joint_mask: np.ndarray | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> PoseSequence:
        """Inverse of :meth:`to_features`; joints outside `kinds` are left masked."""
        index = layout.kind_indices(*kinds) if kinds else np.arange(layout.num_joints)
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != len(index) * layout.dims:
            raise InvalidPoseError(
                f"features of shape {features.shape} do not fit {len(index)} joints x {layout.dims} dims of "
                f"{layout.name}"
            )
        frames = features.shape[0]
        data = np.zeros((frames, layout.num_joints, layout.dims), np.float32)
        mask = np.zeros((frames, layout.num_joints), bool)
        data[:, index] = features.reshape(frames, len(index), layout.dims)
        mask[:, index] = True if joint_mask is None else joint_mask
        return cls(data, mask, fps, layout)

    # --- time ---------------------------------------------------------------------------------

    def resample(self, fps: float | None = None, num_frames: int | None = None) -> PoseSequence:
        """Linear interpolation in time to a new frame rate or an exact number of frames.

        A joint is observed in a new frame only if it is observed in both source frames that
        frame is interpolated from, so a missing hand never gets half-invented. Confidence is
        interpolated like the coordinates. The same fps and length give back this sequence itself.
        """
        if (fps is None) == (num_frames is None):
            raise ValueError("give exactly one of fps or num_frames")
        if num_frames is None:
            # int(): numpy < 2 (which the dependencies allow) rounds a numpy float to a numpy float.
            num_frames = max(1, int(round(self.num_frames * fps / self.fps)))  # noqa: RUF046
            new_fps = fps
        else:
            new_fps = self.fps * num_frames / max(self.num_frames, 1)
        if num_frames == self.num_frames and abs(new_fps - self.fps) < 1e-9:
            return self
        positions = time_positions(self.num_frames, num_frames)
        data, mask = interpolate_frames(self.data, self.mask, positions)
        conf = None
        if self.confidence is not None:
            conf, _ = interpolate_frames(self.confidence[..., None], self.mask, positions)
            conf = np.where(mask, conf[..., 0], 0.0)
        return PoseSequence(data, mask, new_fps, self.layout, conf, self.canvas)

    # --- where the points are -------------------------------------------------------------------

    def fit_canvas(self) -> PoseSequence:
        """This signing as every viewer shows it whole: on an even-sized canvas with a margin of
        :func:`figure_margin` pixels between the observed joints and each edge.

        The points move by whole pixels where an observed joint is nearer than the margin to the
        left or top edge; the canvas (or, without one, the points' extent) grows until the margin
        fits on the right and bottom too, then to even sizes (:func:`framed_canvas`). For a layout
        with a pixel frame this works in the frame's pixels and the canvas stays the frame's
        (``.pose`` writing grows that one). Applying it twice gives the same sequence.

        World coordinates (metres around the hips) are not image positions and are left out.
        """
        frame = self.layout.pixel_frame
        world = self.layout.kind_indices("world")
        observed = self.mask
        if world.size:
            observed = observed.copy()
            observed[:, world] = False
        if not observed.any():
            return self
        # Masked reductions, not a boolean-indexed copy: every pipeline output passes here.
        low = np.array([np.min(self.data[..., c], where=observed, initial=np.inf) for c in (0, 1)])  # (2,)
        high = np.array([np.max(self.data[..., c], where=observed, initial=-np.inf) for c in (0, 1)])  # (2,)
        if frame is not None:
            low, high = np.asarray(frame.to_pixels(np.stack([low, high])), np.float64)  # (2, 2) -> low, high
        margin = figure_margin(low, high)
        # The tolerance keeps a second call from moving points that float32 put a hair short of the margin.
        shift = np.ceil(np.maximum(margin - low - SHIFT_TOLERANCE_PX, 0.0))  # (2,) whole pixels
        canvas = None if frame is not None else framed_canvas(high + shift, margin, self.canvas)
        if not shift.any() and canvas == self.canvas:
            return self
        out = copy.copy(self)  # the data is already checked; only its place and canvas change
        if shift.any():
            image = np.setdiff1d(np.arange(self.layout.num_joints), world)
            out.data = self.data.copy()
            out.data[:, image, :2] += (shift / frame.scale if frame is not None else shift).astype(np.float32)
        out.canvas = canvas
        return out


def column_extremes(points: np.ndarray, extreme) -> np.ndarray:
    """`extreme` (np.min / np.max) of each column of ``(N, C)`` points: column by column, since
    numpy's reduction along axis 0 of a narrow array is about 30 times slower."""
    return np.array([extreme(points[:, c]) for c in range(points.shape[1])], dtype=np.float64)


def canvas_containing(points: np.ndarray, canvas: tuple[int, int] | None = None) -> tuple[int, int]:
    """`canvas` (or the smallest one at the origin), grown until every ``(x, y)`` in `points`
    (``(N, 2)``) satisfies ``0 <= x < width`` and ``0 <= y < height``."""
    width, height = canvas if canvas is not None else (1, 1)
    if points.size:
        top = np.floor(column_extremes(points, np.max)).astype(np.int64) + 1  # (2,)
        width, height = max(int(width), int(top[0])), max(int(height), int(top[1]))
    return width, height


def figure_margin(low: np.ndarray, high: np.ndarray) -> int:
    """Whole pixels to keep free around a figure whose ``(x, y)`` extremes are `low` and `high`:
    :data:`CANVAS_MARGIN` of its larger side, at least 1. Viewers fill the canvas, so a joint on
    the edge looks cut off."""
    extent = float(np.max(np.asarray(high, np.float64) - np.asarray(low, np.float64)))
    # Less than a thousandth of a pixel below a whole number counts as it: whole-pixel shifts in
    # float32 must not change the margin they were made for.
    return max(1, math.ceil(CANVAS_MARGIN * extent - SHIFT_TOLERANCE_PX))


def framed_canvas(high: np.ndarray, margin: int, canvas: tuple[int, int] | None = None) -> tuple[int, int]:
    """`canvas` (or the smallest one at the origin) grown until every point up to `high` (``(x,
    y)``) lies `margin` pixels inside its right and bottom edges, then to even width and height:
    H.264 in yuv420p (what pose-format's ``save_video`` and every browser need) halves both."""
    # A glitched joint can sit near float32's limit; no canvas is that large (the .pose header holds
    # 16 bits), so clip before the integer cast rather than overflow it.
    high = np.clip(np.asarray(high, np.float64), -(2.0**31), 2.0**31)
    need = np.floor(high).astype(np.int64) + 1 + int(min(margin, 2.0**31))  # (2,)
    width, height = canvas if canvas is not None else (1, 1)
    width, height = max(int(width), int(need[0])), max(int(height), int(need[1]))
    return width + width % 2, height + height % 2


def time_positions(source_frames: int, target_frames: int) -> np.ndarray:
    """Fractional source-frame positions that stretch `source_frames` onto `target_frames`."""
    if target_frames <= 1 or source_frames <= 1:
        return np.zeros(target_frames) if source_frames <= 1 else np.full(target_frames, (source_frames - 1) / 2)
    return np.linspace(0.0, source_frames - 1, target_frames)


def interpolate_frames(data: np.ndarray, mask: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``(T, J, D)`` data at fractional frame `positions` by linear interpolation."""
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, data.shape[0] - 1)
    w = (positions - lo).astype(np.float32)[:, None, None]  # (T', 1, 1)
    out = data[lo] * (1.0 - w) + data[hi] * w  # (T', J, D)
    out_mask = mask[lo] & (mask[hi] | (w[:, :, 0] == 0))
    return out.astype(np.float32), out_mask
