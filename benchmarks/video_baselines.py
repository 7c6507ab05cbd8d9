"""Two trivial video "models" scored exactly as ``text2sign evaluate`` scores a video model, so the
numbers of a trained one mean something:

* ``mean-frame``: the mean frame of the training videos, held still for the model's frame count
  (what a model that ignores the text and the time would draw at best in PSNR);
* ``reference-N``: the rendered reference itself, sampled to the model's N frames (what a perfect
  N-frame model gets after the harness stretches N frames to the reference's length: the ceiling).

    .venv/bin/python benchmarks/video_baselines.py --like runs/fs-video-dit --videos data/fs-words-video32 \
        --corpus data/fs-words --split test --limit 40 --out out/video-baselines
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus
from text2sign.data.video_corpus import VideoCorpus, fit_frames
from text2sign.evaluation.harness import _evaluate_videos, _report, write_report
from text2sign.rendering import iter_frames
from text2sign.video import VideoClip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--like", type=Path, required=True, help="checkpoint (or run) whose frames, size and fps to copy")
    parser.add_argument("--videos", type=Path, required=True, help="the video corpus the model trained on")
    parser.add_argument("--corpus", type=Path, required=True, help="the pose corpus evaluate scores against")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON reports and Markdown rows")
    args = parser.parse_args()

    from text2sign.checkpoints import resolve_checkpoint

    config = json.loads((resolve_checkpoint(args.like, prefer_best=True) / "config.json").read_text())
    frames, size, fps = config["model"]["frames"], config["model"]["size"], config["inference"]["fps"]
    videos = VideoCorpus.load(args.videos)
    train = videos.split("train")
    total = np.zeros((videos.height, videos.width, 3), np.float64)
    count = 0
    for item in train:
        clip = videos.frames(item)
        total += clip.astype(np.float64).sum(axis=0)
        count += len(clip)
    mean = np.round(total / count).astype(np.uint8)  # (H, W, 3)
    if mean.shape[0] != size:
        from text2sign.video.clip import resize_frame

        mean = resize_frame(mean, size, size)
    corpus = Corpus.load(args.corpus)
    items = corpus.split(args.split)[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)

    def still(item):
        return VideoClip(np.repeat(mean[None], frames, axis=0), fps)

    def reference(item):
        drawn = np.stack(list(iter_frames(corpus.load_pose(item), width=size, height=size, fps=fps)))
        return VideoClip(np.ascontiguousarray(fit_frames(drawn, frames)), fps)

    for name, generate in (("mean-frame", still), (f"reference-{frames}", reference)):
        gifs = args.out / f"{name}-gifs"
        gifs.mkdir(exist_ok=True)
        result, failures = _evaluate_videos(generate, corpus, items, gifs, 2, None)
        report = _report(name, "video", corpus, args.split, items, failures, result, None, None)
        _, md = write_report(report, args.out / f"{name}.json")
        print(md.read_text().splitlines()[-1])


if __name__ == "__main__":
    main()
