"""Our ``.pose`` files as the field's own tools read them.

Every shipped pose model's output and a converted PHOENIX sequence, written as ``.pose`` bytes,
must be drawn by pose-format's ``PoseVisualizer`` with every observed point inside the image,
survive pose-format's ``normalize()`` and ``normalize_distribution()`` (which first detect the
skeleton by its component names), and parse as sign.mt's pose-viewer parses a file, with the
same numbers as pose-format's reader and a header that contains the points. Readers that take
the stored values without the mask (pose-evaluation) must see 0 at every confidence-0 point and
score a model's saved files as ``text2sign evaluate`` does; a model's canvas is even (H.264) and
leaves a margin around the figure.
"""

from __future__ import annotations

import copy
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from dtaidistance import dtw_ndim
from pose_format import Pose
from pose_format.pose_visualizer import PoseVisualizer
from pose_format.utils.generic import (
    detect_known_pose_format,
    normalize_pose_size,
    pose_hide_legs,
    pose_normalization_info,
)

from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words
from text2sign.data.phoenix import import_phoenix
from text2sign.evaluation.harness import evaluate
from text2sign.families import MODELS, get_family
from text2sign.pipelines import load_pipeline
from text2sign.pose.io import parse_skels_line, to_pose_format
from text2sign.pose.sequence import figure_margin

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "phoenix14t-sample"
POSE_MODELS = sorted(name for name, model in MODELS.items() if get_family(model.family).output == "pose")
# The peer takes about a second per letter: one short word says what "hello world" would.
TEXTS = {"spoken-to-signed": "hi"}
WHITE = (255, 255, 255)


