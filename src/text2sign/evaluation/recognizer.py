"""Back-translation recognizer: read text back from poses, to score what generated signing says.

A :class:`Recognizer` wraps :class:`text2sign.models.recognizer.PoseRecognizer` (temporal
convolutions + CTC over the characters of the item text) with everything needed to use it on any
pose: the vocabulary, the signed languages it knows, the component kinds and joints it reads,
the coordinates and frame rate (all in its :class:`RecognizerConfig`), and the feature statistics
of its training data.

A recognizer is the ``recognizer`` model family (``families/recognizer.py``): it is trained by
the one training loop and saved as a standard checkpoint directory (:mod:`text2sign.checkpoints`,
``family: recognizer``): ``config.json`` (the model section is a :class:`RecognizerConfig`; the
metrics hold its scores, the metadata how it was trained), ``model.safetensors`` and
``normalization.json``. ``Recognizer.from_pretrained()`` with no path loads the FS-Words
recognizer shipped inside the package, so evaluation works offline out of the box.

Inference: a pose is converted to the recognizer's joints by name (``PoseSequence.to_layout``),
resampled to its fps, shoulder-normalized, reduced to x and y (``dims=2``: MediaPipe's depth is
not on their scale), hand joints made offsets from their wrist (``hands_relative_to_wrist``:
handshape is what spells a letter) and standardized (:func:`text2sign.pose.features.pose_features`);
missing joints are zero features plus a False flag in the joint mask the network also reads.
Decoding is greedy CTC (argmax per frame, merge repeats, drop blanks).

Two corruptions show that the recognizer reads the signing rather than guessing from
duration or language: :func:`time_shuffled` (frames permuted) and :func:`letter_swapped`
(the word re-spelled from its own letters in reverse order, reference text unchanged).

Training is :mod:`text2sign.training.recognizer` (``text2sign train-recognizer``) or the loop
on ``configs/fs-words-recognizer.yaml``; :func:`dev_cer_validation` is how both recognizer
families validate a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from text2sign.checkpoints import CHECKPOINT_OUTPUT, CONFIG_NAME, Checkpoint, load_checkpoint, save_checkpoint
from text2sign.data.corpus import SPLITS, Corpus, CorpusItem
from text2sign.data.torch_data import PoseItem, collate_pose_batch
from text2sign.errors import CheckpointError, CorpusError, InvalidPoseError, LanguageError, Text2SignError, TextError
from text2sign.models.recognizer import PoseRecognizer, RecognizerConfig
from text2sign.outputs import check_output_dir
from text2sign.pose.features import first_dims, hands_relative_to_wrist, pose_features
from text2sign.pose.normalize import FeatureStats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

FAMILY = "recognizer"
OLD_FORMAT = "text2sign-recognizer"  # the recognizer's own checkpoint format before it became a family
SHIPPED_NAME = "fs-words-recognizer"
CORRUPTIONS = ("time-shuffle", "letter-swap")


def shipped_asset_dir(name: str) -> Path:
    """Where checkpoint `name` that ships inside the package lives."""
    return Path(str(resources.files("text2sign.evaluation").joinpath("assets", name)))


def shipped_recognizer_dir() -> Path:
    """Where the FS-Words recognizer that ships with the package lives."""
    return shipped_asset_dir(SHIPPED_NAME)


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict:
    """``{cer, wer, n}``: corpus character and word error rates in percent (evaluation.metrics,
    so the same normalisation as every other report) and the number of items."""
    from text2sign.evaluation import metrics

    return {
        "cer": metrics.cer(hypotheses, references),
        "wer": metrics.wer(hypotheses, references),
        "n": len(references),
    }


def greedy_decode(logits: torch.Tensor, mask: torch.Tensor, vocab: Sequence[str]) -> list[str]:
    """Best path of CTC logits ``(B, T, V)``: argmax per real frame, merge repeats, drop blanks (0)."""
    best = logits.argmax(dim=-1).cpu().numpy()  # (B, T)
    lengths = mask.sum(dim=1).cpu().numpy()
    texts = []
    for path, n in zip(best, lengths):
        path = path[:n]
        keep = np.ones(len(path), bool)
        keep[1:] = path[1:] != path[:-1]
        texts.append("".join(vocab[i - 1] for i in path[keep] if i != 0))
    return texts


# --- corruptions that a good recognizer must not read as the reference ------------------------


def time_shuffled(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The same frames in a random order."""
    order = rng.permutation(seq.num_frames)
    conf = None if seq.confidence is None else seq.confidence[order]
    return PoseSequence(seq.data[order], seq.mask[order], seq.fps, seq.layout, conf)


