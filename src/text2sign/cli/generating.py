"""Commands that make signing: generate, render, models, languages, serve."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from text2sign.cli.common import (
    MODEL_HELP,
    MODELS,
    PersonOption,
    app,
    console,
    frame_progress,
    output_option,
    parse_hide,
    print_warnings,
    say,
)
from text2sign.cli.model_flags import ModelCommand, model_args
from text2sign.errors import Text2SignError


class LoadCommand(ModelCommand):
    call_options = False  # only the options a model is loaded with, not those of a call


def load_pipeline(model: str, load_options: dict):
    from text2sign.pipelines import load_pipeline as load

    return load(model, **load_options)


def seed_note(stochastic: bool, seed: int | None, model: str) -> list[str]:
    """A seed given to a model without randomness changes nothing: said (once, after the work), not refused."""
    return [f"--seed changes nothing: model {model} is deterministic"] if seed is not None and not stochastic else []


@app.command(cls=ModelCommand)
def generate(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to sign, e.g. 'hello world'.")],
    output: Annotated[
        Path | None,
        output_option(
            "Output: .pose or .npz for pose models; .gif, .mp4 or a folder of PNG frames for video models. "
            "Optional when --gif or --mp4 is given."
        ),
    ] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language code of TEXT.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language code to produce.")] = "ase",
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)] = "default",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of a stochastic model's sampling (default: the model's own).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on characters that cannot be signed instead of skipping them.")
    ] = False,
    gif: Annotated[Path | None, typer.Option("--gif", help="Also write a GIF here.")] = None,
    mp4: Annotated[Path | None, typer.Option("--mp4", help="Also write an H.264 MP4 here.")] = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size", help="Width and height of GIF / MP4, pixels (default: 384 for poses, the model's own for video)."
        ),
    ] = None,
    hide: Annotated[
        str, typer.Option("--hide", help="Pose models: component kinds not drawn, comma-separated (face, world, ...).")
    ] = "world",
) -> None:
    """Generate signing for TEXT: a pose file (pose models) or a video (video models), and/or a GIF / MP4 of it.

    -o is the model's own output; --gif / --mp4 also draw it into that file, for every model: one alone is enough.
    The model's own options are listed, with their ranges, by --model NAME --help.
    """
    from text2sign.fileio import check_output_path
    from text2sign.rendering import check_output_kind, write_signing
    from text2sign.video.clip import check_output_side

    if output is None and gif is None and mp4 is None:
        raise Text2SignError("nothing to write: give -o FILE, --gif FILE.gif or --mp4 FILE.mp4")
    for flag, path in (("--gif", gif), ("--mp4", mp4)):
        if path is not None:
            if path.suffix.lower() != "." + flag[2:]:
                raise Text2SignError(f"{flag} takes a file name ending in .{flag[2:]}, not {path.name!r}")
            check_output_path(path)
    if output is not None and not output.is_dir():  # a folder is a video model's PNG-frame output
        check_output_path(output)
    if size is not None:
        check_output_side(size, "--size")
    hidden = parse_hide(hide)
    options = model_args(ctx)
    pipeline = load_pipeline(model, options.load)
    if output is not None:
        check_output_kind(pipeline.output, output)
    result = pipeline([text], spoken=spoken, signed=signed, seed=seed, strict=strict, **options.call)
    print_warnings([*result.warnings, *seed_note(pipeline.stochastic, seed, pipeline.label)])
    (signing,) = result.outputs
    written = []
    for path in (p for p in (output, gif, mp4) if p is not None):
        drawing = (
            frame_progress(f"drawing {path.name}", path) if pipeline.output == "pose" else contextlib.nullcontext({})
        )
        with drawing as on_frame:
            written.append(str(write_signing(signing, path, size, hidden, **on_frame)))
    shape = signing.layout.name if pipeline.output == "pose" else f"{signing.width}x{signing.height} video"
    say(f"{signing.num_frames} frames ({signing.duration:.2f} s, {shape}) -> {', '.join(written)}")


class AnimateCommand(ModelCommand):
    default_model = "fs-pose-video"
    skipped_options = ("pose",)  # the pose is the command's argument


@app.command(cls=AnimateCommand)
def animate(
    ctx: typer.Context,
    pose_file: Annotated[
        Path, typer.Argument(metavar="POSE_FILE", help="Pose file (.pose or .npz): ours, extract's, pose-format's.")
    ],
    output: Annotated[Path, output_option("Output: .mp4, .gif, or a folder of PNG frames.")],
    model: Annotated[
        str, typer.Option("--model", help="A pose-to-video model (a pose-video checkpoint or fs-pose-video).")
    ] = "fs-pose-video",
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the sampling (default: the model's own).")] = None,
    size: Annotated[
        int | None, typer.Option("--size", help="Width and height of a GIF / MP4, pixels (default: the model's own).")
    ] = None,
    person: PersonOption = None,
) -> None:
    """Turn a pose file into video in the appearance of a pose-to-video model's training videos.

    One video frame per pose frame at the model's rate (the pose is resampled to it). Needs the
    \\[video] extra. The model's own options are listed, with their ranges, by --model NAME --help.
    """
    from text2sign.fileio import check_output_path
    from text2sign.pose.io import load_pose
    from text2sign.rendering import check_output_kind, write_signing
    from text2sign.video.clip import check_output_side

    if not output.is_dir():
        check_output_path(output)
    check_output_kind("video", output)
    if size is not None:
        check_output_side(size, "--size")
    pose = load_pose(pose_file, person)
    options = model_args(ctx)
    pipeline = load_pipeline(model, options.load)
    if not callable(getattr(pipeline, "animate", None)):
        raise Text2SignError(
            f"model {pipeline.label} makes {pipeline.output} from text; animate takes a pose-to-video model "
            "(fs-pose-video, or a pose-video checkpoint)"
        )
    (clip,) = pipeline.animate(pose, seed=seed, **options.call)
    written = write_signing(clip, output, size, ())
    say(
        f"{pose.num_frames} pose frames at {pose.fps:g} fps -> {clip.num_frames} frames ({clip.duration:.2f} s, "
        f"{clip.width}x{clip.height} video) -> {written}"
    )


@app.command()
def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List every model you can name with --model: family, output kind, languages, size on disk."""
    from text2sign.pipelines import list_models

    rows = list_models()
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title="models (and any checkpoint or run directory)")
    for column in ("name", "family", "output", "signed", "size"):
        table.add_column(column, justify="right" if column in ("signed", "size") else "left", no_wrap=True)
    for r in rows:
        size = "-" if r.size_bytes is None else f"{r.size_bytes / 2**20:.1f} MB"
        name = f"{r.name} (default)" if r.default else r.name
        table.add_row(name, r.family, r.output, str(len({si for _, si in r.languages})), size)
    console.print(table)
    console.print(
        "language pairs and descriptions: text2sign models --json, text2sign languages --model NAME", highlight=False
    )


