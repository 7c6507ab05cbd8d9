"""`text2sign extract` on a real person: scikit-image's public-domain astronaut photograph as a
five-frame video. Skipped where the [extract] extra (MediaPipe) is not installed, except the
checks that need no model."""

import importlib.util
import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from pose_format import Pose

from text2sign.cli import run
from text2sign.data.extract import find_videos, plan_extraction, probe_video, run_extraction
from text2sign.pose.io import read_pose
from text2sign.testing import one_error_line
from text2sign.video.io import VideoFileError, write_mp4

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None, reason='needs pip install "text2sign[extract]"'
)
FRAMES, SIDE, FPS = 5, 512, 25.0
# Where the astronaut's face and shoulders are in the 512 x 512 photograph (x0, y0, x1, y1).
FACE_BOX = (150, 40, 300, 210)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("videos")
    photo = data.astronaut()  # (512, 512, 3) uint8
    write_mp4([photo] * FRAMES, root / "astronaut.mp4", FPS)
    write_mp4([photo[:, ::-1].copy()] * FRAMES, root / "mirrored.mp4", FPS)
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return root


def test_probe_reads_rate_size_and_count_without_decoding(videos):
    info = probe_video(videos / "astronaut.mp4")
    assert (info.fps, info.width, info.height, info.frames) == (FPS, SIDE, SIDE, FRAMES)
    with pytest.raises(VideoFileError, match="corrupt.mp4"):
        probe_video(videos / "corrupt.mp4")


def test_plan_skips_finished_outputs_and_refuses_two_videos_on_one_output(videos, tmp_path):
    pairs = [(video, tmp_path / relative.with_suffix(".pose")) for video, relative in find_videos([videos])]
    assert [v.name for v, _ in pairs] == ["astronaut.mp4", "corrupt.mp4", "mirrored.mp4"]
    (tmp_path / "astronaut.pose").write_bytes(b"done before")
    plan = plan_extraction(pairs)
    assert [j.video.name for j in plan.skipped] == ["astronaut.mp4"]
    assert [j.video.name for j in plan.jobs] == ["mirrored.mp4"]
    assert [r.job.video.name for r in plan.failed] == ["corrupt.mp4"]
    assert len(plan_extraction(pairs, overwrite=True).jobs) == 2
    with pytest.raises(Exception, match="would both be written"):
        plan_extraction(
            [(videos / "astronaut.mp4", tmp_path / "x.pose"), (videos / "mirrored.mp4", tmp_path / "x.pose")]
        )


def test_without_mediapipe_extract_is_one_line_naming_the_extra(videos, tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a))
    assert run(["extract", str(videos / "astronaut.mp4"), "-o", str(tmp_path / "out")]) == 1
    assert "text2sign[extract]" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_bad_arguments_are_one_line(videos, tmp_path, capsys):
    assert run(["extract", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "out")]) == 1
    assert "missing.mp4" in one_error_line(capsys)
    assert run(["extract", str(videos), "-o", str(tmp_path), "--jobs", "0"]) == 1
    assert "--jobs" in one_error_line(capsys)


