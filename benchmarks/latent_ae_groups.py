"""Which channel group's reconstruction costs an autoencoder its read-back.

For each group (all of them, then each alone) the references are scored with that group replaced
by the autoencoder's reconstruction and every other joint left real, through the same harness code
as ``text2sign evaluate``. A group whose reconstruction alone takes the CER far above the
references' is where the autoencoder loses the letters.

    .venv/bin/python benchmarks/latent_ae_groups.py --model runs/fs-latent-ae --corpus data/fs-words \\
        --split dev --limit 80
"""

from __future__ import annotations

import argparse

from text2sign.data.corpus import Corpus
from text2sign.evaluation.harness import _evaluate_poses
from text2sign.pipelines import load_reconstruction
from text2sign.pose.sequence import PoseSequence

GROUPS = (("body", "face", "left_hand", "right_hand"), ("right_hand",), ("left_hand",), ("body",), ("face",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a latent-ae checkpoint or run directory")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    reconstruct = load_reconstruction(args.model)
    if reconstruct is None:
        parser.error(f"{args.model} is not an autoencoder checkpoint")
    corpus = Corpus.load(args.corpus)
    items = corpus.split(args.split)[: args.limit]

    def with_reconstructed(kinds):
        def generate(item):
            reference = corpus.load_pose(item)
            rebuilt = reconstruct(reference)
            data, mask = reference.data.copy(), reference.mask.copy()
            joints = reference.layout.kind_indices(*kinds)
            data[:, joints], mask[:, joints] = rebuilt.data[:, joints], rebuilt.mask[:, joints]
            return PoseSequence(data, mask, reference.fps, reference.layout, None, reference.canvas)

        return generate

    print(f"| reconstructed groups ({args.model}, {args.split}, {len(items)} items) | CER % |")
    print("| --- | --- |")
    print(f"| none (the references) | {_cer(None, corpus, args.split, items):.2f} |")
    for kinds in GROUPS:
        print(f"| {', '.join(kinds)} | {_cer(with_reconstructed(kinds), corpus, args.split, items):.2f} |", flush=True)


def _cer(generate, corpus, split, items) -> float:
    report, _ = _evaluate_poses("groups", generate, corpus, split, items, None, None, 0, None)
    return report["metrics"]["cer"]


if __name__ == "__main__":
    main()
