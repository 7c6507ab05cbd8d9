import importlib
import importlib.resources
import itertools

import av
import numpy as np
import pytest
from PIL import Image

from text2sign.errors import InvalidPoseError, Text2SignError
from text2sign.pose.io import read_pose
from text2sign.pose.layout import get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.rendering import (
    iter_frames,
    render,
    resample_for_output,
    write_contact_sheet,
    write_gif,
    write_mp4,
)

BODY_XY = {
    "LEFT_SHOULDER": (380, 420),
    "RIGHT_SHOULDER": (260, 420),
    "LEFT_ELBOW": (420, 560),
    "RIGHT_ELBOW": (220, 560),
    "LEFT_WRIST": (400, 470),
    "RIGHT_WRIST": (240, 470),
    "LEFT_HIP": (360, 700),
    "RIGHT_HIP": (280, 700),
}


def fake_pose(frames: int = 20, fps: float = 25.0) -> PoseSequence:
    """A holistic-178 signer in video pixels whose hands circle in front of the chest."""
    layout = get_layout("holistic-178")
    data = np.zeros((frames, layout.num_joints, 3), np.float32)
    t = np.arange(frames) / fps
    for comp in layout.components:
        sl = layout.component_slice(comp.name)
        n = len(comp.points)
        if comp.kind == "body":
            data[:, sl, :2] = [BODY_XY[p] for p in comp.points]
        elif comp.kind == "face":
            angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
            ring = 1.0 - 0.5 * (np.arange(n) % 3) / 2
            data[:, sl, 0] = 320 + 60 * ring * np.cos(angle)
            data[:, sl, 1] = 300 + 80 * ring * np.sin(angle)
        else:
            side = 1 if comp.kind == "left_hand" else -1
            wrist = np.stack(
                [320 + side * (60 + 40 * np.cos(2 * np.pi * t)), 470 - 60 * np.abs(np.sin(2 * np.pi * t))], -1
            )
            finger = np.maximum(np.arange(n) - 1, 0) // 4  # wrist, then 5 fingers of 4 joints
            joint = (np.arange(n) - 1) % 4 + 1
            angle = -np.pi / 2 + (finger - 2) * 0.3
            offset = np.stack([np.cos(angle), np.sin(angle)], -1) * (12 * joint)[:, None]
            offset[0] = 0
            data[:, sl, :2] = wrist[:, None, :] + offset[None]
        data[:, sl, 2] = 0.0
    mask = np.ones((frames, layout.num_joints), bool)
    return PoseSequence(data, mask, fps, layout)


def test_frames_have_requested_size_and_dtype():
    frames = list(iter_frames(fake_pose(5), width=200, height=120))
    assert len(frames) == 5
    for frame in frames:
        assert frame.shape == (120, 200, 3)
        assert frame.dtype == np.uint8


def test_pose_fills_canvas_and_background_is_rgb():
    frame = next(iter_frames(fake_pose(3), width=256, height=256, background=(0, 0, 255)))
    assert tuple(frame[0, 0]) == (0, 0, 255)
    drawn = np.argwhere((frame != (0, 0, 255)).any(axis=-1))
    (top, left), (bottom, right) = drawn.min(axis=0), drawn.max(axis=0)
    # Fitted with a 5% margin: the taller axis spans ~90% of the canvas and stays off the border.
    assert 0.85 * 256 < bottom - top < 0.97 * 256
    assert top > 0 and left > 0 and bottom < 255 and right < 255


def test_motion_changes_consecutive_frames():
    frames = list(iter_frames(fake_pose(6), width=160, height=160))
    for a, b in itertools.pairwise(frames):
        assert not np.array_equal(a, b)


def test_hiding_the_face_changes_the_drawing():
    seq = fake_pose(2)
    shown = next(iter_frames(seq, width=160, height=160))
    hidden = next(iter_frames(seq, width=160, height=160, hide=("face", "world")))
    assert not np.array_equal(shown, hidden)
    assert (hidden != 255).any(axis=-1).sum() < (shown != 255).any(axis=-1).sum()


