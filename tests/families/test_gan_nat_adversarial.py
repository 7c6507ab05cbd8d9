"""configs/fs-gan-nat-adv.yaml (issue 25): the discriminator path of the real config trains."""

import itertools
import math
from pathlib import Path

import torch

from text2sign.training import load_config, train

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "fs-gan-nat-adv.yaml"


def test_adversarial_config_trains_the_discriminator(tiny_fs_words, tmp_path):
    config = load_config(
        CONFIG,
        [
            f"data.corpus={tiny_fs_words.root}",
            # The config's settings, at toy size: the GAN settings under test stay as shipped.
            "model.text.d_model=16",
            "model.text.layers=1",
            "model.d_model=16",
            "model.layers=1",
            "objective.discriminator.channels=16",
            "objective.discriminator.layers=2",
            "objective.dev_metric=loss",
            "train.steps=3",
            "train.batch_size=4",
            "train.sample_every=0",
            "train.checkpoint_every=0",
            "train.validate_every=0",
        ],
    )
    assert (config.objective.adversarial, config.objective.adversarial_start) == (1.0, 0)
    steps = []

    def record(info):
        params = [p.detach().clone() for p in info.objective.discriminator.parameters()]
        steps.append((dict(info.losses), dict(info.lrs), params))

    train(config, tmp_path / "run", callbacks=[record], quiet=True)
    assert len(steps) == 3
    for losses, lrs, _ in steps:
        for name in ("discriminator/loss", "discriminator/hinge", "generator/adversarial", "generator/loss"):
            assert math.isfinite(losses[name]), (name, losses)
        # The design's rates: D at half G's learning rate.
        assert math.isclose(lrs["discriminator"], lrs["generator"] / 2, rel_tol=1e-6)
    # D's weights are read after each step, so steps 2 and 3 are the ones seen to move them.
    for (_, _, before), (_, _, after) in itertools.pairwise(steps):
        assert any(not torch.equal(a, b) for a, b in zip(before, after))
