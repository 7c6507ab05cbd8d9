"""Pose augmentations for training: speed, noise, small rotations and scaling.

Every augmentation is a callable ``(PoseSequence, np.random.Generator) -> PoseSequence`` that
draws its own random parameters from the generator it is given, so a seeded generator makes a
whole training run reproducible. :class:`Compose` chains them. The deterministic functions
underneath (:func:`change_speed`, :func:`rotate`, :func:`scale`, :func:`add_noise`) are what
tests and other code call with exact values.

Geometry follows the pose's own axes: x to the right, y down (image rows), z depth. The
*vertical axis* is y (turning the signer left/right mixes x and z); the *viewing axis* is z
(tilting the image mixes x and y). Rotations and scaling act about :func:`pose_center`.
Turning about the vertical axis pours x into z, which only makes sense when z is on the scale
of x and y; MediaPipe's depth is not, so drop it first (``pose.features.first_dims(seq, 2)``):
on a 2D pose the same turn is the foreshortening x' = x cos(angle) a camera would see.
Masked joints are never moved: their values carry no meaning and stay as they were.

Augment after shoulder normalization (as :class:`text2sign.data.torch_data.PoseTextDataset`
does): normalization divides by shoulder width, so scaling applied before it would be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from text2sign.errors import InvalidPoseError
from text2sign.pose.sequence import PoseSequence

Augmentation = Callable[[PoseSequence, np.random.Generator], PoseSequence]


def pose_center(seq: PoseSequence) -> np.ndarray:
    """Mean shoulder midpoint over frames that show both shoulders; else the mean observed joint; else 0."""
    try:
        left, right = seq.layout.shoulders
    except InvalidPoseError:
        left = right = None
    if left is not None:
        both = seq.mask[:, left] & seq.mask[:, right]
        if both.any():
            return ((seq.data[both, left] + seq.data[both, right]) / 2).mean(axis=0).astype(np.float32)
    if seq.mask.any():
        return seq.data[seq.mask].mean(axis=0).astype(np.float32)
    return np.zeros(seq.layout.dims, np.float32)


def _with_data(seq: PoseSequence, data: np.ndarray) -> PoseSequence:
    """`seq` with new coordinates at observed joints; masked joints keep their old values."""
    data = np.where(seq.mask[..., None], data, seq.data).astype(np.float32)
    return PoseSequence(data, seq.mask, seq.fps, seq.layout, seq.confidence)


def change_speed(seq: PoseSequence, factor: float) -> PoseSequence:
    """Sign `factor` times faster at the same frame rate: ``round(T / factor)`` frames (at least 1)."""
    if not factor > 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    # int(): numpy < 2 (which the dependencies allow) rounds a numpy float to a numpy float.
    frames = max(1, int(round(seq.num_frames / factor)))  # noqa: RUF046
    resampled = seq.resample(num_frames=frames)
    return PoseSequence(resampled.data, resampled.mask, seq.fps, seq.layout)


def rotation_matrix(vertical_degrees: float = 0.0, view_degrees: float = 0.0) -> np.ndarray:
    """3 x 3 matrix: turn about the vertical (y) axis, then tilt about the viewing (z) axis."""
    a, b = np.deg2rad(vertical_degrees), np.deg2rad(view_degrees)
    about_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    about_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return about_z @ about_y


def rotate(
    seq: PoseSequence, vertical_degrees: float = 0.0, view_degrees: float = 0.0, center: np.ndarray | None = None
) -> PoseSequence:
    """Rotate about `center` (default :func:`pose_center`). 2D poses are treated as lying at z = 0."""
    center = pose_center(seq) if center is None else np.asarray(center, np.float32)
    dims = seq.layout.dims
    rot = rotation_matrix(vertical_degrees, view_degrees).astype(np.float32)
    offset = seq.data - center  # (T, J, D)
    if dims >= 3:
        xyz = offset[..., :3] @ rot.T
        data = np.concatenate([xyz, offset[..., 3:]], axis=-1) + center
    else:
        padded = np.concatenate([offset, np.zeros(offset.shape[:-1] + (3 - dims,), np.float32)], axis=-1)
        data = (padded @ rot.T)[..., :dims] + center
    return _with_data(seq, data)


def scale(seq: PoseSequence, factor: float, center: np.ndarray | None = None) -> PoseSequence:
    """Multiply every distance from `center` (default :func:`pose_center`) by `factor`."""
    center = pose_center(seq) if center is None else np.asarray(center, np.float32)
    return _with_data(seq, (seq.data - center) * factor + center)


def add_noise(seq: PoseSequence, std: float, rng: np.random.Generator) -> PoseSequence:
    """Independent Gaussian jitter of standard deviation `std` on every observed coordinate."""
    noise = rng.normal(0.0, std, seq.data.shape).astype(np.float32)
    return _with_data(seq, seq.data + noise)


# --- random augmentations -----------------------------------------------------------------


@dataclass(frozen=True)
class RandomSpeed:
    """Speed factor drawn log-uniformly from [low, high], so 0.8 and 1.25 are equally likely."""

    low: float = 0.8
    high: float = 1.25

    def __call__(self, seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
        return change_speed(seq, float(np.exp(rng.uniform(np.log(self.low), np.log(self.high)))))


@dataclass(frozen=True)
class GaussianNoise:
    std: float = 0.01

    def __call__(self, seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
        return add_noise(seq, self.std, rng)


@dataclass(frozen=True)
class RandomRotation:
    """Uniform angles in [-max, max] degrees about the vertical and the viewing axis."""

    max_vertical_degrees: float = 15.0
    max_view_degrees: float = 10.0

    def __call__(self, seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
        vertical = rng.uniform(-self.max_vertical_degrees, self.max_vertical_degrees)
        view = rng.uniform(-self.max_view_degrees, self.max_view_degrees)
        return rotate(seq, float(vertical), float(view))


@dataclass(frozen=True)
class RandomScale:
    low: float = 0.9
    high: float = 1.1

    def __call__(self, seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
        return scale(seq, float(rng.uniform(self.low, self.high)))


class Compose:
    """Apply augmentations in order, each with probability `p` (default: always)."""

    def __init__(self, augmentations: Sequence[Augmentation], p: float = 1.0):
        self.augmentations = list(augmentations)
        self.p = p

    def __call__(self, seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
        for augmentation in self.augmentations:
            if self.p >= 1.0 or rng.random() < self.p:
                seq = augmentation(seq, rng)
        return seq

    def __repr__(self) -> str:
        return f"Compose({self.augmentations!r}, p={self.p})"


def default_augmentation(
    speed: tuple[float, float] = (0.8, 1.25),
    noise_std: float = 0.01,
    max_vertical_degrees: float = 15.0,
    max_view_degrees: float = 10.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
) -> Compose:
    """Speed, rotation, scaling, then noise; magnitudes in shoulder widths for shoulder-normalized poses."""
    return Compose(
        [
            RandomSpeed(*speed),
            RandomRotation(max_vertical_degrees, max_view_degrees),
            RandomScale(*scale_range),
            GaussianNoise(noise_std),
        ]
    )
