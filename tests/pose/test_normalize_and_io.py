import copy
import io

import numpy as np
import pytest
from pose_format import Pose

from text2sign.errors import InvalidPoseError, PoseFileError, Text2SignError
from text2sign.pose import (
    FeatureStats,
    compute_feature_stats,
    normalize_by_shoulders,
    read_npz,
    read_pose,
    write_npz,
    write_pose,
)
from text2sign.pose.io import from_pose_format, load_pose, save_pose, to_pose_format
from text2sign.pose.normalize import shoulder_normalization, typical_frame
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose


def test_shoulder_normalization_is_hand_checkable_and_invertible():
    seq = fake_pose(4)
    left, right = seq.layout.shoulders
    seq.data[:, left, :2] = (300, 200)
    seq.data[:, right, :2] = (100, 200)
    seq.data[:, [left, right], 2] = 0
    norm, info = normalize_by_shoulders(seq)
    assert info.scale == pytest.approx(200.0)
    assert np.allclose(info.center, (200, 200, 0))
    assert np.allclose(norm.data[:, left], (0.5, 0, 0)) and np.allclose(norm.data[:, right], (-0.5, 0, 0))
    assert info.invert(norm).allclose(seq, atol=1e-3)
    assert type(info).from_dict(info.to_dict()).scale == info.scale


def test_normalization_needs_shoulders():
    seq = fake_pose(3)
    seq.mask[:, seq.layout.shoulders[0]] = False
    with pytest.raises(InvalidPoseError, match="no frame shows both shoulders"):
        shoulder_normalization(seq)


def test_feature_stats_ignore_masked_joints(tmp_path):
    a = fake_pose(2, "phoenix-50")
    a.data[:] = 1.0
    a.data[:, :, 0] = np.arange(50)[None]
    a.mask[1, 10] = False
    a.data[1, 10] = 1000.0  # must not count
    stats = compute_feature_stats([a], normalize=False)
    assert stats.mean.shape == (150,)
    assert stats.mean[30] == pytest.approx(10.0)
    assert stats.std[30] == 1.0  # one observation says nothing about spread: unit std
    assert stats.mean[33] == pytest.approx(11.0)
    assert stats.std[33] == pytest.approx(1e-4)  # constant feature: floored, never zero
    stats.save(tmp_path / "stats.json")
    again = FeatureStats.load(tmp_path / "stats.json")
    assert np.allclose(again.mean, stats.mean) and again.layout == "phoenix-50"
    x = np.random.default_rng(0).normal(size=(3, 150)).astype(np.float32)
    assert np.allclose(stats.destandardize(stats.standardize(x)), x, atol=1e-4)


def test_pose_round_trip_keeps_confidence_and_mask(tmp_path):
    seq = fake_pose(7, "holistic")
    confidence = np.random.default_rng(1).uniform(0.2, 1.0, seq.mask.shape).astype(np.float32)
    confidence[2, 40:60] = 0
    seq = type(seq)(seq.data, confidence > 0, seq.fps, seq.layout, confidence)
    write_pose(seq, tmp_path / "a.pose")
    back = read_pose(tmp_path / "a.pose")
    assert back.layout.name == "holistic"
    assert back.allclose(seq, atol=1e-6)
    assert np.array_equal(back.confidence, confidence)
    # and pose-format itself reads what we wrote
    pose = Pose.read((tmp_path / "a.pose").read_bytes())
    assert pose.body.data.shape == (7, 1, 586, 3)
    assert np.array_equal(pose.body.data.mask[2, 0, 40:60], np.ones((20, 3), bool))


def lexicon_clip() -> bytes:
    from importlib import resources

    folder = resources.files("spoken_to_signed") / "assets/fingerspelling_lexicon/ase"
    return next(p for p in sorted(folder.iterdir(), key=str) if str(p).endswith(".pose")).read_bytes()


