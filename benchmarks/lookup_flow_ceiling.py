"""The ceiling of the plan-conditioned route (issue 24): its output with a perfect flow.

    python benchmarks/lookup_flow_ceiling.py --corpus data/fs-words [--split dev]

For every item, the lookup's plan is warped onto the recording's own timing, measured by the same
alignment training uses (:func:`text2sign.data.plan_pairs.plan_durations`), with a zero residual:
what ``lookup-flow`` would make if its duration flow drew exactly the recording's durations. Prints
CER and the Fréchet distance on the shipped recognizer's features for the references, the plan
(``concat``) and the warped plan.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from text2sign.data.corpus import Corpus
from text2sign.data.plan_pairs import plan_durations
from text2sign.evaluation.metrics import cer, frechet_distance
from text2sign.evaluation.recognizer import Recognizer
from text2sign.models.plan_flow import warp_plan, warp_positions
from text2sign.pipelines import load_pipeline
from text2sign.pose.sequence import PoseSequence


def warped(plan: PoseSequence, durations: np.ndarray) -> PoseSequence:
    length = round(float(durations.sum()))
    positions = warp_positions(torch.from_numpy(durations)[None], length)
    frames = torch.from_numpy(plan.data.reshape(1, plan.num_frames, -1))
    seen = torch.from_numpy(np.repeat(plan.mask, plan.layout.dims, axis=1)[None])
    data, observed = warp_plan(frames, seen, positions)
    joints = plan.layout.num_joints
    shape = (length, joints, plan.layout.dims)
    mask = observed[0].numpy().reshape(shape)[..., 0]
    return PoseSequence(data[0].numpy().reshape(shape), mask, plan.fps, plan.layout, canvas=plan.canvas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="data/fs-words")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    corpus = Corpus.load(args.corpus)
    items = corpus.split(args.split)
    concat = load_pipeline("concat")
    recognizer = Recognizer.from_pretrained()
    references = [corpus.load_pose(i) for i in items]
    plans = [concat(i.text, i.spoken_language, i.signed_language).outputs[0] for i in items]
    perfect = [warped(p, plan_durations(p, r)) for p, r in zip(plans, references)]
    languages, texts = [i.signed_language for i in items], [i.text for i in items]
    reference_features = recognizer.embed(references, languages)
    print(f"| {args.split} ({len(items)} words) | CER % | Fréchet | frames |")
    print("| --- | --- | --- | --- |")
    for name, poses in (
        ("references", references),
        ("concat (the plan)", plans),
        ("plan warped to the recording", perfect),
    ):
        read = cer(recognizer.recognize(poses, languages), texts)
        distance = frechet_distance(recognizer.embed(poses, languages), reference_features)
        print(f"| {name} | {read:.2f} | {distance:.3f} | {np.mean([p.num_frames for p in poses]):.1f} |")


if __name__ == "__main__":
    main()
