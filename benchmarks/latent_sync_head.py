"""How much of the real hand and face motion a latent flow's learned sync head explains.

The head (``model.sync_head``) reads a noisy latent ``z_t = (1 - t) z_0 + t z_1`` and its time and
predicts each latent frame's hand and face motion; sync guidance follows its gradient. This scores
it on dev items at a few flow times: R^2 of its prediction against the motion the objective trains
it on (:func:`text2sign.objectives.latent.motion_targets`), over observed latent frames. An R^2
near 0 is a head that predicts the mean motion, whose gradient steers nothing.

    .venv/bin/python benchmarks/latent_sync_head.py --model runs/i25-flow-design \\
        --config configs/fs-latent-flow-design.yaml --autoencoder runs/i25-ae --items 128
"""

from __future__ import annotations

import argparse

import torch

from text2sign.checkpoints import load_checkpoint
from text2sign.families.latent_flow import build
from text2sign.objectives.gan_nat import feature_weights
from text2sign.objectives.latent import motion_targets
from text2sign.training.config import load_config

TIMES = (0.25, 0.5, 0.75, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a latent-flow checkpoint or run directory with a sync head")
    parser.add_argument("--config", required=True, help="the config it was trained with (for the data)")
    parser.add_argument("--autoencoder", required=True, help="its init.autoencoder (the encoder makes z_1)")
    parser.add_argument("--items", type=int, default=128, help="dev items scored")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(args.config, [f"init.autoencoder={args.autoencoder}", "init.predictor=null"])
    experiment = build(config)
    objective = experiment.objective
    generator = load_checkpoint(args.model).model.eval()
    if generator.sync_head is None:
        raise SystemExit(f"error: {args.model} has no sync head (trained without model.sync_head)")
    scored = {t: ([], []) for t in TIMES}
    count = min(len(experiment.dev_data), args.items)
    with torch.no_grad():
        for start in range(0, count, 16):
            batch = experiment.collate_fn([experiment.dev_data[i] for i in range(start, min(start + 16, count))])
            z1, lengths, latent_mask = objective.targets(batch)
            weights = feature_weights(batch.frame_mask, batch.joint_mask, objective.dims)
            motion, observed = motion_targets(
                batch.features, weights, objective.columns, generator.cfg.autoencoder.downsample, z1.shape[1]
            )
            real = observed & latent_mask[..., None]
            for t in TIMES:
                z_t = (1 - t) * torch.randn_like(z1) + t * z1
                predicted = generator.sync_signals(z_t, torch.full((len(lengths),), t), latent_mask)
                scored[t][0].append(predicted[real])
                scored[t][1].append(motion[real])
    print("| t | motion mean | motion variance | head MSE | R^2 |")
    print("| --- | --- | --- | --- | --- |")
    for t, (predicted, motion) in scored.items():
        p, y = torch.cat(predicted), torch.cat(motion)
        mse = float(((p - y) ** 2).mean())
        print(f"| {t} | {float(y.mean()):.4f} | {float(y.var()):.5f} | {mse:.5f} | {1 - mse / float(y.var()):.3f} |")


if __name__ == "__main__":
    main()