def test_pose_format_conversion_is_lossless_for_real_lexicon_clip():
    """Values survive; the header only grows, to take in the hips below the clip's 500 x 500."""
    pose = Pose.read(lexicon_clip())
    seq = from_pose_format(pose)
    assert seq.canvas == (500, 500)
    again = to_pose_format(seq)
    assert np.array_equal(np.asarray(again.body.confidence), np.asarray(pose.body.confidence))
    observed = np.asarray(pose.body.confidence) > 0
    assert np.array_equal(np.asarray(again.body.data.data)[observed], np.asarray(pose.body.data.data)[observed])
    assert again.header.dimensions.width == 500 and again.header.dimensions.height > 500
    image = observed[:, 0, : seq.layout.kind_indices("world")[0]]  # world landmarks are metres, not pixels
    assert np.asarray(again.body.data.data)[:, 0, : image.shape[1], 1][image].max() < again.header.dimensions.height


def test_round_trip_is_byte_identical_when_the_header_contains_the_points():
    pose = copy.deepcopy(Pose.read(lexicon_clip()))  # pose-format caches headers by bytes: never change its copy
    pose.header.dimensions.width = pose.header.dimensions.height = 10000
    buffer = io.BytesIO()
    pose.write(buffer)
    original = buffer.getvalue()
    again = io.BytesIO()
    to_pose_format(from_pose_format(Pose.read(original))).write(again)
    assert again.getvalue() == original


def test_pose_header_is_the_canvas_grown_to_contain_the_points(tmp_path):
    seq = fake_pose(2)
    seq.data[..., :2] = 50.0
    seq.data[1, 7, :2] = (150.5, 80.0)
    # The figure spans 100.5 x 30 px, so the margin is ceil(5 % of 100.5) = 6 px: x needs
    # 150 + 1 + 6 = 157 -> 158 (even); y keeps the canvas's 100, which already holds 80 + 1 + 6.
    write_pose(PoseSequence(seq.data, seq.mask, seq.fps, seq.layout, canvas=(100, 100)), tmp_path / "a.pose")
    assert read_pose(tmp_path / "a.pose").canvas == (158, 100)
    write_pose(seq, tmp_path / "b.pose")  # no canvas: the points' extent with the margin, even
    assert read_pose(tmp_path / "b.pose").canvas == (158, 88)
    write_pose(seq, tmp_path / "c.pose", width=64, height=48)
    assert read_pose(tmp_path / "c.pose").canvas == (64, 48)


def test_npz_round_trip(tmp_path):
    seq = fake_pose(5, "phoenix-50")
    seq.mask[0, 3] = False
    write_npz(seq, tmp_path / "a.npz")
    back = read_npz(tmp_path / "a.npz")
    assert back.allclose(seq, atol=0) and back.layout == seq.layout and back.canvas is None
    confidence = np.where(seq.mask, 0.5, 0.0).astype(np.float32)
    write_npz(PoseSequence(seq.data, seq.mask, seq.fps, seq.layout, confidence, (640, 480)), tmp_path / "b.npz")
    back = read_npz(tmp_path / "b.npz")
    assert back.canvas == (640, 480) and np.array_equal(back.confidence, confidence)


