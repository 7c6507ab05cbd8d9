"""Two trivial video "models" scored exactly as ``text2sign evaluate`` scores a video model, so the
numbers of a trained one mean something:

* ``mean-frame``: the mean frame of the training videos, held still for the model's frame count
  (what a model that ignores the text and the time would draw at best in PSNR);
* ``reference-N``: the rendered reference itself, sampled to the model's N frames (what a perfect
  N-frame model gets after the harness stretches N frames to the reference's length: the ceiling).
  ``--frames 16 32`` scores perfect models of other lengths too (at the model's rate scaled by
  N / its frames, or at ``--rate``), to see how many frames a model needs to read back at all.
  Every clip is sampled or padded to exactly N frames, as training data is: at a fixed rate and
  enough frames, words keep their own pace and are padded; at the model's rate they are squeezed
  or stretched to one length.
* ``--autoencoder RUN``: each ``reference-N`` also through a trained ``video-ae`` (every frame
  encoded and decoded): the ceiling of a latent model diffusing over that autoencoder.

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
    parser.add_argument(
        "--like", type=Path, required=True, help="checkpoint (or run) whose frames, size and fps to copy"
    )
    parser.add_argument("--videos", type=Path, required=True, help="the video corpus the model trained on")
    parser.add_argument("--corpus", type=Path, required=True, help="the pose corpus evaluate scores against")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON reports and Markdown rows")
    parser.add_argument(
        "--frames",
        type=int,
        nargs="+",
        default=None,
        help="frame counts of the perfect models to score (default: the model's; 0: every word at its own length)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="frame rate of those perfect models (default: the model's, scaled by N / its frames)",
    )
    parser.add_argument(
        "--autoencoder",
        type=str,
        default=None,
        help="a video-ae run or checkpoint, or a latent video model carrying one (fs-video): score each perfect "
        "model through it too (a latent model's ceiling)",
    )
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

    def reference(count: int):
        rate = args.rate or fps * (count or frames) / frames

        def draw(item):
            drawn = np.stack(list(iter_frames(corpus.load_pose(item), width=size, height=size, fps=rate)))
            return VideoClip(np.ascontiguousarray(fit_frames(drawn, count or None)), rate)

        return draw

    suffix = f"-at-{args.rate:g}fps" if args.rate else ""
    baselines = [("mean-frame", still)] + [
        (f"reference-{n or 'own-length'}{suffix}", reference(n)) for n in (args.frames or [frames])
    ]
    if args.autoencoder:
        baselines += [
            (f"{name}-through-autoencoder", through_autoencoder(draw, args.autoencoder, size))
            for name, draw in baselines
            if name.startswith("reference")
        ]
    for name, generate in baselines:
        gifs = args.out / f"{name}-gifs"
        gifs.mkdir(exist_ok=True)
        result, failures = _evaluate_videos(generate, corpus, items, gifs, 2, None)
        report = _report(name, "video", corpus, args.split, items, failures, result, None, None)
        _, md = write_report(report, args.out / f"{name}.json")
        print(md.read_text().splitlines()[-1])


def through_autoencoder(draw, run: str, size: int):
    """`draw`, with every frame of its clip encoded and decoded by the frame autoencoder of `run`
    (as ``init.autoencoder`` reads it: a ``video-ae`` run, or a latent video model's own)."""
    import torch

    from text2sign.data.video_corpus import frames_to_unit, unit_to_frames
    from text2sign.families.frame_autoencoder import load_frame_autoencoder
    from text2sign.models.frame_codec import FrameVAE
    from text2sign.training.config import shipped_or_path

    codec = FrameVAE(load_frame_autoencoder(shipped_or_path(run), size).vae, frame_chunk=64, stored=True).eval()

    def reconstructed(item):
        clip = draw(item)
        video = torch.from_numpy(frames_to_unit(clip.frames))[None]
        return VideoClip(unit_to_frames(codec.decode(codec.encode(video))[0].numpy()), clip.fps)

    return reconstructed


if __name__ == "__main__":
    main()
