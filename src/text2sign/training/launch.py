"""Running a training in several processes on this machine: torchrun, started and waited for.

``text2sign train --nproc N`` is this module's :func:`launch`; each process runs
``python -m text2sign.train`` (:mod:`text2sign.train`) with the same arguments.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXIT_INTERRUPTED = 130  # a run stopped by Ctrl-C or SIGTERM (after saving a checkpoint)


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``text2sign.train argv`` in `nproc` processes (DDP) on this machine."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        "-m",
        "text2sign.train",
        *argv,
    ]


def launch(nproc: int, config: Path | None, overrides: list[str], checkpoint: Path | None, run_dir: Path) -> int:
    """Train in `nproc` processes under torchrun and wait for them; the exit code.

    Ctrl-C reaches torchrun too, which hands it to its workers: they save a checkpoint and stop,
    and this waits for that instead of leaving them behind (the exit code is then 130)."""
    argv = [str(config)] if config else []
    argv += [arg for item in overrides for arg in ("--set", item)]
    argv += ["--resume", str(checkpoint)] if checkpoint else []
    argv += ["--out", str(run_dir)]
    proc = subprocess.Popen(torchrun_command(nproc, argv))
    interrupted = False
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
    return EXIT_INTERRUPTED if interrupted else code
