"""Entry point of a training run, for one process or, under torchrun, for each of many.

    python -m text2sign.train configs/fs-gan.yaml --set train.lr=3e-4 -o runs/try1
    torchrun --standalone --nproc_per_node 4 -m text2sign.train configs/fs-gan.yaml
    python -m text2sign.train --resume runs/try1            # latest checkpoint of a run

``text2sign train ... --nproc N`` runs the second form for you (:mod:`text2sign.training.launch`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from text2sign.errors import Text2SignError
from text2sign.training.launch import EXIT_INTERRUPTED, torchrun_command

__all__ = ["EXIT_INTERRUPTED", "dry_run", "main", "parser", "prepare", "torchrun_command", "with_device"]

DEFAULT_RUNS_DIR = Path("runs")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m text2sign.train",
        description="Train a text2sign model from an experiment YAML (one process, or one of many under torchrun).",
        epilog="The YAML's family is a registered one: built in, a 'text2sign.families' entry point, or registered by "
        "a module named in the TEXT2SIGN_PLUGINS environment variable (comma-separated).",
    )
    p.add_argument(
        "config", nargs="?", type=Path, help="experiment YAML (see configs/README.md); optional with --resume"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.hidden_dim=256 (repeatable; the value is read as YAML)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue from this checkpoint directory, or from the latest checkpoint of this run directory",
    )
    p.add_argument(
        "--output",
        "-o",
        "--out",
        dest="out",
        type=Path,
        metavar="DIR",
        help="run directory for TensorBoard logs, samples and checkpoints "
        "(default: the resumed run's directory, else runs/<config name>)",
    )
    p.add_argument("--device", help="cpu, cuda or mps (default: train.device, 'auto' = CUDA when present)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="build everything, run one step on one batch, print parameters, memory and time per step; write nothing",
    )
    return p


DEVICES = ("cpu", "cuda", "mps")


def with_device(overrides: list[str], device: str | None) -> list[str]:
    """`overrides` plus the ``--device`` choice as a ``train.device`` override."""
    if device is None:
        return list(overrides)
    if device not in DEVICES:
        raise Text2SignError(f"--device must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]}, got {device!r}")
    return [*overrides, f"train.device={device}"]


def dry_run(experiment, run_dir: Path) -> list[str]:
    """Build the experiment, run one step on one batch and say what a full run would cost."""
    from text2sign.training import train

    report = train(experiment, run_dir, dry_run=True)
    groups = ", ".join(f"{g} {n:,}" for g, n in report.parameters.items())
    losses = ", ".join(f"{k} {v:.4g}" for k, v in report.losses.items())
    return [
        f"{report.family} on {report.device}: parameters {groups}",
        f"one step: {losses}",
        (
            f"{report.seconds_per_step * 1000:.0f} ms a step; {experiment.train.steps} steps ≈ "
            f"{report.estimated_seconds / 60:.1f} min; peak memory {report.peak_memory_mb:.0f} MB"
        ),
    ]


def prepare(config: Path | None, overrides: list[str], resume: Path | None, out: Path | None):
    """Resolve a command line into ``(ExperimentConfig, run directory, checkpoint to resume or None)``;
    the run directory must be new, empty or a run, and apart from what the experiment reads."""
    from text2sign.checkpoints import CHECKPOINTS_DIR, RUN_OUTPUT, resolve_checkpoint
    from text2sign.config import apply_overrides, config_to_dict
    from text2sign.outputs import check_output_dir
    from text2sign.training.checkpoint import read_config
    from text2sign.training.config import load_config, parse_experiment

    if config is None and resume is None:
        raise Text2SignError("give an experiment CONFIG, or --resume DIR to continue a run")
    checkpoint = resolve_checkpoint(resume) if resume is not None else None
    if config is not None:
        experiment = load_config(config, overrides)
    else:
        raw = apply_overrides(config_to_dict(read_config(checkpoint)), overrides)
        experiment = parse_experiment(raw, source=f"{checkpoint / 'config.json'} with --set")
    if out is not None:
        run_dir = out
    elif checkpoint is not None and checkpoint.parent.name == CHECKPOINTS_DIR:
        run_dir = checkpoint.parent.parent
    else:
        run_dir = DEFAULT_RUNS_DIR / (experiment.name or "run")
    # Under torchrun only rank 0 looks: the others could find the run it has begun half written.
    # The resumed checkpoint is not among the inputs: it lives in the run it continues.
    if os.environ.get("RANK", "0") == "0":
        inputs = [config, getattr(experiment.data, "corpus", None) or None, *experiment.init.values()]
        check_output_dir(run_dir, RUN_OUTPUT, inputs, "--out")
    return experiment, run_dir, checkpoint


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    is_main = os.environ.get("RANK", "0") == "0"
    try:
        from text2sign.training.loop import train

        overrides = with_device(args.overrides, args.device)
        experiment, run_dir, checkpoint = prepare(args.config, overrides, args.resume, args.out)
        if args.dry_run:
            if is_main:
                print("\n".join(dry_run(experiment, run_dir)))
            return 0
        result = train(experiment, run_dir, resume=checkpoint)
    except Text2SignError as exc:
        if is_main:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if is_main:
            print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_INTERRUPTED if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
