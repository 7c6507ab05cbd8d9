import numpy as np
import pytest

from text2sign.errors import InvalidPoseError
from text2sign.pose import PoseSequence, get_layout
from text2sign.pose.sequence import figure_margin
from text2sign.testing import fake_pose


def test_nan_in_observed_joint_is_rejected_with_location():
    seq = fake_pose(5)
    seq.data[3, 136, 1] = np.nan
    with pytest.raises(
        InvalidPoseError, match=r"1 NaN or infinite joint values \(first at frame 3, joint LEFT_HAND_LANDMARKS/WRIST\)"
    ):
        PoseSequence(seq.data, seq.mask, seq.fps, seq.layout)


def test_nan_under_mask_is_allowed():
    seq = fake_pose(5)
    seq.data[3, 140] = np.inf
    seq.mask[3, 140] = False
    PoseSequence(seq.data, seq.mask, seq.fps, seq.layout)


@pytest.mark.parametrize(
    "data_shape,mask_shape,message",
    [
        ((4, 177, 3), (4, 177), "177 joints x 3 dims but layout holistic-178 expects 178 x 3"),
        ((4, 178, 3), (5, 178), "mask shape"),
        ((178, 3), (4, 178), "must be \\(frames, joints, dims\\)"),
    ],
)
def test_wrong_shapes_are_explained(data_shape, mask_shape, message):
    with pytest.raises(InvalidPoseError, match=message):
        PoseSequence(np.zeros(data_shape), np.ones(mask_shape, bool), 25.0, get_layout("holistic-178"))


def test_bad_fps_rejected():
    with pytest.raises(InvalidPoseError, match="fps"):
        PoseSequence(np.zeros((1, 50, 3)), np.ones((1, 50), bool), 0.0, get_layout("phoenix-50"))


def test_features_round_trip_and_masked_joints_are_zero():
    seq = fake_pose(6)
    seq.mask[2, 150] = False
    features, joint_mask = seq.to_features(("left_hand", "right_hand"))
    assert features.shape == (6, 42 * 3) and joint_mask.shape == (6, 42)
    assert not joint_mask[2, 150 - 136] and (features[2, (150 - 136) * 3 : (150 - 136) * 3 + 3] == 0).all()
    back = PoseSequence.from_features(features, seq.layout, seq.fps, joint_mask, ("left_hand", "right_hand"))
    hands = seq.layout.kind_indices("left_hand", "right_hand")
    assert np.array_equal(back.mask[:, hands], seq.mask[:, hands])
    assert not back.mask[:, :136].any()
    observed = back.mask
    assert np.allclose(back.data[observed], seq.data[observed])


def test_from_features_rejects_wrong_width():
    with pytest.raises(InvalidPoseError, match="do not fit"):
        PoseSequence.from_features(np.zeros((3, 10)), get_layout("phoenix-50"), 25.0)


def test_to_layout_reduces_and_keeps_values():
    full = fake_pose(4, "holistic")
    reduced = full.to_layout("holistic-178")
    index = get_layout("holistic-178").index_in(get_layout("holistic"))
    assert np.array_equal(reduced.data, full.data[:, index])
    with pytest.raises(InvalidPoseError, match="cannot convert"):
        reduced.to_layout("holistic")


def test_resample_hits_requested_length_and_endpoints():
    seq = fake_pose(11, fps=25.0)
    faster = seq.resample(num_frames=21)
    assert faster.num_frames == 21
    assert np.allclose(faster.data[0], seq.data[0]) and np.allclose(faster.data[-1], seq.data[-1])
    assert np.allclose(faster.data[2], seq.data[1], atol=1e-4)  # position 1.0 exactly
    assert np.allclose(faster.data[1], (seq.data[0] + seq.data[1]) / 2, atol=1e-4)
    assert seq.resample(fps=50.0).num_frames == 22


def test_resample_does_not_invent_missing_joints():
    seq = fake_pose(3)
    seq.mask[1, 140] = False
    out = seq.resample(num_frames=5)  # positions 0, .5, 1, 1.5, 2
    assert out.mask[:, 140].tolist() == [True, False, False, False, True]


def test_concatenate_and_slicing():
    a, b = fake_pose(3), fake_pose(4, seed=1)
    joined = PoseSequence.concatenate([a, b])
    assert joined.num_frames == 7
    assert np.array_equal(joined[3:].data, b.data)
    with pytest.raises(InvalidPoseError):
        PoseSequence.concatenate([a, fake_pose(2, "phoenix-50")])


def with_confidence(seq: PoseSequence, canvas=(500, 600), seed: int = 0) -> PoseSequence:
    confidence = np.random.default_rng(seed).uniform(0.3, 1.0, seq.mask.shape).astype(np.float32)
    confidence[1, 140] = 0
    return PoseSequence(seq.data, confidence > 0, seq.fps, seq.layout, confidence, canvas)


def test_resample_interpolates_confidence_and_keeps_the_canvas():
    seq = with_confidence(fake_pose(3))
    out = seq.resample(num_frames=5)  # positions 0, .5, 1, 1.5, 2
    assert out.canvas == (500, 600)
    halfway = (seq.confidence[0] + seq.confidence[1]) / 2
    halfway[140] = 0  # unseen in frame 1, so unseen halfway to it
    assert np.allclose(out.confidence[1], halfway)
    assert np.array_equal(out.confidence[2], seq.confidence[1])
    assert out.confidence[:, 140].tolist()[1:4] == [0, 0, 0] and np.array_equal(out.confidence > 0, out.mask)


