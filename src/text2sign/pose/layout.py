"""Skeleton layouts: which joints a pose has, how they connect, and what part of the body each is.

A layout is an ordered tuple of components (pose-format's word for a named group of points).
Every component has a *kind* -- body, face, left_hand, right_hand or world -- so code can ask
for "the hands" without knowing whether the skeleton came from MediaPipe or OpenPose.

Registered layouts (``get_layout(name)``):

=================  ======  ==========================================================
name               joints  what it is
=================  ======  ==========================================================
``holistic``       586     MediaPipe Holistic as pose-format writes it: 33 body, 478 face
                           (refined, with irises), 2 x 21 hands, 33 world landmarks
``holistic-576``   576     the same with the 468-point face (no irises)
``holistic-553``   553     478-point face, without world landmarks
``holistic-543``   543     468-point face, without world landmarks
``holistic-178``   178     the reduction sign.mt's pipeline uses: 8 body (shoulders,
                           elbows, wrists, hips), 128 face contour points, 2 x 21 hands
``phoenix-50``     50      Progressive Transformers' PHOENIX-2014T skeleton: OpenPose's 8
                           upper-body joints, left hand, right hand; 3D, in PT's units
``openpose-137``   137     OpenPose BODY_25 + face 70 + 2 x 21 hands (``prepare openpose``)
``gan-nat-540``    540     the GAN-NAT design's features: 33 body, 2 x 21 hands, 94 face
                           points (``prepare gan-nat-csv`` without ``--face-map``)
``latent-flow-214`` 214    the latent-flow design's 150 manual + 64 non-manual values
                           (``prepare latent-features``)
=================  ======  ==========================================================

The last three are the layouts of data the importers read (see "Layouts of imported data" below),
built when first asked for.

phoenix-50 carries OpenPose's own component and point names, spelled as pose-format spells
them (``pose_keypoints_2d``/``RShoulder``, ``hand_left_keypoints_2d``/``BASE``, ...): the data is
OpenPose's skeleton lifted to 3D, and with these names pose-format recognises it as ``openpose``
and finds its shoulders and hands (the ``_2d`` is OpenPose's key name, not the data's dims).
Its coordinates are not pixels, so it also has a :class:`PixelFrame`: how ``.pose`` files place
them on a pixel canvas for viewers (:mod:`text2sign.pose.io` applies and undoes it).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from text2sign.errors import ConfigError, InvalidPoseError

KINDS = ("body", "face", "left_hand", "right_hand", "world")
# What models read unless told otherwise: the manual channels (body and both hands).
DEFAULT_KINDS = ("body", "left_hand", "right_hand")


def check_kinds(kinds) -> None:
    """Component kinds a model reads: known, at least one, each once."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise ConfigError(
            f"kinds must be distinct names from {', '.join(KINDS)}; got {', '.join(map(str, kinds)) or 'none'}"
        )


MANUAL_KINDS = ("left_hand", "right_hand")
# (left, right) shoulder names: MediaPipe's, OpenPose's, COCO-WholeBody's (as pose-format names them).
SHOULDER_NAMES = (("LEFT_SHOULDER", "RIGHT_SHOULDER"), ("LShoulder", "RShoulder"), ("left_shoulder", "right_shoulder"))


@dataclass(frozen=True)
class Component:
    name: str
    kind: str
    points: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]  # indices into `points`
    colors: tuple[tuple[int, int, int], ...] = ((255, 0, 0),)
    point_format: str = "XYZC"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"component kind must be one of {KINDS}, got {self.kind!r}")
        for a, b in self.limbs:
            if not (0 <= a < len(self.points) and 0 <= b < len(self.points)):
                raise ValueError(f"limb ({a}, {b}) out of range in component {self.name}")

    def select(self, points: list[str] | tuple[str, ...]) -> Component:
        """A component with only `points` (in that order); limbs between kept points survive."""
        index = {p: i for i, p in enumerate(self.points)}
        missing = [p for p in points if p not in index]
        if missing:
            raise InvalidPoseError(f"component {self.name} has no points {missing[:5]}")
        new_index = {index[p]: i for i, p in enumerate(points)}
        limbs = tuple((new_index[a], new_index[b]) for a, b in self.limbs if a in new_index and b in new_index)
        colors = self.colors if len(self.colors) != len(self.points) else tuple(self.colors[index[p]] for p in points)
        return Component(self.name, self.kind, tuple(points), limbs, colors, self.point_format)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "points": list(self.points),
            "limbs": [list(limb) for limb in self.limbs],
            "colors": [list(color) for color in self.colors],
            "point_format": self.point_format,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Component:
        return cls(
            name=d["name"],
            kind=d["kind"],
            points=tuple(d["points"]),
            limbs=tuple((int(a), int(b)) for a, b in d["limbs"]),
            colors=tuple(tuple(int(v) for v in c) for c in d.get("colors", [(255, 0, 0)])),
            point_format=d.get("point_format", "XYZC"),
        )


