"""``text2sign info``: what a pose file, corpus, checkpoint or run holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from text2sign.cli.common import PersonOption, app, console, print_corpus_summary, print_video_corpus_summary


@app.command()
def info(
    path: Annotated[
        Path,
        typer.Argument(help="A .pose/.npz file, a pose or video corpus, a checkpoint or a training run directory."),
    ],
    person: PersonOption = None,
    full: Annotated[bool, typer.Option("--full", help="A checkpoint: print long lists (a vocabulary) whole.")] = False,
) -> None:
    """Describe a pose file (layout, frames, fps), a corpus (splits, languages), a checkpoint
    (family, config, parameters, metrics) or a run (its checkpoints)."""
    from text2sign.path_kinds import path_kind

    kind = path_kind(path)
    if kind == "checkpoint":
        return print_checkpoint(path, full)
    if kind == "run":
        return print_run(path)
    if kind == "video-corpus":
        from text2sign.data.video_corpus import VideoCorpus

        return print_video_corpus_summary(VideoCorpus.load(path))
    if kind == "corpus":
        from text2sign.data.corpus import Corpus

        corpus = Corpus.load(path)
        return print_corpus_summary(corpus.root, corpus.summary(), corpus.layout_name)
    from text2sign.pose.io import load_pose

    pose = load_pose(path, person)
    table = Table(
        title=f"{path}: {pose.layout.name}, {pose.num_frames} frames at {pose.fps:g} fps ({pose.duration:.2f} s)"
    )
    table.add_column("component")
    table.add_column("kind")
    table.add_column("points", justify="right")
    table.add_column("observed", justify="right")
    for comp in pose.layout.components:
        observed = pose.mask[:, pose.layout.component_slice(comp.name)]
        table.add_row(comp.name, comp.kind, str(len(comp.points)), f"{observed.mean():.0%}" if observed.size else "-")
    console.print(table)


def print_checkpoint(path: Path, full: bool = False) -> None:
    import yaml

    from text2sign.checkpoints import directory_size, parameter_count, read_meta
    from text2sign.config import abridge_lists

    meta = read_meta(path)
    step = f", step {meta.step}" if meta.step is not None else ""
    console.print(
        f"checkpoint {path}: family {meta.family}{step}, {parameter_count(path):,} parameters, "
        f"{directory_size(path) / 2**20:.1f} MB (format version {meta.version})",
        highlight=False,
        markup=False,
    )
    sections = {"model": meta.model, "inference": meta.inference, "metrics": meta.metrics}
    if meta.metadata:
        sections["metadata"] = meta.metadata
    shown = sections if full else abridge_lists(sections)
    console.print(
        yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, width=120).rstrip(), highlight=False, markup=False
    )


def print_run(path: Path) -> None:
    from text2sign.checkpoints import best_dir, list_checkpoints, read_meta

    table = Table(title=f"run {path}")
    table.add_column("checkpoint")
    table.add_column("step", justify="right")
    table.add_column("metrics")
    found = [p for _, p in list_checkpoints(path)]
    if (best_dir(path) / "config.json").is_file():
        found.append(best_dir(path))
    for p in found:
        meta = read_meta(p)
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in meta.metrics.items() if isinstance(v, (int, float)))
        table.add_row(p.name, str(meta.step if meta.step is not None else "-"), metrics or "-")
    console.print(table)
    if not found:
        console.print("no complete checkpoints yet", highlight=False)
