"""Pose metrics: DTW alignment, three DTW-MJE variants, per-channel errors, hand-face synchronisation.

Inputs
======

A pose is two arrays, exactly as :class:`~text2sign.pose.sequence.PoseSequence` holds them:
``data`` float ``(T, J, D)`` and ``mask`` bool ``(T, J)``, True where a joint was observed.
Pose metrics take the prediction first and the reference second:
``f(pred, pred_mask, ref, ref_mask, ...)``. Values at masked joints are never read, so padded or
undetected joints cannot leak into a number. Normalise both sequences the same way first
(``normalize_by_shoulders``) so that numbers compare across signers and cameras. Functions that
need to know which joints are hands or face also take the :class:`~text2sign.pose.layout.Layout`.

Every function validates its inputs and raises :class:`~text2sign.errors.MetricInputError`
with one line naming the problem: no frames, different joint counts or dims, NaN at an observed
joint, a layout of another size, an alignment path outside the sequences.

Pose distances (lower is better)
================================

``dtw_path(pred, pred_mask, ref, ref_mask) -> (P, 2) int array``
    The DTW alignment of whole frames: (pred frame, ref frame) pairs, exact DTW.
``frame_path(num_pred, num_ref) -> (P, 2)``
    Frame-by-frame pairs up to the shorter length, for metrics without time warping.
``dtw_mje(pred, pred_mask, ref, ref_mask, path=None) -> Pooled``
    DTW-MJE as the SLRTP 2025 sign production challenge computes it.
``ndtw_mje_ham2pose(pred, pred_mask, ref, ref_mask) -> float``
    nDTW-MJE as Ham2Pose's ``metrics.py`` computes it: per-keypoint DTW with Euclidean point
    cost and Ham2Pose's rule for missing keypoints.
``ndtw_mje_pose_evaluation(pred, pred_mask, ref, ref_mask, layout) -> float``
    The DTW-MJE of sign-language-processing/pose-evaluation with its defaults (``DistanceMetric``
    with ``DTWDTAIImplementationDistanceMeasure()`` and the standard pose processors): trimmed,
    re-normalised, legs dropped, zero-padded, masked points at 0, dtaidistance per keypoint.
``channel_errors(pred, pred_mask, ref, ref_mask, layout, path) -> dict[str, ChannelErrors | None]``
    MSE and MAE over aligned frame pairs for the channels "all", "body", "hands" (manual) and
    "face" (non-manual); a channel the layout lacks is None, never 0.
``Pooled``, ``pool(parts)``, ``pool_channel_errors(parts)``
    Corpus numbers are pooled, not averaged per sequence: each call returns a sum and a count,
    and the corpus value is sum(totals) / sum(counts), which is what SLRTP does when it
    concatenates all aligned frames of the test set before taking the mean.

Hand-face synchronisation (one sequence)
========================================

``sync_metrics(data, mask, layout, window=10) -> SyncResult(correlation, lag)``
    The latent-flow design's "sync correlation" and "sync lag".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from dtaidistance import dtw_ndim

from text2sign.errors import InvalidPoseError, MetricInputError
from text2sign.pose.layout import Layout

__all__ = [
    "CHANNELS",
    "ChannelErrors",
    "Pooled",
    "SyncResult",
    "channel_errors",
    "dtw_mje",
    "dtw_path",
    "frame_path",
    "ndtw_mje_ham2pose",
    "ndtw_mje_pose_evaluation",
    "pool",
    "pool_channel_errors",
    "sync_metrics",
]

CHANNELS: dict[str, tuple[str, ...]] = {
    "all": ("body", "face", "left_hand", "right_hand"),
    "body": ("body",),
    "hands": ("left_hand", "right_hand"),
    "face": ("face",),
}
"""Channel name -> layout component kinds. World landmarks (metric 3D duplicates of the body)
belong to no channel: mixing metres with image units in one error would mean nothing."""

# Bounds the (keypoints, T_pred, T_ref, D) difference array of the masked nDTW path (~64 MB).
_MAX_CHUNK_ELEMENTS = 8_000_000


# --- poolable results -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    """A sum of per-item errors and how many items it holds, so corpus values pool exactly."""

    total: float = 0.0
    count: int = 0

    def __add__(self, other: Pooled) -> Pooled:
        return Pooled(self.total + other.total, self.count + other.count)

    @property
    def value(self) -> float | None:
        """total / count, or None when nothing was observed."""
        return self.total / self.count if self.count else None


def pool(parts: Iterable[Pooled]) -> float | None:
    """The corpus value of per-sequence results: sum of totals / sum of counts."""
    parts = list(parts)
    if not parts:
        raise MetricInputError("nothing to pool: the list of per-sequence results is empty")
    total = Pooled()
    for part in parts:
        total = total + part
    return total.value


@dataclass(frozen=True)
class ChannelErrors:
    """Squared and absolute coordinate errors of one channel, poolable.

    The unit counted is one coordinate of one joint observed in both frames of an aligned pair,
    so ``mse.value`` is the mean squared coordinate difference, like an MSE over feature dims.
    """

    mse: Pooled
    mae: Pooled

    def __add__(self, other: ChannelErrors) -> ChannelErrors:
        return ChannelErrors(self.mse + other.mse, self.mae + other.mae)


def pool_channel_errors(
    parts: Sequence[Mapping[str, ChannelErrors | None]],
) -> dict[str, dict[str, float | None] | None]:
    """Pool :func:`channel_errors` results of a corpus: ``{channel: {"mse": x, "mae": y} | None}``."""
    if not parts:
        raise MetricInputError("nothing to pool: the list of per-sequence channel errors is empty")
    out: dict[str, dict[str, float | None] | None] = {}
    for name in parts[0]:
        values = [part.get(name) for part in parts]
        present = [v for v in values if v is not None]
        if not present:
            out[name] = None
            continue
        if len(present) != len(values):
            raise MetricInputError(f"channel {name!r} is missing from some sequences: pool results of one layout only")
        total = present[0]
        for v in present[1:]:
            total = total + v
        out[name] = {"mse": total.mse.value, "mae": total.mae.value}
    return out


# --- input validation -----------------------------------------------------------------------


def _check_pose(data, mask, who: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(data)
    mask = np.asarray(mask)
    if data.dtype.kind not in "fiu":
        raise MetricInputError(f"{who} data must be numeric, got dtype {data.dtype}")
    if data.ndim != 3:
        raise MetricInputError(f"{who} data must be (frames, joints, dims), got shape {data.shape}")
    if mask.dtype != bool:
        raise MetricInputError(f"{who} mask must be boolean (True = observed), got dtype {mask.dtype}")
    if mask.shape != data.shape[:2]:
        raise MetricInputError(f"{who} mask shape {mask.shape} does not match data shape {data.shape}")
    if data.shape[0] == 0:
        raise MetricInputError(f"{who} has no frames")
    if data.shape[1] == 0 or data.shape[2] == 0:
        raise MetricInputError(f"{who} has no joints or no coordinates: shape {data.shape}")
    data = data.astype(np.float64)
    bad = mask & ~np.isfinite(data).all(axis=-1)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise MetricInputError(
            f"{who} has {int(bad.sum())} NaN or infinite observed joints (first at frame {t}, joint {j})"
        )
    # Masked values may hold anything (NaN included); zero them so no arithmetic sees them.
    data[~mask] = 0.0
    return data, mask


def _check_pair(pred, pred_mask, ref, ref_mask) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pred, pred_mask = _check_pose(pred, pred_mask, "pred")
    ref, ref_mask = _check_pose(ref, ref_mask, "ref")
    if pred.shape[1:] != ref.shape[1:]:
        raise MetricInputError(
            f"pred and ref differ in joints x dims: "
            f"{pred.shape[1]} x {pred.shape[2]} vs {ref.shape[1]} x {ref.shape[2]}"
        )
    return pred, pred_mask, ref, ref_mask


def _check_layout(layout: Layout, data: np.ndarray) -> None:
    if (layout.num_joints, layout.dims) != data.shape[1:]:
        raise MetricInputError(
            f"layout {layout.name} has {layout.num_joints} joints x {layout.dims} dims "
            f"but the data has {data.shape[1]} x {data.shape[2]}"
        )


def _check_path(path, num_pred: int, num_ref: int) -> np.ndarray:
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] == 0:
        raise MetricInputError(f"an alignment path must be a non-empty (pairs, 2) array, got shape {path.shape}")
    if path.dtype.kind not in "iu":
        raise MetricInputError(f"an alignment path must hold integer frame indices, got dtype {path.dtype}")
    if path.min() < 0 or path[:, 0].max() >= num_pred or path[:, 1].max() >= num_ref:
        raise MetricInputError(
            f"alignment path indexes frames outside pred ({num_pred} frames) or ref ({num_ref} frames)"
        )
    return path.astype(np.int64)


# --- dynamic time warping -------------------------------------------------------------------


def _accumulate(cost: np.ndarray) -> np.ndarray:
    """DTW accumulated cost of a batch of cost matrices: (B, n, m) -> (B, n + 1, m + 1).

    Cells on one anti-diagonal depend only on the two before it, so each diagonal is one
    vectorised step: n + m Python iterations instead of n * m.
    """
    batch, n, m = cost.shape
    acc = np.full((batch, n + 1, m + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for k in range(n + m - 1):
        i = np.arange(max(0, k - m + 1), min(k, n - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[:, i, j], acc[:, i, j + 1]), acc[:, i + 1, j])
        acc[:, i + 1, j + 1] = cost[:, i, j] + best
    return acc


def _best_path(acc: np.ndarray) -> np.ndarray:
    """Backtrack one accumulated matrix (n + 1, m + 1) into a (P, 2) path; ties go diagonal."""
    i, j = acc.shape[0] - 1, acc.shape[1] - 1
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        _, i, j = min(
            ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1)),
            key=lambda option: option[0],
        )
        path.append((i - 1, j - 1))
    return np.asarray(path[::-1], dtype=np.int64)


def _frame_costs(pred: np.ndarray, pred_mask: np.ndarray, ref: np.ndarray, ref_mask: np.ndarray) -> np.ndarray:
    """(T_pred, T_ref) Euclidean distances between whole frames over the joints both observe.

    With every joint observed this is the L2 distance of the flattened frames, the cost SLRTP
    aligns with. Otherwise the squared sum over common joints is scaled by J / common, so a frame
    pair with missing joints is not made cheaper by the joints it lacks; a pair with no common
    joint costs 0, as it carries no evidence either way.
    """
    num_joints = pred.shape[1]
    # Centring on a shared mean keeps the |a|^2 + |b|^2 - 2ab expansion free of cancellation
    # when coordinates are large (pixels) and differences small.
    centre = np.concatenate([pred[pred_mask], ref[ref_mask]]).mean(axis=0)
    p = np.where(pred_mask[..., None], pred - centre, 0.0)
    r = np.where(ref_mask[..., None], ref - centre, 0.0)
    pw, rw = pred_mask.astype(np.float64), ref_mask.astype(np.float64)
    squared = (p**2).sum(-1) @ rw.T + pw @ (r**2).sum(-1).T - 2.0 * p.reshape(len(p), -1) @ r.reshape(len(r), -1).T
    common = pw @ rw.T
    squared = np.clip(squared, 0.0, None) * num_joints / np.maximum(common, 1.0)
    return np.where(common > 0, np.sqrt(squared), 0.0)


def dtw_path(pred, pred_mask, ref, ref_mask) -> np.ndarray:
    """Exact DTW alignment of whole frames: a (P, 2) array of (pred frame, ref frame) pairs.

    The frame cost is the Euclidean distance of the flattened frames (see ``_frame_costs`` for
    missing joints), as in SLRTP's evaluation; SLRTP runs ``fastdtw`` (an approximation with
    radius 1) where this computes the exact optimum. Frames with no observed joint at all carry
    nothing to align and are skipped; the path indexes the original frames.

    The recursion is ours, not dtaidistance's: its C ``warping_path`` (2.5) ignores
    ``inner_dist="euclidean"`` and returns the path that is optimal for squared distances.
    """
    pred, pred_mask, ref, ref_mask = _check_pair(pred, pred_mask, ref, ref_mask)
    pred_frames = np.flatnonzero(pred_mask.any(axis=1))
    ref_frames = np.flatnonzero(ref_mask.any(axis=1))
    if pred_frames.size == 0:
        raise MetricInputError("pred has no observed joint in any frame: nothing to align")
    if ref_frames.size == 0:
        raise MetricInputError("ref has no observed joint in any frame: nothing to align")
    cost = _frame_costs(pred[pred_frames], pred_mask[pred_frames], ref[ref_frames], ref_mask[ref_frames])
    path = _best_path(_accumulate(cost[None])[0])
    return np.stack([pred_frames[path[:, 0]], ref_frames[path[:, 1]]], axis=1)


def frame_path(num_pred: int, num_ref: int) -> np.ndarray:
    """Frame-by-frame pairs (t, t) for t below the shorter length: errors without time warping."""
    if num_pred < 1 or num_ref < 1:
        raise MetricInputError(f"frame_path needs at least one frame on each side, got {num_pred} and {num_ref}")
    t = np.arange(min(num_pred, num_ref), dtype=np.int64)
    return np.stack([t, t], axis=1)


def dtw_mje(pred, pred_mask, ref, ref_mask, path=None) -> Pooled:
    """DTW-MJE of one pair, poolable: per-joint L2 errors summed over the DTW-aligned frames.

    As in the SLRTP 2025 challenge: align whole flattened frames with DTW, then take the L2
    distance of every joint of every aligned pair; the corpus DTW-MJE is ``pool(...)`` over the
    test set (SLRTP concatenates all aligned frames, then takes one mean). Joints masked in
    either frame of a pair are excluded from both the sum and the count. SLRTP also resamples
    both sides to 12 fps before aligning; resample the sequences first to match its numbers.

    ``path`` reuses an alignment from :func:`dtw_path` (computed here when None).
    """
    pred, pred_mask, ref, ref_mask = _check_pair(pred, pred_mask, ref, ref_mask)
    if path is None:
        path = dtw_path(pred, pred_mask, ref, ref_mask)
    path = _check_path(path, len(pred), len(ref))
    both = pred_mask[path[:, 0]] & ref_mask[path[:, 1]]  # (P, J)
    errors = np.linalg.norm(pred[path[:, 0]] - ref[path[:, 1]], axis=-1)  # (P, J)
    return Pooled(float(errors[both].sum()), int(both.sum()))


def _masked_trajectory_costs(
    pred: np.ndarray, pred_mask: np.ndarray, ref: np.ndarray, ref_mask: np.ndarray
) -> np.ndarray:
    """(K, T_pred, T_ref) point costs of K keypoint trajectories with Ham2Pose's missing-point rule."""
    p = pred.transpose(1, 0, 2)[:, :, None, :]  # (K, T_pred, 1, D)
    r = ref.transpose(1, 0, 2)[:, None, :, :]  # (K, 1, T_ref, D)
    cost = np.linalg.norm(p - r, axis=-1)  # (K, T_pred, T_ref)
    # A reference keypoint that is missing cannot be judged: 0. A predicted keypoint that is
    # missing while the reference has it costs half the reference point's distance to the origin.
    pred_missing = ~pred_mask.T[:, :, None]  # (K, T_pred, 1)
    ref_missing = ~ref_mask.T[:, None, :]  # (K, 1, T_ref)
    half_norm = np.broadcast_to(np.linalg.norm(r, axis=-1) / 2.0, cost.shape)
    cost = np.where(pred_missing, half_norm, cost)
    return np.where(ref_missing, 0.0, cost)


