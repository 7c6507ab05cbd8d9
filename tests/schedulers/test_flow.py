"""The latent flow's Euler solver: its grid and update, against diffusers' flow-matching scheduler."""

import pytest
import torch

from text2sign.schedulers.flow import euler_sample


def field(z: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """A velocity that depends on the state and the time, so grid and update order both matter."""
    return torch.sin(3 * z) + (1 + t)[:, None] * torch.cos(z)


def test_steps_split_into_segments_land_where_one_run_does():
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    whole = euler_sample(field, z, 8)
    halves = euler_sample(field, euler_sample(field, z, 8, stop=3), 8, begin=3)
    torch.testing.assert_close(whole, halves)


def test_one_step_is_one_euler_update_from_t0():
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    expected = z + field(z, torch.zeros(2), torch.zeros(2))
    torch.testing.assert_close(euler_sample(field, z, 1), expected)


@pytest.mark.parametrize("steps", [1, 4, 16])
def test_matches_diffusers_flow_match_euler_when_installed(steps):
    diffusers = pytest.importorskip("diffusers")
    z = torch.randn(2, 6, generator=torch.Generator().manual_seed(2))
    ours = euler_sample(field, z, steps)
    # diffusers runs sigma = 1 - t from 1 (noise) to 0 and its model predicts noise - data, the
    # opposite direction of our velocity; on the same uniform grid the two solvers are one update.
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    scheduler.set_timesteps(sigmas=[1 - i / steps for i in range(steps)])
    x = z.clone()
    for timestep, sigma in zip(scheduler.timesteps, scheduler.sigmas[:-1]):
        t = torch.full((x.shape[0],), 1 - float(sigma))
        x = scheduler.step(-field(x, t, torch.zeros_like(t)), timestep, x).prev_sample
    torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)
