"""The torch data layer every trainable model shares: a corpus split as a Dataset, and padded batches.

How a pose becomes features (:func:`pose_features`), the same in training and at inference:

1. shoulder normalization (centre at the shoulder midpoint, unit shoulder width, per sequence);
2. optional augmentation (training only; it works on the normalized pose, see data/augment.py);
3. ``to_features(kinds)``: joints of the chosen component kinds flattened to ``(T, J' * D)``;
4. standardization with :class:`FeatureStats` (computed on the train split);
5. missing joints set to exactly 0 again, so after standardization "unseen" reads as the
   feature mean and never as a stale coordinate; ``joint_mask`` says which joints were seen.

A batch pads every sequence to the longest one: padded frames are zero in ``features``,
False in ``joint_mask`` and ``frame_mask``; ``lengths`` gives the real frame counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.data.corpus import Corpus, CorpusItem
from text2sign.errors import CorpusError, Text2SignError
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

Augment = Callable[[PoseSequence, np.random.Generator], PoseSequence]


@dataclass
class PoseBatch:
    features: torch.Tensor  # (B, T, F) float32, zero at padded frames and missing joints
    joint_mask: torch.Tensor  # (B, T, J') bool, observed joints of the chosen kinds (False on padding)
    frame_mask: torch.Tensor  # (B, T) bool, True on real frames
    lengths: torch.Tensor  # (B,) int64
    texts: list[str]
    glosses: list[str]
    signed_languages: list[str]
    spoken_languages: list[str]
    ids: list[str]

    def to(self, device: torch.device | str) -> PoseBatch:
        return PoseBatch(
            self.features.to(device),
            self.joint_mask.to(device),
            self.frame_mask.to(device),
            self.lengths.to(device),
            self.texts,
            self.glosses,
            self.signed_languages,
            self.spoken_languages,
            self.ids,
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class PoseItem:
    """One example before batching (what :class:`PoseTextDataset` returns)."""

    features: np.ndarray  # (T, F) float32
    joint_mask: np.ndarray  # (T, J') bool
    text: str
    gloss: str = ""
    signed_language: str = ""
    spoken_language: str = ""
    id: str = ""


def kinds_layout(layout: Layout, kinds: tuple[str, ...] | None) -> Layout:
    """The components of `layout` a model with `kinds` needs: those kinds plus the body (for the shoulders)."""
    if not kinds:
        return layout
    keep = [c.name for c in layout.components if c.kind in kinds or c.kind == "body"]
    sub, _ = layout.select(keep, name=f"{layout.name}[{'+'.join(keep)}]")
    return sub


def pose_features(
    seq: PoseSequence, stats: FeatureStats, kinds: tuple[str, ...] | None = None, normalized: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (T, F) float32, joint_mask (T, J') bool)`` as described in the module docstring.

    `normalized`: the pose is already shoulder-normalized (e.g. normalized, then augmented).
    """
    if not normalized:
        seq, _ = normalize_by_shoulders(seq)
    features, joint_mask = seq.to_features(kinds)
    if features.shape[1] != stats.mean.shape[0]:
        raise Text2SignError(
            f"feature statistics describe {stats.mean.shape[0]} features but kinds {kinds or 'all'} "
            f"of layout {seq.layout.name} give {features.shape[1]}"
        )
    feature_mask = np.repeat(joint_mask, seq.layout.dims, axis=1)  # (T, F)
    features = np.where(feature_mask, stats.standardize(features), 0.0).astype(np.float32)
    return features, joint_mask


class PoseTextDataset(Dataset):
    """One split of a corpus: standardized pose features with their text, gloss and languages.

    Poses are loaded once, shoulder-normalized and reduced to the joints `kinds` need, then
    kept in memory (FS-Words is a few tens of MB that way). `augment` runs on every access,
    with a generator derived from (`seed`, index, how often that index was read), so a run is
    reproducible with ``num_workers=0``. Sequences longer than `max_frames` are resampled to
    `max_frames` (never cropped, so no part of the text loses its signing).
    """

    def __init__(
        self,
        corpus: Corpus,
        split: str,
        stats: FeatureStats,
        kinds: tuple[str, ...] | None = None,
        augment: Augment | None = None,
        max_frames: int | None = None,
        seed: int = 0,
        items: Sequence[CorpusItem] | None = None,
    ):
        self.corpus = corpus
        self.split = split
        self.stats = stats
        self.kinds = tuple(kinds) if kinds is not None else stats.kinds
        self.augment = augment
        self.max_frames = max_frames
        self.seed = seed
        self.items = list(items) if items is not None else corpus.split(split)
        if corpus.layout_name:
            layout = get_layout(corpus.layout_name)
            expected = (layout.kind_indices(*self.kinds).size if self.kinds else layout.num_joints) * layout.dims
            if expected != stats.mean.shape[0]:
                raise CorpusError(
                    f"feature statistics have {stats.mean.shape[0]} features, but kinds {self.kinds or 'all'} "
                    f"of {corpus.layout_name} give {expected}"
                )
        self._poses: list[PoseSequence | None] = [None] * len(self.items)
        self._draws = [0] * len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def pose(self, index: int) -> PoseSequence:
        """The shoulder-normalized pose of item `index`, reduced to the needed joints (cached)."""
        cached = self._poses[index]
        if cached is None:
            item = self.items[index]
            seq = self.corpus.load_pose(item)
            try:
                seq, _ = normalize_by_shoulders(seq)
            except Text2SignError as exc:
                raise CorpusError(f"corpus item {item.id}: {exc}") from None
            cached = self._poses[index] = seq.to_layout(kinds_layout(seq.layout, self.kinds))
        return cached

    def __getitem__(self, index: int) -> PoseItem:
        item = self.items[index]
        seq = self.pose(index)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, index, self._draws[index]])
            self._draws[index] += 1
            seq = self.augment(seq, rng)
        if self.max_frames is not None and seq.num_frames > self.max_frames:
            seq = seq.resample(num_frames=self.max_frames)
        features, joint_mask = pose_features(seq, self.stats, self.kinds, normalized=True)
        return PoseItem(features, joint_mask, item.text, item.gloss, item.signed_language, item.spoken_language, item.id)


def collate_pose_batch(items: Sequence[PoseItem]) -> PoseBatch:
    """Pad `items` to the longest sequence; padding is zero / False everywhere."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    lengths = [it.features.shape[0] for it in items]
    batch, longest = len(items), max(lengths)
    num_features, num_joints = items[0].features.shape[1], items[0].joint_mask.shape[1]
    features = np.zeros((batch, longest, num_features), np.float32)
    joint_mask = np.zeros((batch, longest, num_joints), bool)
    frame_mask = np.zeros((batch, longest), bool)
    for b, (it, n) in enumerate(zip(items, lengths)):
        features[b, :n] = it.features
        joint_mask[b, :n] = it.joint_mask
        frame_mask[b, :n] = True
    return PoseBatch(
        features=torch.from_numpy(features),
        joint_mask=torch.from_numpy(joint_mask),
        frame_mask=torch.from_numpy(frame_mask),
        lengths=torch.tensor(lengths, dtype=torch.int64),
        texts=[it.text for it in items],
        glosses=[it.gloss for it in items],
        signed_languages=[it.signed_language for it in items],
        spoken_languages=[it.spoken_language for it in items],
        ids=[it.id for it in items],
    )