def ndtw_mje_ham2pose(pred, pred_mask, ref, ref_mask) -> float:
    """nDTW-MJE of one pair as Ham2Pose defines it: per-keypoint DTW, averaged over keypoints.

    Follows Ham2Pose's ``metrics.py`` (rotem-shalev/Ham2Pose, commit 25a5cd7,
    ``compare_poses`` with ``masked_euclidean``): every keypoint's trajectory is aligned on its
    own with DTW whose point cost is the Euclidean distance, and the trajectory's distance is the
    summed cost along the optimal path. Missing keypoints are not zero-filled: a frame whose
    reference keypoint is missing costs 0, and one whose predicted keypoint is missing (reference
    present) costs half the reference keypoint's distance to the origin, so where the origin lies
    matters: normalise both poses first (the harness puts the shoulders' centre there). The
    score is the mean over all J keypoints given (Ham2Pose itself passes only OpenPose's upper
    body and hands).

    This is not pose-evaluation's DTW-MJE (:func:`ndtw_mje_pose_evaluation`), whose inner
    distance is squared-Euclidean and which has no half-norm rule; the two differ several-fold.

    Trajectories observed in every frame on both sides run through dtaidistance's C DTW
    (``dtw_ndim.distance`` with ``inner_dist="euclidean"``); the others through the same
    recursion in numpy with the masked point cost. Both are exact DTW; Ham2Pose uses
    ``fastdtw``'s approximation, whose cost is never below the exact optimum.
    A corpus score is the mean of the per-pair scores.
    """
    pred, pred_mask, ref, ref_mask = _check_pair(pred, pred_mask, ref, ref_mask)
    num_joints = pred.shape[1]
    distances = np.empty(num_joints)
    complete = pred_mask.all(axis=0) & ref_mask.all(axis=0)
    for j in np.flatnonzero(complete):
        distances[j] = dtw_ndim.distance(
            np.ascontiguousarray(pred[:, j]), np.ascontiguousarray(ref[:, j]), use_c=True, inner_dist="euclidean"
        )
    partial = np.flatnonzero(~complete)
    per_keypoint = len(pred) * len(ref) * pred.shape[2]
    step = max(1, _MAX_CHUNK_ELEMENTS // per_keypoint)
    for start in range(0, len(partial), step):
        idx = partial[start : start + step]
        cost = _masked_trajectory_costs(pred[:, idx], pred_mask[:, idx], ref[:, idx], ref_mask[:, idx])
        distances[idx] = _accumulate(cost)[:, -1, -1]
    return float(distances.mean())


# pose-format's detect_known_pose_format calls a pose "holistic" when it has one of these
# components; pose-evaluation trims and drops legs only for such poses.
_MEDIAPIPE_COMPONENTS = frozenset(
    {"POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS", "POSE_WORLD_LANDMARKS"}
)
# pose_format.utils.generic.pose_hide_legs for holistic poses.
_HOLISTIC_LEG_POINTS = frozenset(
    f"{side}_{name}" for side in ("LEFT", "RIGHT") for name in ("KNEE", "ANKLE", "HEEL", "FOOT_INDEX", "HIP")
)
_HOLISTIC_LEG_COMPONENTS = ("POSE_LANDMARKS", "POSE_WORLD_LANDMARKS")


def _pose_evaluation_trim(mask: np.ndarray, wrists: list[int]) -> slice:
    """spoken-to-signed's ``trim_pose`` as pose-evaluation calls it: from the first frame that
    shows a wrist up to, but not including, the last one. The end is exclusive in the
    reference's slice, so the last frame with a hand is dropped too; kept so numbers match."""
    either_hand = mask[:, wrists].any(axis=1)
    first = int(np.argmax(either_hand))
    last = len(either_hand) - int(np.argmax(either_hand[::-1])) - 1
    return slice(first, last)


def _pose_evaluation_normalize(data: np.ndarray, mask: np.ndarray, shoulders: tuple[int, int], who: str) -> np.ndarray:
    """pose-format's ``Pose.normalize``: one centre (mean shoulder midpoint) and one scale (mean
    shoulder width) over the frames showing both shoulders; masked points are then set to 0.

    pose-format leaves masked values where they were (0 in files it writes); 0 here is that
    value, at the shoulders' centre after normalisation.
    """
    if len(data) == 0:
        return data
    left, right = shoulders
    both = mask[:, left] & mask[:, right]
    if not both.any():
        raise MetricInputError(f"{who} shows both shoulders in no frame after trimming: cannot normalise")
    left_points, right_points = data[both, left], data[both, right]
    scale = float(np.linalg.norm(left_points - right_points, axis=-1).mean())
    if scale < 1e-12:
        raise MetricInputError(f"{who} has zero shoulder width after trimming: cannot normalise")
    normalized = (data - ((left_points + right_points) / 2).mean(axis=0)) / scale
    return np.where(mask[..., None], normalized, 0.0)


def ndtw_mje_pose_evaluation(pred, pred_mask, ref, ref_mask, layout: Layout) -> float:
    """DTW-MJE of one pair as sign-language-processing/pose-evaluation computes it by default.

    Follows pose-evaluation (commit d812923) ``DistanceMetric(name,
    DTWDTAIImplementationDistanceMeasure())``: the measure's defaults (dtaidistance DTW per
    keypoint, mean over keypoints, default distance 0) and the default pose processors
    (``get_standard_pose_processors()``), in their order:

    1. trim (only for layouts pose-format detects as MediaPipe holistic): keep the frames from
       the first that shows either wrist up to, not including, the last one;
    2. normalise each side by its own shoulders (pose-format's ``Pose.normalize``) -- done here
       on the trimmed frames, so the result does not depend on how the inputs were normalised;
    3. drop the legs (holistic: hips, knees, ankles, heels, feet); world landmarks stay, as the
       reference's remove-world step looks for a component named ``WORLD_LANDMARKS``;
    4. pad the shorter side at the end with frames of zeros (observed, not missing);
    5. read masked points as 0 (pose-format files hold 0 there and normalisation leaves them);
    6. per keypoint, ``dtw_ndim.distance``: the square root of the smallest sum of squared
       Euclidean point distances along a warping path; the score is the mean over keypoints.

    Unlike :func:`ndtw_mje_ham2pose` the inner distance is squared (one square root per
    trajectory, not a sum of distances), a missing point is a point at the shoulders' centre,
    and a length difference costs: the padding frames are aligned like any other. A side that
    trimming empties becomes all padding; if both are emptied, the reference crashes inside
    dtaidistance, and this raises :class:`~text2sign.errors.MetricInputError`. Layouts without
    MediaPipe component names (``phoenix-50``) are not trimmed and lose no legs; for them
    pose-format either detects no format or looks for shoulders under other names, so
    pose-evaluation has no number to match there.
    """
    pred, pred_mask, ref, ref_mask = _check_pair(pred, pred_mask, ref, ref_mask)
    _check_layout(layout, pred)
    sides = [(pred, pred_mask, "pred"), (ref, ref_mask, "ref")]
    keep = np.ones(layout.num_joints, dtype=bool)
    if _MEDIAPIPE_COMPONENTS.intersection(layout.component_names):
        try:
            wrists = [
                layout.component(hand).points.index("WRIST") + layout.offsets[hand]
                for hand in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")
            ]
        except (ValueError, InvalidPoseError) as exc:
            raise MetricInputError(f"layout {layout.name} has no wrist in both hand components to trim by") from exc
        trimmed = []
        for data, mask, who in sides:
            span = _pose_evaluation_trim(mask, wrists)
            trimmed.append((data[span], mask[span], who))
        sides = trimmed
        for j, (name, point) in enumerate(layout.joint_names):
            if name in _HOLISTIC_LEG_COMPONENTS and point in _HOLISTIC_LEG_POINTS:
                keep[j] = False
    try:
        shoulders = layout.shoulders
    except InvalidPoseError as exc:
        raise MetricInputError(f"layout {layout.name} has no shoulders to normalise by") from exc
    hyp, gold = (_pose_evaluation_normalize(data, mask, shoulders, who)[:, keep] for data, mask, who in sides)
    frames = max(len(hyp), len(gold))
    if frames == 0:
        raise MetricInputError(
            "pred and ref both show a wrist in at most one frame: pose-evaluation's trim leaves no frame to compare"
        )
    hyp, gold = (np.concatenate([x, np.zeros((frames - len(x), *x.shape[1:]))]) for x in (hyp, gold))
    distances = [
        dtw_ndim.distance(np.ascontiguousarray(hyp[:, j]), np.ascontiguousarray(gold[:, j]), use_c=True)
        for j in range(hyp.shape[1])
    ]
    return float(np.mean(distances))


def channel_errors(pred, pred_mask, ref, ref_mask, layout: Layout, path) -> dict[str, ChannelErrors | None]:
    """MSE and MAE per channel over aligned frame pairs, observed joints only.

    ``path`` is a (P, 2) alignment: :func:`dtw_path` (the one :func:`dtw_mje` used) for the
    time-warped errors, :func:`frame_path` for plain frame-by-frame errors. Channels are
    :data:`CHANNELS`: "all", "body", "hands" (manual), "face" (non-manual). A channel the layout
    lacks is None; a channel with no joint observed on both sides of any pair has count 0
    (its ``.value`` is None). Pool a corpus with :func:`pool_channel_errors`.
    """
    pred, pred_mask, ref, ref_mask = _check_pair(pred, pred_mask, ref, ref_mask)
    _check_layout(layout, pred)
    path = _check_path(path, len(pred), len(ref))
    both = pred_mask[path[:, 0]] & ref_mask[path[:, 1]]  # (P, J)
    diff = pred[path[:, 0]] - ref[path[:, 1]]  # (P, J, D)
    out: dict[str, ChannelErrors | None] = {}
    for name, kinds in CHANNELS.items():
        joints = layout.kind_indices(*kinds)
        if joints.size == 0:
            out[name] = None
            continue
        d = diff[:, joints][both[:, joints]]  # (observed pairs, D)
        out[name] = ChannelErrors(
            mse=Pooled(float((d**2).sum()), int(d.size)),
            mae=Pooled(float(np.abs(d).sum()), int(d.size)),
        )
    return out


# --- hand-face synchronisation --------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """Peak correlation of manual and non-manual motion energy, and the lag (frames) where it peaks.

    ``lag > 0`` means the face moves ``lag`` frames after the hands. Both are None when the
    layout has no hands or no face, or when no lag leaves enough varying, observed frames.
    """

    correlation: float | None
    lag: int | None


def _motion_energy(data: np.ndarray, mask: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(T - 1,) mean speed of the joints observed in both frames t and t + 1; NaN where none are."""
    both = mask[1:, joints] & mask[:-1, joints]  # (T-1, K)
    speed = np.linalg.norm(data[1:, joints] - data[:-1, joints], axis=-1)  # (T-1, K)
    count = both.sum(axis=1)
    total = np.where(both, speed, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return None
    a, b = a[keep] - a[keep].mean(), b[keep] - b[keep].mean()
    norm = np.sqrt((a**2).sum() * (b**2).sum())
    if norm <= 1e-12:
        return None
    return float((a * b).sum() / norm)


def sync_metrics(data, mask, layout: Layout, window: int = 10) -> SyncResult:
    """Hand-face synchronisation of one sequence: the latent-flow design's sync correlation and lag.

    Motion energy per frame is the mean speed of the observed joints of a channel (hands =
    left + right hand, face = face). For every lag in ``[-window, window]`` frames the Pearson
    correlation of hand energy at t and face energy at t + lag is computed over frames where
    both are observed; the result is the highest correlation and its lag (ties go to the
    smaller |lag|). Compare a prediction's result with its reference's: the design scores
    correlation higher-is-better and |lag| lower-is-better.
    """
    data, mask = _check_pose(data, mask, "pose")
    _check_layout(layout, data)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise MetricInputError(f"window must be a non-negative number of frames, got {window!r}")
    hands = layout.kind_indices("left_hand", "right_hand")
    face = layout.kind_indices("face")
    if hands.size == 0 or face.size == 0 or len(data) < 2:
        return SyncResult(None, None)
    manual = _motion_energy(data, mask, hands)
    non_manual = _motion_energy(data, mask, face)
    best: tuple[float, int] | None = None
    for lag in sorted(range(-int(window), int(window) + 1), key=abs):
        if abs(lag) >= len(manual):
            continue
        a = manual[: len(manual) - lag] if lag >= 0 else manual[-lag:]
        b = non_manual[lag:] if lag >= 0 else non_manual[: len(non_manual) + lag]
        r = _pearson(a, b)
        if r is not None and (best is None or r > best[0] + 1e-12):
            best = (r, lag)
    return SyncResult(None, None) if best is None else SyncResult(best[0], best[1])