@dataclass(frozen=True)
class PixelFrame:
    """An exact affine map from a layout's units to pixels: ``pixels = units * scale + origin``.

    The z coordinate is scaled too (viewers only use it to order drawing), never shifted.
    """

    scale: float
    origin: tuple[float, float]  # pixel position of the units' (0, 0)
    width: int
    height: int

    def to_pixels(self, data: np.ndarray) -> np.ndarray:
        """float32 pixels; :meth:`from_pixels` gives the units back to within 1e-7."""
        units = np.asarray(data, dtype=np.float64)
        out = units * self.scale
        out[..., :2] += self.origin
        out = out.astype(np.float32)
        # Progressive Transformers' text prints a zero's sign ("-0.00000"), so .skels -> .pose ->
        # .skels keeps it only if -0.0 lands just below the origin; it comes back as -6e-8.
        xy = units[..., :2]
        negative_zero = (xy == 0) & np.signbit(xy)
        out[..., :2] = np.where(negative_zero, np.nextafter(out[..., :2], np.float32(-np.inf)), out[..., :2])
        return out

    def from_pixels(self, data: np.ndarray) -> np.ndarray:
        out = np.asarray(data, dtype=np.float64).copy()
        out[..., :2] -= self.origin
        return (out / self.scale).astype(np.float32)


@dataclass(frozen=True)
class Layout:
    name: str
    components: tuple[Component, ...]
    dims: int = 3
    # None: the coordinates already are pixels of the image the pose was seen in.
    pixel_frame: PixelFrame | None = None

    @property
    def num_joints(self) -> int:
        return sum(len(c.points) for c in self.components)

    @functools.cached_property
    def offsets(self) -> dict[str, int]:
        offsets, start = {}, 0
        for c in self.components:
            offsets[c.name] = start
            start += len(c.points)
        return offsets

    @functools.cached_property
    def joint_names(self) -> tuple[tuple[str, str], ...]:
        """(component name, point name) for every joint, in data order."""
        return tuple((c.name, p) for c in self.components for p in c.points)

    @functools.cached_property
    def bones(self) -> np.ndarray:
        """(B, 2) int array of joint-index pairs over the whole layout."""
        pairs = [(self.offsets[c.name] + a, self.offsets[c.name] + b) for c in self.components for a, b in c.limbs]
        return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise InvalidPoseError(f"layout {self.name} has no component {name!r}; it has {self.component_names}")

    @property
    def component_names(self) -> list[str]:
        return [c.name for c in self.components]

    def component_slice(self, name: str) -> slice:
        start = self.offsets[self.component(name).name]
        return slice(start, start + len(self.component(name).points))

    def kind_indices(self, *kinds: str) -> np.ndarray:
        """Joint indices of every component whose kind is in `kinds` (e.g. "left_hand", "right_hand")."""
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown component kinds {unknown}; known: {KINDS}")
        idx = [
            np.arange(self.offsets[c.name], self.offsets[c.name] + len(c.points))
            for c in self.components
            if c.kind in kinds
        ]
        return np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)

    def joint_index(self, point: str, kind: str = "body") -> int:
        """Index of the first joint called `point` in a component of `kind`."""
        for c in self.components:
            if c.kind == kind and point in c.points:
                return self.offsets[c.name] + c.points.index(point)
        raise InvalidPoseError(f"layout {self.name} has no {kind} joint {point!r}")

    @functools.cached_property
    def shoulders(self) -> tuple[int, int]:
        """(left, right) shoulder joint indices, used to centre and scale poses."""
        body = {p for c in self.components if c.kind == "body" for p in c.points}
        for left, right in SHOULDER_NAMES:
            if left in body and right in body:
                return self.joint_index(left), self.joint_index(right)
        raise InvalidPoseError(
            f"layout {self.name} has no body joints named as shoulders "
            f"({', '.join(p for pair in SHOULDER_NAMES for p in pair)})"
        )

    def select(
        self,
        components: list[str] | tuple[str, ...] | None = None,
        points: dict[str, list[str]] | None = None,
        name: str | None = None,
    ) -> tuple[Layout, np.ndarray]:
        """A sub-layout and the joint indices (into this layout) that build it."""
        components = list(components) if components is not None else self.component_names
        points = points or {}
        new_components, index = [], []
        for comp_name in components:
            comp = self.component(comp_name)
            keep = list(points.get(comp_name, comp.points))
            new_components.append(comp.select(keep))
            point_index = {p: i for i, p in enumerate(comp.points)}
            index.extend(self.offsets[comp_name] + point_index[p] for p in keep)
        layout = Layout(name or f"{self.name}-subset", tuple(new_components), self.dims)
        return layout, np.asarray(index, dtype=np.int64)

    def index_in(self, source: Layout) -> np.ndarray:
        """Indices into `source`'s joints that give this layout's joints, matched by name.

        This is how poses move between layouts: a holistic-586 pose becomes holistic-178 by
        picking joints; a layout with joints the source lacks cannot be reached and raises.
        """
        source_index = {jn: i for i, jn in enumerate(source.joint_names)}
        missing = [jn for jn in self.joint_names if jn not in source_index]
        if missing:
            raise InvalidPoseError(
                f"cannot convert layout {source.name} to {self.name}: "
                f"{len(missing)} joints missing, e.g. {missing[0][0]}/{missing[0][1]}"
            )
        return np.asarray([source_index[jn] for jn in self.joint_names], dtype=np.int64)

    def same_joints(self, other: Layout) -> bool:
        return self.joint_names == other.joint_names and self.dims == other.dims

    def to_dict(self) -> dict:
        d = {"name": self.name, "dims": self.dims, "components": [c.to_dict() for c in self.components]}
        if self.pixel_frame is not None:
            d["pixel_frame"] = dataclasses.asdict(self.pixel_frame)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Layout:
        frame = d.get("pixel_frame")
        if frame is not None:
            frame = PixelFrame(
                float(frame["scale"]),
                tuple(float(v) for v in frame["origin"]),
                int(frame["width"]),
                int(frame["height"]),
            )
        return cls(d["name"], tuple(Component.from_dict(c) for c in d["components"]), int(d.get("dims", 3)), frame)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


