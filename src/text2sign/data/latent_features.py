"""The latent-flow design's data, into a corpus with the named 214-value layout ``latent-flow-214``.

The design's loader reads, per split (``train``, ``dev``, ``test``)::

    DATA/{split}/poses/ID.npz   "keypoints": (T, 75, 2) = 150 manual values a frame (MediaPipe body
                                33, left hand 21, right hand 21; x, y); an optional "visibility",
                                which the loader does not use and neither do we
    DATA/{split}/nmms/ID.pkl    a pickled dict: "facial_aus" (T, 17), "head_pose" (T, 3),
                                "eye_gaze" (T, 4), "mouth_shape" (T, 20, 2) = 64 non-manual values
    DATA/{split}.txt            optional lines "ID|text"
    DATA/normalization_stats.npz  the loader's standardisation ("mean"/"std" of 214 values, or
                                "manual_mean"/"manual_std"/"nmm_mean"/"nmm_std"); checked, not used:
                                a text2sign corpus computes its own statistics from its train split

and concatenates ``[keypoints (150), facial_aus, head_pose, eye_gaze, mouth_shape (64)]``; the
features of an imported pose (:meth:`~text2sign.pose.sequence.PoseSequence.to_features`) are that
vector again. Manual points at exactly (0, 0), what an extractor writes for a part it did not
find, are unobserved; non-manual values are always observed.

Pickles are read only when the caller says the files are trusted: unpickling runs whatever code
the file names, so a pickle from someone else can do anything the user can.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from text2sign.data.corpus import SPLITS, Corpus, check_corpus_output
from text2sign.data.importing import write_corpus
from text2sign.errors import CorpusError
from text2sign.npfiles import check_npz
from text2sign.pose.layout import MOUTH_POINTS, NMM_SCALARS, latent_flow_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

MANUAL_POINTS = 75
NMM_ARRAYS = {"facial_aus": (17,), "head_pose": (3,), "eye_gaze": (4,), "mouth_shape": (MOUTH_POINTS, 2)}
STATS_FILE = "normalization_stats.npz"
FEATURES = MANUAL_POINTS * 2 + len(NMM_SCALARS) + MOUTH_POINTS * 2
DEFAULT_FPS = 25.0
PICKLE_RISK = (
    "unpickling runs whatever code the file names, so a pickle made by someone else can do anything you can; "
    "pass --trust-pickles only for files you made or trust"
)


def import_latent_features(
    data_dir: str | Path,
    out_dir: str | Path,
    spoken: str,
    signed: str,
    trust_pickles: bool = False,
    fps: float = DEFAULT_FPS,
    trim_to_shorter: bool = False,
    on_item: Callable[[], None] | None = None,
    allow_outside: bool = False,
) -> Corpus:
    """Build a corpus from the design's folder (see the module docstring). A pose and its NMMs
    must have as many frames, unless `trim_to_shorter` cuts both to the shorter as the design's
    own loader does. A file that is a symlink out of the folder is refused unless `allow_outside`."""
    data = Path(data_dir)
    if not data.is_dir():
        raise CorpusError(f"latent-features directory not found: {data}")
    if not spoken or not signed:
        raise CorpusError("give the languages of the data: --spoken and --signed")
    if not np.isfinite(fps) or fps <= 0:
        raise CorpusError(f"--fps must be a positive number, got {fps}")
    check_corpus_output(out_dir, [data])
    samples = _find_samples(data)
    if not trust_pickles:
        raise CorpusError(f"{data} keeps its non-manual features in pickles (nmms/*.pkl); {PICKLE_RISK}")
    for _, _, pose_path, nmm_path in samples:
        for path in (pose_path, nmm_path):
            inside(data, path.relative_to(data), str(path), allow_outside)
    stats_note = _check_stats(inside(data, STATS_FILE, str(data / STATS_FILE), allow_outside))
    splits = {s for s, _, _, _ in samples}
    texts = {
        split: _read_texts(inside(data, f"{split}.txt", str(data / f"{split}.txt"), allow_outside)) for split in splits
    }

    def items() -> Iterator[tuple[PoseSequence, dict]]:
        for split, sample_id, pose_path, nmm_path in samples:
            features = _combine(_read_keypoints(pose_path), _read_nmms(nmm_path), pose_path, nmm_path, trim_to_shorter)
            text = texts[split].get(sample_id, "")
            extra["items_without_text"] += not text
            yield (
                features_to_pose(features, fps),
                {
                    "id": sample_id,
                    "split": split,
                    "text": text,
                    "spoken_language": spoken,
                    "signed_language": signed,
                },
            )
            if on_item is not None:
                on_item()

    # Text-to-pose training needs a text for every item; the design's loader falls back to "".
    extra = {"source": "latent-features", "source_normalization": stats_note, "items_without_text": 0}
    return write_corpus(out_dir, items(), pose_suffix=".npz", extra_stats=extra, inputs=[data])


def count_samples(data_dir: str | Path) -> int:
    """How many samples an import reads (for a progress bar)."""
    return len(_find_samples(Path(data_dir)))


def features_to_pose(features: np.ndarray, fps: float) -> PoseSequence:
    """(T, 214) design features -> a ``latent-flow-214`` pose."""
    layout = latent_flow_layout()
    frames = features.shape[0]
    data = features.reshape(frames, layout.num_joints, 2)
    mask = np.ones((frames, layout.num_joints), bool)
    manual = slice(0, MANUAL_POINTS)
    mask[:, manual] = (data[:, manual] != 0).any(axis=-1)
    return PoseSequence(data, mask, fps, layout)


def _find_samples(data: Path) -> list[tuple[str, str, Path, Path]]:
    samples = []
    for split in SPLITS:
        poses, nmms = data / split / "poses", data / split / "nmms"
        if not poses.is_dir():
            continue
        ids = sorted(p.stem for p in poses.glob("*.npz"))
        nmm_ids = {p.stem for p in nmms.glob("*.pkl")} if nmms.is_dir() else set()
        lacking = [i for i in ids if i not in nmm_ids]
        if lacking:
            raise CorpusError(
                f"{poses / (lacking[0] + '.npz')} has no non-manual features {nmms / (lacking[0] + '.pkl')}"
            )
        orphans = sorted(nmm_ids - set(ids))
        if orphans:
            raise CorpusError(f"{nmms / (orphans[0] + '.pkl')} has no pose file {poses / (orphans[0] + '.npz')}")
        samples += [(split, i, poses / f"{i}.npz", nmms / f"{i}.pkl") for i in ids]
    if not samples:
        raise CorpusError(
            f"{data} holds no samples: expected {{train,dev,test}}/poses/ID.npz with {{split}}/nmms/ID.pkl"
        )
    return samples


def _read_keypoints(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            check_npz(path, archive, CorpusError)
            if "keypoints" not in archive.files:
                raise CorpusError(f"{path} has no 'keypoints' array (it has: {', '.join(archive.files) or 'nothing'})")
            keypoints = np.asarray(archive["keypoints"], dtype=np.float64)
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001  numpy raises OSError, ValueError, BadZipFile... on foreign or cut files
        raise CorpusError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if keypoints.ndim == 2 and keypoints.shape[1] == MANUAL_POINTS * 2:
        keypoints = keypoints.reshape(-1, MANUAL_POINTS, 2)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (MANUAL_POINTS, 2) or not len(keypoints):
        raise CorpusError(f"{path}: keypoints must be (frames, {MANUAL_POINTS}, 2), got shape {keypoints.shape}")
    return keypoints.reshape(len(keypoints), -1)


def _read_nmms(path: Path) -> dict[str, np.ndarray]:
    try:
        with path.open("rb") as f:
            raw = pickle.load(f)  # only behind trust_pickles (see PICKLE_RISK)
    except Exception as exc:  # noqa: BLE001  a cut file, or one pickled by code this process does not have
        raise CorpusError(f"{path} is not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(raw, dict):
        raise CorpusError(f"{path} holds a {type(raw).__name__}, expected a dict with {', '.join(NMM_ARRAYS)}")
    arrays = {}
    for key, shape in NMM_ARRAYS.items():
        if key not in raw:
            raise CorpusError(f"{path} lacks {key!r} (it has: {', '.join(map(str, raw)) or 'nothing'})")
        try:
            value = np.asarray(raw[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise CorpusError(f"{path}: {key} is not numeric") from None
        if key == "mouth_shape" and value.ndim == 2 and value.shape[1] == MOUTH_POINTS * 2:
            value = value.reshape(-1, MOUTH_POINTS, 2)
        if value.shape[1:] != shape:
            raise CorpusError(f"{path}: {key} must be (frames, {', '.join(map(str, shape))}), got shape {value.shape}")
        arrays[key] = value.reshape(len(value), -1)
    lengths = {key: len(value) for key, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise CorpusError(
            f"{path}: its arrays disagree on the number of frames ({', '.join(f'{k} {n}' for k, n in lengths.items())})"
        )
    return arrays


def _combine(
    manual: np.ndarray, nmms: dict[str, np.ndarray], pose_path: Path, nmm_path: Path, trim: bool
) -> np.ndarray:
    frames = {len(manual), *(len(v) for v in nmms.values())}
    if len(frames) > 1 and not trim:
        raise CorpusError(
            f"{pose_path} has {len(manual)} frames but {nmm_path} has {len(nmms['facial_aus'])} "
            "(--trim-to-shorter cuts both to the shorter, as the design's loader does)"
        )
    count = min(frames)
    if count == 0:
        raise CorpusError(f"{nmm_path} has no frames")
    combined = np.concatenate([manual[:count], *(nmms[k][:count] for k in NMM_ARRAYS)], axis=1)  # (T, 214)
    bad = np.argwhere(~(np.abs(combined) <= np.finfo(np.float32).max))  # poses are float32
    if bad.size:
        raise CorpusError(
            f"{pose_path}: NaN, infinite or out-of-range value at frame {bad[0][0]}, feature {bad[0][1]} of {FEATURES}"
        )
    return combined


def _read_texts(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    texts = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise CorpusError(f"{path} is not UTF-8 text") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if "|" not in line:
            raise CorpusError(f"{path}:{number}: expected 'ID|text'")
        sample_id, text = line.split("|", 1)
        texts[sample_id.strip()] = text.strip()
    return texts


def _check_stats(path: Path) -> str | None:
    """Which standardisation the design stored, after checking it is one it can write."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            check_npz(path, archive, CorpusError)
            arrays = {k: np.asarray(archive[k]) for k in archive.files}
    except Exception as exc:  # noqa: BLE001  numpy raises OSError, ValueError, BadZipFile... on foreign or cut files
        raise CorpusError(f"{path} is not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if {"mean", "std"} <= arrays.keys() and arrays["mean"].shape == arrays["std"].shape == (FEATURES,):
        return "per-feature mean/std"
    nmm = len(NMM_SCALARS) + MOUTH_POINTS * 2
    grouped = {"manual_mean", "manual_std", "nmm_mean", "nmm_std"}
    if grouped <= arrays.keys() and arrays["nmm_mean"].shape == arrays["nmm_std"].shape == (nmm,):
        return "grouped: manual scalar mean/std, non-manual per-feature"
    raise CorpusError(
        f"{path} holds neither mean/std of {FEATURES} values nor manual_mean/manual_std/nmm_mean/nmm_std "
        f"(it has: {', '.join(f'{k} {v.shape}' for k, v in arrays.items())})"
    )
