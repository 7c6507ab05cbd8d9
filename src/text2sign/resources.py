"""What a process uses of the machine, for benchmarks and training logs."""

from __future__ import annotations

import os
import platform
import resource

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(threads: int) -> None:
    """Size the BLAS and OpenMP thread pools at `threads`. They are sized when numpy (or torch)
    first loads, so this must run before anything imports them (``bench --threads`` does)."""
    for variable in BLAS_THREAD_VARIABLES:
        os.environ[variable] = str(threads)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024
