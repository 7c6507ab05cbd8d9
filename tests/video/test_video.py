import tempfile
import weakref

import av
import numpy as np
import pytest
from PIL import Image

from text2sign.errors import Text2SignError
from text2sign.video import (
    InvalidVideoError,
    VideoClip,
    VideoFileError,
    fake_video,
    load_video,
    save_video,
    write_gif,
    write_mp4,
    write_png_frames,
)


def numbered(num_frames: int, height: int = 4, width: int = 6, fps: float = 25.0) -> VideoClip:
    """Frame t is filled with the value t, so a frame's origin can be read off any pixel."""
    frames = np.broadcast_to(np.arange(num_frames, dtype=np.uint8)[:, None, None, None], (num_frames, height, width, 3))
    return VideoClip(frames.copy(), fps)


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """A frame with 3,072 distinct colours, more than a GIF palette holds."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8)  # (H, W, 3)


# --- the type -------------------------------------------------------------------------------


def test_clip_reports_its_size_and_duration():
    clip = VideoClip(np.zeros((10, 20, 30, 3), np.uint8), 25)
    assert (clip.num_frames, clip.height, clip.width) == (10, 20, 30)
    assert clip.duration == pytest.approx(0.4)
    assert isinstance(clip.fps, float)


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.zeros((2, 4, 4, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 3), np.uint8), r"\(frames, height, width, 3\)"),
        (np.zeros((2, 4, 4, 4), np.uint8), r"\(frames, height, width, 3\)"),
        (np.zeros((0, 4, 4, 3), np.uint8), "at least one frame"),
        (np.zeros((2, 0, 4, 3), np.uint8), "at least one frame"),
        ([[[[0, 0, 0]]]], "numpy array"),
    ],
)
def test_malformed_frames_are_one_clear_error(frames, message):
    with pytest.raises(InvalidVideoError, match=message):
        VideoClip(frames, 25.0)


@pytest.mark.parametrize("fps", [0, -1.0, float("nan"), float("inf"), "25", True, None])
def test_bad_fps_is_one_clear_error(fps):
    with pytest.raises(InvalidVideoError, match="fps must be a positive number"):
        VideoClip(np.zeros((1, 2, 2, 3), np.uint8), fps)
    assert issubclass(InvalidVideoError, Text2SignError)


def test_resample_down_picks_the_nearest_frame_in_time():
    clip = numbered(10, fps=25.0).resample(10.0)
    # Output frame i is at i / 10 s = source frame 2.5 i: 0, 2.5, 5, 7.5 -> 0, 3, 5, 8 (halves round up).
    assert clip.frames[:, 0, 0, 0].tolist() == [0, 3, 5, 8]
    assert clip.fps == 10.0


def test_resample_up_repeats_frames_and_keeps_the_duration():
    clip = numbered(4, fps=10.0).resample(25.0)
    # Source positions 0.4 i for i < 10: 0, .4, .8, 1.2, 1.6, 2, 2.4, 2.8, 3.2, 3.6 -> nearest, at most the last frame.
    assert clip.frames[:, 0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2, 2, 3, 3, 3]
    assert clip.duration == pytest.approx(0.4)


def test_resample_to_the_same_rate_is_the_clip_itself():
    clip = numbered(3)
    assert clip.resample(25.0) is clip
    with pytest.raises(InvalidVideoError, match="fps"):
        clip.resample(0)


def test_resize_down_averages_each_block():
    frame = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10  # (4, 4)
    clip = VideoClip(np.repeat(frame[None, :, :, None], 3, axis=-1), 25.0)
    small = clip.resize(2, 2)
    expected = np.array(
        [
            [(0 + 10 + 40 + 50) / 4, (20 + 30 + 60 + 70) / 4],
            [(80 + 90 + 120 + 130) / 4, (100 + 110 + 140 + 150) / 4],
        ]
    )
    np.testing.assert_array_equal(small.frames[0, :, :, 0], expected)
    assert small.frames.shape == (1, 2, 2, 3)
    assert small.fps == 25.0


def test_resize_up_keeps_flat_colour_and_any_aspect():
    clip = VideoClip(np.full((2, 3, 5, 3), (10, 200, 30), np.uint8), 12.5)
    big = clip.resize(7, 9)
    assert big.frames.shape == (2, 9, 7, 3)
    assert (big.frames == (10, 200, 30)).all()
    with pytest.raises(InvalidVideoError, match="width"):
        clip.resize(0, 4)


def test_center_crop_takes_the_middle():
    y, x = np.mgrid[0:5, 0:8]
    frame = np.stack([y, x, y * 10 + x], -1).astype(np.uint8)  # (5, 8, 3): each pixel knows where it is
    clip = VideoClip(frame[None], 25.0)
    crop = clip.center_crop((4, 3))
    # Removing 4 columns and 2 rows: 2 off each side, 1 off top and bottom.
    np.testing.assert_array_equal(crop.frames[0, :, :, 2], [[12, 13, 14, 15], [22, 23, 24, 25], [32, 33, 34, 35]])
    square = clip.center_crop(2)
    # An odd margin loses its extra pixel on the right / bottom: 3 rows off -> 1 above, 2 below.
    np.testing.assert_array_equal(square.frames[0, :, :, 2], [[13, 14], [23, 24]])
    with pytest.raises(InvalidVideoError, match="cannot crop 9 x 3"):
        clip.center_crop((9, 3))


def test_concatenate_plays_clips_in_order():
    joined = VideoClip.concatenate([numbered(2), VideoClip(numbered(3).frames + 10, 25.0)])
    assert joined.frames[:, 0, 0, 0].tolist() == [0, 1, 10, 11, 12]
    assert joined.fps == 25.0
    with pytest.raises(InvalidVideoError, match="clip 1 plays at 30 fps"):
        VideoClip.concatenate([numbered(2), numbered(2, fps=30.0)])
    with pytest.raises(InvalidVideoError, match="clip 1 is 5 x 4"):
        VideoClip.concatenate([numbered(2), numbered(2, width=5)])
    with pytest.raises(InvalidVideoError, match="no clips"):
        VideoClip.concatenate([])


def test_fake_video_is_deterministic_and_moves():
    clip = fake_video()
    assert clip.frames.shape == (8, 32, 32, 3) and clip.fps == 12.5
    np.testing.assert_array_equal(clip.frames, fake_video().frames)
    assert not np.array_equal(clip.frames, fake_video(seed=1).frames)
    for a, b in zip(clip.frames, clip.frames[1:]):
        assert not np.array_equal(a, b)
    assert len(np.unique(clip.frames.reshape(-1, 3), axis=0)) == 2  # background and square
    assert fake_video(3, 1, 1).frames.shape == (3, 1, 1, 3)


def test_fake_video_is_also_in_testing():
    from text2sign.testing import fake_video as from_testing

    assert from_testing is fake_video


# --- round trips ----------------------------------------------------------------------------


def test_gif_round_trip_is_exact_for_few_colours(tmp_path):
    clip = fake_video(10, 24, 40, fps=12.5)
    path = save_video(clip, tmp_path / "clip.gif")
    loaded = load_video(path)
    assert loaded.fps == 12.5
    np.testing.assert_array_equal(loaded.frames, clip.frames)
    with Image.open(path) as gif:
        assert gif.n_frames == 10 and gif.size == (40, 24)
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 80
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]


def test_gif_of_many_colours_is_within_palette_error(tmp_path):
    frames = np.stack([np.roll(gradient(), 3 * t, axis=1) for t in range(3)])  # (3, 48, 64, 3)
    loaded = load_video(save_video(VideoClip(frames, 30.0), tmp_path / "grad.gif"))
    error = np.abs(loaded.frames.astype(int) - frames)
    assert error.mean() < 5 and error.max() < 40
    assert loaded.fps == pytest.approx(30.0)


def test_gif_delays_follow_the_exact_time_grid(tmp_path):
    path = write_gif(iter(numbered(6, fps=30.0).frames), tmp_path / "c.gif", fps=30.0)
    with Image.open(path) as gif:
        delays = []
        for i in range(gif.n_frames):
            gif.seek(i)
            delays.append(gif.info["duration"])
    assert delays == [30, 40, 30, 30, 40, 30]  # 100 / 30 hundredths, rounded on the grid, not per frame
    assert load_video(path).fps == pytest.approx(30.0)


def test_identical_frames_are_kept(tmp_path):
    clip = VideoClip(np.zeros((4, 8, 8, 3), np.uint8), 10.0)
    assert load_video(save_video(clip, tmp_path / "still.gif")).num_frames == 4
    assert load_video(save_video(clip, tmp_path / "still.mp4")).num_frames == 4


def test_mp4_round_trip_is_close(tmp_path):
    clip = fake_video(12, 32, 48, fps=30000 / 1001)
    path = save_video(clip, tmp_path / "clip.mp4")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
    loaded = load_video(path)
    assert loaded.frames.shape == clip.frames.shape
    assert loaded.fps == pytest.approx(29.97, abs=0.01)
    assert np.abs(loaded.frames.astype(int) - clip.frames).mean() < 6  # lossy, sharp edges cost the most


def test_mp4_pads_odd_sizes_by_repeating_the_edge(tmp_path):
    clip = fake_video(3, 33, 31)
    loaded = load_video(save_video(clip, tmp_path / "odd.mp4"))
    assert loaded.frames.shape == (3, 34, 32, 3)
    assert np.abs(loaded.frames[:, :33, :31].astype(int) - clip.frames).mean() < 6
    assert np.abs(loaded.frames[:, 33].astype(int) - loaded.frames[:, 32]).mean() < 6


def test_png_folder_round_trip_is_exact_and_holds_only_frames(tmp_path):
    clip = fake_video(5, 16, 24)
    folder = save_video(clip, tmp_path / "frames")
    assert sorted(p.name for p in folder.iterdir()) == [f"frame-{i:06d}.png" for i in range(5)]
    loaded = load_video(folder)
    np.testing.assert_array_equal(loaded.frames, clip.frames)
    assert loaded.fps == 25.0
    assert load_video(folder, fps=12.5).fps == 12.5
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_png_folder_replaces_an_earlier_write(tmp_path):
    folder = save_video(fake_video(6), tmp_path / "frames")
    save_video(fake_video(2, seed=3), folder)
    assert len(list(folder.iterdir())) == 2
    np.testing.assert_array_equal(load_video(folder).frames, fake_video(2, seed=3).frames)


def test_png_folder_with_other_files_is_refused_untouched(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(Text2SignError, match="is not empty and is not a folder of PNG frames"):
        write_png_frames(fake_video().frames, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_load_overrides_a_files_own_rate(tmp_path):
    path = save_video(fake_video(4), tmp_path / "clip.gif")
    assert load_video(path, fps=50.0).fps == 50.0


# --- streaming and atomicity ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip.gif", "clip.mp4", "frames"])
def test_writers_stream_without_holding_earlier_frames(tmp_path, name):
    alive = []

    def frames():
        for t in range(6):
            # By the time frame t is asked for, nothing before frame t - 1 may still be referenced.
            assert not any(ref() is not None for ref in alive[: max(0, t - 1)])
            frame = fake_video(6).frames[t].copy()
            alive.append(weakref.ref(frame))
            yield frame

    writer = {"clip.gif": write_gif, "clip.mp4": write_mp4}.get(name)
    path = writer(frames(), tmp_path / name, fps=12.5) if writer else write_png_frames(frames(), tmp_path / name)
    assert load_video(path).num_frames == 6


@pytest.mark.parametrize("name", ["clip.gif", "clip.mp4", "frames"])
def test_failure_midway_leaves_nothing(tmp_path, name):
    def failing():
        yield from fake_video(3).frames
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        if name == "frames":
            write_png_frames(failing(), tmp_path / name)
        else:
            (write_gif if name.endswith(".gif") else write_mp4)(failing(), tmp_path / name, fps=12.5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["clip.gif", "clip.mp4", "frames"])
def test_bad_frame_midway_keeps_the_earlier_output(tmp_path, name):
    target = save_video(fake_video(4), tmp_path / name)
    before = load_video(target).frames
    frames = list(fake_video(4, seed=1).frames)
    frames[2] = frames[2][:, :-1]  # one column short
    with pytest.raises(InvalidVideoError, match="frame 2 is 31 x 32, frame 0 is 32 x 32"):
        if name == "frames":
            write_png_frames(frames, target)
        else:
            (write_gif if name.endswith(".gif") else write_mp4)(frames, target, fps=12.5)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    np.testing.assert_array_equal(load_video(target).frames, before)


def test_no_frames_is_an_error(tmp_path):
    with pytest.raises(InvalidVideoError, match="no frames"):
        write_gif(iter([]), tmp_path / "x.gif", fps=10.0)
    with pytest.raises(InvalidVideoError, match="frame 0 must be a uint8 array"):
        write_mp4([np.zeros((4, 4, 3), np.float32)], tmp_path / "x.mp4", fps=10.0)
    assert list(tmp_path.iterdir()) == []


# --- user errors ----------------------------------------------------------------------------


def test_unknown_suffix_names_the_supported_ones(tmp_path):
    with pytest.raises(VideoFileError, match=r"\.gif, \.mp4 or a folder"):
        save_video(fake_video(), tmp_path / "clip.avi")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["clip.gif", "clip.mp4", "frames"])
def test_missing_output_folders_are_made_and_a_file_in_the_way_is_one_line(tmp_path, name):
    save_video(fake_video(), tmp_path / "made" / name)
    assert (tmp_path / "made" / name).exists()
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(Text2SignError, match="a-file is not a directory"):
        save_video(fake_video(), tmp_path / "a-file" / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "made"]


def test_unwritable_directory_is_one_line(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Faked: the tests may run as root, who can write anywhere.
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(Text2SignError, match=r"cannot write to .*: Permission denied"):
        save_video(fake_video(), tmp_path / "clip.gif")


def test_a_file_where_a_frame_folder_should_go_is_refused(tmp_path):
    (tmp_path / "frames").write_text("")
    with pytest.raises(Text2SignError, match="expected a folder"):
        write_png_frames(fake_video().frames, tmp_path / "frames")


def test_bad_write_fps_is_an_error(tmp_path):
    with pytest.raises(InvalidVideoError, match="fps"):
        write_mp4(fake_video().frames, tmp_path / "x.mp4", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_save_video_wants_a_clip(tmp_path):
    with pytest.raises(TypeError, match="VideoClip"):
        save_video(fake_video().frames, tmp_path / "x.gif")


def test_reading_bad_inputs_is_one_line(tmp_path):
    with pytest.raises(VideoFileError, match="not found"):
        load_video(tmp_path / "missing.mp4")
    with pytest.raises(VideoFileError, match="unknown video type .txt"):
        load_video(tmp_path / "notes.txt")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoFileError, match=r"cannot read .*junk.mp4 as video: [^\[]+$"):
        load_video(tmp_path / "junk.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoFileError, match="no PNG frames"):
        load_video(tmp_path / "empty")