def test_unknown_hidden_kind_is_an_error():
    with pytest.raises(Text2SignError, match="component kinds"):
        list(iter_frames(fake_pose(2), hide=("tail",)))


def test_world_landmarks_are_not_drawn_by_default():
    layout = get_layout("holistic")
    seq = PoseSequence(
        np.zeros((2, layout.num_joints, 3), np.float32), np.zeros((2, layout.num_joints), bool), 25.0, layout
    )
    world = layout.component_slice("POSE_WORLD_LANDMARKS")
    seq.mask[:, world] = True
    seq.data[:, world, :2] = np.random.default_rng(0).normal(size=(2, world.stop - world.start, 2))
    with pytest.raises(InvalidPoseError, match="no joint is observed"):
        list(iter_frames(seq))
    assert len(list(iter_frames(seq, width=64, height=64, hide=()))) == 2


def test_output_fps_resamples():
    seq = fake_pose(20, fps=25.0)
    assert len(list(iter_frames(seq, width=64, height=64, fps=50.0))) == 40
    assert resample_for_output(seq, 25.0) is seq
    assert resample_for_output(seq, 12.5).num_frames == 10


def test_gif_decodes_with_frame_count_size_and_loop(tmp_path):
    path = write_gif(fake_pose(8, fps=20.0), tmp_path / "sign.gif", width=96, height=80)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.size == (96, 80)
        assert gif.n_frames == 8
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 50
    assert [p.name for p in tmp_path.iterdir()] == ["sign.gif"]


def test_mp4_is_h264_with_all_frames(tmp_path):
    path = render(fake_pose(12), tmp_path / "sign.mp4", width=97, height=64, fps=30000 / 1001)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (98, 64)
        assert abs(float(stream.average_rate) - 29.97) < 0.01
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == 14  # 12 frames at 25 fps resampled to 29.97 fps
    assert decoded[0].shape == (64, 98, 3)


def test_contact_sheet_grid(tmp_path):
    seq = fake_pose(30)
    path = write_contact_sheet(seq, tmp_path / "sheet.png", columns=4, frames=10, width=50, height=40)
    with Image.open(path) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == (4 * 50, 3 * 40)
        pixels = np.asarray(sheet.convert("RGB"))
    assert (pixels[2 * 40 :, 2 * 50 :] == 255).all()  # the last row's two unused cells stay blank
    assert not np.array_equal(pixels[:40, :50], pixels[:40, 50:100])
    frames = list(iter_frames(seq, width=50, height=40))
    np.testing.assert_array_equal(pixels[:40, :50], frames[0])
    np.testing.assert_array_equal(pixels[80:, 50:100], frames[-1])  # 10th cell: row 2, column 1


def test_contact_sheet_of_short_pose_uses_every_frame(tmp_path):
    path = render(fake_pose(3), tmp_path / "sheet.png", width=32, height=32)
    with Image.open(path) as sheet:
        assert sheet.size == (3 * 32, 32)


def test_render_takes_the_same_options_for_every_suffix(tmp_path):
    options = {"width": 40, "height": 30, "fps": 50.0, "hide": ("face", "world")}
    for name in ("sign.gif", "sign.mp4", "sign.png"):
        assert render(fake_pose(4), tmp_path / name, **options).is_file()
    with Image.open(tmp_path / "sign.gif") as gif:
        assert gif.n_frames == 8


def test_unknown_suffix_names_the_supported_ones(tmp_path):
    with pytest.raises(Text2SignError, match=r"\.gif, \.mp4, \.png"):
        render(fake_pose(2), tmp_path / "sign.avi")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["sign.gif", "sign.mp4", "sign.png"])
