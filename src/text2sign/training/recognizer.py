"""``text2sign train-recognizer``: the pose recognizer trained in epochs, with its scores.

:func:`train_recognizer` turns a :class:`RecognizerTrainConfig` (epochs) into an experiment of
the ``recognizer`` family for the loop (steps), keeps the checkpoint with the best dev CER and
scores it on dev and test, with the two controls (:mod:`text2sign.evaluation.recognizer`);
``text2sign train configs/fs-words-recognizer.yaml`` is the same run from a YAML file.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from text2sign.checkpoints import CONFIG_NAME, best_dir, load_checkpoint, read_meta
from text2sign.data.corpus import Corpus
from text2sign.errors import CorpusError, Text2SignError
from text2sign.evaluation.recognizer import FAMILY, Recognizer, check_checkpoint_target
from text2sign.pose.layout import DEFAULT_KINDS
from text2sign.training.config import parse_experiment
from text2sign.training.loop import train

# The share of the steps spent warming the learning rate up (the one-cycle schedule this
# recognizer was first trained with warmed up for the same share).
WARMUP_FRACTION = 0.1


@dataclass
class RecognizerTrainConfig:
    """The options of ``text2sign train-recognizer``, in epochs; :meth:`experiment` makes them an
    experiment of the ``recognizer`` family, in steps."""

    epochs: int = 50
    batch_size: int = 16
    lr: float = 2e-3  # peak of the warmup + cosine schedule
    weight_decay: float = 0.01
    seed: int = 0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    dims: int = 2  # coordinates read per joint: x, y (see pose.features.first_dims)
    hand_relative: bool = True  # hand joints as offsets from the wrist (pose.features.hands_relative_to_wrist)
    # network (see text2sign.models.recognizer.RecognizerConfig)
    hidden: int = 128
    kernel_size: int = 5
    downsample: int = 2
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    dropout: float = 0.1
    # augmentation of the train split, in shoulder widths and degrees (see data/augment.py)
    augment: bool = True
    speed: tuple[float, float] = (0.8, 1.25)
    noise_std: float = 0.01
    max_vertical_degrees: float = 15.0
    max_view_degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    max_frames: int | None = 512
    num_threads: int = 2
    evaluate_test: bool = True

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        self.dilations = tuple(self.dilations)
        self.speed, self.scale = tuple(self.speed), tuple(self.scale)
        for name in ("epochs", "batch_size", "num_threads"):
            if getattr(self, name) < 1:
                raise Text2SignError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise Text2SignError(f"lr must be positive, got {self.lr}")
        # Every other option is checked as the experiment YAML reader checks it (the corpus is not read here).
        self.experiment("", self.batch_size)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def experiment(self, corpus: str | Path, train_items: int):
        """These options as an ExperimentConfig of the ``recognizer`` family (for the defaults,
        what configs/fs-words-recognizer.yaml holds): an epoch is ``train_items // batch_size``
        steps, because the loop drops the last incomplete batch."""
        # A corpus smaller than one batch still trains, on batches of all of it.
        batch_size = min(self.batch_size, train_items)
        steps_per_epoch = max(1, train_items // batch_size)
        steps = self.epochs * steps_per_epoch
        raw = {
            "family": FAMILY,
            "name": "recognizer",
            "data": {"corpus": str(corpus), "max_frames": self.max_frames},
            "model": {
                "hidden": self.hidden,
                "kernel_size": self.kernel_size,
                "downsample": self.downsample,
                "dilations": list(self.dilations),
                "dropout": self.dropout,
                "kinds": list(self.kinds),
                "dims": self.dims,
                "hand_relative": self.hand_relative,
            },
            "objective": {
                "augment": self.augment,
                "speed": list(self.speed),
                "noise_std": self.noise_std,
                "max_vertical_degrees": self.max_vertical_degrees,
                "max_view_degrees": self.max_view_degrees,
                "scale": list(self.scale),
            },
            "train": {
                "steps": steps,
                "batch_size": batch_size,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "seed": self.seed,
                "warmup_steps": round(WARMUP_FRACTION * steps),
                "min_lr_ratio": 0.0,
                "ema_decay": 0.0,
                "validate_every": steps_per_epoch,
                "log_every": steps_per_epoch,
                "checkpoint_every": 10 * steps_per_epoch,
                "sample_every": 0,
            },
        }
        return parse_experiment(raw, "the train-recognizer options")


def train_recognizer(
    corpus_dir: str | Path,
    out_dir: str | Path,
    cfg: RecognizerTrainConfig | None = None,
    on_progress: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Train on the train split (augmented), keep the epoch with the best dev CER, save to `out_dir`.

    The run goes through the training loop in a temporary run directory next to `out_dir`, which
    is removed afterwards; its ``best/`` checkpoint (else its last) becomes `out_dir`, with the
    scores below in its metrics and the training record in its metadata. An interrupted run
    (Ctrl-C) writes nothing and raises KeyboardInterrupt.

    `on_progress(step, total_steps, info)` is called after every optimizer step; `info` has the
    epoch, the epoch's running loss and the best dev CER so far (NaN before the first). Returns
    the training record (config, corpus, best epoch, epochs, steps, parameters, train seconds,
    history) and ``scores``: ``{cer, wer, n}`` on dev and test (real references = the ceiling)
    and on time-shuffled / letter-swapped test references.
    """
    cfg = cfg or RecognizerTrainConfig()
    out = check_checkpoint_target(out_dir, [corpus_dir])
    corpus = Corpus.load(corpus_dir)
    train_items = corpus.split("train")
    if not train_items:
        raise CorpusError(f"{corpus.root} has no train items")
    experiment = cfg.experiment(corpus.root, len(train_items))
    steps_per_epoch = experiment.train.validate_every  # a dev pass after every epoch
    progress = _Progress(steps_per_epoch, experiment.train.steps, on_progress)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.num_threads)
    run_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".run", dir=out.parent))
    try:
        started = time.perf_counter()
        result = train(experiment, run_dir, callbacks=[progress], quiet=True)
        train_seconds = time.perf_counter() - started
        if result.interrupted:
            raise KeyboardInterrupt
        checkpoint = load_checkpoint(result.best or result.checkpoint)
        recognizer = Recognizer.from_checkpoint(checkpoint)
        dev_cer = {v["step"] // steps_per_epoch: v["dev/cer"] for v in result.validations}
        history = [{**h, "dev_cer": dev_cer[h["epoch"]]} if h["epoch"] in dev_cer else h for h in progress.history]
        training = {
            "config": cfg.to_dict(),
            "corpus": str(corpus.root),
            "best_epoch": checkpoint.meta.step // steps_per_epoch,
            "epochs": cfg.epochs,
            "steps": experiment.train.steps,
            "parameters": recognizer.num_parameters,
            "train_seconds": round(train_seconds, 1),
            "history": history,
        }
        scores = _scores(recognizer, corpus, cfg)
        recognizer.metadata["training"] = training
        recognizer.metrics["scores"] = scores
        recognizer.save(out, experiment=checkpoint.meta.experiment, step=checkpoint.meta.step)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        torch.set_num_threads(previous_threads)
    return {**training, "scores": scores}


class _Progress:
    """The loop's step callback: the mean train loss of every epoch, and `on_progress`."""

    def __init__(self, steps_per_epoch: int, total_steps: int, on_progress: Callable[[int, int, dict], None] | None):
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.on_progress = on_progress
        self.losses: list[float] = []
        self.history: list[dict] = []
        self.best_dev_cer = float("nan")

    def __call__(self, info) -> None:
        epoch = (info.step - 1) // self.steps_per_epoch + 1
        if self.losses and (info.step - 1) % self.steps_per_epoch == 0:
            # The loop validated after the previous step; best/ holds the best dev CER so far.
            if (best_dir(info.run_dir) / CONFIG_NAME).is_file():
                self.best_dev_cer = read_meta(best_dir(info.run_dir)).metrics.get("dev/cer", self.best_dev_cer)
            self.losses = []
        self.losses.append(info.losses["model/loss"])
        loss = float(np.mean(self.losses))
        if info.step % self.steps_per_epoch == 0:
            self.history.append({"epoch": epoch, "loss": loss})
        if self.on_progress is not None:
            self.on_progress(info.step, self.total_steps, {"epoch": epoch, "loss": loss, "dev_cer": self.best_dev_cer})


def _scores(recognizer: Recognizer, corpus: Corpus, cfg: RecognizerTrainConfig) -> dict:
    scores = {}
    if corpus.split("dev"):
        scores["dev"] = recognizer.evaluate_split(corpus, "dev")
    if cfg.evaluate_test and corpus.split("test"):
        scores["test"] = recognizer.evaluate_split(corpus, "test")
        scores["test time-shuffled"] = recognizer.evaluate_split(corpus, "test", "time-shuffle", cfg.seed)
        if str(corpus.stats.get("source", "")).startswith("fingerspelling"):
            scores["test letter-swapped"] = recognizer.evaluate_split(corpus, "test", "letter-swap", cfg.seed)
    return scores
