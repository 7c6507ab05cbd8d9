"""Extraction speed: frames per second of `text2sign extract` (MediaPipe Holistic) at several --jobs.

Makes --videos short clips of --frames frames (640 x 480, 25 fps) from scikit-image's public-domain
astronaut photograph, moving across the picture so that MediaPipe tracks a person in motion, then
times the whole command (process start, worker start-up, decoding, MediaPipe, writing) for each
--jobs value on the same clips, each run into a fresh folder, the --jobs values taking turns
--repeats times (so that both see the same machine state). Prints one JSON object per run, then
one with the median frames/s per --jobs value.

    .venv/bin/python benchmarks/bench_extract.py --videos 6 --frames 100 --jobs 1 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 25


def moving_astronaut(frames: int, phase: float) -> list[np.ndarray]:
    """The astronaut (a person MediaPipe finds: body and face) sliding and bobbing across a 640 x 480 frame."""
    from skimage import data
    from skimage.transform import resize

    person = (resize(data.astronaut(), (420, 420), anti_aliasing=True) * 255).astype(np.uint8)
    clips = []
    for t in range(frames):
        angle = 2 * np.pi * t / frames + phase
        x = int((WIDTH - 420) / 2 + 80 * np.sin(angle))
        y = int((HEIGHT - 420) / 2 + 20 * np.cos(angle))
        frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
        frame[y : y + 420, x : x + 420] = person
        clips.append(frame)
    return clips


def make_videos(folder: Path, videos: int, frames: int) -> None:
    from text2sign.video.io import write_mp4

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(videos):
        write_mp4(moving_astronaut(frames, phase=i), folder / f"clip-{i}.mp4", FPS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    text2sign = Path(sys.executable).parent / "text2sign"
    machine = f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores"
    total = args.videos * args.frames
    rates: dict[int, list[float]] = {jobs: [] for jobs in args.jobs}
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        make_videos(videos, args.videos, args.frames)
        for repeat in range(args.repeats):
            for jobs in args.jobs:
                out = Path(tmp) / f"poses-{jobs}-{repeat}"
                started = time.perf_counter()
                subprocess.run(
                    [str(text2sign), "extract", str(videos), "-o", str(out), "--jobs", str(jobs)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                seconds = time.perf_counter() - started
                rates[jobs].append(total / seconds)
                print(
                    json.dumps(
                        {
                            "jobs": jobs,
                            "videos": args.videos,
                            "frames": total,
                            "seconds": round(seconds, 2),
                            "frames_per_s": round(total / seconds, 2),
                            "machine": machine,
                        }
                    ),
                    flush=True,
                )
    print(
        json.dumps(
            {
                "median_frames_per_s": {jobs: round(statistics.median(r), 2) for jobs, r in rates.items()},
                "videos": args.videos,
                "frames": total,
                "repeats": args.repeats,
                "machine": machine,
            }
        )
    )


if __name__ == "__main__":
    main()
