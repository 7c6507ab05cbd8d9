"""Normalization: centre and scale a pose by its shoulders, and corpus feature statistics.

Shoulder normalization uses one centre and one scale per sequence (averaged over the frames
where both shoulders are seen), so global motion inside a sequence is preserved and the
transform is exactly invertible. Feature statistics (mean/std per feature over observed frames)
are saved as JSON and travel with every corpus and checkpoint that uses them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2sign.errors import InvalidPoseError
from text2sign.fileio import write_text_atomic
from text2sign.pose.sequence import PoseSequence


@dataclass(frozen=True)
class ShoulderNormalization:
    center: np.ndarray  # (D,)
    scale: float

    def apply(self, seq: PoseSequence) -> PoseSequence:
        """Shoulder-normalized coordinates: no longer pixels, so without a canvas."""
        return PoseSequence((seq.data - self.center) / self.scale, seq.mask, seq.fps, seq.layout, seq.confidence)

    def invert(self, seq: PoseSequence, canvas: tuple[int, int] | None = None) -> PoseSequence:
        """Back to the frame this normalization came from, drawn on `canvas`."""
        return PoseSequence(seq.data * self.scale + self.center, seq.mask, seq.fps, seq.layout, seq.confidence, canvas)

    def to_dict(self) -> dict:
        return {"center": [float(v) for v in self.center], "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, d: dict) -> ShoulderNormalization:
        return cls(np.asarray(d["center"], dtype=np.float32), float(d["scale"]))


def shoulder_normalization(seq: PoseSequence) -> ShoulderNormalization:
    """Centre = mean shoulder midpoint, scale = mean shoulder width, over frames with both shoulders."""
    left, right = seq.layout.shoulders
    both = seq.mask[:, left] & seq.mask[:, right]
    if not both.any():
        raise InvalidPoseError("cannot normalize: no frame shows both shoulders")
    l, r = seq.data[both, left], seq.data[both, right]  # (T', D)
    center = ((l + r) / 2).mean(axis=0)
    scale = float(np.linalg.norm(l - r, axis=-1).mean())
    if not np.isfinite(scale) or scale < 1e-8:
        raise InvalidPoseError("cannot normalize: shoulders coincide (zero shoulder width)")
    return ShoulderNormalization(center.astype(np.float32), scale)


def normalize_by_shoulders(seq: PoseSequence) -> tuple[PoseSequence, ShoulderNormalization]:
    info = shoulder_normalization(seq)
    return info.apply(seq), info


def typical_frame(sequences: Iterable[PoseSequence]) -> tuple[ShoulderNormalization, tuple[int, int] | None]:
    """Where a corpus's signer usually is: the median shoulder centre and width of `sequences`
    (those never showing both shoulders are skipped) and their median canvas (None when none
    has one). A model that makes shoulder-normalized poses inverts this to look like its data."""
    centers, scales, canvases = [], [], []
    for seq in sequences:
        try:
            info = shoulder_normalization(seq)
        except InvalidPoseError:
            continue
        centers.append(info.center)
        scales.append(info.scale)
        if seq.canvas is not None:
            canvases.append(seq.canvas)
    if not centers:
        raise InvalidPoseError("no sequence shows both shoulders: the corpus has no typical frame")
    canvas = None
    if canvases:
        width, height = np.rint(np.median(np.asarray(canvases, dtype=np.float64), axis=0)).astype(int).tolist()
        canvas = (width, height)
    return ShoulderNormalization(np.median(centers, axis=0).astype(np.float32), float(np.median(scales))), canvas


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature mean and std of ``(T, F)`` features; `kinds` and `layout` say which features."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    layout: str
    kinds: tuple[str, ...] | None = None
    frames: int = 0

    def standardize(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std

    def destandardize(self, features: np.ndarray) -> np.ndarray:
        return features * self.std + self.mean

    def to_dict(self) -> dict:
        return {
            "layout": self.layout,
            "kinds": list(self.kinds) if self.kinds else None,
            "frames": self.frames,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, d: dict) -> FeatureStats:
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float32),
            std=np.asarray(d["std"], dtype=np.float32),
            layout=d["layout"],
            kinds=tuple(d["kinds"]) if d.get("kinds") else None,
            frames=int(d.get("frames", 0)),
        )

    def save(self, path: str | Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        return cls.from_dict(json.loads(Path(path).read_text()))


def compute_feature_stats(
    sequences, kinds: tuple[str, ...] | None = None, normalize: bool = True, min_std: float = 1e-4
) -> FeatureStats:
    """Mean/std of each feature over observed joints only (masked joints never count).

    Accumulates sums in float64 so a large corpus streams through in one pass.
    """
    total = sq_total = count = None
    frames = 0
    layout_name = None
    for seq in sequences:
        if normalize:
            seq, _ = normalize_by_shoulders(seq)
        features, joint_mask = seq.to_features(kinds)
        dims = seq.layout.dims
        feature_mask = np.repeat(joint_mask, dims, axis=1)  # (T, F)
        if total is None:
            total = np.zeros(features.shape[1])
            sq_total = np.zeros(features.shape[1])
            count = np.zeros(features.shape[1])
            layout_name = seq.layout.name
        values = np.where(feature_mask, features, 0.0).astype(np.float64)
        total += values.sum(axis=0)
        sq_total += (values**2).sum(axis=0)
        count += feature_mask.sum(axis=0)
        frames += seq.num_frames
    if total is None:
        raise InvalidPoseError("cannot compute statistics of zero sequences")
    safe = np.maximum(count, 1)
    mean = total / safe
    std = np.sqrt(np.maximum(sq_total / safe - mean**2, 0.0))
    std = np.where(count > 1, np.maximum(std, min_std), 1.0)
    return FeatureStats(mean.astype(np.float32), std.astype(np.float32), layout_name, kinds, frames)
