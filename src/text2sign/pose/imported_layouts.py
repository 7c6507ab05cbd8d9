"""Skeleton layouts of the data the importers read, built from the registered ``holistic`` layout
and pose-format's OpenPose header, so their joints carry the names the rest of the toolkit
matches on (a body joint called ``LEFT_SHOULDER`` or ``LShoulder`` is a shoulder everywhere).

==================  ======  =========  ====================================================
name                joints  dims       what it is
==================  ======  =========  ====================================================
``openpose-137``    137     2 (x, y)   OpenPose BODY_25 + face 70 + hands 2 x 21, in pixels,
                                       as pose-format's OpenPose reader names them
``gan-nat-540``     169     3          the GAN-NAT design's 540 values a frame: MediaPipe body
                                       33 (its visibility is the confidence), hands 2 x 21,
                                       and 94 face points the design does not identify
                                       (with a face map, the importer writes ``holistic-543``)
``latent-flow-214`` 107     2          the latent-flow design's 214 values a frame: manual =
                                       MediaPipe body 33 + hands 2 x 21 (150 values),
                                       non-manual = 24 values (17 facial action units, head
                                       pose 3, eye gaze 4) + mouth shape 20 points (64 values)
==================  ======  =========  ====================================================

In ``latent-flow-214`` every joint holds two values, so that flattening a pose
(:meth:`~text2sign.pose.sequence.PoseSequence.to_features`) gives back the design's 214-value
vector in its own order. Its 24 non-manual scalars are not positions: they sit, two to a point,
in a component of kind ``world``, the kind that viewers, rendering and canvas fitting already
leave out because its values are not image pixels; the points' names say which values they hold.
"""

from __future__ import annotations

import functools

from text2sign.pose.layout import Component, Layout, get_layout

OPENPOSE_LAYOUT = "openpose-137"
GAN_NAT_LAYOUT = "gan-nat-540"
LATENT_FLOW_LAYOUT = "latent-flow-214"

GAN_NAT_FACE_POINTS = 94
OPENPOSE_KINDS = {
    "pose_keypoints_2d": "body",
    "face_keypoints_2d": "face",
    "hand_left_keypoints_2d": "left_hand",
    "hand_right_keypoints_2d": "right_hand",
}
# The latent-flow design's non-manual values, in the order its loader concatenates them.
NMM_SCALARS = (
    *(f"facial_aus[{i}]" for i in range(17)),
    *(f"head_pose[{i}]" for i in range(3)),
    *(f"eye_gaze[{i}]" for i in range(4)),
)
MOUTH_POINTS = 20
# Components of each group, so the latent-flow family can weight manual and non-manual channels.
LATENT_FLOW_GROUPS = {
    "manual": ("POSE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"),
    "non_manual": ("NMM_VALUES", "MOUTH_SHAPE"),
}
MEDIAPIPE_MANUAL = ("POSE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")


def _holistic_component(name: str, point_format: str) -> Component:
    c = get_layout("holistic").component(name)
    return Component(c.name, c.kind, c.points, c.limbs, c.colors, point_format)


@functools.cache
def openpose_layout() -> Layout:
    from pose_format.utils.openpose import OpenPose_Components

    components = tuple(
        Component(
            name=c.name,
            kind=OPENPOSE_KINDS[c.name],
            points=tuple(c.points),
            limbs=tuple((int(a), int(b)) for a, b in c.limbs),
            colors=tuple(tuple(int(v) for v in color) for color in c.colors),
            point_format=c.format,
        )
        for c in OpenPose_Components
    )
    return Layout(OPENPOSE_LAYOUT, components, 2)


@functools.cache
def gan_nat_layout() -> Layout:
    """Body and hands as MediaPipe names them; the 94 face points, which the design does not
    identify, as an anonymous ``FACE_94`` component (the importer's face map places them in
    MediaPipe's face mesh instead)."""
    body, left, right = (_holistic_component(n, "XYZC") for n in MEDIAPIPE_MANUAL)
    points = tuple(str(i) for i in range(GAN_NAT_FACE_POINTS))
    face = Component("FACE_94", "face", points, (), ((128, 0, 0),), "XYZC")
    return Layout(GAN_NAT_LAYOUT, (body, left, right, face), 3)


@functools.cache
def latent_flow_layout() -> Layout:
    body, left, right = (_holistic_component(n, "XYC") for n in MEDIAPIPE_MANUAL)
    pairs = tuple(f"{NMM_SCALARS[i]},{NMM_SCALARS[i + 1]}" for i in range(0, len(NMM_SCALARS), 2))
    values = Component("NMM_VALUES", "world", pairs, (), ((0, 0, 0),), "XYC")
    mouth = Component("MOUTH_SHAPE", "face", tuple(str(i) for i in range(MOUTH_POINTS)), (), ((128, 0, 0),), "XYC")
    return Layout(LATENT_FLOW_LAYOUT, (body, left, right, values, mouth), 2)