def test_every_writer_stores_zeros_at_masked_joints(tmp_path):
    """Readers that ignore the mask (pose-evaluation) take the stored values as joints."""
    seq = fake_pose(4, "holistic")
    mask = seq.mask.copy()
    mask[1, 40:60] = False  # a hand the model left out
    mask[3, :] = False
    data = seq.data.copy()
    data[~mask] = 250.0  # what a shifted or de-normalised missing joint holds in memory
    data[1, 45] = np.nan  # masked points may hold NaN in memory
    seq = PoseSequence(data, mask, seq.fps, seq.layout, mask * np.float32(0.9))
    write_pose(seq, tmp_path / "a.pose")
    pose = Pose.read((tmp_path / "a.pose").read_bytes())
    stored, confidence = np.asarray(pose.body.data.data)[:, 0], np.asarray(pose.body.confidence)[:, 0]
    assert np.array_equal(confidence > 0, mask)
    assert (stored[~mask] == 0).all() and np.array_equal(stored[mask], data[mask])
    write_npz(seq, tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as archive:
        assert (archive["data"][~mask] == 0).all() and np.array_equal(archive["data"][mask], data[mask])
    assert read_npz(tmp_path / "a.npz").allclose(seq, atol=0)


def test_masked_joints_of_a_pixel_frame_layout_are_zero_pixels():
    """phoenix-50's units map to pixels around an origin of (320, 260): a masked joint is stored
    at pixel 0, not at the origin, so that raw readers see it as pose-format's missing point."""
    seq = fake_pose(3, "phoenix-50")
    seq.mask[1, 5:9] = False
    stored = np.asarray(to_pose_format(seq).body.data.data)[:, 0]
    assert (stored[~seq.mask] == 0).all()
    assert np.allclose(stored[seq.mask][:, :2], seq.layout.pixel_frame.to_pixels(seq.data)[seq.mask][:, :2])


def test_typical_frame_is_the_median_signer_and_canvas():
    def signer(center_x: float, width: float, canvas) -> PoseSequence:
        seq = fake_pose(3)
        left, right = seq.layout.shoulders
        seq.data[:, left] = (center_x + width / 2, 100, 0)
        seq.data[:, right] = (center_x - width / 2, 100, 0)
        return PoseSequence(seq.data, seq.mask, seq.fps, seq.layout, canvas=canvas)

    hidden = fake_pose(2)
    hidden.mask[:, hidden.layout.shoulders[0]] = False  # never shows both shoulders: not counted
    frame, canvas = typical_frame(
        [signer(200, 100, (400, 500)), signer(260, 140, (420, 520)), signer(210, 120, None), hidden]
    )
    assert np.allclose(frame.center, (210, 100, 0)) and frame.scale == pytest.approx(120)
    assert canvas == (410, 510)
    assert typical_frame([signer(0, 1, None)])[1] is None
    with pytest.raises(InvalidPoseError, match="no sequence shows both shoulders"):
        typical_frame([hidden])
    placed = frame.invert(frame.apply(signer(260, 140, (420, 520))), canvas=(410, 510))
    assert frame.apply(signer(0, 1, (9, 9))).canvas is None and placed.canvas == (410, 510)


@pytest.mark.parametrize("suffix", [".pose", ".npz"])
def test_unreadable_files_give_one_line_errors(tmp_path, suffix):
    missing = tmp_path / f"missing{suffix}"
    with pytest.raises(PoseFileError, match="not found"):
        load_pose(missing)
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(b"this is not a pose file at all")
    with pytest.raises(PoseFileError, match="not a readable"):
        load_pose(garbage)


def test_truncated_pose_file_is_reported(tmp_path):
    write_pose(fake_pose(20), tmp_path / "a.pose")
    payload = (tmp_path / "a.pose").read_bytes()
    (tmp_path / "cut.pose").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(PoseFileError, match="cut.pose is not a readable .pose file"):
        read_pose(tmp_path / "cut.pose")


def test_nan_in_pose_file_is_reported(tmp_path):
    seq = fake_pose(3)
    pose = to_pose_format(seq)
    pose.body.data.data[1, 0, 5, 0] = np.nan
    buffer = io.BytesIO()
    pose.write(buffer)
    (tmp_path / "nan.pose").write_bytes(buffer.getvalue())
    with pytest.raises(InvalidPoseError, match="nan.pose: pose data has 1 NaN"):
        read_pose(tmp_path / "nan.pose")


def test_unknown_suffix_and_missing_output_dir(tmp_path):
    with pytest.raises(PoseFileError, match="use .pose or .npz"):
        save_pose(fake_pose(2), tmp_path / "a.txt")
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(Text2SignError, match="a-file is not a directory"):
        save_pose(fake_pose(2), tmp_path / "a-file" / "a.pose")
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
    save_pose(fake_pose(2), tmp_path / "made" / "a.pose")
    assert (tmp_path / "made" / "a.pose").is_file()


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def explode(self, buffer):
        buffer.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Pose, "write", explode)
    with pytest.raises(RuntimeError):
        write_pose(fake_pose(2), tmp_path / "a.pose")
    assert list(tmp_path.iterdir()) == []


def test_a_joint_near_float32s_limit_saves_with_the_largest_canvas(tmp_path):
    seq = fake_pose(6)
    seq.data[2, 5, :2] = 3e38
    save_pose(seq, tmp_path / "x.pose")
    width, height = load_pose(tmp_path / "x.pose").canvas
    assert width == height == 65534
