"""The GAN-NAT design's data, into a corpus: a metadata CSV, one ``.npy`` per sample, global stats.

The design's notebook reads::

    META.csv    feature_path, sentence_text (or sentence), optionally sentence_gloss, split, ...
    X.npy       (T, 540) float: per frame 33 body points x (x, y, z, visibility), then the left
                and the right hand, 21 points x (x, y, z) each, then 94 face points x (x, y, z)
    STATS.npz   feature_mean, feature_std (540 each)

in that order (the notebook's ``POSE_DIM = 33*4 + 2*21*3 + 94*3``; left before right as MediaPipe
lists the hands), in MediaPipe's normalised image coordinates (x and y from 0 to 1). The notebook
stores raw features and standardises them when it loads them, ``(x - mean) / (std + 1e-6)``; files
that hold standardised features are turned back with the inverse when STATS.npz is given.

What becomes of each value:

* body visibility is the confidence; a body point with visibility 0 is unobserved;
* a part whose values are all zero in a frame (what MediaPipe extraction writes when it found no
  body, hand or face) is unobserved there; hands and face have confidence 1 where observed;
* body and hands carry MediaPipe's point names; the design names no map for its 94 face points, so
  they become an anonymous ``FACE_94`` component (layout ``gan-nat-540``) unless a face map gives
  each one's MediaPipe face-mesh index, in which case the pose is written in the registered
  ``holistic-543`` layout (``holistic-553`` if an iris point is named), other face points unobserved.

Poses are written as ``.npz`` (normalised coordinates are not pixels, and ``.npz`` keeps the
layout's name). :func:`gan_nat_features` is the way back to the design's 540 values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus, check_corpus_output
from text2sign.data.importing import (
    IndexRow,
    check_languages_given,
    first_column,
    parse_split,
    read_index,
    row_languages,
    write_corpus,
)
from text2sign.errors import CorpusError, InvalidPoseError
from text2sign.npfiles import check_npz, load_npy
from text2sign.pose.layout import GAN_NAT_FACE_POINTS, Layout, gan_nat_layout, get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

FEATURES = 540
BODY, HAND = 33, 21
BODY_VALUES = BODY * 4
HAND_VALUES = HAND * 3
STATS_EPSILON = 1e-6  # the notebook's (std + 1e-6)
ABSENT = 1e-5  # a part whose values are all within this of zero was not detected
VISIBILITY_SLACK = 1e-3  # de-standardising is exact only to float rounding
DEFAULT_FPS = 25.0
FLOAT32_MAX = float(np.finfo(np.float32).max)  # poses are float32: a larger value would become infinite
TEXT_COLUMNS = ("sentence_text", "sentence")
OPTIONAL_COLUMNS = ("sentence_gloss", "split", "id", "spoken_language", "signed_language", "signer")


def parse_face_map(value: str) -> tuple[int, ...]:
    """94 MediaPipe face-mesh indices (0-477), from a file or the text itself: numbers separated by
    commas, spaces or newlines (a JSON list reads the same way)."""
    text = value if re.fullmatch(r"[\s\d,\[\]]*", value) else _read_text(Path(value), "--face-map")
    tokens = [t for t in re.split(r"[\s,\[\]]+", text) if t]
    try:
        indices = tuple(int(t) for t in tokens)
    except ValueError:
        raise CorpusError(f"--face-map: {value!r} holds something other than face-mesh indices") from None
    if len(indices) != GAN_NAT_FACE_POINTS or len(set(indices)) != len(indices):
        raise CorpusError(
            f"--face-map must name {GAN_NAT_FACE_POINTS} distinct MediaPipe face points, "
            f"got {len(indices)} ({len(set(indices))} distinct)"
        )
    bad = [i for i in indices if not 0 <= i < 478]
    if bad:
        raise CorpusError(f"--face-map: {bad[0]} is not a MediaPipe face-mesh index (0-477)")
    return indices


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{flag}: {path} is neither a readable file nor a list of numbers ({exc})") from None


def read_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"stats file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            check_npz(path, archive, CorpusError)
            missing = {"feature_mean", "feature_std"} - set(archive.files)
            if missing:
                raise CorpusError(f"{path} lacks {', '.join(sorted(missing))} (it has: {', '.join(archive.files)})")
            mean, std = np.asarray(archive["feature_mean"], np.float64), np.asarray(archive["feature_std"], np.float64)
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001  numpy raises OSError, ValueError, BadZipFile... on foreign or cut files
        raise CorpusError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc})") from None
    for name, array in (("feature_mean", mean), ("feature_std", std)):
        if array.shape != (FEATURES,) or not np.isfinite(array).all():
            raise CorpusError(f"{path}: {name} must be {FEATURES} finite values, got shape {array.shape}")
    return mean, std


def features_to_pose(
    features: np.ndarray, fps: float, where: str, face_map: tuple[int, ...] | None = None
) -> PoseSequence:
    """(T, 540) raw features -> a pose (see the module docstring)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != FEATURES or features.shape[0] == 0:
        raise CorpusError(
            f"{where}: expected (frames, {FEATURES}) features (body 33 x 4, hands 2 x 21 x 3, face 94 x 3), got "
            f"shape {features.shape}"
        )
    bad = np.argwhere(~(np.abs(features) <= FLOAT32_MAX))
    if bad.size:
        raise InvalidPoseError(f"{where}: NaN, infinite or out-of-range value at frame {bad[0][0]}, value {bad[0][1]}")
    frames = features.shape[0]
    body = features[:, :BODY_VALUES].reshape(frames, BODY, 4)
    rest = features[:, BODY_VALUES:]
    left = rest[:, :HAND_VALUES].reshape(frames, HAND, 3)
    right = rest[:, HAND_VALUES : 2 * HAND_VALUES].reshape(frames, HAND, 3)
    face = rest[:, 2 * HAND_VALUES :].reshape(frames, GAN_NAT_FACE_POINTS, 3)

    body_seen = ~_absent(body)  # (T,)
    visibility = body[..., 3]  # (T, 33)
    outside = body_seen[:, None] & ((visibility < -VISIBILITY_SLACK) | (visibility > 1 + VISIBILITY_SLACK))
    if outside.any():
        t, j = np.argwhere(outside)[0]
        raise CorpusError(
            f"{where}: body visibility (4th value of body point {j}) is {visibility[t, j]:.4g} at frame {t}, "
            f"outside 0-1: not raw GAN-NAT features in the order body 33 x 4, hands, face"
            f" (standardised features need --stats)"
        )
    confidence = [np.where(body_seen[:, None], np.clip(visibility, 0.0, 1.0), 0.0)]
    for part in (left, right, face):
        confidence.append(np.repeat((~_absent(part)).astype(np.float64)[:, None], part.shape[1], axis=1))
    data = np.concatenate([body[..., :3], left, right, face], axis=1)  # (T, 169, 3)
    confidence = np.concatenate(confidence, axis=1).astype(np.float32)  # (T, 169)
    mask = confidence > 0
    data = np.where(mask[..., None], data, 0.0)
    seq = PoseSequence(data, mask, fps, gan_nat_layout(), confidence)
    return seq if face_map is None else _place_face(seq, face_map)


