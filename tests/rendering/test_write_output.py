import importlib

import numpy as np
import pytest
from PIL import Image

from text2sign.errors import Text2SignError
from text2sign.pose.io import load_pose
from text2sign.rendering import (
    check_output_kind,
    iter_frames,
    render,
    write_gif,
    write_output,
    write_video,
)
from text2sign.testing import fake_pose, fake_video
from text2sign.video import VideoClip, load_video

render_module = importlib.import_module("text2sign.rendering.render")


def small_pose(frames: int = 4):
    return fake_pose(frames, layout="holistic-178", fps=25.0)


# --- poses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pose", ".npz"])
def test_pose_data_files_round_trip(tmp_path, suffix):
    seq = small_pose()
    path = write_output(seq, tmp_path / f"sign{suffix}")
    assert load_pose(path).allclose(seq, atol=1e-4)


def test_pose_data_files_take_no_options(tmp_path):
    with pytest.raises(TypeError, match="width do not apply to .pose"):
        write_output(small_pose(), tmp_path / "sign.pose", width=64)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, frames", [("sign.gif", 8), ("sign.mp4", 8), ("sign.png", None)])
def test_pose_pictures_go_through_render(tmp_path, name, frames):
    path = write_output(small_pose(), tmp_path / name, width=48, height=32, fps=50.0)
    if frames is None:
        with Image.open(path) as sheet:
            assert sheet.format == "PNG"
    else:
        clip = load_video(path)
        assert clip.num_frames == frames and (clip.width, clip.height) == (48, 32)


def test_pose_to_an_unknown_suffix_names_every_choice(tmp_path):
    with pytest.raises(Text2SignError, match=r"\.pose, \.npz, \.gif, \.mp4, \.png"):
        write_output(small_pose(), tmp_path / "sign.avi")
    with pytest.raises(Text2SignError, match="without suffix"):
        write_output(small_pose(), tmp_path / "frames")
    assert list(tmp_path.iterdir()) == []


def test_iter_frames_draws_lazily_what_a_list_holds():
    seq = small_pose(3)
    frames = iter_frames(seq, width=40, height=40)
    first = next(frames)
    listed = list(iter_frames(seq, width=40, height=40))
    np.testing.assert_array_equal(first, listed[0])
    for drawn, expected in zip(frames, listed[1:]):
        np.testing.assert_array_equal(drawn, expected)
    with pytest.raises(Text2SignError, match="component kinds"):
        iter_frames(seq, hide=("tail",))  # checked at the call, not at the first frame


def test_interrupted_pose_render_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        yield np.full((32, 32, 3), 255, np.uint8)
        raise KeyboardInterrupt

    monkeypatch.setattr(render_module, "iter_frames", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_gif(small_pose(), tmp_path / "sign.gif", width=32, height=32)
    assert list(tmp_path.iterdir()) == []


# --- videos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip.gif", "clip.mp4", "frames"])
def test_video_goes_to_every_video_target(tmp_path, name):
    clip = fake_video(5, 16, 24)
    loaded = load_video(write_output(clip, tmp_path / name), fps=clip.fps if name == "frames" else None)
    assert loaded.frames.shape == clip.frames.shape
    assert loaded.fps == pytest.approx(clip.fps)


def test_video_options_resize_and_resample(tmp_path):
    clip = fake_video(10, 16, 24, fps=25.0)
    out = load_video(write_output(clip, tmp_path / "frames", width=12, height=8, fps=10.0))
    np.testing.assert_array_equal(out.frames, clip.resize(12, 8).resample(10.0).frames)
    keep_aspect = load_video(write_output(clip, tmp_path / "half", width=12))
    assert (keep_aspect.width, keep_aspect.height) == (12, 8)


def test_render_accepts_a_video(tmp_path):
    clip = fake_video(4)
    loaded = load_video(render(clip, tmp_path / "clip.gif", fps=25.0))
    assert loaded.num_frames == 8
    np.testing.assert_array_equal(loaded.frames, clip.resample(25.0).frames)


def test_video_rejects_pose_options_and_unknown_suffixes(tmp_path):
    with pytest.raises(TypeError, match="hide"):
        write_output(fake_video(), tmp_path / "clip.gif", hide=("face",))
    with pytest.raises(Text2SignError, match="cannot write video as .png"):
        write_output(fake_video(), tmp_path / "clip.png")
    with pytest.raises(Text2SignError, match="fps"):
        write_video(fake_video(), tmp_path / "clip.gif", fps=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_anything_else_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="expected a PoseSequence or a VideoClip"):
        write_output(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "x.gif")
    with pytest.raises(TypeError, match="VideoClip"):
        write_video(small_pose(), tmp_path / "x.gif")
    assert isinstance(fake_video(), VideoClip)


# --- checking a main output path before generating --------------------------------------------


def test_check_output_kind_accepts_each_kinds_targets(tmp_path):
    for kind, name in [
        ("pose", "x.pose"),
        ("pose", "x.NPZ"),
        ("video", "x.gif"),
        ("video", "x.mp4"),
        ("video", "frames"),
    ]:
        assert check_output_kind(kind, tmp_path / name) == tmp_path / name
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kind, name, message",
    [
        ("pose", "x.txt", "unknown pose file type .txt; use .pose or .npz"),
        ("pose", "x.gif", "unknown pose file type .gif"),
        ("pose", "notes.txt/x.pose", "notes.txt is not a directory"),
        ("video", "x.pose", "cannot write video as .pose"),
        ("video", "notes.txt/x.mp4", "notes.txt is not a directory"),
        ("video", "notes.txt/frames", "notes.txt is not a directory"),
    ],
)
def test_check_output_kind_fails_in_one_line(tmp_path, kind, name, message):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(Text2SignError, match=message):
        check_output_kind(kind, tmp_path / name)


def test_check_output_kind_refuses_a_folder_holding_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(Text2SignError, match="is not empty and is not a folder of PNG frames"):
        check_output_kind("video", tmp_path)
    with pytest.raises(ValueError, match="kind 'text'"):
        check_output_kind("text", tmp_path / "x.txt")