# --- registered layouts --------------------------------------------------------------------

_HOLISTIC_KINDS = {
    "POSE_LANDMARKS": "body",
    "FACE_LANDMARKS": "face",
    "LEFT_HAND_LANDMARKS": "left_hand",
    "RIGHT_HAND_LANDMARKS": "right_hand",
    "POSE_WORLD_LANDMARKS": "world",
}

# The face contour subset and body joints that pose-format's reduce_holistic keeps (sign.mt).
HOLISTIC_FACE_CONTOURS = [
    "0", "7", "10", "13", "14", "17", "21", "33", "37", "39", "40", "46", "52", "53", "54", "55", "58", "61", "63",
    "65", "66", "67", "70", "78", "80", "81", "82", "84", "87", "88", "91", "93", "95", "103", "105", "107", "109",
    "127", "132", "133", "136", "144", "145", "146", "148", "149", "150", "152", "153", "154", "155", "157", "158",
    "159", "160", "161", "162", "163", "172", "173", "176", "178", "181", "185", "191", "234", "246", "249", "251",
    "263", "267", "269", "270", "276", "282", "283", "284", "285", "288", "291", "293", "295", "296", "297", "300",
    "308", "310", "311", "312", "314", "317", "318", "321", "323", "324", "332", "334", "336", "338", "356", "361",
    "362", "365", "373", "374", "375", "377", "378", "379", "380", "381", "382", "384", "385", "386", "387", "388",
    "389", "390", "397", "398", "400", "402", "405", "409", "415", "454", "466",
]  # fmt: skip
HOLISTIC_REDUCED_BODY = (
    "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW",
    "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP", "RIGHT_HIP",
)  # fmt: skip

# OpenPose BODY_25's first 8 joints and its 21 hand keypoints, in the order and with the names
# pose-format's OpenPose reader gives them (Progressive Transformers' data keeps this order).
PHOENIX_BODY = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist")
PHOENIX_BODY_LIMBS = ((0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7))
OPENPOSE_HAND = (
    "BASE", "T_STT", "T_BCMC", "T_MCP", "T_IP", "I_CMC", "I_MCP", "I_PIP", "I_DIP", "M_CMC", "M_MCP",
    "M_PIP", "M_DIP", "R_CMC", "R_MCP", "R_PIP", "R_DIP", "P_CMC", "P_MCP", "P_PIP", "P_DIP",
)  # fmt: skip
# PT units: neck-centred, about 0.33 per shoulder width, x within +-0.45 and y from -0.4 (hands
# raised) to 0.65 (hands low) in the PHOENIX-2014T sample; 500 px per unit keeps it all on the canvas.
PHOENIX_PIXEL_FRAME = PixelFrame(scale=500.0, origin=(320.0, 260.0), width=640, height=640)


@functools.cache
def _holistic_full() -> Layout:
    raw = json.loads(resources.files("text2sign.pose.assets").joinpath("holistic.json").read_text())
    components = []
    for c in raw["components"]:
        components.append(Component.from_dict({**c, "kind": _HOLISTIC_KINDS[c["name"]]}))
    return Layout("holistic", tuple(components), 3)


