"""Speed of a pipeline: warm per-phrase latency, batch throughput, real-time factor, peak memory.

What is timed is what a user waits for: text in, signing out (poses or video, whichever the
model makes), in process, after warm-up
calls (so file reading, lexicon indexing and lazy initialisation are not counted). Thread count
is set before timing; on CUDA every timed call ends with a device synchronisation.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from text2sign.errors import Text2SignError
from text2sign.resources import peak_rss_mb

# Single words, so that a model trained on fingerspelled words can take every phrase too.
DEFAULT_PHRASES = ("hello", "thanks", "language", "world", "friend")


@dataclass(frozen=True)
class Phrase:
    text: str
    spoken: str
    signed: str


def set_threads(threads: int) -> None:
    import torch

    if threads < 1:
        raise Text2SignError(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)


def bench_pipeline(
    pipeline,
    phrases: list[Phrase],
    threads: int = 1,
    device: str = "cpu",
    repeats: int = 20,
    warmup: int = 3,
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
    seed: int | None = None,
    options: dict | None = None,
) -> dict:
    """Time `pipeline` on `phrases`; returns the JSON-ready report (see module docstring)."""
    import torch

    if not phrases:
        raise Text2SignError("no phrases to time")
    if repeats < 1:
        raise Text2SignError(f"--repeats must be at least 1, got {repeats}")
    if batch_size < 1:
        raise Text2SignError(f"--batch-size must be at least 1, got {batch_size}")
    if device == "cuda" and not torch.cuda.is_available():
        raise Text2SignError("--device cuda asked for, but torch sees no CUDA device here")
    if device not in ("cpu", "cuda"):
        raise Text2SignError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda":
        pipeline.to(device)
        torch.cuda.reset_peak_memory_stats()
    set_threads(threads)
    options = pipeline.check_options(options or {})

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        for p in phrases:
            pipeline([p.text], spoken=p.spoken, signed=p.signed, seed=seed, **options)
    sync()

    total = repeats * len(phrases)
    samples_ms = []
    for r in range(repeats):
        for p in phrases:
            start = time.perf_counter()
            pipeline([p.text], spoken=p.spoken, signed=p.signed, seed=seed, **options)
            sync()
            samples_ms.append((time.perf_counter() - start) * 1000)
            if on_progress:
                on_progress(len(samples_ms), total)

    # Throughput: phrases of one language pair go through together, batch_size at a time.
    groups: dict[tuple[str, str], list[str]] = {}
    for p in phrases:
        groups.setdefault((p.spoken, p.signed), []).append(p.text)
    generated_seconds = 0.0
    done = 0
    start = time.perf_counter()
    for _ in range(max(1, repeats // 4)):
        for (spoken, signed), texts in groups.items():
            for i in range(0, len(texts), batch_size):
                out = pipeline(texts[i : i + batch_size], spoken=spoken, signed=signed, seed=seed, **options).outputs
                generated_seconds += sum(signing.duration for signing in out)
                done += len(out)
    sync()
    compute_seconds = time.perf_counter() - start

    report = {
        "model": pipeline.name,
        "output": pipeline.output,
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(float(np.percentile(samples_ms, 95)), 3),
        "phrases_per_s": round(done / compute_seconds, 2),
        "realtime_factor": round(generated_seconds / compute_seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "device": device,
        "threads": threads,
        "phrases": len(phrases),
        "repeats": repeats,
        "batch_size": batch_size,
        "machine": f"{platform.machine()}, python {platform.python_version()}, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
    }
    if device == "cuda":
        report["gpu"] = torch.cuda.get_device_name()
        report["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return report