def test_missing_output_folders_are_made_and_a_failed_write_takes_them_away(tmp_path, name, monkeypatch):
    render(fake_pose(2), tmp_path / "made" / "here" / name, width=32, height=32)
    assert (tmp_path / "made" / "here" / name).is_file()
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(Text2SignError, match="a-file is not a directory"):
        render(fake_pose(2), tmp_path / "a-file" / name, width=32, height=32)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(importlib.import_module("text2sign.fileio").os, "replace", disk_full)
    with pytest.raises((OSError, Text2SignError), match="No space left"):
        render(fake_pose(2), tmp_path / "new" / "deeper" / name, width=32, height=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "made"]


def test_bad_output_fps_is_an_error(tmp_path):
    with pytest.raises(Text2SignError, match="fps"):
        write_mp4(fake_pose(2), tmp_path / "sign.mp4", width=32, height=32, fps=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_encoder_failure_midway_leaves_no_file(tmp_path, monkeypatch):
    calls = []
    real = av.VideoFrame.from_ndarray

    def fail_on_third_frame(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", fail_on_third_frame)
    with pytest.raises(RuntimeError, match="disk full"):
        write_mp4(fake_pose(6), tmp_path / "sign.mp4", width=32, height=32)
    assert list(tmp_path.iterdir()) == []


def test_all_masked_pose_is_invalid(tmp_path):
    seq = fake_pose(4)
    seq.mask[:] = False
    with pytest.raises(InvalidPoseError, match="no joint is observed"):
        list(iter_frames(seq))
    with pytest.raises(InvalidPoseError):
        write_gif(seq, tmp_path / "sign.gif")
    assert list(tmp_path.iterdir()) == []


def test_empty_pose_is_invalid():
    with pytest.raises(InvalidPoseError, match="no frames"):
        list(iter_frames(PoseSequence.empty_like(get_layout("holistic-178"), 25.0)))


def test_partially_masked_frames_still_render():
    seq = fake_pose(4)
    seq.mask[1] = False
    seq.data[1] = np.nan
    frames = list(iter_frames(seq, width=64, height=64))
    assert (frames[1] == 255).all()
    assert (frames[0] != 255).any()


def test_real_fingerspelling_clip_renders_to_gif(tmp_path):
    folder = importlib.resources.files("spoken_to_signed") / "assets/fingerspelling_lexicon/ase"
    clip = min(p for p in folder.iterdir() if p.name.endswith(".pose"))
    seq = read_pose(clip)
    path = write_gif(seq, tmp_path / "clip.gif", width=128, height=128, hide=("face", "world"))
    with Image.open(path) as gif:
        assert gif.size == (128, 128)
        assert gif.n_frames == seq.num_frames


def test_side_by_side_gif_holds_the_shorter_sequence(tmp_path):
    from text2sign.rendering import write_side_by_side_gif

    out = write_side_by_side_gif(
        [fake_pose(6), fake_pose(9)], tmp_path / "pair.gif", titles=["generated", "reference"], width=64, height=48
    )
    with Image.open(out) as gif:
        assert gif.size == (128, 48)
        assert gif.n_frames == 9
    with pytest.raises(Text2SignError, match="2 titles for 1 sequences"):
        write_side_by_side_gif([fake_pose(3)], tmp_path / "x.gif", titles=["a", "b"])


def test_one_glitched_joint_does_not_shrink_the_signer():
    from text2sign.rendering import iter_frames
    from text2sign.testing import fake_pose as fake_signer

    seq = fake_signer(20, seed=1)
    clean = next(iter_frames(seq, width=128, height=128, hide=("world", "face")))
    seq.data[5, 3, :2] = 1e30
    glitched = next(iter_frames(seq, width=128, height=128, hide=("world", "face")))
    drawn = lambda frame: int((frame < 250).any(axis=-1).sum())
    # the same drawing, not a dot in a corner
    assert abs(drawn(glitched) - drawn(clean)) < 0.1 * drawn(clean)
