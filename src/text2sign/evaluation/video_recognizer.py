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

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from text2sign.data.video_corpus import VideoCorpus, VideoItem
from text2sign.data.video_frames import FrameItem, clip_frames, collate_frame_batch, to_unit
from text2sign.errors import CorpusError
from text2sign.evaluation.recognizer import BaseRecognizer, corrupted_references, greedy_decode, shipped_asset_dir
from text2sign.models.video_recognizer import VideoRecognizerNet
from text2sign.text.layers import masked_mean
from text2sign.video.clip import VideoClip

FAMILY = "video-recognizer"
SHIPPED_NAME = "fs-words-video-recognizer"


def shipped_video_recognizer_dir() -> Path:
    """Where the FS-Words video recognizer that ships with the package lives."""
    return shipped_asset_dir(SHIPPED_NAME)


def time_shuffled_clip(clip: VideoClip, rng: np.random.Generator) -> VideoClip:
    """The same frames in a random order."""
    return VideoClip(clip.frames[rng.permutation(clip.num_frames)], clip.fps)


class VideoRecognizer(BaseRecognizer):
    """A trained VideoRecognizerNet with what it needs to read any clip (see the module docstring).

    `metrics` and `metadata` are its checkpoint's (its scores; how it was trained)."""

    family = FAMILY
    shipped_name = SHIPPED_NAME
    kind = "video recognizer"
    inputs_name = "clips"
    corpus_type = VideoCorpus
    collate = staticmethod(collate_frame_batch)
    batch_size = 16

    def __init__(self, model: VideoRecognizerNet, metadata: dict | None = None, metrics: dict | None = None):
        super().__init__(model, metadata, metrics)
        self.size = int(self.config.size)

    def check_corpus(self, corpus: VideoCorpus) -> None:
        # A clip drawn at another size and scaled reads far worse than one drawn at the size the
        # recognizer learnt (the shipped one: 73 % CER on 64-px drawings against 18 % on 32-px ones),
        # and a corpus can simply be drawn again; a single video file is still scaled (its only way in).
        if (corpus.height, corpus.width) != (self.size, self.size):
            raise CorpusError(
                f"{corpus.root} is drawn at {corpus.width} x {corpus.height} px but this recognizer reads "
                f"{self.size} x {self.size} px drawings: draw it again with prepare video --size {self.size}"
            )

    # --- inference ---------------------------------------------------------------------------

    def prepare(self, clip: VideoClip) -> np.ndarray:
        """``(T, 3, size, size)`` float32 in [-1, 1]: the clip at the recognizer's rate and size."""
        return to_unit(clip_frames(clip, self.size, self.fps))

    def _item(self, clip: VideoClip, signed_language: str) -> FrameItem:
        return FrameItem(self.prepare(clip), "", signed_language)

    def _logits(self, batch, language: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(batch.frames, batch.frame_mask, language)

    def recognize(
        self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16
    ) -> list[str]:
        """The text read from each clip (greedy CTC). `signed_languages`: one per clip, or one for all."""
        return self._decode(self._items(clips, signed_languages), batch_size)

    def embed(
        self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16
    ) -> np.ndarray:
        """``(N, hidden)`` float32 encoder states averaged over frames, for Fréchet distance and diversity."""
        return self.read(clips, signed_languages, batch_size)[1]

    def read(
        self, clips: Sequence[VideoClip], signed_languages: Sequence[str] | str, batch_size: int = 16
    ) -> tuple[list[str], np.ndarray]:
        """What :meth:`recognize` and :meth:`embed` return, from one pass of the network."""

        def both(batch, language):
            states = self.model.encode(batch.frames, batch.frame_mask, language)  # (B, T, H)
            texts = greedy_decode(self.model.ctc_logits(states), batch.frame_mask, self.vocab)
            return list(zip(texts, masked_mean(states, batch.frame_mask).cpu().numpy()))

        pairs = self._run(self._items(clips, signed_languages), both, batch_size)
        return [t for t, _ in pairs], self._stacked([f for _, f in pairs])

    def _references(
        self, corpus: VideoCorpus, items: Sequence[VideoItem], corruption: str | None, seed: int
    ) -> list[VideoClip]:
        return corrupted_clips(corpus, items, corruption, seed)


def corrupted_clips(
    corpus: VideoCorpus, items: Sequence[VideoItem], corruption: str | None, seed: int = 0
) -> list[VideoClip]:
    """The items' clips, optionally corrupted (:func:`time_shuffled_clip`, or letter-swapped
    words drawn at the corpus's frame size and each item's rate)."""

    def drawn(item: VideoItem, pose) -> VideoClip:
        from text2sign.rendering import iter_frames

        frames = np.stack(list(iter_frames(pose, width=corpus.width, height=corpus.height, fps=item.fps)))
        return VideoClip(frames, item.fps)

    return corrupted_references(items, corruption, seed, corpus.clip, time_shuffled_clip, draw=drawn)
