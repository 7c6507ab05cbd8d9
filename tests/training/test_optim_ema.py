import itertools
import math
import warnings

import pytest
import torch
import toy_family  # noqa: F401  (registers the toy families)
from torch import nn

from text2sign.training import EMA, load_config, train, warmup_cosine


def test_warmup_cosine_at_hand_computed_steps():
    # warmup 2 of 12 steps, floor 0.1: the cosine runs over steps 2..11 (9 intervals).
    f = [warmup_cosine(s, warmup_steps=2, total_steps=12, min_ratio=0.1) for s in range(12)]
    assert f[0] == pytest.approx(0.5)
    assert f[1] == pytest.approx(1.0)
    assert f[2] == pytest.approx(1.0)
    assert f[5] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 3)))  # 0.775
    assert f[8] == pytest.approx(0.325)
    assert f[11] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(f[1:]))
    assert warmup_cosine(0, 0, 1, 0.0) == 1.0


def test_loop_uses_the_schedule_and_per_group_overrides(toy_yaml, tmp_path):
    config = load_config(
        toy_yaml(
            "family: toy-gan\n"
            "train: {steps: 12, batch_size: 4, lr: 0.01, warmup_steps: 2, min_lr_ratio: 0.1,\n"
            "        optimizers: {discriminator: {lr: 0.002, betas: [0.5, 0.9]}}, checkpoint_every: 0}\n"
            "objective: {generator_only_steps: 3}\n"
        )
    )
    seen, stepped = [], []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*lr_scheduler.step")  # torch: scheduler stepped before its optimizer
        train(
            config, tmp_path / "run", callbacks=[lambda info: (seen.append(info.lrs), stepped.append(set(info.losses)))]
        )
    assert len(seen) == 12
    # The discriminator sits out the first 3 steps; its learning rate follows the clock regardless.
    assert stepped[0] == {"generator/loss"}
    assert stepped[3] == {"generator/loss", "discriminator/loss"}
    for step, lrs in enumerate(seen):
        factor = warmup_cosine(step, 2, 12, 0.1)
        assert lrs["generator"] == pytest.approx(0.01 * factor)
        assert lrs["discriminator"] == pytest.approx(0.002 * factor)
    state = torch.load(tmp_path / "run/checkpoints/step-000012/trainer_state.pt", weights_only=True)
    assert state["optimizers"]["discriminator"]["param_groups"][0]["betas"] == (0.5, 0.9)
    assert state["optimizers"]["generator"]["param_groups"][0]["betas"] == (0.9, 0.999)


def test_ema_update_by_hand():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.3)
    expected = []
    for value in (1.0, 2.0, 3.0, 4.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        expected.append(ema.model.weight.item())
    # decays min(0.3, (1+n)/(10+n)): 0.1, 2/11, 0.25, then the 0.3 cap.
    assert expected == pytest.approx([0.9, 1.8, 2.7, 0.3 * 2.7 + 0.7 * 4.0])
    assert ema.num_updates == 4
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_ema_copies_buffers_and_round_trips():
    model = nn.BatchNorm1d(2)
    ema = EMA(model, decay=0.9)
    model.running_mean.fill_(5.0)
    ema.update(model)
    assert torch.equal(ema.model.running_mean, torch.full((2,), 5.0))
    other = EMA(model, decay=0.9)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1
    assert torch.equal(other.model.running_mean, ema.model.running_mean)
