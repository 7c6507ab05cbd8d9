"""The plan-conditioned flows' time warp: positions and resampling against hand computations."""

import numpy as np
import torch

from text2sign.models.plan_flow import PlanFlowConfig, PlanFlowNet, velocity, warp_plan, warp_positions


def test_unit_durations_give_the_plan_back_frame_for_frame():
    positions = warp_positions(torch.ones(1, 5), 5)
    assert torch.allclose(positions, torch.arange(5.0)[None])


def test_a_plan_frame_lasting_two_frames_spans_half_a_frame_either_side():
    # Frame 0 lasts 1 output frame, frame 1 lasts 2, frame 2 lasts 1: output centres 0.5, 1.5, 2.5, 3.5.
    positions = warp_positions(torch.tensor([[1.0, 2.0, 1.0]]), 4)
    # 1.5 is a quarter into frame 1's span [1, 3): 1 - 0.5 + 0.25; 2.5 three quarters: 1 - 0.5 + 0.75.
    assert torch.allclose(positions, torch.tensor([[0.0, 0.75, 1.25, 2.0]]))


def test_padding_is_never_read_and_positions_stay_inside_the_plan():
    durations = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
    positions = warp_positions(durations, 3)
    assert positions[0].tolist() == [0.0, 1.0, 1.0]  # past its two real frames: the last one
    # Half-frame durations: output centres 0.5, 1.5 fall at the ends of frames 0 and 2's spans.
    assert torch.allclose(positions[1], torch.tensor([0.5, 2.5, 3.0]))


def test_warping_interpolates_where_both_frames_are_seen_and_takes_the_seen_one_otherwise():
    frames = torch.tensor([[[0.0], [10.0], [20.0]]])  # (1, 3, 1)
    observed = torch.tensor([[[True], [True], [False]]])
    values, seen = warp_plan(frames, observed, torch.tensor([[0.25, 1.5, 2.0]]))
    assert values[0, :, 0].tolist() == [2.5, 10.0, 0.0]
    assert seen[0, :, 0].tolist() == [True, True, False]


def test_an_untrained_model_lands_on_the_plan_at_its_mean_pace():
    from text2sign.schedulers.flow import euler_sample

    config = PlanFlowConfig(
        d_model=16, layers=1, duration_layers=1, kernel=3, feature_dim=6, log_duration_mean=np.log(2.0)
    )
    net = PlanFlowNet(config)
    cond = torch.randn(2, 7, 6)
    mask = torch.ones(2, 7, dtype=torch.bool)

    def residual_velocity(state, t, _h):
        return velocity(net.residual_estimate(state, cond, cond > 0, t, mask), state, t)

    residual = euler_sample(residual_velocity, torch.randn(2, 7, 6), 4)
    assert residual.shape == (2, 7, 6) and residual.abs().max() < 1e-6
    assert np.allclose(net.durations(torch.zeros(2, 7), mask).numpy(), 2.0)


def test_the_velocity_reaches_its_estimate_at_the_end_of_the_step():
    state, estimate = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 0.5]])
    t = torch.tensor([0.75])
    assert torch.allclose(state + 0.25 * velocity(estimate, state, t), estimate)


def test_tempo_noise_has_unit_variance_and_neighbours_that_share_it():
    from text2sign.models.plan_flow import tempo_noise

    noise = tempo_noise(400, 60, 12, generator=torch.Generator().manual_seed(0))
    assert noise.shape == (400, 60)
    assert abs(float(noise.std()) - 1.0) < 0.05
    neighbours = torch.corrcoef(torch.stack([noise[:, 10], noise[:, 11], noise[:, 40]]))
    assert neighbours[0, 1] > 0.85 and abs(float(neighbours[0, 2])) < 0.15  # 11/12 of their noise is shared
    white = tempo_noise(1, 5, 1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(white[0], torch.randn(5, generator=torch.Generator().manual_seed(3)))
