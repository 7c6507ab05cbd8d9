"""Pose extraction from videos: the extract command and the progress both it and prepare lexicon show."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from text2sign.cli.common import AllowOutsideOption, app, console, err_console, output_option, progress_bar
from text2sign.errors import Text2SignError

MAX_JOBS = 64


def check_jobs(jobs: int) -> int:
    if not 1 <= jobs <= MAX_JOBS:
        raise Text2SignError(f"--jobs must be from 1 to {MAX_JOBS}, got {jobs}")
    return jobs


@contextlib.contextmanager
def extraction_progress(alone_is_the_error: bool = False):
    """Callbacks for :func:`text2sign.data.extract.extract_videos`: bars over videos and frames,
    and each failed video as a ``failed:`` line above them (the command ends in one ``error:``
    line). With `alone_is_the_error`, a run of one video lists nothing: its failure is the error."""
    with progress_bar() as progress:
        videos = progress.add_task("videos", total=None)
        frames = progress.add_task("frames", total=None)
        alone = False

        def on_plan(plan) -> None:
            nonlocal alone
            counts = [job.frames for job in plan.jobs]
            progress.update(videos, total=len(plan.jobs) + len(plan.failed))
            progress.update(frames, total=sum(counts) if all(counts) else None)
            alone = alone_is_the_error and len(plan.jobs) + len(plan.failed) + len(plan.skipped) == 1

        def on_result(result) -> None:
            progress.advance(videos)
            if not result.ok and not alone:
                err_console.print(f"failed: {result.error}", style="red", highlight=False, markup=False, soft_wrap=True)

        yield {"on_plan": on_plan, "on_frames": lambda n: progress.advance(frames, n), "on_result": on_result}


@app.command()
def extract(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="VIDEO_OR_DIR...", help="Videos, or folders searched (with their subfolders) for videos."
        ),
    ],
    output: Annotated[
        Path,
        output_option(help="Folder for one .pose per video (made if missing; subfolders mirror an input folder's)."),
    ],
    reduce: Annotated[
        bool,
        typer.Option("--reduce", help="Write the 178-point holistic-178 layout instead of all 586 holistic points."),
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Videos extracted at once, each in its own process.")] = 1,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Extract again videos whose .pose already exists (default: skip them).")
    ] = False,
    allow_outside: AllowOutsideOption = False,
) -> None:
    """Extract MediaPipe Holistic poses from videos, one .pose per video (needs: pip install "text2sign\\[extract]").

    A finished output is skipped, so a stopped run resumes; a video that cannot be read is reported
    and the others go on (the exit code is then 1)."""
    from text2sign.data.extract import check_extract_available, check_extraction_output, extract_videos, find_videos

    check_jobs(jobs)
    check_extraction_output(output, inputs, "--output")
    pairs = [(video, output / relative.with_suffix(".pose")) for video, relative in find_videos(inputs, allow_outside)]
    # After the arguments: a mistyped path is worth knowing before installing an extra for it.
    check_extract_available()
    with extraction_progress(alone_is_the_error=True) as callbacks:
        report = extract_videos(pairs, reduce=reduce, jobs=jobs, overwrite=overwrite, **callbacks)
    if len(pairs) == 1 and report.failed:
        raise Text2SignError(report.failed[0].error)
    console.print(f"{report.summary()} -> {output}", highlight=False, markup=False, soft_wrap=True)
    if report.failed:
        raise Text2SignError(
            f"{len(report.failed)} of {len(pairs)} videos failed (listed above); the others are written"
        )
