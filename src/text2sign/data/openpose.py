"""OpenPose JSON keypoints (How2Sign and many other corpora ship them) into a corpus of ``.pose`` files.

The source is one folder per clip, each holding one ``*_{frame}_keypoints.json`` per frame (the
frame number is the last run of digits before ``_keypoints.json``, as pose-format's OpenPose
reader takes it), and an index CSV with the columns ``name,text`` (the clip folder's name and
what is signed) and optionally ``split, gloss, spoken_language, signed_language, signer``.

Each frame's first listed person is read: BODY_25 (25 points), face (70) and both hands (21
each) as ``x, y, confidence`` in the video's pixels, giving the ``openpose-137`` layout with
pose-format's OpenPose names, so pose-format and sign.mt's viewer recognise the files. A point
with confidence 0, a part OpenPose left empty, a frame with no person and a frame number with no
file are unobserved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus, check_corpus_output
from text2sign.data.importing import check_languages_given, parse_split, read_index, row_languages, write_corpus
from text2sign.errors import CorpusError, InvalidPoseError
from text2sign.limits import MAX_MISSING_FRAMES, MAX_POSE_FRAMES
from text2sign.pose.layout import openpose_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

DEFAULT_FPS = 25.0
FLOAT32_MAX = float(np.finfo(np.float32).max)
FRAME_FILE = "*_keypoints.json"
OPTIONAL_COLUMNS = ("split", "gloss", "spoken_language", "signed_language", "signer")


def read_openpose_folder(folder: str | Path, fps: float = DEFAULT_FPS, allow_outside: bool = False) -> PoseSequence:
    """One clip folder -> an ``openpose-137`` pose, frame `n` from the file numbered `n`; a frame
    file that is a symlink out of the folder is refused unless `allow_outside`."""
    from pose_format.utils.openpose import OPENPOSE_FRAME_PATTERN

    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"OpenPose clip folder not found: {folder}")
    files: dict[int, Path] = {}
    for path in sorted(folder.glob(FRAME_FILE)):
        inside(folder, path.name, str(path), allow_outside)
        numbers = re.findall(OPENPOSE_FRAME_PATTERN, path.name)
        if not numbers:
            raise CorpusError(f"{path}: no frame number before _keypoints.json")
        frame = int(numbers[-1])
        if frame >= MAX_POSE_FRAMES:
            raise CorpusError(
                f"{path}: frame number {frame:,} is out of range (a pose may have at most {MAX_POSE_FRAMES:,} frames)"
            )
        if frame in files:
            raise CorpusError(f"{path} and {files[frame].name} are both frame {frame}")
        files[frame] = path
    if not files:
        raise CorpusError(f"{folder} holds no OpenPose frames ({FRAME_FILE})")
    layout = openpose_layout()
    frames = max(files) + 1
    if frames - len(files) > max(len(files), MAX_MISSING_FRAMES):
        raise CorpusError(
            f"{folder}: its last frame is number {frames - 1:,} but it has {len(files):,} frame files; OpenPose "
            f"writes one per frame, and at most {MAX_MISSING_FRAMES:,} missing ones are read as unobserved "
            "(number the files from 0)"
        )
    data = np.zeros((frames, layout.num_joints, 2), np.float32)
    confidence = np.zeros((frames, layout.num_joints), np.float32)
    for frame, path in files.items():
        data[frame], confidence[frame] = _read_frame(path)
    mask = confidence > 0
    data = np.where(mask[..., None], data, 0.0)
    try:
        return PoseSequence(data, mask, fps, layout, confidence)
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{folder}: {exc}") from None


def _read_frame(path: Path) -> tuple[np.ndarray, np.ndarray]:
    layout = openpose_layout()
    data = np.zeros((layout.num_joints, 2), np.float32)
    confidence = np.zeros(layout.num_joints, np.float32)
    try:
        frame = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path} is not OpenPose JSON ({exc})") from None
    people = frame.get("people") if isinstance(frame, dict) else None
    if not isinstance(people, list):
        raise CorpusError(f"{path} is not OpenPose JSON: no 'people' list")
    if not people:
        return data, confidence
    person = people[0]
    for component in layout.components:
        values = person.get(component.name, []) if isinstance(person, dict) else None
        if not isinstance(values, list):
            raise CorpusError(f"{path}: {component.name} is not a list of numbers")
        if not values:
            continue
        expected = len(component.points) * 3
        if len(values) != expected:
            raise CorpusError(
                f"{path}: {component.name} has {len(values)} values, expected {expected} ({len(component.points)} "
                "points x 3)"
            )
        try:
            triples = np.asarray(values, dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError):
            raise CorpusError(f"{path}: {component.name} holds something other than numbers") from None
        if not (np.abs(triples) <= FLOAT32_MAX).all():
            raise CorpusError(f"{path}: {component.name} holds NaN, infinite or out-of-range values")
        if (triples[:, 2] < 0).any():
            raise CorpusError(f"{path}: {component.name} has a negative confidence")
        where = layout.component_slice(component.name)
        data[where] = triples[:, :2]
        confidence[where] = triples[:, 2]
    return data, confidence


def import_openpose(
    src_dir: str | Path,
    index_csv: str | Path,
    out_dir: str | Path,
    fps: float = DEFAULT_FPS,
    spoken: str | None = None,
    signed: str | None = None,
    on_item: Callable[[], None] | None = None,
    allow_outside: bool = False,
) -> Corpus:
    """Build a corpus from OpenPose clip folders under `src_dir` named by the index's ``name`` column
    (a name leading out of `src_dir` is refused unless `allow_outside`)."""
    src = Path(src_dir)
    if not src.is_dir():
        raise CorpusError(f"OpenPose directory not found: {src}")
    if not np.isfinite(fps) or fps <= 0:
        raise CorpusError(f"--fps must be a positive number, got {fps}")
    index_csv = Path(index_csv)
    check_corpus_output(out_dir, [src, index_csv])
    rows = read_index(index_csv, ["name", "text"], OPTIONAL_COLUMNS)
    check_languages_given(rows, spoken, signed, index_csv)
    planned, seen = [], {}
    for row in rows:
        where = f"{index_csv}:{row.line}"
        name = row.get("name")
        if name in seen:
            raise CorpusError(f"{where}: clip {name!r} is already line {seen[name]}'s")
        seen[name] = row.line
        if not inside(src, name, where, allow_outside).is_dir():
            raise CorpusError(f"{where}: no clip folder {src / name}")
        planned.append((row, parse_split(row.get("split"), where), row_languages(row, spoken, signed, where)))

    def items() -> Iterator[tuple[PoseSequence, dict]]:
        for row, split, (spoken_language, signed_language) in planned:
            seq = read_openpose_folder(src / row.get("name"), fps, allow_outside)
            yield (
                seq,
                {
                    "id": row.get("name"),
                    "split": split,
                    "text": row.get("text"),
                    "gloss": row.get("gloss"),
                    "spoken_language": spoken_language,
                    "signed_language": signed_language,
                    "signer": row.get("signer"),
                },
            )
            if on_item is not None:
                on_item()

    return write_corpus(
        out_dir, items(), pose_suffix=".pose", extra_stats={"source": "openpose"}, inputs=[src, index_csv]
    )
