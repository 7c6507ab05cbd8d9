"""Commands that train: train (one process, or torchrun with --nproc) and train-recognizer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from text2sign.cli.common import app, console, output_option, print_recognizer_scores, progress_bar
from text2sign.errors import Text2SignError


@app.command("train")
def train_command(
    config: Annotated[
        Path | None,
        typer.Argument(metavar="CONFIG", help="Experiment YAML (see configs/README.md); optional with --resume."),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a config value, e.g. --set model.d_model=192 (repeatable; the value is YAML).",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="DIR",
            help="Continue from this checkpoint, or from the latest one of this run directory.",
        ),
    ] = None,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            min=1,
            metavar="N",
            help="Processes on this machine; >1 runs torchrun with DDP (NCCL on GPUs, gloo on CPU).",
        ),
    ] = 1,
    out: Annotated[
        Path | None,
        output_option(
            metavar="DIR",
            help="Run directory for TensorBoard logs, samples, checkpoints (default: the resumed run's, else "
            "runs/<name>).",
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="cpu, cuda or mps (default: train.device, 'auto' = CUDA when present)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Build everything, run one step on one batch, print parameters, memory and time per step; write "
            "nothing.",
        ),
    ] = False,
    profile: Annotated[
        int | None,
        typer.Option(
            "--profile",
            min=1,
            metavar="N",
            help="Build the model, run N training steps and one round of samples; print parameters, seconds a step, "
            "samples a second, FLOPs, peak memory and the schedule's estimated GPU-hours; write nothing.",
        ),
    ] = None,
    checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--checkpointing/--no-checkpointing",
            help="Gradient checkpointing on or off (train.gradient_checkpointing; default: the config's).",
        ),
    ] = None,
    frame_chunk: Annotated[
        int | None,
        typer.Option(
            "--frame-chunk",
            min=0,
            metavar="N",
            help="Frames at a time through per-frame parts (model.frame_chunk; 0: all at once).",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            metavar="fp32|bf16|fp16",
            help="train.precision; bf16 also autocasts on the CPU (train.cpu_autocast), fp32 turns autocast off.",
        ),
    ] = None,
    count_only: Annotated[
        bool,
        typer.Option(
            "--count-only",
            help="Video diffusion: count one step's FLOPs, activations and memory at full size on the meta device "
            "(shapes only, seconds); write nothing.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --profile or --count-only: print the report as JSON.")
    ] = False,
) -> None:
    """Train a model from an experiment YAML; Ctrl-C saves a checkpoint and stops (exit code 130).

    Its `family:` is a registered family: built in, a 'text2sign.families' entry point, or from a \
TEXT2SIGN_PLUGINS module."""
    from text2sign.train import EXIT_INTERRUPTED, prepare, with_device
    from text2sign.train import dry_run as run_dry
    from text2sign.training.profile import profile_overrides

    if as_json and profile is None and not count_only:
        raise Text2SignError("--json is for --profile N and --count-only")
    if (profile is not None or count_only) and (dry_run or resume is not None or nproc > 1):
        raise Text2SignError("--profile and --count-only run alone: not with --dry-run, --resume or --nproc")
    overrides = with_device([*(overrides or []), *profile_overrides(checkpointing, frame_chunk, precision)], device)
    experiment, run_dir, checkpoint = prepare(config, overrides, resume, out)
    if experiment.note:
        typer.echo(f"note: {experiment.note}", err=True)
    if count_only:
        import json

        from text2sign.training.profile import count_lines, count_step

        counted = count_step(experiment)
        lines = [json.dumps(counted, indent=1)] if as_json else count_lines(counted)
        for line in lines:
            console.print(line, highlight=False, markup=False)
        return
    if profile is not None:
        import json

        from text2sign.training.profile import profile as run_profile
        from text2sign.training.profile import report_dict, report_lines

        report = run_profile(experiment, profile, config or "")
        if as_json:
            typer.echo(json.dumps(report_dict(report), indent=1))
        else:
            for line in report_lines(report):
                console.print(line, highlight=False, markup=False)
        return
    if dry_run:
        for line in run_dry(experiment, run_dir):
            console.print(line, highlight=False, markup=False)
        return
    if nproc > 1:
        from text2sign.training.launch import launch

        raise typer.Exit(launch(nproc, config, overrides, checkpoint, run_dir))
    from text2sign.training import train

    result = train(experiment, run_dir, resume=checkpoint)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command("train-recognizer")
def train_recognizer_command(
    corpus: Annotated[Path, typer.Argument(help="Corpus directory; trains on train, picks the epoch by dev CER.")],
    out: Annotated[Path, output_option(help="Checkpoint directory to write (replaced atomically if it is one).")],
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Passes over the train split (default: 50).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Items per step (default: 16).")] = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", help="Peak learning rate of the warmup + cosine schedule (default: 2e-3)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of initialization, batching and augmentation (default: 0).")
    ] = None,
    hidden: Annotated[
        int | None, typer.Option("--hidden", min=1, help="Channels of the temporal encoder (default: 128).")
    ] = None,
    downsample: Annotated[
        int | None, typer.Option("--downsample", min=1, help="Frames per encoder step (default: 2).")
    ] = None,
    dilations: Annotated[
        str | None,
        typer.Option(
            "--dilations", help="Dilation of each residual conv block, comma-separated (default: 1,2,4,1,2,4)."
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option("--kinds", help="Component kinds read, comma-separated (default: body,left_hand,right_hand)."),
    ] = None,
    no_augment: Annotated[
        bool, typer.Option("--no-augment", help="Train without speed/noise/rotation/scale augmentation.")
    ] = False,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads for torch (default: 2).")] = None,
) -> None:
    """Train the back-translation recognizer (pose -> text, CTC over characters) and print its dev/test scores."""
    from text2sign.training.recognizer import RecognizerTrainConfig, train_recognizer

    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "hidden": hidden,
        "downsample": downsample,
        "num_threads": threads,
        "dilations": parse_int_list(dilations, "--dilations") if dilations else None,
        "kinds": tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else None,
    }
    cfg = RecognizerTrainConfig(augment=not no_augment, **{k: v for k, v in options.items() if v is not None})
    with progress_bar() as progress:
        task = progress.add_task("training recognizer", total=None)

        def on_progress(step: int, total: int, info: dict) -> None:
            dev = "" if info["dev_cer"] != info["dev_cer"] else f" best dev CER {info['dev_cer']:.1f}%"
            progress.update(
                task, completed=step, total=total, description=f"epoch {info['epoch']} loss {info['loss']:.3f}{dev}"
            )

        metrics = train_recognizer(corpus, out, cfg, on_progress)
    print_recognizer_scores(f"recognizer {out}", metrics["scores"])
    console.print(
        f"best epoch {metrics['best_epoch']} of {metrics['epochs']} ({metrics['steps']} steps, "
        f"{metrics['parameters']:,} parameters, {metrics['train_seconds']:.0f} s) -> {out}",
        highlight=False,
    )


def parse_int_list(text: str, flag: str) -> tuple[int, ...]:
    """Whole numbers separated by commas ("1,2,4"), or one line naming the flag and what is wrong."""
    items = [item.strip() for item in text.split(",")]
    bad = [item for item in items if not item.lstrip("-").isdigit()]
    if bad:
        shown = repr(bad[0]) if bad[0] else "an empty item"
        raise Text2SignError(f"{flag} takes whole numbers separated by commas (like 1,2,4); got {shown} in {text!r}")
    return tuple(int(item) for item in items)
