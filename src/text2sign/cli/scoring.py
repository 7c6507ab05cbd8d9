"""Commands that measure: evaluate, bench, recognize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from text2sign.cli.common import (
    MODELS,
    PersonOption,
    app,
    err_console,
    output_option,
    print_recognizer_scores,
    print_warnings,
    progress_bar,
    say,
)
from text2sign.cli.generating import load_pipeline, seed_note
from text2sign.cli.model_flags import ModelCommand, model_args
from text2sign.errors import Text2SignError

RecognizerOption = Annotated[
    Path | None,
    typer.Option(
        "--recognizer",
        "--model",
        help="Recognizer checkpoint directory (default: the shipped FS-Words one for poses, or for video).",
    ),
]


class EvaluateCommand(ModelCommand):
    not_models = ("reference",)


class BenchCommand(ModelCommand):
    def parse_args(self, ctx, args):
        from text2sign.resources import limit_blas_threads

        # BLAS pools are sized when numpy loads, which reading the model's options may do: first.
        threads = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--threads"), None)
        if threads is not None and threads.isdigit() and 1 <= int(threads) <= 256:
            limit_blas_threads(int(threads))
        return super().parse_args(ctx, args)


@app.command(cls=EvaluateCommand)
def evaluate(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus directory with the split to score.")],
    output: Annotated[Path, output_option("JSON report to write; a Markdown row goes next to it (.md).")],
    model: Annotated[
        str,
        typer.Option(
            "--model", help=f"Model: {', '.join(MODELS)}, or 'reference' to score the references (the ceiling)."
        ),
    ] = "default",
    split: Annotated[str, typer.Option("--split", help="Corpus split to score.")] = "test",
    recognizer: Annotated[
        Path | None,
        typer.Option("--recognizer", help="Back-translation recognizer directory (default: the shipped FS-Words one)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Score only the first N items.")] = None,
    gifs: Annotated[int, typer.Option("--gifs", help="Side-by-side GIFs (generated | reference) to render.")] = 4,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Sampling seed of a stochastic model (default: the model's own).")
    ] = None,
    save_predictions: Annotated[
        Path | None,
        typer.Option("--save-predictions", help="Keep every generated item here (.pose or .mp4) with predictions.csv."),
    ] = None,
) -> None:
    """Generate every item of a corpus split with a model and score it: pose, back-translation and distribution metrics.

    The model's own options are listed, with their ranges, by --model NAME --help."""
    from text2sign.evaluation.harness import evaluate as run_evaluation
    from text2sign.evaluation.harness import evaluation_inputs, markdown_header, markdown_row, write_report
    from text2sign.fileio import check_output_path
    from text2sign.outputs import check_apart

    options = model_args(ctx)
    check_apart(output, evaluation_inputs(model, corpus, recognizer, None, options.load.values()), "--output")
    check_output_path(output)
    gif_dir = output.parent / f"{output.stem}-gifs" if gifs > 0 else None
    with progress_bar() as progress:
        task = progress.add_task(f"evaluating {model}", total=None)
        report = run_evaluation(
            model,
            corpus,
            split,
            recognizer_dir=recognizer,
            limit=limit,
            gif_dir=gif_dir,
            num_gifs=gifs,
            seed=seed,
            predictions_dir=save_predictions,
            options=options.call,
            load_options=options.load,
            on_item=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if model != "reference":
        from text2sign.pipelines.options import model_options

        print_warnings(seed_note(model_options(model).stochastic, seed, model))
    json_path, markdown_path = write_report(report, output)
    say(markdown_header(report["output"]))
    say(markdown_row(report))
    where = f"{json_path}, {markdown_path}" + (f", GIFs in {gif_dir}" if gif_dir else "")
    err_console.print(f"report: {where}", highlight=False)


@app.command(cls=BenchCommand)
def bench(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help=f"Model: {', '.join(MODELS)}.")] = "default",
    threads: Annotated[int, typer.Option("--threads", help="CPU threads (torch and BLAS).")] = 1,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A phrase to time (repeatable; default: five English words).")
    ] = None,
    spoken: Annotated[str, typer.Option("--spoken", help="Spoken language of --text phrases.")] = "en",
    signed: Annotated[str, typer.Option("--signed", help="Signed language of --text phrases.")] = "ase",
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="Take the phrases from this corpus instead (with their languages)."),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Corpus split for --corpus.")] = "test",
    limit: Annotated[int, typer.Option("--limit", help="At most this many corpus phrases.")] = 50,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed calls per phrase.")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Phrases per call in the throughput run.")] = 16,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Sampling seed of a stochastic model (default: the model's own).")
    ] = None,
) -> None:
    """Time a model: warm per-phrase latency, throughput, real-time factor and peak memory, as one JSON object.

    The model's own options are listed, with their ranges, by --model NAME --help."""
    from text2sign.resources import limit_blas_threads

    for flag, value, most in (
        ("--threads", threads, 256),
        ("--limit", limit, 100_000),
        ("--repeats", repeats, 10_000),
        ("--batch-size", batch_size, 4096),
    ):
        if not 1 <= value <= most:
            raise Text2SignError(f"{flag} must be from 1 to {most}, got {value}")
    limit_blas_threads(threads)
    from text2sign.evaluation.bench import DEFAULT_PHRASES, Phrase, bench_pipeline
    from text2sign.pipelines import model_family, resolve_model_name

    if corpus is not None:
        from text2sign.data.corpus import Corpus

        items = Corpus.load(corpus).split(split)[:limit]
        phrases = [Phrase(i.text, i.spoken_language, i.signed_language) for i in items]
    else:
        phrases = [Phrase(t, spoken, signed) for t in (text or DEFAULT_PHRASES)]
    options = model_args(ctx)
    pipeline = load_pipeline(model, options.load)
    with progress_bar() as progress:
        task = progress.add_task(f"timing {model}", total=repeats * len(phrases))
        report = bench_pipeline(
            pipeline,
            phrases,
            threads=threads,
            device=device,
            repeats=repeats,
            batch_size=batch_size,
            on_progress=lambda done, total: progress.update(task, completed=done),
            seed=seed,
            options=options.call,
        )
    report.pop("model")
    print_warnings(seed_note(pipeline.stochastic, seed, pipeline.label))
    print(json.dumps({"model": resolve_model_name(model), "family": model_family(model), **report}))


