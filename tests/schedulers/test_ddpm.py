import math

import pytest
import torch

from text2sign.schedulers.ddpm import DiffusionSchedule


@pytest.mark.parametrize("beta_schedule", ["linear", "cosine"])
def test_alpha_bar_falls_from_nearly_one_to_nearly_zero(beta_schedule):
    abar = DiffusionSchedule(1000, beta_schedule).alphas_cumprod
    assert abar[0] > 0.99 and abar[-1] < 1e-3 and bool((abar[1:] < abar[:-1]).all())


def test_add_noise_mixes_by_alpha_bar():
    s = DiffusionSchedule(100)
    x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    x = s.add_noise(x0, noise, torch.tensor([0, 99]))
    assert torch.allclose(x[:, 0], s.alphas_cumprod[[0, 99]].sqrt().float())


def test_timesteps_use_leading_spacing_and_full_count_is_ddpm():
    s = DiffusionSchedule(1000)
    assert s.timesteps(4) == [750, 500, 250, 0]
    assert s.timesteps(None) == s.timesteps(5000) == list(range(999, -1, -1))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_an_oracle_denoiser_recovers_the_clean_sample(eta, prediction_type):
    """With the true target as the prediction, every DDIM/DDPM step lands on x0's trajectory."""
    s = DiffusionSchedule(50, prediction_type=prediction_type)
    x0 = torch.rand(2, 3, 4) * 1.6 - 0.8
    g = torch.Generator().manual_seed(0)

    def oracle(x, t):
        abar = s.alphas_cumprod[t].float().view(-1, 1, 1)
        return s.target(x0, (x - abar.sqrt() * x0) / (1 - abar).sqrt(), t)

    out = s.sample(
        oracle,
        torch.randn(x0.shape, generator=g),
        steps=10,
        eta=eta,
        generator_noise=lambda: torch.randn(x0.shape, generator=g),
    )
    assert torch.allclose(out, x0, atol=1e-4)


def test_eta_one_at_every_step_uses_the_ddpm_posterior_variance():
    s = DiffusionSchedule(20)
    abar = s.alphas_cumprod
    t, prev = 10, 9
    beta = 1 - abar[t] / abar[prev]
    posterior = (1 - abar[prev]) / (1 - abar[t]) * beta
    sigma = math.sqrt((1 - abar[prev]) / (1 - abar[t])) * math.sqrt(1 - abar[t] / abar[prev])
    assert sigma**2 == pytest.approx(float(posterior))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_matches_diffusers_ddim_when_installed(prediction_type):
    diffusers = pytest.importorskip("diffusers")
    ours = DiffusionSchedule(1000, "linear", prediction_type=prediction_type)
    theirs = diffusers.DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        beta_start=1e-4,
        beta_end=0.02,
        clip_sample=True,
        set_alpha_to_one=True,
        steps_offset=0,
        timestep_spacing="leading",
        prediction_type=prediction_type,
    )
    theirs.set_timesteps(10)
    assert list(theirs.timesteps.tolist()) == ours.timesteps(10)
    x = torch.randn(1, 3, 4, generator=torch.Generator().manual_seed(1))

    def predict(sample, t):
        return torch.tanh(sample) * 0.5

    out = ours.sample(predict, x.clone(), steps=10)
    y = x.clone()
    for t in theirs.timesteps:
        y = theirs.step(predict(y, t), t, y, eta=0.0).prev_sample
    assert torch.allclose(out, y, atol=1e-4)


def test_cosine_schedule_matches_diffusers_when_installed():
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    assert torch.allclose(DiffusionSchedule(1000, "cosine").alphas_cumprod.float(), theirs.alphas_cumprod, atol=1e-5)


def test_scaled_linear_schedule_is_stable_diffusions_when_installed():
    diffusers = pytest.importorskip("diffusers")
    theirs = diffusers.DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
    )
    ours = DiffusionSchedule(1000, "scaled_linear", beta_start=0.00085, beta_end=0.012)
    assert torch.allclose(ours.alphas_cumprod.float(), theirs.alphas_cumprod, atol=1e-6)
    assert float(ours.alphas_cumprod[-1]) == pytest.approx(0.0047, abs=1e-4)  # SD's final alpha-bar
