"""What every command module shares: the Typer apps, the consoles, progress bars and the flags
spelled the same way everywhere (``-o/--output``, ``--allow-outside-paths``)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from text2sign.errors import Text2SignError
from text2sign.families.registry import DEFAULT_MODEL
from text2sign.pipelines import model_names

app = typer.Typer(
    help="Sign language production: text in, signing out as .pose skeletons and video.\n\n"
    "Model families from outside text2sign come from installed packages (entry points in the group "
    "'text2sign.families') or from Python modules you name in the TEXT2SIGN_PLUGINS environment variable "
    "(comma-separated), never from a file: a config or checkpoint only names a registered family.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
prepare_app = typer.Typer(help="Build a corpus in text2sign's format.", no_args_is_help=True)
export_app = typer.Typer(help="Write a corpus back out in another format.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
app.add_typer(export_app, name="export")

# soft_wrap: a line piped to a file or a narrow terminal stays one line (greppable); tables still fit the width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

MODELS = (
    f"default (= {DEFAULT_MODEL})",
    *(name for name in model_names() if name != "default"),
    "a checkpoint or run directory (see: text2sign models)",
)
MODEL_HELP = f"Model: {', '.join(MODELS)}. Its own options: --model NAME --help."


def output_option(help: str, metavar: str | None = None) -> typer.Option:
    """Where a command writes: ``-o/--output`` in every command, also spelled ``--out``."""
    return typer.Option("--output", "-o", "--out", help=help, metavar=metavar)


# Index rows and symlinks that lead out of the folder a command was given are refused (text2sign.sources).
AllowOutsideOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-paths",
        help="Also read files that an index row or a symlink places outside the source folder (refused by default, "
        "so that a dataset cannot make text2sign read your other files).",
    ),
]
PersonOption = Annotated[
    int | None, typer.Option("--person", help="Which person of a .pose file with several (0, 1, ...).")
]


def say(text: str) -> None:
    """One plain line on stdout (no markup, no highlighting: paths and texts print as they are)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def print_warnings(messages: list[str]) -> None:
    for message in messages:
        err_console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)


def progress_bar():
    from text2sign.progress import progress_bar as make_progress_bar

    return make_progress_bar(err_console)


@contextlib.contextmanager
def frame_progress(description: str, path: Path):
    """``{"on_frame": callback}`` for a drawn GIF / MP4, so a long render shows a bar; {} otherwise."""
    if path.suffix.lower() not in (".gif", ".mp4"):
        yield {}
        return
    with progress_bar() as progress:
        task = progress.add_task(description, total=None)
        yield {"on_frame": lambda done, total: progress.update(task, completed=done, total=total)}


def parse_hide(hide: str) -> tuple[str, ...]:
    from text2sign.pose.layout import KINDS

    kinds = tuple(k.strip() for k in hide.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise Text2SignError(f"--hide takes component kinds from {', '.join(KINDS)}; got {', '.join(unknown)}")
    return kinds


def print_corpus_summary(root: Path, summary: dict, layout: str | None) -> None:
    table = Table(title=f"corpus {root} ({layout or 'no items, no layout yet'})")
    table.add_column("split")
    table.add_column("items", justify="right")
    table.add_column("frames", justify="right")
    for split, n in summary["items"].items():
        table.add_row(split, str(n), str(summary["frames"][split]))
    console.print(table)
    console.print(
        "languages: " + (", ".join(f"{k} ({v})" for k, v in summary["languages"].items()) or "none"), highlight=False
    )


def print_video_corpus_summary(videos) -> None:
    print_corpus_summary(videos.root, videos.stats, f"video, {videos.width} x {videos.height} px")


def print_recognizer_scores(title: str, scores: dict) -> None:
    table = Table(title=title)
    for column in ("references", "CER %", "WER %", "items"):
        table.add_column(column, justify="left" if column == "references" else "right")
    for name, score in scores.items():
        table.add_row(name, f"{score['cer']:.2f}", f"{score['wer']:.2f}", str(score["n"]))
    console.print(table)
