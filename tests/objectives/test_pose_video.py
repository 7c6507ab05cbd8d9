"""The pose-video objective: its loss is the schedule's target against the prediction, the
dropped rows see the "no pose", and the diffusion noise panels read it as they read text-to-video."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("diffusers")

from text2sign.objectives.pose_video import PoseVideoBatch, PoseVideoObjective, PoseVideoObjectiveConfig
from text2sign.schedulers.ddpm import DiffusionSchedule
from text2sign.testing import tiny_pose_video_net
from text2sign.training.logs import noise_panels


@pytest.fixture(scope="module")
def objective():
    net = tiny_pose_video_net()
    torch.nn.init.normal_(net.backbone.out.weight, std=0.1)
    schedule = DiffusionSchedule(100, "cosine", prediction_type="v_prediction")
    return PoseVideoObjective(net, schedule, PoseVideoObjectiveConfig(cond_dropout=0.5)).eval()


def batch() -> PoseVideoBatch:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(3, 2, 4, 8, 8, generator=generator)
    return PoseVideoBatch(latents, torch.rand(3, 4, 178, 3, generator=generator))


def test_the_dev_loss_is_the_mean_squared_error_against_the_schedules_target(objective):
    data = batch()
    with torch.no_grad():
        loss = float(objective.dev_losses(data)["loss"])
        generator = torch.Generator().manual_seed(0)  # the dev seed: the same timesteps and noise
        t = torch.randint(0, 100, (3,), generator=generator)
        noise = torch.randn(data.latents.shape, generator=generator)
        expected = objective.noise_schedule.target(data.latents, noise, t)
        output = objective.net(objective.noise_schedule.add_noise(data.latents, noise, t), t, data.positions)
    assert loss == pytest.approx(float(F.mse_loss(output, expected)), rel=1e-5)


def test_the_noise_panels_read_a_pose_video_objective(objective):
    with torch.no_grad():
        panels = noise_panels(objective, batch(), levels=2)
    assert {"noise/loss_t0025", "noise/snr_db_t0025", "noise/loss_t0075"} <= set(panels)
    assert panels["noise/snr_db_t0025"] > panels["noise/snr_db_t0075"]  # less signal later in the schedule