def _holistic_variant(name: str, face_points: int, world: bool) -> Layout:
    full = _holistic_full()
    comps = [c for c in full.component_names if world or c != "POSE_WORLD_LANDMARKS"]
    layout, _ = full.select(comps, {"FACE_LANDMARKS": [str(i) for i in range(face_points)]}, name=name)
    return layout


def _holistic_reduced() -> Layout:
    body = [p for p in _holistic_full().component("POSE_LANDMARKS").points if p in HOLISTIC_REDUCED_BODY]
    layout, _ = _holistic_full().select(
        ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"],
        {"POSE_LANDMARKS": body, "FACE_LANDMARKS": list(HOLISTIC_FACE_CONTOURS)},
        name="holistic-178",
    )
    return layout


def _phoenix() -> Layout:
    # MediaPipe numbers the 21 hand keypoints as OpenPose does, so its hand bones fit.
    hand = _holistic_full().component("LEFT_HAND_LANDMARKS")
    return Layout(
        "phoenix-50",
        (
            Component("pose_keypoints_2d", "body", PHOENIX_BODY, PHOENIX_BODY_LIMBS, ((0, 153, 0),), "XYZC"),
            Component("hand_left_keypoints_2d", "left_hand", OPENPOSE_HAND, hand.limbs, hand.colors, "XYZC"),
            Component("hand_right_keypoints_2d", "right_hand", OPENPOSE_HAND, hand.limbs, hand.colors, "XYZC"),
        ),
        3,
        PHOENIX_PIXEL_FRAME,
    )


# --- layouts of imported data ------------------------------------------------------------
#
# Built from the holistic layout and pose-format's OpenPose header, so their joints carry the
# names the rest of the toolkit matches on (a body joint called ``LEFT_SHOULDER`` or ``LShoulder``
# is a shoulder everywhere). ``gan-nat-540`` holds 169 joints of 3 values (MediaPipe body 33, whose
# visibility is the confidence, hands 2 x 21, and 94 face points the design does not identify);
# with a face map its importer writes ``holistic-543`` instead.
#
# In ``latent-flow-214`` every joint holds two values, so that flattening a pose
# (``PoseSequence.to_features``) gives back the design's 214-value vector in its own order: manual
# = MediaPipe body 33 + hands 2 x 21 (150 values), non-manual = 24 values (17 facial action units,
# head pose 3, eye gaze 4) + mouth shape 20 points (64 values). The 24 non-manual scalars are not
# positions: they sit, two to a point, in a component of kind ``world``, the kind that viewers,
# rendering and canvas fitting already leave out because its values are not image pixels; the
# points' names say which values they hold.

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
    c = _holistic_full().component(name)
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


_FACTORIES = {
    "holistic": _holistic_full,
    "holistic-576": lambda: _holistic_variant("holistic-576", 468, world=True),
    "holistic-553": lambda: _holistic_variant("holistic-553", 478, world=False),
    "holistic-543": lambda: _holistic_variant("holistic-543", 468, world=False),
    "holistic-178": _holistic_reduced,
    "phoenix-50": _phoenix,
    "openpose-137": openpose_layout,
    "gan-nat-540": gan_nat_layout,
    "latent-flow-214": latent_flow_layout,
}

LAYOUT_NAMES = tuple(_FACTORIES)


@functools.cache
def get_layout(name: str) -> Layout:
    """A registered layout by name (see the module docstring for the list)."""
    if name not in _FACTORIES:
        raise InvalidPoseError(f"unknown layout {name!r}; known layouts: {', '.join(LAYOUT_NAMES)}")
    return _FACTORIES[name]()


def _guess_kind(component_name: str) -> str:
    upper = component_name.upper()
    if "WORLD" in upper:
        return "world"
    if "FACE" in upper:
        return "face"
    if "LEFT" in upper and "HAND" in upper:
        return "left_hand"
    if "RIGHT" in upper and "HAND" in upper:
        return "right_hand"
    return "body"


def layout_from_components(components, dims: int) -> Layout:
    """The layout of pose-format header components: a registered one if the joints match.

    Unknown skeletons (OpenPose, AlphaPose, ...) are accepted too, as a layout named
    ``custom`` whose component kinds are guessed from the component names.
    """
    comps = tuple(
        Component(
            name=c.name,
            kind=_guess_kind(c.name),
            points=tuple(c.points),
            limbs=tuple((int(a), int(b)) for a, b in c.limbs),
            colors=tuple(tuple(int(v) for v in col) for col in c.colors) or ((255, 0, 0),),
            point_format=c.format,
        )
        for c in components
    )
    candidate = Layout("custom", comps, dims)
    for name in LAYOUT_NAMES:
        known = get_layout(name)
        if known.same_joints(candidate):
            return known
    return candidate
