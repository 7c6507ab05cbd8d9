"""Training pairs of a plan-conditioned model: (the plan a pipeline makes for an item's text, the item).

The plan is never the recording itself: for FS-Words it is the lookup's assembly of the same
letter clips at fixed timing, which is exactly what the model will be given at inference. Each
pair is measured once, when the dataset is built:

* the plan's and the recording's standardized features (x and y of the chosen kinds, shoulder-
  normalized, :func:`plan_features`) and which of them are observed;
* the output frames each plan frame lasts in the recording (:func:`plan_durations`): a DTW
  alignment of the two (dtaidistance) on body and hands, each recording frame shared equally by
  the plan frames it is matched with, smoothed so that the pace changes the way a signer's does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.errors import InvalidPoseError
from text2sign.pose.features import first_dims, pose_features
from text2sign.pose.normalize import FeatureStats, compute_feature_stats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

ALIGNMENT_KINDS = ("body", "left_hand", "right_hand")
SMOOTHING_FRAMES = 5  # moving average over plan frames of the measured durations
MIN_DURATION = 0.1


def plan_features(
    seq: PoseSequence, stats: FeatureStats, kinds: Sequence[str], dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (T, F) float32, observed (T, F) bool)``: shoulder-normalized, first `dims`
    coordinates of `kinds`, standardized by `stats`, zero where not observed."""
    features, joint_mask = pose_features(seq, stats, tuple(kinds), dims=dims)
    return features, np.repeat(joint_mask, dims, axis=1)


def feature_stats(sequences, kinds: Sequence[str], dims: int, min_std: float = 0.01) -> FeatureStats:
    """Per-feature mean and std of shoulder-normalized poses, as :func:`plan_features` reads them."""

    def reduced():
        for seq in sequences:
            normalized, _ = normalize_by_shoulders(seq)
            yield first_dims(normalized, dims)

    return compute_feature_stats(reduced(), tuple(kinds), normalize=False, min_std=min_std)


def alignment_features(seq: PoseSequence) -> np.ndarray:
    """Shoulder-normalized x, y of body and hands, ``(T, F)`` float64 (0 where not observed): what
    the alignment compares."""
    normalized, _ = normalize_by_shoulders(seq)
    present = {c.kind for c in normalized.layout.components}
    index = normalized.layout.kind_indices(*[k for k in ALIGNMENT_KINDS if k in present])
    data = np.where(normalized.mask[:, index, None], normalized.data[:, index, :2], 0.0)
    return data.reshape(len(data), -1).astype(np.float64)


def plan_durations(plan: PoseSequence, recording: PoseSequence, smoothing: int = SMOOTHING_FRAMES) -> np.ndarray:
    """Output frames each plan frame lasts in `recording` ``(Tp,)``, summing to the recording's length."""
    from dtaidistance import dtw_ndim

    path = dtw_ndim.warping_path(alignment_features(plan), alignment_features(recording))
    matches = np.zeros(recording.num_frames)
    for _, j in path:
        matches[j] += 1
    durations = np.zeros(plan.num_frames)
    for i, j in path:
        durations[i] += 1.0 / matches[j]
    if smoothing > 1 and plan.num_frames > 1:
        pad = smoothing // 2
        durations = np.convolve(np.pad(durations, pad, mode="edge"), np.ones(smoothing) / smoothing, mode="valid")
        durations *= recording.num_frames / durations.sum()
    return np.maximum(durations, MIN_DURATION).astype(np.float32)


@dataclass
class PlanPair:
    plan: np.ndarray  # (Tp, F) float32
    plan_observed: np.ndarray  # (Tp, F) bool
    durations: np.ndarray  # (Tp,) float32
    target: np.ndarray  # (Ty, F) float32
    target_observed: np.ndarray  # (Ty, F) bool
    id: str = ""


@dataclass
class PlanBatch:
    plan: torch.Tensor  # (B, Tp, F)
    plan_observed: torch.Tensor  # (B, Tp, F) bool
    plan_mask: torch.Tensor  # (B, Tp) bool
    durations: torch.Tensor  # (B, Tp) float32, 0 on padding
    log_durations: torch.Tensor  # (B, Tp) standardized, 0 on padding
    target: torch.Tensor  # (B, Ty, F)
    target_observed: torch.Tensor  # (B, Ty, F) bool
    target_mask: torch.Tensor  # (B, Ty) bool
    ids: list[str]

    def to(self, device) -> PlanBatch:
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.__dict__.items()}
        return PlanBatch(**moved)

    def __len__(self) -> int:
        return len(self.ids)


class PlanPairs(Dataset):
    """(plan, recording) pairs of `items`, measured once (see the module docstring)."""

    def __init__(
        self,
        items: Sequence,
        recording: Callable[[object], PoseSequence],
        plan_for: Callable[[object], PoseSequence],
        stats: FeatureStats,
        kinds: Sequence[str],
        dims: int,
        max_frames: int | None = None,
        on_item: Callable[[], None] | None = None,
    ):
        self.pairs: list[PlanPair] = []
        for item in items:
            target_seq = recording(item)
            if max_frames is not None and target_seq.num_frames > max_frames:
                continue
            plan_seq = plan_for(item)
            try:
                plan, plan_observed = plan_features(plan_seq, stats, kinds, dims)
                target, target_observed = plan_features(target_seq, stats, kinds, dims)
            except InvalidPoseError:
                continue  # no shoulders to normalize by: nothing a model could place
            durations = plan_durations(plan_seq, target_seq)
            self.pairs.append(
                PlanPair(plan, plan_observed, durations, target, target_observed, getattr(item, "id", ""))
            )
            if on_item is not None:
                on_item()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> PlanPair:
        return self.pairs[index]

    def log_duration_stats(self) -> tuple[float, float]:
        """Mean and std of the log-durations of every plan frame: what the flow standardizes by."""
        values = np.log(np.concatenate([p.durations for p in self.pairs]))
        return float(values.mean()), float(max(values.std(), 1e-3))


def collate_plan_pairs(pairs: Sequence[PlanPair], log_duration_mean: float, log_duration_std: float) -> PlanBatch:
    """Pad plans and recordings separately (zero / False on padding)."""
    if not pairs:
        raise ValueError("cannot collate an empty batch")
    b, f = len(pairs), pairs[0].plan.shape[1]
    tp, ty = max(len(p.plan) for p in pairs), max(len(p.target) for p in pairs)
    plan = np.zeros((b, tp, f), np.float32)
    plan_observed = np.zeros((b, tp, f), bool)
    plan_mask = np.zeros((b, tp), bool)
    durations = np.zeros((b, tp), np.float32)
    log_durations = np.zeros((b, tp), np.float32)
    target = np.zeros((b, ty, f), np.float32)
    target_observed = np.zeros((b, ty, f), bool)
    target_mask = np.zeros((b, ty), bool)
    for i, p in enumerate(pairs):
        n, m = len(p.plan), len(p.target)
        plan[i, :n], plan_observed[i, :n], plan_mask[i, :n] = p.plan, p.plan_observed, True
        durations[i, :n] = p.durations
        log_durations[i, :n] = (np.log(p.durations) - log_duration_mean) / log_duration_std
        target[i, :m], target_observed[i, :m], target_mask[i, :m] = p.target, p.target_observed, True
    return PlanBatch(
        *(
            torch.from_numpy(x)
            for x in (plan, plan_observed, plan_mask, durations, log_durations, target, target_observed, target_mask)
        ),
        ids=[p.id for p in pairs],
    )
