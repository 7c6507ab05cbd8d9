"""Pose features: how a pose becomes the ``(T, F)`` numbers a model reads, and back.

The same steps in training (the torch datasets of :mod:`text2sign.data.torch_data`), at inference
(the pipelines) and in evaluation (the recognizers), so they live with the pose type and need no
torch. How a pose becomes features (:func:`pose_features`):

1. shoulder normalization (centre at the shoulder midpoint, unit shoulder width, per sequence);
   then, with ``dims=2``, only x and y are kept (:func:`first_dims`);
2. optional augmentation (training only; it works on the normalized pose, see data/augment.py),
   then an optional deterministic transform (e.g. :func:`hands_relative_to_wrist`);
3. ``to_features(kinds)``: joints of the chosen component kinds flattened to ``(T, J' * D)``;
4. standardization with :class:`FeatureStats` (computed on the train split);
5. missing joints set to exactly 0 again, so after standardization "unseen" reads as the
   feature mean and never as a stale coordinate; ``joint_mask`` says which joints were seen.

A model's features hold the components of its `kinds` in layout order (:func:`kinds_layout`,
:func:`feature_joint_indices`, :func:`group_columns`), so statistics of a whole layout can be cut
down to them (:func:`select_feature_stats`).
"""

from __future__ import annotations

import numpy as np

from text2sign.errors import ConfigError, Text2SignError
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

HAND_ROOTS = ("WRIST", "BASE")
# The std floor of features measured after a transform (a hundredth of a shoulder width): it keeps
# MediaPipe's nearly flat hand depth from being blown up into noise a generator would chase.
MIN_FEATURE_STD = 0.01


def kinds_layout(layout: Layout, kinds: tuple[str, ...] | None) -> Layout:
    """The components of `layout` a model with `kinds` needs: those kinds plus the body (for the shoulders)."""
    if not kinds:
        return layout
    keep = [c.name for c in layout.components if c.kind in kinds or c.kind == "body"]
    sub, _ = layout.select(keep, name=f"{layout.name}[{'+'.join(keep)}]")
    return sub


def feature_joint_indices(layout: Layout, kinds: tuple[str, ...] | list[str] | None) -> np.ndarray:
    """Joint indices of `layout` that the features of `kinds` hold, in feature order."""
    return layout.kind_indices(*kinds) if kinds else np.arange(layout.num_joints)


def select_feature_stats(
    stats: FeatureStats, layout: Layout, kinds: tuple[str, ...] | list[str] | None
) -> FeatureStats:
    """`stats` for the features of `kinds`: as is when they already match, sliced from whole-layout stats."""
    index = feature_joint_indices(layout, kinds)
    size = len(index) * layout.dims
    if stats.mean.shape[0] == size:
        return stats
    if stats.mean.shape[0] == layout.num_joints * layout.dims:
        cols = (index[:, None] * layout.dims + np.arange(layout.dims)).reshape(-1)
        return FeatureStats(
            stats.mean[cols], stats.std[cols], stats.layout, tuple(kinds) if kinds else None, stats.frames
        )
    raise ConfigError(
        f"feature statistics have {stats.mean.shape[0]} features; kinds {list(kinds) if kinds else 'all'} "
        f"of {layout.name} need {size}"
    )


def group_columns(layout_name: str, kinds, dims: int) -> dict[str, np.ndarray]:
    """Feature columns (int64) of each kind among `kinds` (features hold the components of `kinds` in layout order)."""
    layout = get_layout(layout_name)
    out: dict[str, list[int]] = {}
    start = 0
    for c in layout.components:
        if c.kind not in kinds:
            continue
        size = len(c.points) * dims
        out.setdefault(c.kind, []).extend(range(start, start + size))
        start += size
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def first_dims(seq: PoseSequence, dims: int | None) -> PoseSequence:
    """`seq` with only its first `dims` coordinates (None: all).

    MediaPipe's depth is not on the scale of x and y (after shoulder normalization its spread
    is ~1/100 of theirs), so standardizing it blows noise up to unit variance, and a rotation
    about the vertical axis would pour x into it; models that read such poses use ``dims=2``.
    """
    if dims is None or dims == seq.layout.dims:
        return seq
    if not 1 <= dims <= seq.layout.dims:
        raise Text2SignError(f"cannot keep {dims} coordinates of a {seq.layout.dims}D pose")
    layout = Layout(f"{seq.layout.name}[{dims}d]", seq.layout.components, dims)
    return PoseSequence(seq.data[..., :dims], seq.mask, seq.fps, layout, seq.confidence)


def hand_wrists(layout: Layout) -> list[tuple[int, list[int]]]:
    """For each hand component with a wrist point (MediaPipe's WRIST, OpenPose's BASE): (wrist
    joint, the hand's other joints)."""
    out = []
    for comp in layout.components:
        name = next((p for p in HAND_ROOTS if p in comp.points), None)
        if comp.kind not in ("left_hand", "right_hand") or name is None:
            continue
        span = layout.component_slice(comp.name)
        wrist = span.start + comp.points.index(name)
        out.append((wrist, [j for j in range(span.start, span.stop) if j != wrist]))
    return out


def hands_relative_to_wrist(seq: PoseSequence) -> PoseSequence:
    """Each hand's joints as offsets from its wrist (the wrist itself stays where it is).

    Handshape is what tells fingerspelled letters apart; as absolute positions it is a small
    ripple on top of large arm movements, as offsets from the wrist it is what the numbers say.
    An offset is observed only where both the joint and its wrist are.
    """
    data, mask = seq.data.copy(), seq.mask.copy()
    for wrist, others in hand_wrists(seq.layout):
        data[:, others] -= data[:, wrist : wrist + 1]
        mask[:, others] &= mask[:, wrist : wrist + 1]
    data = np.where(mask[..., None], data, 0.0)
    return PoseSequence(data, mask, seq.fps, seq.layout)


def hands_from_wrist_offsets(seq: PoseSequence) -> PoseSequence:
    """Inverse of :func:`hands_relative_to_wrist`: hand joints back to absolute positions."""
    data = seq.data.copy()
    for wrist, others in hand_wrists(seq.layout):
        data[:, others] += data[:, wrist : wrist + 1]
    return PoseSequence(data, seq.mask.copy(), seq.fps, seq.layout)


def pose_features(
    seq: PoseSequence,
    stats: FeatureStats,
    kinds: tuple[str, ...] | None = None,
    normalized: bool = False,
    dims: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (T, F) float32, joint_mask (T, J') bool)`` as described in the module docstring.

    `normalized`: the pose is already shoulder-normalized (e.g. normalized, then augmented).
    `dims`: keep only the first `dims` coordinates of each joint (after normalization).
    """
    if not normalized:
        seq, _ = normalize_by_shoulders(seq)
    seq = first_dims(seq, dims)
    features, joint_mask = seq.to_features(kinds)
    if features.shape[1] != stats.mean.shape[0]:
        raise Text2SignError(
            f"feature statistics describe {stats.mean.shape[0]} features but kinds {kinds or 'all'} "
            f"of layout {seq.layout.name} give {features.shape[1]}"
        )
    feature_mask = np.repeat(joint_mask, seq.layout.dims, axis=1)  # (T, F)
    features = np.where(feature_mask, stats.standardize(features), 0.0).astype(np.float32)
    return features, joint_mask