@needs_mediapipe
def test_extract_finds_the_person_reports_a_corrupt_video_and_resumes(videos, tmp_path, capsys):
    out = tmp_path / "poses"
    inputs = [str(videos / "astronaut.mp4"), str(videos / "corrupt.mp4")]
    assert run(["extract", *inputs, "-o", str(out), "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    failed = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    assert len(errors) == 1 and "1 of 2 videos failed" in errors[0]
    assert len(failed) == 1 and "corrupt.mp4" in failed[0]
    assert "Traceback" not in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.pose"]

    pose = read_pose(out / "astronaut.pose")
    assert pose.layout.name == "holistic" and pose.num_frames == FRAMES and pose.fps == FPS
    header = Pose.read((out / "astronaut.pose").read_bytes()).header.dimensions
    assert (header.width, header.height) == (SIDE, SIDE)
    body, face = pose.layout.component_slice("POSE_LANDMARKS"), pose.layout.component_slice("FACE_LANDMARKS")
    assert pose.mask[:, body].all() and pose.mask[:, face].all(), "body and face are seen in every frame"
    x0, y0, x1, y1 = FACE_BOX
    face_xy = pose.data[:, face, :2]
    assert (face_xy[..., 0] > x0).all() and (face_xy[..., 0] < x1).all()
    assert (face_xy[..., 1] > y0).all() and (face_xy[..., 1] < y1).all()
    left, right = pose.layout.shoulders
    shoulders = pose.data[:, [left, right], :2]
    assert (shoulders[..., 1] > y1).all() and (shoulders >= 0).all() and (shoulders < SIDE).all()
    head_and_shoulders = pose.data[:, body][:, : right + 1, :2]  # MediaPipe's first 13 body points
    # A still photograph: detection on frame 0 and tracking after it agree to a few pixels.
    assert np.ptp(head_and_shoulders, axis=0).max() < 15

    written = (out / "astronaut.pose").stat().st_mtime_ns
    assert run(["extract", str(videos / "astronaut.mp4"), "-o", str(out)]) == 0
    assert "skipped 1 already extracted" in capsys.readouterr().out
    assert (out / "astronaut.pose").stat().st_mtime_ns == written


@needs_mediapipe
def test_two_jobs_reduce_and_mirror_the_folder(videos, tmp_path, capsys):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name, place in (("astronaut.mp4", "a.mp4"), ("mirrored.mp4", "sub/b.mp4")):
        (folder / place).write_bytes((videos / name).read_bytes())
    out = tmp_path / "out"
    assert run(["extract", str(folder), "-o", str(out), "--jobs", "2", "--reduce"]) == 0
    assert "extracted 2 videos" in capsys.readouterr().out
    a, b = read_pose(out / "a.pose"), read_pose(out / "sub" / "b.pose")
    assert a.layout.name == b.layout.name == "holistic-178"
    # Mirroring swaps the sides: the photograph's left shoulder is the mirrored one's right.
    left_x = a.data[0, a.layout.joint_index("LEFT_SHOULDER"), 0]
    right_x = b.data[0, b.layout.joint_index("RIGHT_SHOULDER"), 0]
    assert abs((SIDE - left_x) - right_x) < 20


@needs_mediapipe
def test_a_worker_that_dies_fails_only_its_video(videos, tmp_path):
    plan = plan_extraction([(videos / name, tmp_path / f"{name}.pose") for name in ("astronaut.mp4", "mirrored.mp4")])
    killed = []

    def kill_the_worker(frames: int) -> None:
        if not killed:  # a crash inside MediaPipe, half way through the first video
            killed.extend(multiprocessing.active_children())
            for process in killed:
                os.kill(process.pid, signal.SIGKILL)

    first, second = run_extraction(plan.jobs, workers=1, on_frames=kill_the_worker)
    assert killed and "worker died" in first.error and not (tmp_path / "astronaut.mp4.pose").exists()
    assert second.ok and read_pose(tmp_path / "mirrored.mp4.pose").num_frames == FRAMES
    assert not list(tmp_path.glob(".*")), "a pose is written (atomically) only once its video is done"


@needs_mediapipe
def test_one_bad_video_is_one_error_line(videos, tmp_path, capsys):
    assert run(["extract", str(videos / "corrupt.mp4"), "-o", str(tmp_path / "poses")]) == 1
    assert "corrupt.mp4" in one_error_line(capsys)


@needs_mediapipe
def test_extract_file_streams_chunks_into_the_bytes_write_pose_writes(videos, tmp_path, monkeypatch):
    from text2sign.data import extract
    from text2sign.pose.io import write_pose

    rng = np.random.default_rng(3)

    def points(frames, info, on_frame):
        # MediaPipe's own output varies a little from one graph to the next; the writer is what is tested.
        for _ in frames:
            confidence = (rng.random(586) > 0.3).astype(np.float64)
            yield rng.normal(200, 50, (586, 3)), confidence

    monkeypatch.setattr(extract, "_holistic_points", points)
    monkeypatch.setattr(extract, "CHUNK_FRAMES", 2)  # five frames: three chunks
    video = videos / "astronaut.mp4"
    whole = extract.extract_pose(video)
    rng = np.random.default_rng(3)
    assert extract.extract_file(video, tmp_path / "streamed.pose") == whole.num_frames == FRAMES
    write_pose(whole, tmp_path / "whole.pose", width=SIDE, height=SIDE)
    assert (tmp_path / "streamed.pose").read_bytes() == (tmp_path / "whole.pose").read_bytes()


@needs_mediapipe
def test_ctrl_c_stops_extraction_cleanly(tmp_path):
    import shutil
    import subprocess
    import sys
    import time

    from skimage import data

    video = tmp_path / "long.mp4"
    write_mp4([data.astronaut()[::2, ::2].copy()] * 150, video, FPS)
    out = tmp_path / "poses"
    cli = shutil.which("text2sign", path=str(Path(sys.executable).parent))
    # Ctrl-C in a terminal signals the whole foreground group: the command, its worker and the resource tracker.
    # A shell's background job inherits SIGINT ignored: a launcher restores its default and execs the command (in
    # the same process; preexec_fn would run Python in a fork of this process, which is unsafe with threads).
    launcher = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, cli, "extract", str(video), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while (
        not (out.is_dir() and any(p.name.startswith(".long.pose.") for p in out.iterdir()))
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "resource_tracker" not in err and "leaked" not in err, err
    assert not out.exists() or not any(out.iterdir())
