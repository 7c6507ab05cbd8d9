"""Warm per-phrase latency of the concat baseline, in process, on one CPU thread.

Usage:  python benchmarks/concat_latency.py [--repeats 200] [--no-peer]

Prints one JSON line per system: text2sign concat and, for the same phrases, the
spoken-to-signed package's text -> gloss -> pose pipeline with its fingerspelling lexicon
(the peer). Both are warmed up first, so file reading and lexicon indexing are not counted;
what is timed is one phrase in, one pose sequence out.
"""

from __future__ import annotations

import os

# One thread, set before numpy loads its BLAS, so the figure is what a single core gives.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

PHRASES = ["hello world", "hello", "thank you", "my name is alex", "sign language"]


def measure(fn, phrases: list[str], repeats: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        for phrase in phrases:
            fn(phrase)
    per_phrase = {}
    for phrase in phrases:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(phrase)
            samples.append((time.perf_counter() - start) * 1000)
        per_phrase[phrase] = {
            "p50_ms": round(statistics.median(samples), 3),
            "p95_ms": round(float(np.percentile(samples, 95)), 3),
        }
    return per_phrase


def text2sign_concat():
    from text2sign.pipelines.concat import ConcatPipeline

    pipeline = ConcatPipeline()
    return lambda phrase: pipeline(phrase, "en", "ase")[0]


def spoken_to_signed_peer():
    from spoken_to_signed.gloss_to_pose import gloss_to_pose
    from spoken_to_signed.gloss_to_pose.lookup.fingerspelling_lookup import FingerspellingPoseLookup
    from spoken_to_signed.text_to_gloss.simple import text_to_gloss

    lookup = FingerspellingPoseLookup()

    def run(phrase: str):
        # the peer prints progress lines from its worker threads; they would corrupt our JSON lines
        with contextlib.redirect_stdout(io.StringIO()):
            (glosses,) = text_to_gloss(phrase, language="en")
            return gloss_to_pose(glosses, lookup, "en", "ase").pose

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per phrase")
    parser.add_argument("--no-peer", action="store_true", help="skip the spoken-to-signed peer")
    args = parser.parse_args()
    machine = f"{platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}"
    systems = [("text2sign concat", text2sign_concat, args.repeats)]
    if not args.no_peer:
        # the peer is 2-3 orders of magnitude slower; fewer repeats give the same precision
        systems.append(("spoken-to-signed 0.4 (fingerspelling)", spoken_to_signed_peer, max(5, args.repeats // 20)))
    for name, factory, repeats in systems:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn = factory()
                result = measure(fn, PHRASES, repeats)
            except Exception as exc:  # the peer is third-party code: report, do not crash the run
                print(json.dumps({"system": name, "error": f"{type(exc).__name__}: {exc}"}))
                continue
        print(
            json.dumps(
                {
                    "system": name,
                    "threads": 1,
                    "repeats": repeats,
                    "hello_world_p50_ms": result["hello world"]["p50_ms"],
                    "per_phrase": result,
                    "machine": machine,
                    "date": time.strftime("%Y-%m-%d"),
                }
            )
        )


if __name__ == "__main__":
    main()
