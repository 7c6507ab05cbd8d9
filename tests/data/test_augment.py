import numpy as np
import pytest

from text2sign.data.augment import (
    Compose,
    GaussianNoise,
    RandomRotation,
    RandomScale,
    RandomSpeed,
    add_noise,
    change_speed,
    default_augmentation,
    pose_center,
    rotate,
    scale,
)
from text2sign.pose.layout import Component, Layout, get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose


def single_joint(point, layout="holistic-178"):
    """A pose whose shoulders sit symmetric about the origin and one hand joint at `point`."""
    layout = get_layout(layout)
    data = np.zeros((1, layout.num_joints, 3), np.float32)
    mask = np.zeros((1, layout.num_joints), bool)
    left, right = layout.shoulders
    data[0, left], data[0, right] = (1, 0, 0), (-1, 0, 0)
    hand = layout.kind_indices("right_hand")[0]
    data[0, hand] = point
    mask[0, [left, right, hand]] = True
    return PoseSequence(data, mask, 25.0, layout), hand


def test_pose_center_is_the_shoulder_midpoint():
    seq, _ = single_joint((5, 5, 5))
    seq.data[0, seq.layout.shoulders[0]] += (0, 2, 0)
    seq.data[0, seq.layout.shoulders[1]] += (0, 2, 0)
    assert np.allclose(pose_center(seq), (0, 2, 0))


def test_rotation_by_90_degrees_about_the_viewing_axis_turns_x_into_y():
    seq, hand = single_joint((1, 0, 0))
    out = rotate(seq, view_degrees=90)
    assert np.allclose(out.data[0, hand], (0, 1, 0), atol=1e-6)
    assert np.array_equal(out.mask, seq.mask)


def test_rotation_by_90_degrees_about_the_vertical_axis_turns_x_into_depth():
    seq, hand = single_joint((1, 3, 0))
    out = rotate(seq, vertical_degrees=90)
    assert np.allclose(out.data[0, hand], (0, 3, -1), atol=1e-6)  # y (vertical) unchanged


def test_rotation_keeps_distances_and_leaves_masked_joints_alone():
    seq = fake_pose(12, seed=3)
    seq.mask[:, 100:110] = False
    seq.data[:, 100:110] = 0.0
    out = rotate(seq, 12.0, -7.0)
    center = pose_center(seq)
    observed = seq.mask
    before = np.linalg.norm(seq.data[observed] - center, axis=-1)
    after = np.linalg.norm(out.data[observed] - center, axis=-1)
    assert np.allclose(before, after, rtol=1e-4)
    assert np.all(out.data[:, 100:110] == 0.0)
    assert not np.allclose(out.data[observed], seq.data[observed])


def test_scale_2_doubles_distances_from_the_centre():
    seq = fake_pose(5, seed=1)
    center = pose_center(seq)
    out = scale(seq, 2.0)
    assert np.allclose(out.data - center, 2 * (seq.data - center), atol=1e-3)
    assert np.allclose(pose_center(out), center, atol=1e-4)


def test_speed_2x_halves_the_frames_at_the_same_fps():
    seq = fake_pose(40)
    fast = change_speed(seq, 2.0)
    assert fast.num_frames == 20 and fast.fps == seq.fps
    assert fast.data.shape[1:] == seq.data.shape[1:]
    assert np.allclose(fast.data[0], seq.data[0]) and np.allclose(fast.data[-1], seq.data[-1])
    assert change_speed(seq, 0.5).num_frames == 80
    with pytest.raises(ValueError):
        change_speed(seq, 0.0)


def test_noise_moves_observed_joints_only_with_the_given_std():
    seq = fake_pose(50, seed=2)
    seq.mask[:, :8] = False
    out = add_noise(seq, 0.1, np.random.default_rng(0))
    diff = out.data - seq.data
    assert np.all(diff[:, :8] == 0)
    assert abs(diff[:, 8:].std() - 0.1) < 0.005
    assert np.array_equal(out.mask, seq.mask)


def test_random_augmentations_are_reproducible_and_keep_shapes():
    seq = fake_pose(30, seed=4)
    aug = default_augmentation()
    a = aug(seq, np.random.default_rng(7))
    b = aug(seq, np.random.default_rng(7))
    c = aug(seq, np.random.default_rng(8))
    assert a.allclose(b, atol=0)
    assert a.data.shape[1:] == seq.data.shape[1:] and a.mask.shape == a.data.shape[:2]
    assert 24 <= a.num_frames <= 38  # speed within [0.8, 1.25]
    assert not (a.num_frames == c.num_frames and np.allclose(a.data, c.data))


def test_each_random_augmentation_respects_its_range():
    seq = fake_pose(20, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(10):
        assert 16 <= RandomSpeed(0.8, 1.25)(seq, rng).num_frames <= 25
        scaled = RandomScale(0.9, 1.1)(seq, rng)
        center = pose_center(seq)
        ratio = np.linalg.norm(scaled.data - center, axis=-1) / np.linalg.norm(seq.data - center, axis=-1)
        assert 0.9 - 1e-4 <= ratio.min() and ratio.max() <= 1.1 + 1e-4 and np.allclose(ratio, ratio.flat[0], atol=1e-3)
    rotated = RandomRotation(0.0, 0.0)(seq, rng)
    assert np.allclose(rotated.data, seq.data, atol=1e-4)
    assert np.allclose(GaussianNoise(0.0)(seq, rng).data, seq.data)


def test_compose_with_probability_zero_is_the_identity():
    seq = fake_pose(10)
    out = Compose([RandomScale(2.0, 3.0), GaussianNoise(1.0)], p=0.0)(seq, np.random.default_rng(0))
    assert out.allclose(seq, atol=0)


def test_two_dimensional_poses_rotate_in_the_image_plane():
    layout = Layout("flat", (Component("BODY", "body", ("LEFT_SHOULDER", "RIGHT_SHOULDER", "HAND"), ()),), dims=2)
    data = np.array([[[1, 0], [-1, 0], [2, 0]]], np.float32)
    seq = PoseSequence(data, np.ones((1, 3), bool), 25.0, layout)
    assert np.allclose(rotate(seq, view_degrees=90).data[0, 2], (0, 2), atol=1e-6)
    assert np.allclose(rotate(seq, vertical_degrees=60).data[0, 2], (1, 0), atol=1e-6)  # seen from the front: cos 60