def _absent(part: np.ndarray) -> np.ndarray:
    """(T,) True where every value of the part (T, points, values) is zero."""
    return (np.abs(part) < ABSENT).all(axis=(1, 2))


def face_map_layout(face_map: tuple[int, ...]) -> Layout:
    return get_layout("holistic-553" if max(face_map) >= 468 else "holistic-543")


def _place_face(seq: PoseSequence, face_map: tuple[int, ...]) -> PoseSequence:
    target = face_map_layout(face_map)
    index = {name: i for i, name in enumerate(target.joint_names)}
    face = seq.layout.component("FACE_94")
    positions = [
        index[("FACE_LANDMARKS", str(face_map[int(point)]))] if component == face.name else index[(component, point)]
        for component, point in seq.layout.joint_names
    ]
    data = np.zeros((seq.num_frames, target.num_joints, 3), np.float32)
    confidence = np.zeros((seq.num_frames, target.num_joints), np.float32)
    data[:, positions] = seq.data
    confidence[:, positions] = seq.confidence
    return PoseSequence(data, confidence > 0, seq.fps, target, confidence)


def gan_nat_features(seq: PoseSequence, face_map: tuple[int, ...] | None = None) -> np.ndarray:
    """A pose in ``gan-nat-540`` (or, with the `face_map` it was imported with, a holistic layout)
    as the design's (T, 540) raw features: unobserved points are zeros, visibility is the body's
    confidence."""
    source = gan_nat_layout()
    if face_map is not None:
        names = [("FACE_LANDMARKS", str(face_map[int(p)])) if c == "FACE_94" else (c, p) for c, p in source.joint_names]
        index = {name: i for i, name in enumerate(seq.layout.joint_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise InvalidPoseError(f"layout {seq.layout.name} has no joint {missing[0][0]}/{missing[0][1]}")
        picked = np.asarray([index[n] for n in names])
    else:
        picked = source.index_in(seq.layout)
    data = np.where(seq.mask[:, picked, None], seq.data[:, picked], 0.0)  # (T, 169, 3)
    confidence = seq.confidence[:, picked] if seq.confidence is not None else seq.mask[:, picked].astype(np.float32)
    frames = seq.num_frames
    body = np.concatenate([data[:, :BODY], confidence[:, :BODY, None]], axis=-1).reshape(frames, -1)
    return np.concatenate([body, data[:, BODY:].reshape(frames, -1)], axis=1).astype(np.float32)


def import_gan_nat_csv(
    meta_csv: str | Path,
    out_dir: str | Path,
    stats: str | Path | None = None,
    face_map: tuple[int, ...] | None = None,
    root: str | Path | None = None,
    fps: float = DEFAULT_FPS,
    spoken: str | None = None,
    signed: str | None = None,
    on_item: Callable[[], None] | None = None,
    allow_outside: bool = False,
) -> Corpus:
    """Build a corpus from the design's CSV. Feature paths are relative to `root` (default: the
    CSV's folder) and must lie inside it; with `allow_outside`, absolute paths are read too and a
    relative one not under the CSV's folder is tried in the working directory, where the notebook
    resolves them."""
    meta_csv = Path(meta_csv)
    if not np.isfinite(fps) or fps <= 0:
        raise CorpusError(f"--fps must be a positive number, got {fps}")
    check_corpus_output(out_dir, [meta_csv, stats])
    rows = read_index(meta_csv, ["feature_path", TEXT_COLUMNS], OPTIONAL_COLUMNS, other_columns=True)
    check_languages_given(rows, spoken, signed, meta_csv)
    mean_std = read_stats(stats) if stats is not None else None
    planned, seen = [], {}
    for row in rows:
        where = f"{meta_csv}:{row.line}"
        path = _feature_file(row.get("feature_path"), meta_csv, root, where, allow_outside)
        item_id = row.get("id") or path.stem
        if item_id in seen:
            raise CorpusError(
                f"{where}: id {item_id!r} is already line {seen[item_id]}'s (give an id column to tell them apart)"
            )
        seen[item_id] = row.line
        split = parse_split(row.get("split"), where)
        planned.append((row, path, item_id, split, row_languages(row, spoken, signed, where)))
    # The feature files are inputs too (the CSV's folder is not: a corpus beside the CSV is common).
    inputs = [meta_csv, stats, *(path for _, path, *_ in planned)]
    check_corpus_output(out_dir, inputs)

    def items() -> Iterator[tuple[PoseSequence, dict]]:
        for row, path, item_id, split, (spoken_language, signed_language) in planned:
            features = _load_features(path)
            if mean_std is not None:
                mean, std = mean_std
                with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused next, naming the file
                    features = features * (std + STATS_EPSILON) + mean
            seq = features_to_pose(features, fps, str(path), face_map)
            yield seq, _meta(row, item_id, split, spoken_language, signed_language)
            if on_item is not None:
                on_item()

    source = {
        "source": "gan-nat-csv",
        "face_map": list(face_map) if face_map else None,
        "destandardized": mean_std is not None,
    }
    return write_corpus(out_dir, items(), pose_suffix=".npz", extra_stats=source, inputs=inputs)


def _meta(row: IndexRow, item_id: str, split: str, spoken: str, signed: str) -> dict:
    return {
        "id": item_id,
        "split": split,
        "text": first_column(row, TEXT_COLUMNS),
        "gloss": row.get("sentence_gloss"),
        "spoken_language": spoken,
        "signed_language": signed,
        "signer": row.get("signer"),
    }


def _feature_file(value: str, meta_csv: Path, root: str | Path | None, where: str, allow_outside: bool) -> Path:
    path = Path(value)
    base = Path(root) if root is not None else meta_csv.parent
    if not allow_outside:
        candidates = [inside(base, path, where)]
    elif path.is_absolute():
        candidates = [path]
    elif root is not None:
        candidates = [base / path]
    else:
        candidates = [base / path, path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = " or ".join(str(c) for c in dict.fromkeys(candidates))
    raise CorpusError(
        f"{where}: no feature file at {tried} (relative paths are read from --root, default the CSV's folder)"
    )


def _load_features(path: Path) -> np.ndarray:
    return load_npy(path, CorpusError)
