"""The torch data layer every trainable model shares: a corpus split as a Dataset, and padded batches.

How a pose becomes features (:func:`pose_features`), the same in training and at inference:

1. shoulder normalization (centre at the shoulder midpoint, unit shoulder width, per sequence);
   then, with ``dims=2``, only x and y are kept (:func:`first_dims`);
2. optional augmentation (training only; it works on the normalized pose, see data/augment.py),
   then an optional deterministic `transform` (e.g. :func:`hands_relative_to_wrist`);
3. ``to_features(kinds)``: joints of the chosen component kinds flattened to ``(T, J' * D)``;
4. standardization with :class:`FeatureStats` (computed on the train split);
5. missing joints set to exactly 0 again, so after standardization "unseen" reads as the
   feature mean and never as a stale coordinate; ``joint_mask`` says which joints were seen.

A batch pads every sequence to the longest one: padded frames are zero in ``features``,
False in ``joint_mask`` and ``frame_mask``; ``lengths`` gives the real frame counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
    signers: list[str] = field(default_factory=list)

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
            self.signers,
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
    signer: str = ""


def kinds_layout(layout: Layout, kinds: tuple[str, ...] | None) -> Layout:
    """The components of `layout` a model with `kinds` needs: those kinds plus the body (for the shoulders)."""
    if not kinds:
        return layout
    keep = [c.name for c in layout.components if c.kind in kinds or c.kind == "body"]
    sub, _ = layout.select(keep, name=f"{layout.name}[{'+'.join(keep)}]")
    return sub


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


HAND_ROOTS = ("WRIST", "BASE")


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


class EpochSeededDataset(Dataset):
    """A dataset whose random draws (augmentation) come from a generator derived from (`seed`,
    epoch, index, how often that index was read in the epoch).

    The training loop's loader calls :meth:`set_epoch` before each epoch, so the draws do not
    depend on worker processes (whose read counts are lost with them) and a resumed run draws
    what an uninterrupted one would.
    """

    def __init__(self, items: Sequence, seed: int):
        self.items = list(items)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        self._draws = [0] * len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def draw_rng(self, index: int) -> np.random.Generator:
        """The generator of this read of item `index`."""
        rng = np.random.default_rng([self.seed, self._epoch, index, self._draws[index]])
        self._draws[index] += 1
        return rng


class PoseTextDataset(EpochSeededDataset):
    """One split of a corpus: standardized pose features with their text, gloss and languages.

    Poses are loaded once, shoulder-normalized and reduced to the joints `kinds` need, then
    kept in memory (FS-Words is a few tens of MB that way).

    * `dims`: keep only the first `dims` coordinates (``dims=2`` drops a depth that is not on
      the x/y scale); `stats` must then describe 2D features.
    * `augment`: runs on every access, with the generator of :meth:`EpochSeededDataset.draw_rng`.
    * `transform`: deterministic, runs after `augment` on train and evaluation items alike;
      `stats` must describe transformed features.
    * `max_frames`: longer sequences are resampled to this many frames (never cropped, so no
      part of the text loses its signing).
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
        dims: int | None = None,
        transform: Callable[[PoseSequence], PoseSequence] | None = None,
    ):
        self.corpus = corpus
        self.split = split
        self.stats = stats
        self.kinds = tuple(kinds) if kinds is not None else stats.kinds
        self.augment = augment
        self.max_frames = max_frames
        self.dims = dims
        self.transform = transform
        super().__init__(items if items is not None else corpus.split(split), seed)
        if corpus.layout_name:
            layout = get_layout(corpus.layout_name)
            joints = layout.kind_indices(*self.kinds).size if self.kinds else layout.num_joints
            expected = joints * (dims or layout.dims)
            if expected != stats.mean.shape[0]:
                raise CorpusError(
                    f"feature statistics have {stats.mean.shape[0]} features, but kinds {self.kinds or 'all'} "
                    f"of {corpus.layout_name} give {expected}"
                )
        self._poses: list[PoseSequence | None] = [None] * len(self.items)

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
            cached = self._poses[index] = first_dims(seq.to_layout(kinds_layout(seq.layout, self.kinds)), self.dims)
        return cached

    def __getitem__(self, index: int) -> PoseItem:
        item = self.items[index]
        seq = self.pose(index)
        if self.augment is not None:
            seq = self.augment(seq, self.draw_rng(index))
        if self.transform is not None:
            seq = self.transform(seq)
        if self.max_frames is not None and seq.num_frames > self.max_frames:
            seq = seq.resample(num_frames=self.max_frames)
        features, joint_mask = pose_features(seq, self.stats, self.kinds, normalized=True)
        return PoseItem(
            features, joint_mask, item.text, item.gloss, item.signed_language, item.spoken_language, item.id, item.signer
        )


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
        signers=[it.signer for it in items],
    )


