"""The torch data layer every trainable model shares: a corpus split as a Dataset, and padded batches.

An item's features are :func:`text2sign.pose.features.pose_features` of its pose (the same as at
inference), after an optional augmentation (training only) and transform.

A batch pads every sequence to the longest one: padded frames are zero in ``features``,
False in ``joint_mask`` and ``frame_mask``; ``lengths`` gives the real frame counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from text2sign.data.corpus import Corpus, CorpusItem
from text2sign.data.selection import has_model_input
from text2sign.errors import ConfigError, CorpusError, Text2SignError
from text2sign.pose.features import (
    MIN_FEATURE_STD,
    first_dims,
    hands_relative_to_wrist,
    kinds_layout,
    pose_features,
    select_feature_stats,
)
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats, compute_feature_stats, normalize_by_shoulders
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
            features,
            joint_mask,
            item.text,
            item.gloss,
            item.signed_language,
            item.spoken_language,
            item.id,
            item.signer,
        )


def transformed_feature_stats(
    dataset: PoseTextDataset, transform: Callable[[PoseSequence], PoseSequence], kinds
) -> FeatureStats:
    """Statistics of the features of `kinds` of `dataset`'s poses after `transform` (e.g. hands
    as wrist offsets, which the corpus statistics of absolute coordinates do not describe), with
    the std floored at :data:`~text2sign.pose.features.MIN_FEATURE_STD`."""
    poses = (transform(dataset.pose(i)) for i in range(len(dataset)))
    return compute_feature_stats(poses, kinds, normalize=False, min_std=MIN_FEATURE_STD)


@dataclass
class PoseSplits:
    """A pose corpus's train and dev datasets of one feature set (:func:`pose_splits`)."""

    corpus: Corpus
    items: list
    dev_items: list
    train: PoseTextDataset
    dev: PoseTextDataset | None
    stats: FeatureStats
    fps: float
    layout: Layout


def pose_splits(
    data: Any, kinds, hand_relative: bool, seed: int, stats: FeatureStats | None = None, input_mode: str | None = None
) -> PoseSplits:
    """Train and dev datasets of `kinds` for the ``data:`` section `data` (a PoseDataConfig),
    hands as wrist offsets with `hand_relative`; statistics computed on train unless given (a
    latent stage reuses its autoencoder's, since its decoder speaks them). `input_mode` (text,
    gloss, both): leave out items without that input (an autoencoder learns from every pose; a
    text-to-pose model cannot)."""
    corpus = Corpus.load(data.corpus)
    if not corpus.layout_name:
        raise CorpusError(f"{corpus.root} does not name its skeleton layout in stats.json")
    if data.kinds is not None and list(data.kinds) != list(kinds):
        raise ConfigError(
            f"data.kinds {data.kinds} and the autoencoder's kinds {list(kinds)} differ: set model.kinds only"
        )
    layout = get_layout(corpus.layout_name)
    kinds = tuple(kinds)

    def usable(item) -> bool:
        return input_mode is None or has_model_input(item, input_mode)

    items = [i for i in corpus.split(data.train_split) if usable(i)]
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    if not items:
        raise CorpusError(
            f"{corpus.root} has no {data.train_split} items{f' with {input_mode}' if input_mode else ''} for the "
            "chosen languages"
        )
    transform = hands_relative_to_wrist if hand_relative else None
    if stats is None:
        corpus_stats = corpus.feature_stats()
        if corpus_stats is None:
            raise CorpusError(f"{corpus.root} has no feature statistics in stats.json")
        stats = select_feature_stats(corpus_stats, layout, kinds)
        if transform is not None:
            raw = PoseTextDataset(corpus, data.train_split, stats, kinds, max_frames=data.max_frames, items=items)
            stats = transformed_feature_stats(raw, transform, kinds)
    train = PoseTextDataset(
        corpus, data.train_split, stats, kinds, max_frames=data.max_frames, seed=seed, items=items, transform=transform
    )
    languages = {i.signed_language for i in items}
    dev_items = [i for i in corpus.split(data.dev_split) if i.signed_language in languages and usable(i)]
    dev = None
    if dev_items:
        dev = PoseTextDataset(
            corpus, data.dev_split, stats, kinds, max_frames=data.max_frames, items=dev_items, transform=transform
        )
    return PoseSplits(corpus, items, dev_items, train, dev, stats, float(items[0].fps), layout)


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