def pose_bytes(seq) -> bytes:
    buffer = io.BytesIO()
    to_pose_format(seq).write(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    """What ``text2sign generate "hello world" --model NAME -o x.pose`` writes, per pose model."""
    out = {}
    for name in POSE_MODELS:
        signing = load_pipeline(name)(TEXTS.get(name, "hello world"), spoken="en", signed="ase").outputs[0]
        out[name] = pose_bytes(signing)
    return out


def synthetic_phoenix_bytes() -> bytes:
    rng = np.random.default_rng(0)
    values = np.round(rng.uniform(-0.45, 0.6, size=(6, 50, 3)), 5)
    values[:, 1] = 0.0  # neck-centred, as PHOENIX is
    line = " ".join(" ".join(f"{v:.5f}" for v in row.ravel()) + f" {t / 6:.4f}" for t, row in enumerate(values))
    return pose_bytes(parse_skels_line(line))


# --- sign.mt's pose-viewer parser (pose-format binary format, versions 0.1 and 0.2) ---------


class Reader:
    def __init__(self, buffer: bytes):
        self.buffer, self.offset = buffer, 0

    def unpack(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buffer, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string(self) -> str:
        length = self.unpack("H")
        text = self.buffer[self.offset : self.offset + length].decode("utf-8")
        self.offset += length
        return text

    def floats(self, count: int) -> np.ndarray:
        values = np.frombuffer(self.buffer, dtype="<f4", count=count, offset=self.offset)
        self.offset += 4 * count
        return values


def parse_like_pose_viewer(buffer: bytes) -> dict:
    """The steps of pose-viewer's ``parsePose``: header, components, then the body by version."""
    r = Reader(buffer)
    version = round(r.unpack("f") * 1000) / 1000
    width, height, depth = r.unpack("HHH")
    components = []
    for _ in range(r.unpack("H")):
        name, point_format = r.string(), r.string()
        n_points, n_limbs, n_colors = r.unpack("HHH")
        points = [r.string() for _ in range(n_points)]
        limbs = [r.unpack("HH") for _ in range(n_limbs)]
        colors = [r.unpack("HHH") for _ in range(n_colors)]
        components.append({"name": name, "format": point_format, "points": points, "limbs": limbs, "colors": colors})
    if version == 0.1:
        fps, frames = r.unpack("HH")
    elif version == 0.2:
        fps, frames = r.unpack("fI")
    else:
        raise AssertionError(f"pose-viewer parses versions 0.1 and 0.2, not {version}")
    people = r.unpack("H")
    points = sum(len(c["points"]) for c in components)
    dims = max(len(c["format"]) for c in components) - 1
    data = r.floats(frames * people * points * dims).reshape(frames, people, points, dims)
    confidence = r.floats(frames * people * points).reshape(frames, people, points)
    assert r.offset == len(buffer), "pose-viewer would read the body from the wrong place"
    return {
        "width": width,
        "height": height,
        "depth": depth,
        "components": components,
        "fps": fps,
        "data": data,
        "confidence": confidence,
    }


# --- the checks ---------------------------------------------------------------------------------


def check_drawn_inside(payload: bytes) -> Pose:
    pose = Pose.read(payload)
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    confidence = np.asarray(pose.body.confidence)
    xy = np.asarray(pose.body.data.data)[..., :2][confidence > 0]  # (N, 2)
    assert xy.size, "nothing observed"
    assert (xy >= 0).all() and (xy[:, 0] < width).all() and (xy[:, 1] < height).all(), (
        f"points span x {xy[:, 0].min():.1f}..{xy[:, 0].max():.1f}, y {xy[:, 1].min():.1f}..{xy[:, 1].max():.1f} "
        f"but the header is {width} x {height}"
    )
    frames = list(PoseVisualizer(pose).draw())
    assert len(frames) == len(confidence)
    for image, seen in zip(frames, confidence[:, 0] > 0):
        assert image.shape == (height, width, 3)
        if seen.any():
            assert (image != WHITE).any(axis=-1).any(), "a frame with observed joints drew blank"
    return pose


def check_pose_format_normalizes(payload: bytes) -> None:
    # pose-format caches the header of the bytes it read, and normalize_pose_size changes it in place.
    pose = copy.deepcopy(Pose.read(payload))
    normalized = pose.normalize()  # detects the skeleton by its names to find the shoulders
    normalize_pose_size(normalized)  # as `visualize_pose --normalize` does
    assert next(PoseVisualizer(normalized).draw()).shape == (512, 512, 3)
    again = copy.deepcopy(Pose.read(payload))
    again.normalize(pose_normalization_info(again.header))
    again.normalize_distribution()
    assert np.isfinite(np.ma.filled(again.body.data, 0.0)).all()


def check_pose_viewer_reads(payload: bytes) -> None:
    viewer = parse_like_pose_viewer(payload)
    pose = Pose.read(payload)
    assert (viewer["width"], viewer["height"]) == (pose.header.dimensions.width, pose.header.dimensions.height)
    assert [c["name"] for c in viewer["components"]] == [c.name for c in pose.header.components]
    assert viewer["fps"] == pytest.approx(pose.body.fps)
    assert np.array_equal(viewer["data"], np.asarray(pose.body.data.data))
    assert np.array_equal(viewer["confidence"], np.asarray(pose.body.confidence))
    xy = viewer["data"][..., :2][viewer["confidence"] > 0]
    assert (xy >= 0).all() and (xy < (viewer["width"], viewer["height"])).all()


def check_unobserved_points_are_zero(payload: bytes) -> None:
    pose = Pose.read(payload)
    unobserved = np.asarray(pose.body.confidence) == 0  # (T, people, J)
    stored = np.asarray(pose.body.data.data)[unobserved]  # (N, D)
    holding = int((stored != 0).any(axis=-1).sum())
    assert not holding, f"{holding} confidence-0 points hold coordinates, up to {np.abs(stored).max():.1f}"


CHECKS = [check_drawn_inside, check_pose_format_normalizes, check_pose_viewer_reads, check_unobserved_points_are_zero]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", POSE_MODELS)
def test_shipped_model_output(generated, name, check):
    check(generated[name])


def test_shipped_models_are_detected_as_what_they_are(generated):
    assert POSE_MODELS, "no shipped pose model"
    for payload in generated.values():
        assert detect_known_pose_format(Pose.read(payload)) == "holistic"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_phoenix_layout_file(check):
    check(synthetic_phoenix_bytes())
    assert detect_known_pose_format(Pose.read(synthetic_phoenix_bytes())) == "openpose"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="PHOENIX-2014T sample not present in ../shared")
def test_prepared_phoenix_sample(tmp_path):
    corpus = import_phoenix(SAMPLE, tmp_path / "corpus")
    for item in corpus.items:
        payload = (corpus.root / item.path).read_bytes()
        assert detect_known_pose_format(Pose.read(payload)) == "openpose"
        check_pose_viewer_reads(payload)
    first = (corpus.root / corpus.items[0].path).read_bytes()
    check_drawn_inside(first)
    check_pose_format_normalizes(first)


def test_peer_keeps_its_confidence_and_canvas(generated):
    pose = Pose.read(generated["spoken-to-signed"])
    confidence = np.asarray(pose.body.confidence)
    assert len(np.unique(confidence)) > 2
    # spoken-to-signed draws on 512 x 512; only the height grows, to take in the hips below it.
    assert pose.header.dimensions.width == 512 and pose.header.dimensions.height >= 512


@pytest.mark.parametrize("name", POSE_MODELS)
def test_shipped_model_canvas_is_even_with_a_margin(generated, name):
    pose = Pose.read(generated[name])
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    assert width % 2 == 0 and height % 2 == 0, f"{width} x {height}: H.264 (yuv420p) needs even sides"
    xy = np.asarray(pose.body.data.data)[..., :2][np.asarray(pose.body.confidence) > 0]  # (N, 2)
    low, high = xy.min(axis=0), xy.max(axis=0)
    margin = figure_margin(low, high)
    assert margin >= 0.05 * (high - low).max()
    assert (low >= margin).all() and (high <= np.array([width, height]) - margin).all(), (
        f"figure x {low[0]:.1f}..{high[0]:.1f}, y {low[1]:.1f}..{high[1]:.1f} on {width} x {height}: "
        f"not {margin} px from every edge"
    )


# --- pose-evaluation's default DTW-MJE on the raw file values -------------------------------------


def pose_evaluation_trim(pose: Pose) -> Pose:
    """spoken-to-signed's trim_pose as pose-evaluation (commit d812923) calls it: from the first
    frame showing a wrist up to, not including, the last one. spoken-to-signed 0.4 replaced it
    with a different span (and pose-evaluation's call no longer fits its signature)."""
    names = [(c.name, point) for c in pose.header.components for point in c.points]
    wrists = [names.index((hand, "WRIST")) for hand in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")]
    shown = (np.asarray(pose.body.confidence)[:, 0, wrists] > 0).any(axis=1)  # (T,)
    first, last = int(np.argmax(shown)), len(shown) - int(np.argmax(shown[::-1])) - 1
    pose.body.data = pose.body.data[first:last]
    pose.body.confidence = pose.body.confidence[first:last]
    return pose


def pose_evaluation_dtw_mje(hypothesis: bytes, reference: bytes) -> float:
    """``DistanceMetric(DTWDTAIImplementationDistanceMeasure())`` with the standard pose processors,
    run with pose-format's own operations: trim, ``Pose.normalize`` (masked arithmetic leaves the
    stored value of a masked point as it is), hide legs, zero-pad the shorter side, then per
    keypoint dtaidistance's DTW on ``np.asarray`` of the masked array -- the stored values, mask
    ignored -- averaged over keypoints."""
    arrays = []
    for payload in (hypothesis, reference):
        pose = copy.deepcopy(Pose.read(payload))  # pose-format caches the header of the bytes it read
        pose = pose_hide_legs(pose_evaluation_trim(pose).normalize(), remove=True)
        arrays.append(np.asarray(pose.body.data)[:, 0].astype(np.float64))  # (T, J, D)
    hyp, ref = arrays
    assert hyp.shape[1:] == ref.shape[1:], "pose-evaluation would first reduce both to their common points"
    frames = max(len(hyp), len(ref))
    hyp, ref = (np.concatenate([x, np.zeros((frames - len(x), *x.shape[1:]))]) for x in (hyp, ref))
    return float(
        np.mean(
            [
                dtw_ndim.distance(np.ascontiguousarray(hyp[:, j]), np.ascontiguousarray(ref[:, j]), use_c=True)
                for j in range(hyp.shape[1])
            ]
        )
    )


@pytest.fixture(scope="module")
def fs_words(tmp_path_factory):
    return build_fs_words(tmp_path_factory.mktemp("fs-words") / "ase", FSWordsConfig(), ["ase"])


@pytest.mark.parametrize("name", POSE_MODELS)
def test_pose_evaluation_scores_saved_files_as_evaluate_does(fs_words, tmp_path, name):
    """Before masked points were written as 0, this gave 3382 for fs-gan-nat (evaluate: 4.52):
    the left-out face and hand counted as joints hundreds of pixels away."""
    saved = tmp_path / "predictions"
    report = evaluate(name, fs_words, limit=3, num_gifs=0, predictions_dir=saved)
    assert report["failures"] == 0
    scores = []
    for item in fs_words.split("test")[:3]:
        generated = (saved / f"{item.id}.pose").read_bytes()
        scores.append(pose_evaluation_dtw_mje(generated, (fs_words.root / item.path).read_bytes()))
    assert np.mean(scores) == pytest.approx(report["metrics"]["ndtw_mje_pose_evaluation"], rel=1e-4)
