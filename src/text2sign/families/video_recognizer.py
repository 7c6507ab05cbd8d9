"""The `video-recognizer` family: video -> text, the back-translation model that scores generated video.

Network :class:`VideoRecognizerNet` (``models/video_recognizer.py``), objective CTC
(``objectives/video_recognizer.py``, the pose recognizer's loss), config
``configs/fs-video-recognizer.yaml``; no pipeline (it does not generate signing):
:class:`text2sign.evaluation.video_recognizer.VideoRecognizer` reads its checkpoints. The data is
a video corpus (``text2sign prepare video``). The model section's vocabulary and languages (when
left empty), frame size (when 0: the corpus's) and frame rate are filled in from the train split
here. Validation is the dev CER with greedy CTC decoding on whole dev clips, so the loop keeps the
checkpoint with the best dev CER as ``best/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from text2sign.config import bounded
from text2sign.data.config import VideoCorpusDataConfig
from text2sign.data.selection import read_facts, split_items
from text2sign.data.video_corpus import VideoCorpus, VideoItem, load_video_corpus
from text2sign.data.video_frames import VideoFramesDataset, collate_frame_batch
from text2sign.errors import CorpusError
from text2sign.evaluation.recognizer import dev_cer_validation
from text2sign.evaluation.video_recognizer import FAMILY, VideoRecognizer
from text2sign.families.registry import Experiment, register_family
from text2sign.models.video_recognizer import VideoRecognizerConfig, VideoRecognizerNet
from text2sign.objectives.video_recognizer import VideoRecognizerObjective, VideoRecognizerObjectiveConfig


@dataclass
class VideoRecognizerDataConfig(VideoCorpusDataConfig):
    max_frames: int | None = bounded(256, min=1)  # longer train clips are sampled down to this many frames


def build(config) -> Experiment:
    data: VideoRecognizerDataConfig = config.data
    corpus = load_video_corpus(data)
    items = split_items(corpus, data.train_split, data)
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} clips for the chosen languages")
    model = _resolve(config.model, corpus, items)
    train_set = VideoFramesDataset(
        corpus, items, model.size, model.fps, config.objective.augmentation(), data.max_frames, seed=config.train.seed
    )
    objective = VideoRecognizerObjective(VideoRecognizerNet(model))
    # Dev clips are read whole, as `text2sign recognize` reads them, so dev/cer is the CER it reports.
    dev_items = [i for i in split_items(corpus, data.dev_split, data) if i.signed_language in model.languages]
    dev_set = validate = None
    if dev_items:
        dev_set = VideoFramesDataset(corpus, dev_items, model.size, model.fps)
        # Prepared clips are frames of floats, far larger than pose features: read them again each time.
        validate = dev_cer_validation(dev_set, VideoRecognizer, keep_items=False)
    return Experiment(
        objective,
        train_set,
        dev_data=dev_set,
        validate=validate,
        metric="dev/cer",
        metric_mode="min",
        collate_fn=collate_frame_batch,
        config=dataclasses.replace(config, model=model),
    )


def _resolve(model: VideoRecognizerConfig, corpus: VideoCorpus, items: list[VideoItem]) -> VideoRecognizerConfig:
    """`model` with the facts of the train clips filled in (:func:`read_facts`, and the frame size)."""
    return dataclasses.replace(
        model, size=model.size or min(corpus.height, corpus.width), **read_facts(model, items, "clips")
    )


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words drawn at 16 px, for the contract test."""
    from text2sign.testing import tiny_video_corpus

    return {
        "family": FAMILY,
        "data": {"corpus": str(tiny_video_corpus(workdir))},
        "model": {"channels": [8, 16], "hidden": 16, "dilations": [1, 2]},
        "objective": {"augment": False},
        "train": {"steps": 4, "batch_size": 8, "lr": 3e-3, "ema_decay": 0.0, "sample_every": 0, "validate_every": 2},
    }


register_family(
    FAMILY,
    output="text",
    pipeline=None,
    about="video -> text: per-frame CNN + temporal convolutions + CTC over characters (the video back-translation "
    "recognizer)",
    model_config=VideoRecognizerConfig,
    build_model=VideoRecognizerNet,
    objective_config=VideoRecognizerObjectiveConfig,
    data_config=VideoRecognizerDataConfig,
    build=build,
    tiny=tiny_config,
)
