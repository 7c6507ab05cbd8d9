"""How the plan enters a plan-conditioned flow, compared on FS-Words dev (issue 24).

    python benchmarks/lookup_flow_dev.py RUN --corpus data/fs-words [--split dev]

Scores, with `text2sign evaluate`'s harness (the shipped recognizer reads every item back;
Fréchet distance and diversity on its features), the lookup itself and the model RUN with:

* the plan after alignment only: the residual flow from noise (``plan_strength 0``) at 1, 2, 4 and
  16 Euler steps;
* SDEdit: the residual flow started from the plan noised to ``plan_strength`` 0.5 and 0.75.

Prints one Markdown table; every row is one `evaluate` call with those options. Then how far
apart two seeds' signings of the same word are (the recognizer's pooled features, and frames),
at the model's default steps: a plan-conditioned model must not collapse to one signing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from text2sign.data.corpus import Corpus
from text2sign.evaluation.harness import evaluate
from text2sign.evaluation.recognizer import Recognizer
from text2sign.pipelines import load_pipeline

ROWS = [
    ("concat (the plan itself)", "concat", {}),
    ("aligned plan, 1 step", None, {"steps": 1}),
    ("aligned plan, 2 steps", None, {"steps": 2}),
    ("aligned plan, 4 steps", None, {"steps": 4}),
    ("aligned plan, 16 steps", None, {"steps": 16}),
    ("SDEdit from the plan at t0 = 0.5, 4 steps", None, {"steps": 4, "plan_strength": 0.5}),
    ("SDEdit from the plan at t0 = 0.75, 4 steps", None, {"steps": 4, "plan_strength": 0.75}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a lookup-flow checkpoint or run directory")
    parser.add_argument("--corpus", default="data/fs-words")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    print(f"| {args.split} | CER % | DTW-MJE | Fréchet | diversity | s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, model, options in ROWS:
        start = time.perf_counter()
        report = evaluate(model or args.run, args.corpus, args.split, limit=args.limit, seed=0, options=options)
        m = report["metrics"]
        print(
            f"| {label} | {m['cer']:.2f} | {m['dtw_mje']:.3f} | {m['frechet']:.3f} | {m['diversity']:.3f} | "
            f"{time.perf_counter() - start:.0f} |",
            flush=True,
        )

    spread = seed_spread(args.run, args.corpus, args.split, args.limit)
    print(
        f"\nseeds 0 and 1 on {args.split}: feature distance {spread[0]:.3f} (between different words: "
        f"{spread[1]:.3f}), |frames 0 - frames 1| {spread[2]:.2f} on average, {spread[3]:.0%} of words differ"
    )


def seed_spread(run: str, corpus_dir: str, split: str, limit: int | None) -> tuple[float, float, float, float]:
    """Mean distance between the recognizer features of seed 0's and seed 1's signing of each word,
    the same between neighbouring words (for scale), mean frame-count difference, share that differ."""
    corpus = Corpus.load(corpus_dir)
    items = corpus.split(split)[:limit]
    pipeline = load_pipeline(run)
    recognizer = Recognizer.from_pretrained()
    languages = [i.signed_language for i in items]
    signings = [
        [pipeline(i.text, i.spoken_language, i.signed_language, seed=seed).outputs[0] for i in items] for seed in (0, 1)
    ]
    first, second = (recognizer.embed(s, languages) for s in signings)
    between_seeds = np.linalg.norm(first - second, axis=1).mean()
    between_words = np.linalg.norm(first[1:] - first[:-1], axis=1).mean()
    frames = np.array([[s.num_frames for s in seed] for seed in signings])
    differ = np.mean([not np.array_equal(a.data, b.data) for a, b in zip(*signings)])
    return float(between_seeds), float(between_words), float(np.abs(frames[0] - frames[1]).mean()), float(differ)


if __name__ == "__main__":
    main()
