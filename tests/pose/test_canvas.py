"""Where joints land on a frame: the drawing's fit, a video's own pixels, and a signer's place."""

from __future__ import annotations

import numpy as np
import pytest

from text2sign.pose.canvas import canvas_positions, fit_to_canvas, frame_positions, placed_positions
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose


def test_canvas_positions_are_the_drawn_pixels_as_fractions_and_unseen_joints_are_zero():
    seq = fake_pose(6)
    seq.mask[2, 5] = False
    positions = canvas_positions(seq, 32, 32)
    drawn = fit_to_canvas(seq, 32, 32).data[..., :2] / 32
    seen = seq.mask
    np.testing.assert_allclose(positions[..., :2][seen], drawn[seen], atol=1e-6)
    assert positions.shape == (6, seq.layout.num_joints, 3)
    assert positions[2, 5].tolist() == [0.0, 0.0, 0.0]
    assert positions[..., 2].sum() == seen.sum()
    # the fit keeps a 5 % margin: every seen joint is inside the frame
    assert positions[..., :2][seen].min() >= 0.04 and positions[..., :2][seen].max() <= 0.96


def test_frame_positions_follow_the_resize_and_centre_crop_of_prepare_video_folder():
    seq = fake_pose(2)
    seq = PoseSequence(seq.data.copy(), seq.mask, seq.fps, seq.layout, canvas=(200, 100))
    seq.data[:, 0, :2] = (100, 50)  # the middle of a 200 x 100 video
    seq.data[:, 1, :2] = (0, 0)  # its top-left corner, cropped away
    # shorter side 100 -> 50: the video is 100 x 50, then its centre 50 x 50 is kept (left 25, top 0)
    positions = frame_positions(seq, resize=50, crop=50, width=50, height=50)
    np.testing.assert_allclose(positions[0, 0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(positions[0, 1], [-0.5, 0.0, 1.0])
    unshaped = frame_positions(seq, resize=None, crop=None, width=200, height=100)
    np.testing.assert_allclose(unshaped[0, 0], [0.5, 0.5, 1.0])


def test_frame_positions_need_the_video_the_pose_came_from():
    with pytest.raises(ValueError, match="canvas"):
        frame_positions(fake_pose(2), resize=None, crop=None, width=32, height=32)


def test_placed_positions_put_the_shoulders_where_the_signer_stood():
    seq = fake_pose(3)
    left, right = seq.layout.shoulders
    positions = placed_positions(seq, centre=(0.5, 0.4), shoulder_width=0.25, width=64, height=64)
    middle = (positions[:, left, :2] + positions[:, right, :2]) / 2
    np.testing.assert_allclose(middle, np.tile([0.5, 0.4], (3, 1)), atol=0.01)
    width = np.linalg.norm(positions[:, left, :2] - positions[:, right, :2], axis=-1)
    np.testing.assert_allclose(width, 0.25, atol=0.01)
