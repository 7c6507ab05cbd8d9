"""A video model scored as ``text2sign evaluate`` scores it, under other sampling settings: a
guidance-scale sweep (0 = the unconditional model: what the text adds) and DDIM step counts.

    .venv/bin/python benchmarks/video_sweep.py --model runs/fs-video-dit --corpus data/fs-words --split test \
        --limit 40 --out out/video-sweep --guidance 0 1 2 4 --steps 10 25 100
    .venv/bin/python benchmarks/video_sweep.py ... --steps 1000 --eta 1     # DDPM

Each setting is one Markdown row (the `evaluate` columns), and a JSON report in --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from text2sign.data.corpus import Corpus
from text2sign.evaluation.harness import _evaluate_videos, _report, write_report
from text2sign.pipelines import load_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--guidance", type=float, nargs="*", default=[], help="guidance scales, at the model's steps")
    parser.add_argument("--steps", type=int, nargs="*", default=[], help="step counts, at the model's guidance")
    parser.add_argument("--eta", type=float, default=None, help="for every setting (1 with --steps 1000: DDPM)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    pipeline = load_pipeline(args.model)
    corpus = Corpus.load(args.corpus)
    items = corpus.split(args.split)[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    settings = [{"guidance_scale": g} for g in args.guidance] + [{"steps": s} for s in args.steps]
    if args.eta is not None:
        settings = [{**s, "eta": args.eta} for s in settings]
    for options in settings:

        def generate(item, options=options):
            return pipeline([item.text], item.spoken_language, item.signed_language, seed=args.seed, **options).outputs[
                0
            ]

        result, failures = _evaluate_videos(generate, corpus, items, None, 0, None)
        name = ", ".join(f"{k} {v:g}" for k, v in options.items())
        report = _report(f"{args.model} ({name})", "video", corpus, args.split, items, failures, result, None, None)
        _, md = write_report(report, args.out / ("-".join(f"{k}{v:g}" for k, v in options.items()) + ".json"))
        print(md.read_text().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
