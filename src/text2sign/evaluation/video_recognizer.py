"""Video back-translation recognizer: read text back from video, to score what generated video signs.

A :class:`VideoRecognizer` wraps :class:`text2sign.models.video_recognizer.VideoRecognizerNet`
(a per-frame CNN, temporal convolutions, CTC over the characters of the item text) with what it
needs to read any clip: the vocabulary, the signed languages it knows, and the frame size and rate
it reads at (all in its :class:`VideoRecognizerConfig`). It is the video twin of
:class:`text2sign.evaluation.recognizer.Recognizer` and is used the same way: ``recognize`` for
the text, ``embed`` for pooled features (Fréchet distance and diversity: an FVD-style score from a
network we train ourselves, so nothing is downloaded), ``evaluate_split`` for a corpus split's
CER with the same two controls.

It is the ``video-recognizer`` model family (``families/video_recognizer.py``), trained by the one
training loop (``text2sign train configs/fs-video-recognizer.yaml``) on a video corpus and saved as
a standard checkpoint directory (``family: video-recognizer``: ``config.json`` and
``model.safetensors``; pixels need no feature statistics). ``VideoRecognizer.from_pretrained()``
with no path loads the FS-Words video recognizer shipped inside the package.

Inference: a clip is resampled to the recognizer's frame rate and scaled to its frame size
(:func:`text2sign.data.video_frames.clip_frames`), so a clip of another size or rate is read
as well as the recognizer can; decoding is greedy CTC.

Controls, as for the pose recognizer: :func:`time_shuffled_clip` (frames permuted) and
letter-swapped references (the word re-spelled from its own letters in reverse order by
:func:`text2sign.evaluation.recognizer.letter_swapped`, drawn by our renderer at the corpus's
size and rate; the reference text is unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from text2sign.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from text2sign.data.corpus import SPLITS
from text2sign.data.video_corpus import VideoCorpus, VideoItem
from text2sign.data.video_frames import FrameItem, clip_frames, collate_frame_batch, to_unit
from text2sign.errors import CheckpointError, CorpusError, LanguageError, Text2SignError
from text2sign.evaluation.recognizer import (
    CORRUPTIONS,
    check_checkpoint_target,
    error_rates,
    greedy_decode,
    letter_swapped,
)
from text2sign.models.video_recognizer import VideoRecognizerConfig, VideoRecognizerNet
from text2sign.video.clip import VideoClip

FAMILY = "video-recognizer"
SHIPPED_NAME = "fs-words-video-recognizer"


def shipped_video_recognizer_dir() -> Path:
    """Where the FS-Words video recognizer that ships with the package lives."""
    return Path(str(resources.files("text2sign.evaluation").joinpath("assets", SHIPPED_NAME)))


def time_shuffled_clip(clip: VideoClip, rng: np.random.Generator) -> VideoClip:
    """The same frames in a random order."""
    return VideoClip(clip.frames[rng.permutation(clip.num_frames)], clip.fps)


class VideoRecognizer:
    """A trained VideoRecognizerNet with what it needs to read any clip (see the module docstring).

    `metrics` and `metadata` are its checkpoint's (its scores; how it was trained)."""

    def __init__(self, model: VideoRecognizerNet, metadata: dict | None = None, metrics: dict | None = None):
        config: VideoRecognizerConfig = model.config
        self.model = model.eval()
        self.config = config
        self.vocab = list(config.vocab)
        self.languages = list(config.languages)
        self.size = int(config.size)
        self.fps = float(config.fps)
        self.metadata = dict(metadata or {})
        self.metrics = dict(metrics or {})
        self._language_index = {lang: i for i, lang in enumerate(self.languages)}

    # --- loading and saving ------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> VideoRecognizer:
        """Load a video recognizer checkpoint, or a training run's best one (None: the FS-Words
        video recognizer shipped with text2sign)."""
        root = shipped_video_recognizer_dir() if path is None else Path(path)
        if not root.exists():
            raise CheckpointError(f"video recognizer checkpoint not found: {root}")
        return cls.from_checkpoint(load_checkpoint(root))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> VideoRecognizer:
        if checkpoint.family.name != FAMILY:
            raise CheckpointError(f"{checkpoint.path} holds a {checkpoint.family.name} model, not a video recognizer")
        return cls(checkpoint.model, checkpoint.metadata, checkpoint.meta.metrics)

    def save(self, path: str | Path, experiment: dict | None = None, step: int | None = None) -> Path:
        """Write the checkpoint directory atomically; `experiment` and `step` are kept for the record."""
        root = check_checkpoint_target(path)
        return save_checkpoint(
            root, FAMILY, self.model, self.config, experiment=experiment, metadata=self.metadata, metrics=self.metrics, step=step,
        )

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # --- inference ---------------------------------------------------------------------------

    def check_languages(self, signed_languages: Sequence[str]) -> None:
        unknown = sorted({s for s in signed_languages if s not in self._language_index})
        if unknown:
            raise LanguageError(
                f"the video recognizer does not know signed language {', '.join(unknown)}; "
                f"it knows: {', '.join(self.languages)}"
            )

    def knows(self, signed_language: str) -> bool:
        return signed_language in self._language_index

    def prepare(self, clip: VideoClip) -> np.ndarray:
        """``(T, 3, size, size)`` float32 in [-1, 1]: the clip at the recognizer's rate and size."""
        return to_unit(clip_frames(clip, self.size, self.fps))

    def _items(self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str) -> list[FrameItem]:
        if isinstance(signed_languages, str):
            signed_languages = [signed_languages] * len(clips)
        if len(signed_languages) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(signed_languages)} signed languages")
        self.check_languages(signed_languages)
        return [FrameItem(self.prepare(clip), "", lang) for clip, lang in zip(clips, signed_languages)]

    @torch.no_grad()
    def _run(self, items: Sequence[FrameItem], fn: Callable, batch_size: int) -> list:
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        outputs = []
        try:
            for start in range(0, len(items), batch_size):
                batch = collate_frame_batch(items[start : start + batch_size]).to(device)
                language = torch.tensor([self._language_index[s] for s in batch.signed_languages], device=device)
                outputs.extend(fn(batch, language))
        finally:
            self.model.train(was_training)
        return outputs

    def _decode(self, items: Sequence[FrameItem], batch_size: int = 16) -> list[str]:
        def decode(batch, language):
            logits, mask = self.model(batch.frames, batch.frame_mask, language)
            return greedy_decode(logits, mask, self.vocab)

        return self._run(items, decode, batch_size)

    def recognize(self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16) -> list[str]:
        """The text read from each clip (greedy CTC). `signed_languages`: one per clip, or one for all."""
        return self._decode(self._items(clips, signed_languages), batch_size)

    def embed(self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16) -> np.ndarray:
        """``(N, hidden)`` float32 encoder states averaged over frames, for Fréchet distance and diversity."""
        return self.read(clips, signed_languages, batch_size)[1]

    def read(
        self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16
    ) -> tuple[list[str], np.ndarray]:
        """What :meth:`recognize` and :meth:`embed` return, from one pass of the network."""
        items = self._items(clips, signed_languages)

        def both(batch, language):
            states = self.model.encode(batch.frames, batch.frame_mask, language)  # (B, T, H)
            texts = greedy_decode(self.model.head(states), batch.frame_mask, self.vocab)
            weights = batch.frame_mask.unsqueeze(-1).float()  # (B, T, 1)
            pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, H)
            return list(zip(texts, pooled.cpu().numpy()))

        pairs = self._run(items, both, batch_size)
        features = np.stack([f for _, f in pairs]).astype(np.float32) if pairs else np.zeros((0, self.model.embedding_dim), np.float32)
        return [t for t, _ in pairs], features

    def evaluate_split(self, corpus: VideoCorpus | str | Path, split: str, corruption: str | None = None, seed: int = 0) -> dict:
        """``{cer, wer, n}`` on a video corpus split's clips: the real ones (the ceiling),
        "time-shuffle" (frames permuted) or "letter-swap" (words re-spelled in reverse order and
        drawn by our renderer; fingerspelled corpora only). References are the items' texts."""
        corpus = corpus if isinstance(corpus, VideoCorpus) else VideoCorpus.load(corpus)
        if split not in SPLITS:
            raise CorpusError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
        items = corpus.split(split)
        if not items:
            raise CorpusError(f"{corpus.root} has no {split} items")
        self.check_languages([i.signed_language for i in items])
        clips = corrupted_clips(corpus, items, corruption, seed)
        hypotheses = self.recognize(clips, [i.signed_language for i in items])
        return error_rates([i.text for i in items], hypotheses)

    def evaluate_items(self, items: Sequence[FrameItem]) -> dict:
        """``{cer, wer, n}`` on already prepared items (e.g. a :class:`VideoFramesDataset`)."""
        hypotheses = self._decode(items)
        return error_rates([i.text for i in items], hypotheses)


def corrupted_clips(corpus: VideoCorpus, items: Sequence[VideoItem], corruption: str | None, seed: int = 0) -> list[VideoClip]:
    """The items' clips, optionally corrupted (:func:`time_shuffled_clip`, or letter-swapped
    words drawn at the corpus's frame size and each item's rate)."""
    if corruption is not None and corruption not in CORRUPTIONS:
        raise Text2SignError(f"unknown corruption {corruption!r}; choose from {', '.join(CORRUPTIONS)}")
    rng = np.random.default_rng(seed)
    if corruption == "letter-swap":
        from text2sign.data.lexicon import DEFAULT_LAYOUT, Lexicon
        from text2sign.rendering import iter_frames

        lexicon = Lexicon.fingerspelling(DEFAULT_LAYOUT)
        clips = []
        for item in items:
            pose = letter_swapped(item.text, item.signed_language, lexicon, rng)
            frames = np.stack(list(iter_frames(pose, width=corpus.width, height=corpus.height, fps=item.fps)))
            clips.append(VideoClip(frames, item.fps))
        return clips
    clips = [corpus.clip(item) for item in items]
    if corruption == "time-shuffle":
        clips = [time_shuffled_clip(c, rng) for c in clips]
    return clips
