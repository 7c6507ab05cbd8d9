import numpy as np
import pytest

from text2sign.errors import InvalidPoseError
from text2sign.pose.io import to_pose_format
from text2sign.pose.layout import LAYOUT_NAMES, get_layout, layout_from_components


@pytest.mark.parametrize(
    "name,joints",
    [
        ("holistic", 586),
        ("holistic-576", 576),
        ("holistic-553", 553),
        ("holistic-543", 543),
        ("holistic-178", 178),
        ("phoenix-50", 50),
    ],
)
def test_registered_layout_sizes(name, joints):
    layout = get_layout(name)
    assert layout.num_joints == joints
    assert len(layout.joint_names) == joints
    assert layout.bones.shape[1] == 2
    assert layout.bones.min() >= 0 and layout.bones.max() < joints


def test_component_kinds_and_hands():
    layout = get_layout("holistic-178")
    assert [c.kind for c in layout.components] == ["body", "face", "left_hand", "right_hand"]
    assert [len(c.points) for c in layout.components] == [8, 128, 21, 21]
    hands = layout.kind_indices("left_hand", "right_hand")
    assert hands.tolist() == list(range(136, 178))
    phoenix = get_layout("phoenix-50")
    assert phoenix.kind_indices("left_hand").tolist() == list(range(8, 29))
    assert phoenix.kind_indices("right_hand").tolist() == list(range(29, 50))
    assert phoenix.shoulders == (5, 2)


def test_reduced_holistic_matches_pose_format_reduction():
    """holistic-178 must be exactly what pose-format's reduce_holistic (sign.mt) keeps."""
    from pose_format.utils.generic import reduce_holistic

    full = get_layout("holistic")
    from text2sign.testing import fake_pose

    pose = to_pose_format(fake_pose(3, full))
    reduced = reduce_holistic(pose)
    names = tuple((c.name, p) for c in reduced.header.components for p in c.points)
    assert names == get_layout("holistic-178").joint_names


def test_index_in_picks_joints_by_name():
    full, reduced = get_layout("holistic"), get_layout("holistic-178")
    index = reduced.index_in(full)
    assert [full.joint_names[i] for i in index] == list(reduced.joint_names)
    with pytest.raises(InvalidPoseError, match="cannot convert layout holistic-178 to holistic"):
        full.index_in(reduced)


def test_bones_survive_selection():
    full = get_layout("holistic")
    hand = full.component("RIGHT_HAND_LANDMARKS")
    sub, index = full.select(["RIGHT_HAND_LANDMARKS"])
    assert sub.num_joints == 21 and len(sub.bones) == len(hand.limbs)
    assert np.array_equal(
        index,
        np.arange(
            full.component_slice("RIGHT_HAND_LANDMARKS").start, full.component_slice("RIGHT_HAND_LANDMARKS").stop
        ),
    )


def test_layout_json_round_trip():
    for name in LAYOUT_NAMES:
        layout = get_layout(name)
        again = type(layout).from_dict(layout.to_dict())
        assert again == layout


def test_header_detection_recognises_registered_layouts_and_accepts_custom():
    for name in ("holistic", "holistic-178", "phoenix-50"):
        pose = to_pose_format(__import__("text2sign.testing", fromlist=["fake_pose"]).fake_pose(2, name))
        assert layout_from_components(pose.header.components, 3).name == name
    pose = to_pose_format(__import__("text2sign.testing", fromlist=["fake_pose"]).fake_pose(2, "holistic-178"))
    pose.header.components[0].points[0] = "SOMETHING_ELSE"
    assert layout_from_components(pose.header.components, 3).name == "custom"


def test_unknown_layout_lists_known_ones():
    with pytest.raises(InvalidPoseError, match="known layouts: holistic"):
        get_layout("openpose-999")


def test_phoenix_is_recognised_by_pose_format_as_openpose():
    """Named as pose-format names OpenPose, so its shoulders, hands and normalize() are found."""
    from pose_format.utils.generic import detect_known_pose_format, hands_components, pose_shoulders

    from text2sign.testing import fake_pose

    pose = to_pose_format(fake_pose(2, "phoenix-50"))
    assert detect_known_pose_format(pose) == "openpose"
    header = pose.header
    (c1, p1), (c2, p2) = pose_shoulders(header)
    phoenix = get_layout("phoenix-50")
    assert {header.get_point_index(c1, p1), header.get_point_index(c2, p2)} == set(phoenix.shoulders)
    (left, right), palm, middle = hands_components(header)
    for component in (left, right):
        for point in (*palm, *middle):
            header.get_point_index(component, point)


def test_pixel_frame_round_trip_keeps_units_and_the_sign_of_zero():
    frame = get_layout("phoenix-50").pixel_frame
    units = np.round(np.random.default_rng(0).uniform(-0.6, 0.7, (40, 3)), 5).astype(np.float32)
    units[:3] = [[0.0, -0.0, -0.0], [-0.0, 0.0, 0.0], [0.00001, -0.00001, 0.0]]
    pixels = frame.to_pixels(units)
    assert pixels.dtype == np.float32 and np.allclose(
        pixels[:, :2], units[:, :2] * frame.scale + frame.origin, atol=1e-4
    )
    back = frame.from_pixels(pixels)
    assert np.abs(back - units).max() < 1e-7
    assert [f"{v:.5f}" for v in back[:3].ravel()] == [f"{v:.5f}" for v in units[:3].ravel()]