def test_resample_to_the_same_rate_or_length_changes_nothing():
    seq = with_confidence(fake_pose(7))
    assert seq.resample(fps=seq.fps) is seq
    assert seq.resample(num_frames=7) is seq


def test_operations_that_keep_coordinates_keep_confidence_and_canvas():
    seq = with_confidence(fake_pose(4, "holistic"))
    for out in (seq[1:3], seq.copy(), seq.to_layout("holistic-178"), seq.select_components(["POSE_LANDMARKS"])):
        assert out.canvas == (500, 600) and out.confidence is not None
    joined = PoseSequence.concatenate([seq, seq])
    assert joined.canvas == (500, 600) and np.array_equal(joined.confidence[4:], seq.confidence)
    other = with_confidence(fake_pose(2, "holistic"), canvas=(10, 10))
    assert PoseSequence.concatenate([seq, other]).canvas is None
    assert PoseSequence.concatenate([seq, fake_pose(2, "holistic")]).confidence is None
    with pytest.raises(InvalidPoseError, match="canvas must be a positive"):
        PoseSequence(seq.data, seq.mask, seq.fps, seq.layout, canvas=(0, 5))


def test_fit_canvas_moves_by_whole_pixels_and_grows_the_canvas():
    seq = fake_pose(3)
    seq.data[1, 140, :2] = (-3.5, 700.2)
    seq.data[2, 141, :2] = (620.0, -0.25)
    fitted = PoseSequence(seq.data, seq.mask, seq.fps, seq.layout, canvas=(500, 500)).fit_canvas()
    # The figure spans 623.5 x 700.45 px: margin ceil(5 % of 700.45) = 36 px. x moves by
    # ceil(36 + 3.5) = 40, y by ceil(36 + 0.25) = 37; the canvas must hold 620 + 40 and 700.2 + 37
    # with 36 px to spare: 697 -> 698 (even) wide, 774 high.
    assert figure_margin(np.array([-3.5, -0.25]), np.array([620.0, 700.2])) == 36
    assert np.allclose(fitted.data[..., :2], seq.data[..., :2] + (40, 37))
    assert np.array_equal(fitted.data[..., 2], seq.data[..., 2])
    assert fitted.canvas == (698, 774)
    points = fitted.data[fitted.mask][:, :2]
    assert (points >= 36).all() and (points < np.array(fitted.canvas) - 36).all()
    again = fitted.fit_canvas()
    assert np.array_equal(again.data, fitted.data) and again.canvas == fitted.canvas
    inside = PoseSequence(fitted.data, fitted.mask, fitted.fps, fitted.layout, canvas=(800, 800))
    assert np.array_equal(inside.fit_canvas().data, inside.data) and inside.fit_canvas().canvas == (800, 800)
    odd = PoseSequence(fitted.data, fitted.mask, fitted.fps, fitted.layout, canvas=(801, 799))
    assert odd.fit_canvas().canvas == (802, 800)  # room enough, but H.264 needs even sides
    width, height = fake_pose(2).fit_canvas().canvas  # without a canvas: the points' extent and margin
    assert width % 2 == 0 and height % 2 == 0


def test_fit_canvas_is_idempotent_on_fractional_points():
    """float32 puts a point moved by whole pixels a hair off; a second call must not move it again."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        seq = fake_pose(4)
        spread = rng.uniform(1, 700)
        seq.data[..., :2] = rng.uniform(-300, 900, size=2) + rng.uniform(0, 1, seq.data[..., :2].shape) * spread
        once = seq.fit_canvas()
        twice = once.fit_canvas()
        assert twice.canvas == once.canvas and np.array_equal(twice.data, once.data)
        phoenix = fake_pose(3, "phoenix-50")  # shifts in units, measured in the frame's pixels
        phoenix.data[..., :2] = rng.uniform(-1.2, 0.3) + rng.uniform(0, 1, phoenix.data[..., :2].shape)
        once = phoenix.fit_canvas()
        assert np.array_equal(once.fit_canvas().data, once.data)


def test_fit_canvas_ignores_world_landmarks_and_works_in_a_pixel_frame():
    seq = fake_pose(2, "holistic")
    seq.data[:, seq.layout.kind_indices("world")] = -1.0  # metres around the hips, not image positions
    fitted = seq.fit_canvas()
    world = seq.layout.kind_indices("world")
    assert np.array_equal(fitted.data[:, world], seq.data[:, world])
    phoenix = fake_pose(2, "phoenix-50")
    phoenix.data[:] = 0.0
    phoenix.data[0, 3, :2] = (-0.7, 0.1)  # 500 px per unit, origin (320, 260): x from -30 to 320 px
    fitted = phoenix.fit_canvas()
    assert fitted.canvas is None  # the frame's canvas, grown when written
    # margin ceil(5 % of 350 px) = 18: x moves by 30 + 18 px, y (from 260 px) stays
    assert np.allclose(fitted.data[..., 0], phoenix.data[..., 0] + 48 / 500)
    assert np.array_equal(fitted.data[..., 1], phoenix.data[..., 1])
