"""Entry point of a training run, for one process or, under torchrun, for each of many.

    python -m text2sign.train configs/fs-gan.yaml --set train.lr=3e-4 --out runs/try1
    torchrun --standalone --nproc_per_node 4 -m text2sign.train configs/fs-gan.yaml
    python -m text2sign.train --resume runs/try1            # latest checkpoint of a run

``text2sign train ... --nproc N`` runs the second form for you.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from text2sign.errors import Text2SignError

EXIT_INTERRUPTED = 130
DEFAULT_RUNS_DIR = Path("runs")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m text2sign.train",
        description="Train a text2sign model from an experiment YAML (one process, or one of many under torchrun).",
    )
    p.add_argument("config", nargs="?", type=Path, help="experiment YAML (see configs/README.md); optional with --resume")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.hidden_dim=256 (repeatable; the value is read as YAML)",
    )
    p.add_argument(
        "--resume", type=Path, metavar="DIR",
        help="continue from this checkpoint directory, or from the latest checkpoint of this run directory",
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR",
        help="run directory for TensorBoard logs, samples and checkpoints "
        "(default: the resumed run's directory, else runs/<config name>)",
    )
    return p


def prepare(config: Path | None, overrides: list[str], resume: Path | None, out: Path | None):
    """Resolve a command line into ``(ExperimentConfig, run directory, checkpoint to resume or None)``."""
    from text2sign.checkpoints import CHECKPOINTS_DIR, resolve_checkpoint
    from text2sign.training.checkpoint import read_config
    from text2sign.config import apply_overrides, config_to_dict
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
    return experiment, run_dir, checkpoint


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``text2sign.train argv`` in `nproc` processes (DDP) on this machine."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
        "-m", "text2sign.train", *argv,
    ]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    is_main = os.environ.get("RANK", "0") == "0"
    try:
        from text2sign.training.loop import train

        experiment, run_dir, checkpoint = prepare(args.config, args.overrides, args.resume, args.out)
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
