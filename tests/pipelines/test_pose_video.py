"""Animating poses with a pose-conditioned video model: one video frame per pose frame at the
model's rate, seeds, guidance, plans from the lookup or a file, and one line for a pose it
cannot use."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from text2sign.errors import Text2SignError
from text2sign.pose.canvas import canvas_positions
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose, tiny_pose_video_net

pytest.importorskip("diffusers")

from text2sign.pipelines.pose_video import MAX_POSE_FRAMES, PoseVideoPipeline, pose_positions
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig


@pytest.fixture(scope="module")
def pipeline() -> PoseVideoPipeline:
    net = tiny_pose_video_net()
    # An untrained DiT predicts 0 everywhere (zero-initialised output): give it something to say.
    torch.nn.init.normal_(net.backbone.out.weight, std=0.2)
    inference = VideoDiffusionInferenceConfig(
        train_timesteps=100, beta_schedule="cosine", prediction_type="v_prediction", steps=2, guidance_scale=1.0
    )
    return PoseVideoPipeline(net, inference)


def test_one_video_frame_per_pose_frame_at_the_models_rate(pipeline):
    (clip,) = pipeline.animate(fake_pose(30, fps=25.0))
    assert clip.fps == 12.5 and clip.num_frames == 15
    assert clip.frames.shape == (15, 16, 16, 3) and clip.frames.dtype == np.uint8
    (short,) = pipeline.animate(fake_pose(2, fps=12.5))  # shorter than a window: padded, then cut
    assert short.num_frames == 2
    (long,) = pipeline.animate(fake_pose(23, fps=12.5))  # several overlapping windows
    assert long.num_frames == 23


def test_seeds_give_different_videos_and_the_same_seed_the_same(pipeline):
    pose = fake_pose(8, fps=12.5)
    a, b = pipeline.animate(pose, num_samples=2, seed=3)
    again, _ = pipeline.animate(pose, num_samples=2, seed=3)
    np.testing.assert_array_equal(a.frames, again.frames)
    assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() > 1
    (alone,) = pipeline.animate(pose, seed=3)  # sample k's noise is seed + k, in a batch or not
    assert np.abs(a.frames.astype(int) - alone.frames.astype(int)).max() <= 1


def test_guidance_mixes_the_posed_and_unposed_predictions(pipeline):
    pose = fake_pose(8, fps=12.5)
    (plain,) = pipeline.animate(pose, seed=0)
    (guided,) = pipeline.animate(pose, seed=0, guidance_scale=3.0)
    assert guided.frames.shape == plain.frames.shape


def test_positions_are_the_fit_the_drawing_makes_at_the_models_rate(pipeline):
    pose = fake_pose(10, fps=25.0)
    expected = canvas_positions(pose.resample(12.5), 16, 16)
    np.testing.assert_allclose(pose_positions(pose, pipeline.net), expected, atol=1e-6)


def test_text_is_planned_by_the_lookup_or_a_pose_file_is_taken_as_the_plan(pipeline):
    result = pipeline(["ab"], spoken="en", signed="ase")
    planned = pipeline.planner(["ab"], spoken="en", signed="ase").outputs[0]
    assert result.outputs[0].num_frames == round(planned.num_frames * 12.5 / planned.fps)
    given = pipeline(["anything"], spoken="en", signed="ase", pose=fake_pose(6, fps=12.5))
    assert given.outputs[0].num_frames == 6


def test_a_pose_the_model_cannot_use_is_one_line(pipeline):
    body_only = fake_pose(5).select_components(["POSE_LANDMARKS"])
    with pytest.raises(Text2SignError, match="cannot be animated by a holistic-178 model"):
        pipeline.animate(body_only)
    nothing = fake_pose(5)
    nothing = PoseSequence(nothing.data, np.zeros_like(nothing.mask), nothing.fps, nothing.layout)
    with pytest.raises(Text2SignError, match="no observed joint"):
        pipeline.animate(nothing)
    with pytest.raises(Text2SignError, match=f"the most is {MAX_POSE_FRAMES}"):
        pipeline.animate(fake_pose(2 * MAX_POSE_FRAMES + 10, fps=25.0))
    with pytest.raises(Text2SignError, match="steps"):
        pipeline.animate(fake_pose(5), steps=0)
    with pytest.raises(Text2SignError, match="num_samples must be an integer from 1 to 16"):
        pipeline.animate(fake_pose(5), num_samples=1000)
    with pytest.raises(Text2SignError, match="seed must be an integer"):
        pipeline.animate(fake_pose(5), seed=-1)


def test_frame_placement_puts_any_pose_where_the_training_signer_stood(pipeline):
    net = pipeline.net
    placed = dataclasses.replace(net.config, placement="frame", signer_centre=[0.5, 0.6], signer_width=0.2)
    net.config = placed
    try:
        positions = pose_positions(fake_pose(4, fps=12.5), net)
    finally:
        net.config = dataclasses.replace(placed, placement="fit")
    left, right = fake_pose(1).layout.shoulders
    np.testing.assert_allclose((positions[:, left, :2] + positions[:, right, :2]) / 2, [[0.5, 0.6]] * 4, atol=0.01)


def test_the_plan_comes_from_another_pose_model_when_asked_and_never_from_a_video_model(pipeline):
    planned = PoseVideoPipeline(pipeline.net, pipeline.inference, pose_model="concat")
    assert planned.planner.name == "concat"
    with pytest.raises(Text2SignError, match="--pose-model fs-video makes video, and a plan is a pose sequence"):
        PoseVideoPipeline(pipeline.net, pipeline.inference, pose_model="fs-video")