def letter_swapped(text: str, signed_language: str, lexicon, rng: np.random.Generator) -> PoseSequence:
    """`text` fingerspelled with its letters in reverse order (rotated once for palindromes),
    composed like an FS-Words reference (random 6-11 frames per letter, 3-6 frame blends).

    `lexicon` is a :class:`text2sign.data.lexicon.Lexicon` with fingerspelling clips.
    """
    from text2sign.data.fingerspelling import FSWordsConfig
    from text2sign.pose.concatenate import compose

    keys, _ = lexicon.spell(text, signed_language)
    if not keys:
        raise TextError(f"cannot fingerspell {text!r} in {signed_language}")
    order = keys[::-1]
    if order == keys and len(set(keys)) > 1:
        order = keys[1:] + keys[:1]
    clips = lexicon.clips(signed_language)
    (core_lo, core_hi), (blend_lo, blend_hi) = FSWordsConfig().letter_frames, FSWordsConfig().transition_frames
    return compose(
        [clips[k] for k in order],
        core_frames=[int(rng.integers(core_lo, core_hi + 1)) for _ in order],
        transition_frames=[int(rng.integers(blend_lo, blend_hi + 1)) for _ in order[1:]],
    )


# --- the recognizers ----------------------------------------------------------------------


class BaseRecognizer:
    """What the pose and the video recognizer share: a CTC network with the signed languages it
    knows, its checkpoint, batched greedy reading of prepared items, and its CER on a corpus
    split with the two controls.

    A subclass names its checkpoint family and shipped checkpoint, how messages call it and its
    inputs, its corpus type, how items are prepared (:meth:`_item`) and batched (`collate`), how
    a batch becomes CTC logits (:meth:`_logits`) and how a split's references are corrupted
    (:meth:`_references`). `stats` is the standardization of its features (None: it needs none).
    """

    family: str
    shipped_name: str
    kind: str
    inputs_name: str
    corpus_type: type
    collate: Callable
    batch_size: int  # items per forward pass where a call names none
    stats: FeatureStats | None = None

    def __init__(self, model, metadata: dict | None = None, metrics: dict | None = None):
        config = model.config
        self.model = model.eval()
        self.config = config
        self.vocab = list(config.vocab)
        self.languages = list(config.languages)
        self.fps = float(config.fps)
        self.metadata = dict(metadata or {})
        self.metrics = dict(metrics or {})
        self._language_index = {lang: i for i, lang in enumerate(self.languages)}

    # --- loading and saving ------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None):
        """Load a checkpoint of this recognizer, or a training run's best one (None: the FS-Words
        one shipped with text2sign)."""
        root = shipped_asset_dir(cls.shipped_name) if path is None else Path(path)
        if not root.exists():
            raise CheckpointError(f"{cls.kind} checkpoint not found: {root}")
        return cls.from_checkpoint(cls._load_checkpoint(root))

    @classmethod
    def _load_checkpoint(cls, root: Path) -> Checkpoint:
        return load_checkpoint(root)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint):
        """The recognizer of a loaded checkpoint (:func:`text2sign.checkpoints.load_checkpoint`)."""
        if checkpoint.family.name != cls.family:
            raise CheckpointError(f"{checkpoint.path} holds a {checkpoint.family.name} model, not a {cls.kind}")
        return cls._from_family_checkpoint(checkpoint)

    @classmethod
    def _from_family_checkpoint(cls, checkpoint: Checkpoint):
        return cls(checkpoint.model, checkpoint.metadata, checkpoint.meta.metrics)

    def save(self, path: str | Path, experiment: dict | None = None, step: int | None = None) -> Path:
        """Write the checkpoint directory atomically (a temporary directory renamed into place).

        `experiment` (the training config, as plain data) and `step` are kept for the record."""
        root = check_checkpoint_target(path)
        return save_checkpoint(
            root,
            self.family,
            self.model,
            self.config,
            feature_stats=self.stats,
            experiment=experiment,
            metadata=self.metadata,
            metrics=self.metrics,
            step=step,
        )

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # --- inference ---------------------------------------------------------------------------

    def check_languages(self, signed_languages: Sequence[str]) -> None:
        unknown = sorted({s for s in signed_languages if s not in self._language_index})
        if unknown:
            raise LanguageError(
                f"the {self.kind} does not know signed language {', '.join(unknown)}; "
                f"it knows: {', '.join(self.languages)}"
            )

    def knows(self, signed_language: str) -> bool:
        return signed_language in self._language_index

    def _item(self, reference, signed_language: str):
        """One input prepared as an unlabelled item of the batches `collate` makes."""
        raise NotImplementedError

    def _logits(self, batch, language: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's CTC logits ``(B, T', V)`` and their frame mask ``(B, T')`` for a batch."""
        raise NotImplementedError

    def _languages(self, references: Sequence, signed_languages: Sequence[str] | str) -> list[str]:
        """One known signed language per reference (a single one is given to all)."""
        if isinstance(signed_languages, str):
            signed_languages = [signed_languages] * len(references)
        if len(signed_languages) != len(references):
            raise ValueError(f"{len(references)} {self.inputs_name} but {len(signed_languages)} signed languages")
        self.check_languages(signed_languages)
        return list(signed_languages)

    def _items(self, references: Sequence, signed_languages: Sequence[str] | str) -> list:
        languages = self._languages(references, signed_languages)
        return [self._item(reference, lang) for reference, lang in zip(references, languages)]

    @torch.no_grad()
    def _run(self, items: Sequence, fn: Callable, batch_size: int) -> list:
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        outputs = []
        try:
            for start in range(0, len(items), batch_size):
                batch = self.collate(items[start : start + batch_size]).to(device)
                language = torch.tensor([self._language_index[s] for s in batch.signed_languages], device=device)
                outputs.extend(fn(batch, language))
        finally:
            self.model.train(was_training)
        return outputs

    def _decode(self, items: Sequence, batch_size: int) -> list[str]:
        def decode(batch, language):
            return greedy_decode(*self._logits(batch, language), self.vocab)

        return self._run(items, decode, batch_size)

    def _stacked(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, hidden)`` float32 of per-item feature vectors, also when there are none."""
        if not features:
            return np.zeros((0, self.model.embedding_dim), np.float32)
        return np.stack(features).astype(np.float32)

    def evaluate_split(self, corpus, split: str, corruption: str | None = None, seed: int = 0) -> dict:
        """``{cer, wer, n}`` of this recognizer on a corpus split's references.

        `corpus`: a `corpus_type` corpus or its directory. `corruption`: None (the real
        references: the recognizer's ceiling), "time-shuffle" (frames permuted) or "letter-swap"
        (words re-spelled in reverse order; fingerspelled corpora only). References are always
        the items' original texts.
        """
        corpus = corpus if isinstance(corpus, self.corpus_type) else self.corpus_type.load(corpus)
        self.check_corpus(corpus)
        if split not in SPLITS:
            raise CorpusError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        items = corpus.split(split)
        if not items:
            raise CorpusError(f"{corpus.root} has no {split} items")
        signed_languages = [i.signed_language for i in items]
        self.check_languages(signed_languages)
        references = self._references(corpus, items, corruption, seed)
        hypotheses = self._decode(self._items(references, signed_languages), self.batch_size)
        return error_rates([i.text for i in items], hypotheses)

    def check_corpus(self, corpus) -> None:
        """Refuse, in one line, a corpus this recognizer would read but misjudge."""

    def _references(self, corpus, items: Sequence, corruption: str | None, seed: int) -> list:
        """The items' references as :meth:`recognize` reads them, optionally corrupted."""
        raise NotImplementedError

    def evaluate_items(self, items: Sequence) -> dict:
        """``{cer, wer, n}`` on already prepared items (e.g. a training run's dev set)."""
        hypotheses = self._decode(items, self.batch_size)
        return error_rates([i.text for i in items], hypotheses)


class Recognizer(BaseRecognizer):
    """A trained PoseRecognizer with what it needs to read any pose (see the module docstring).

    `stats` is the standardization of its features; `metrics` and `metadata` are its checkpoint's
    (its scores; how it was trained, under ``"training"``).
    """

    family = FAMILY
    shipped_name = SHIPPED_NAME
    kind = "recognizer"
    inputs_name = "poses"
    corpus_type = Corpus
    collate = staticmethod(collate_pose_batch)
    batch_size = 32

    def __init__(
        self, model: PoseRecognizer, stats: FeatureStats, metadata: dict | None = None, metrics: dict | None = None
    ):
        config: RecognizerConfig = model.config
        if stats.mean.shape[0] != config.num_features:
            raise CheckpointError(
                f"the feature statistics have {stats.mean.shape[0]} features, the recognizer reads "
                f"{config.num_features}"
            )
        super().__init__(model, metadata, metrics)
        self.kinds = tuple(config.kinds)
        self.layout = config.joints
        self.dims = config.dims
        self.hand_relative = config.hand_relative
        self.stats = stats

    @property
    def training(self) -> dict:
        """How it was trained (informative only): config, corpus, best epoch, history."""
        return self.metadata.get("training", {})

    # --- loading -----------------------------------------------------------------------------

    @classmethod
    def _load_checkpoint(cls, root: Path) -> Checkpoint:
        try:
            return load_checkpoint(root)
        except CheckpointError:
            if _is_old_format(root):
                raise CheckpointError(
                    f"{root} is a recognizer in the old '{OLD_FORMAT}' format, which this text2sign no longer reads: "
                    "train it again with text2sign train-recognizer (or text2sign train "
                    "configs/fs-words-recognizer.yaml)"
                ) from None
            raise

    @classmethod
    def _from_family_checkpoint(cls, checkpoint: Checkpoint) -> Recognizer:
        if checkpoint.feature_stats is None:
            raise CheckpointError(f"{checkpoint.path} is incomplete: a recognizer needs its normalization.json")
        try:
            return cls(checkpoint.model, checkpoint.feature_stats, checkpoint.metadata, checkpoint.meta.metrics)
        except CheckpointError as exc:
            raise CheckpointError(f"{checkpoint.path}: {exc}") from None

    # --- inference ---------------------------------------------------------------------------

    def prepare(self, seq: PoseSequence) -> tuple[np.ndarray, np.ndarray]:
        """Standardized features and joint mask of one pose, in the recognizer's joints and fps."""
        seq = seq.to_layout(self.layout)
        if abs(seq.fps - self.fps) > 1e-3:
            seq = seq.resample(fps=self.fps)
        seq = first_dims(normalize_by_shoulders(seq)[0], self.dims)
        if self.hand_relative:
            seq = hands_relative_to_wrist(seq)
        return pose_features(seq, self.stats, self.kinds, normalized=True)

    def _item(self, seq: PoseSequence, signed_language: str) -> PoseItem:
        features, joint_mask = self.prepare(seq)
        return PoseItem(features, joint_mask, "", signed_language=signed_language)

    def _logits(self, batch, language: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(batch.features, batch.joint_mask, batch.frame_mask, language)

    def recognize(
        self, poses: Sequence[PoseSequence], signed_languages: Sequence[str] | str, batch_size: int = 32
    ) -> list[str]:
        """The text read from each pose (greedy CTC). `signed_languages`: one per pose, or one for all.
        A pose that cannot be put in the recognizer's frame (no frame shows both shoulders) reads
        as nothing: a generated sign can be that bad, and scoring it must not stop an evaluation."""
        items, readable = [], []
        for index, (seq, language) in enumerate(zip(poses, self._languages(poses, signed_languages))):
            try:
                items.append(self._item(seq, language))
            except InvalidPoseError:
                continue
            readable.append(index)
        texts = [""] * len(poses)
        for index, text in zip(readable, self._decode(items, batch_size) if items else []):
            texts[index] = text
        return texts

    def embed(
        self, poses: Sequence[PoseSequence], signed_languages: Sequence[str] | str, batch_size: int = 32
    ) -> np.ndarray:
        """``(N, C)`` float32 encoder states averaged over frames, for Fréchet distance and diversity."""

        def pool(batch, language):
            return list(self.model.pooled(batch.features, batch.joint_mask, batch.frame_mask, language).cpu().numpy())

        return self._stacked(self._run(self._items(poses, signed_languages), pool, batch_size))

    def _references(
        self, corpus: Corpus, items: Sequence[CorpusItem], corruption: str | None, seed: int
    ) -> list[PoseSequence]:
        return corrupted_poses(corpus, items, corruption, seed)


def corrupted_references(
    items: Sequence,
    corruption: str | None,
    seed: int,
    load: Callable,
    time_shuffle: Callable,
    letter_swap_layout: str | None = None,
    draw: Callable | None = None,
) -> list:
    """The items' references, optionally corrupted, for a pose or a video recognizer.

    `load(item)` is an item's reference; `time_shuffle(reference, rng)` permutes its frames;
    letter-swapped words are composed from the fingerspelling clips of `letter_swap_layout` (None:
    the default layout) and turned into references by `draw(item, pose)` (None: kept as poses).
    """
    if corruption is not None and corruption not in CORRUPTIONS:
        raise Text2SignError(f"unknown corruption {corruption!r}; choose from {', '.join(CORRUPTIONS)}")
    rng = np.random.default_rng(seed)
    if corruption == "letter-swap":
        from text2sign.data.lexicon import DEFAULT_LAYOUT, Lexicon

        lexicon = Lexicon.fingerspelling(letter_swap_layout or DEFAULT_LAYOUT)
        references = []
        for item in items:
            pose = letter_swapped(item.text, item.signed_language, lexicon, rng)
            references.append(pose if draw is None else draw(item, pose))
        return references
    references = [load(item) for item in items]
    if corruption == "time-shuffle":
        references = [time_shuffle(r, rng) for r in references]
    return references


def corrupted_poses(
    corpus: Corpus, items: Sequence[CorpusItem], corruption: str | None, seed: int = 0
) -> list[PoseSequence]:
    """The items' reference poses, optionally corrupted (see :func:`time_shuffled`, :func:`letter_swapped`)."""
    return corrupted_references(items, corruption, seed, corpus.load_pose, time_shuffled, corpus.layout_name)


# --- checkpoint directories ---------------------------------------------------------------------


def check_checkpoint_target(path: str | Path, inputs: Sequence[str | Path | None] = ()) -> Path:
    """Fail early (before any training) if `path` cannot become a checkpoint directory: it must be
    new, empty or a checkpoint (replaced), and apart from `inputs`."""
    return check_output_dir(path, CHECKPOINT_OUTPUT, inputs, error=CheckpointError)


def _is_old_format(root: Path) -> bool:
    try:
        return json.loads((root / CONFIG_NAME).read_text(encoding="utf-8")).get("format") == OLD_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# --- validation of a recognizer run -------------------------------------------------------------


def dev_cer_validation(dev_set, reader: Callable, keep_items: bool = True):
    """Validation: greedy CTC reading of the dev items by `reader(model)` (a recognizer), scored
    as CER and WER in percent. `keep_items`: prepare the dev items once and keep them."""
    kept = []

    def validate(model, device) -> dict[str, float]:
        items = kept or [dev_set[i] for i in range(len(dev_set))]
        if keep_items and not kept:
            kept.extend(items)
        scores = reader(model).evaluate_items(items)
        return {"dev/cer": scores["cer"], "dev/wer": scores["wer"]}

    return validate