@app.command()
def render(
    input: Annotated[Path, typer.Argument(help="Pose file (.pose or .npz).")],
    output: Annotated[Path, output_option("Output file: .gif, .mp4 or .png (contact sheet).")],
    width: Annotated[int | None, typer.Option("--width", help="Frame width in pixels (default: 384).")] = None,
    height: Annotated[int | None, typer.Option("--height", help="Frame height in pixels (default: 384).")] = None,
    fps: Annotated[float | None, typer.Option("--fps", help="Output frame rate (default: the pose's).")] = None,
    hide: Annotated[
        str, typer.Option("--hide", help="Component kinds not drawn, comma-separated (face, world, ...).")
    ] = "world",
    person: PersonOption = None,
) -> None:
    """Draw a pose file as a GIF, an MP4 or a PNG contact sheet."""
    from text2sign.fileio import check_output_path
    from text2sign.pose.io import load_pose
    from text2sign.rendering import DEFAULT_POSE_SIZE
    from text2sign.rendering import render as render_pose
    from text2sign.video.clip import check_output_fps, check_output_side

    check_output_path(output)
    width = check_output_side(DEFAULT_POSE_SIZE if width is None else width, "--width")
    height = check_output_side(DEFAULT_POSE_SIZE if height is None else height, "--height")
    if fps is not None:
        check_output_fps(fps, "--fps")
    hidden = parse_hide(hide)
    pose = load_pose(input, person)
    with frame_progress(f"drawing {output.name}", output) as on_frame:
        render_pose(pose, output, width=width, height=height, fps=fps, hide=hidden, **on_frame)
    say(f"{pose.num_frames} frames -> {output}")


@app.command(cls=LoadCommand)
def languages(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the spoken -> signed language pairs a model supports."""
    from text2sign.data.lexicon import borrowed_alphabets

    pairs = load_pipeline(model, model_args(ctx).load).language_pairs()
    borrowed = borrowed_alphabets()
    if as_json:
        console.print_json(json.dumps([{"spoken": sp, "signed": si, "borrows": borrowed.get(si)} for sp, si in pairs]))
        return
    table = Table(title=f"{model}: {len(pairs)} language pairs")
    table.add_column("spoken")
    table.add_column("signed")
    table.add_column("note")
    for sp, si in pairs:
        table.add_row(sp, si, f"fingerspelling borrowed from {borrowed[si]}" if si in borrowed else "")
    console.print(table)


@app.command(cls=LoadCommand)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free one).")] = 8000,
    model: Annotated[str, typer.Option("--model", help=f"Default model: {', '.join(MODELS)}.")] = "default",
    workers: Annotated[
        int,
        typer.Option("--workers", help="Model calls for pose and JSON answers run at once (threads of one process)."),
    ] = 2,
    draw_workers: Annotated[
        int,
        typer.Option(
            "--draw-workers", help="GIF and MP4 answers drawn at once, in threads of their own at a lower priority."
        ),
    ] = 2,
    queue: Annotated[int, typer.Option("--queue", help="Requests that may wait for a worker; past that: 503.")] = 32,
    cache_size: Annotated[
        int, typer.Option("--cache-size", help="Answers kept for repeated requests (0: none).")
    ] = 128,
) -> None:
    """Serve the HTTP API and the web page (needs: pip install "text2sign\\[serve]").

    The default model's load options are listed by --model NAME --help."""
    from text2sign.server import ServerSettings
    from text2sign.server import serve as run_server

    settings = ServerSettings(
        model=model,
        workers=workers,
        queue=queue,
        cache_size=cache_size,
        draw_workers=draw_workers,
        load_options=model_args(ctx).load,
    )
    run_server(settings, host, port)
