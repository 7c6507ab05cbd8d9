"""Cold start: wall time of one whole `generate` command, ours next to spoken-to-signed's own CLI.

Both sign "hello" (en -> ase) by fingerspelling from the same lexicon, each as a fresh process
(interpreter start, imports, lexicon reading, composition, writing the .pose file), alternating
so that both see the same machine state. Prints one JSON object: per command the median, min
and max seconds over --runs, and the ratio of medians (ours / peer).

    .venv/bin/python benchmarks/cold_start.py --runs 10
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def commands(out: Path) -> dict[str, list[str]]:
    from text2sign.data.lexicon import fingerspelling_lexicon_dir

    bin_dir = Path(sys.executable).parent
    return {
        "text2sign concat": [
            str(bin_dir / "text2sign"),
            "generate",
            "hello",
            "--model",
            "concat",
            "-o",
            str(out / "ours.pose"),
        ],
        "spoken-to-signed": [
            str(bin_dir / "text_to_gloss_to_pose"),
            "--text",
            "hello",
            "--glosser",
            "simple",
            "--spoken-language",
            "en",
            "--signed-language",
            "ase",
            "--lexicon",
            str(fingerspelling_lexicon_dir()),
            "--pose",
            str(out / "peer.pose"),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command (after one warm-up each)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="cold-start-"))
    try:
        cmds = commands(out)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for run in range(args.runs + 1):
            for name, cmd in cmds.items():
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                if run > 0:  # the first run of each fills the OS file cache
                    times[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    report = {
        name: {"median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3), "max_s": round(max(t), 3)}
        for name, t in times.items()
    }
    ours, peer = (statistics.median(t) for t in times.values())
    report["ratio"] = round(ours / peer, 3)
    report["runs"] = args.runs
    report["machine"] = f"{platform.machine()}, {platform.python_version()}"
    report["date"] = time.strftime("%Y-%m-%d")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
