"""How the plan enters a plan-conditioned flow, compared on FS-Words dev (issue 24).

    python benchmarks/lookup_flow_dev.py RUN --corpus data/fs-words [--split dev]

Scores, with `text2sign evaluate`'s harness (the shipped recognizer reads every item back;
Fréchet distance and diversity on its features), the lookup itself and the model RUN with:

* the plan after alignment only: the residual flow from noise (``plan_strength 0``) at 1, 2, 4 and
  16 Euler steps;
* SDEdit: the residual flow started from the plan noised to ``plan_strength`` 0.5 and 0.75.

Prints one Markdown table; every row is one `evaluate` call with those options.
"""

from __future__ import annotations

import argparse
import time

from text2sign.evaluation.harness import evaluate

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


if __name__ == "__main__":
    main()
