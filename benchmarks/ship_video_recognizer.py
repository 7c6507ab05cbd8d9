"""Score a trained video recognizer's best checkpoint and write it where the package ships it.

The scores are what ``text2sign recognize VIDEOS --split S [--corrupt C]`` prints: dev, test (the
ceiling), test with frames shuffled in time and test with letters re-spelled; they go into the
checkpoint's metrics beside its dev CER, and how it was trained into its metadata.

    .venv/bin/python benchmarks/ship_video_recognizer.py --run runs/fs-video-recognizer \
        --videos data/fs-words-video32 --train-seconds 600 \
        --out src/text2sign/evaluation/assets/fs-words-video-recognizer
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from text2sign.checkpoints import directory_size, load_checkpoint
from text2sign.data.video_corpus import VideoCorpus
from text2sign.evaluation.video_recognizer import VideoRecognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, required=True, help="training run (its best checkpoint is shipped) or checkpoint"
    )
    parser.add_argument("--videos", type=Path, required=True, help="the video corpus it trained on")
    parser.add_argument(
        "--train-seconds", type=float, required=True, help="wall time of the training run, for the record"
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corruptions")
    args = parser.parse_args()

    checkpoint = load_checkpoint(args.run)
    recognizer = VideoRecognizer.from_checkpoint(checkpoint)
    corpus = VideoCorpus.load(args.videos)
    scores = {
        "dev": recognizer.evaluate_split(corpus, "dev"),
        "test": recognizer.evaluate_split(corpus, "test"),
        "test time-shuffled": recognizer.evaluate_split(corpus, "test", "time-shuffle", args.seed),
        "test letter-swapped": recognizer.evaluate_split(corpus, "test", "letter-swap", args.seed),
    }
    experiment = checkpoint.meta.experiment or {}
    recognizer.metrics["scores"] = scores
    recognizer.metadata["training"] = {
        "corpus": str(args.videos),
        "run": str(args.run),
        "best_step": checkpoint.meta.step,
        "steps": experiment.get("train", {}).get("steps"),
        "parameters": recognizer.num_parameters,
        "train_seconds": round(args.train_seconds, 1),
    }
    out = recognizer.save(args.out, experiment=experiment, step=checkpoint.meta.step)
    print(
        json.dumps(
            {"out": str(out), "bytes": directory_size(out), **recognizer.metadata["training"], "scores": scores},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