@app.command()
def recognize(
    input: Annotated[
        Path,
        typer.Argument(
            help="A .pose/.npz file or a .gif/.mp4 video, or a pose or video corpus directory to score a split of."
        ),
    ],
    recognizer: RecognizerOption = None,
    signed: Annotated[str, typer.Option("--signed", help="Signed language of the pose or video file.")] = "ase",
    split: Annotated[str, typer.Option("--split", help="Corpus split to score (corpus input only).")] = "test",
    corrupt: Annotated[
        str | None,
        typer.Option(
            "--corrupt", help="Score corrupted references instead: time-shuffle or letter-swap (corpus input only)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --corrupt.")] = 0,
    person: PersonOption = None,
) -> None:
    """Print the text a recognizer reads from a pose or video file, or its CER/WER on a corpus split."""
    from text2sign.path_kinds import path_kind

    kind = path_kind(input)
    video = kind in ("video", "video-corpus")
    if video:
        from text2sign.evaluation.video_recognizer import VideoRecognizer as Reader
    else:
        from text2sign.evaluation.recognizer import Recognizer as Reader
    reader = Reader.from_pretrained(recognizer)
    if input.is_dir():
        scores = reader.evaluate_split(input, split, corruption=corrupt, seed=seed)
        name = f"{split} ({corrupt})" if corrupt else split
        shipped = "fs-words-video (shipped)" if video else "fs-words (shipped)"
        print_recognizer_scores(
            f"{'video recognizer' if video else 'recognizer'} {recognizer or shipped} on {input}", {name: scores}
        )
        return
    if corrupt:
        raise Text2SignError("--corrupt needs a corpus directory (it corrupts a split's references)")
    if video:
        from text2sign.video import load_video

        if person is not None:
            raise Text2SignError("--person picks a person of a .pose file; a video has no such choice")
        (text,) = reader.recognize([load_video(input)], [signed])
    else:
        from text2sign.pose.io import load_pose

        (text,) = reader.recognize([load_pose(input, person)], [signed])
    say(text)
