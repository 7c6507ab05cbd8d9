"""Video corpora: clips with their text, decoded once and cached on disk, read memory-mapped.

A video corpus is a directory::

    VIDEOS/
      manifest.csv   one row per clip: the pose corpus's columns (id, split, text, gloss, languages,
                     signer) plus `start` and `num_frames` (its rows in frames.u8) and `fps`
      frames.u8      every clip's frames back to back, raw uint8 ``(sum T, H, W, 3)``
      stats.json     items/frames per split, languages, frame size (`height`, `width`), source

The designs' corpora run to tens of thousands of clips, so decoded frames never live in RAM:
:meth:`VideoCorpus.frames` is a view into one ``np.memmap`` and the OS pages in what a batch
touches. Frames are appended as each clip is decoded (memory bounded by one clip), the manifest is
written last, and all of it goes into a temporary directory renamed into place, so an
interrupted build never looks like a corpus.

Two builders: :func:`render_pose_corpus` draws a pose corpus with our renderer (the training set
that exists offline on every machine), and :func:`import_video_folder` reads the designs' layout,
``NAME.gif`` / ``NAME.mp4`` next to ``NAME.txt``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np

from text2sign.data.corpus import SPLITS, VIDEO_FRAMES, Corpus, check_item_text, manifest_errors
from text2sign.errors import CorpusError
from text2sign.fileio import atomic_dir, read_json_mapping, read_text_bounded, write_text_atomic
from text2sign.limits import MAX_INDEX_BYTES, MAX_ITEM_TEXT_BYTES
from text2sign.outputs import OutputKind, check_output_dir
from text2sign.sources import inside
from text2sign.video.clip import VideoClip, check_fps, resample_indices, resize_frame

MANIFEST = "manifest.csv"
FRAMES = VIDEO_FRAMES
STATS = "stats.json"
# What `prepare video` and `prepare video-folder` may replace (a pose corpus is not one: it has poses/).
VIDEO_CORPUS_OUTPUT = OutputKind(
    "text2sign video corpus", markers=(FRAMES, MANIFEST), entries=(MANIFEST, FRAMES, STATS)
)


def check_video_corpus_output(root: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """`root` can become a video corpus: new, empty or one (replaced), and apart from `inputs`."""
    return check_output_dir(root, VIDEO_CORPUS_OUTPUT, inputs, error=CorpusError)


@dataclass(frozen=True)
class VideoItem:
    id: str
    split: str
    text: str
    gloss: str
    spoken_language: str
    signed_language: str
    signer: str
    start: int
    num_frames: int
    fps: float


COLUMNS = tuple(f.name for f in fields(VideoItem))


class VideoCorpus:
    def __init__(self, root: Path, items: list[VideoItem], stats: dict):
        self.root, self.items, self.stats = root, items, stats
        self.height, self.width = int(stats["height"]), int(stats["width"])
        total = int(stats["total_frames"])
        self._frames = np.memmap(root / FRAMES, np.uint8, "r", shape=(total, self.height, self.width, 3))

    @classmethod
    def load(cls, root: str | Path) -> VideoCorpus:
        root = Path(root)
        if not (root / MANIFEST).is_file() or not (root / FRAMES).is_file() or not (root / STATS).is_file():
            hint = (
                " (a pose corpus: make its videos with `text2sign prepare video --from`)"
                if (root / "poses").is_dir()
                else ""
            )
            raise CorpusError(f"{root} is not a video corpus: it needs {MANIFEST}, {FRAMES} and {STATS}{hint}")
        for name in (MANIFEST, FRAMES, STATS):
            inside(root, name, str(root), hint="a video corpus reads only files inside its own folder")
        stats = read_json_mapping(root / STATS, MAX_INDEX_BYTES, "a video corpus's stats.json", CorpusError)
        for key in ("height", "width", "total_frames"):
            if isinstance(stats.get(key), bool) or not isinstance(stats.get(key), int) or stats[key] < 1:
                raise CorpusError(f"{root / STATS}: '{key}' must be a positive whole number, got {stats.get(key)!r}")
        with manifest_errors(root / MANIFEST), open(root / MANIFEST, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        items = []
        for line, r in enumerate(rows, start=2):
            try:
                items.append(
                    VideoItem(
                        **{**r, "start": int(r["start"]), "num_frames": int(r["num_frames"]), "fps": float(r["fps"])}
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise CorpusError(f"{root / MANIFEST}:{line}: malformed row (columns: {', '.join(COLUMNS)})") from None
        expected = int(stats["height"]) * int(stats["width"]) * 3 * int(stats["total_frames"])
        if (root / FRAMES).stat().st_size != expected:
            raise CorpusError(f"{root / FRAMES} has {(root / FRAMES).stat().st_size} bytes; stats.json says {expected}")
        return cls(root, items, stats)

    def __len__(self) -> int:
        return len(self.items)

    def split(self, name: str) -> list[VideoItem]:
        return [i for i in self.items if i.split == name]

    def frames(self, item: VideoItem) -> np.ndarray:
        """The clip's frames ``(T, H, W, 3)`` uint8, a read-only view of the memory map."""
        return self._frames[item.start : item.start + item.num_frames]

    def clip(self, item: VideoItem) -> VideoClip:
        return VideoClip(np.array(self.frames(item)), item.fps)


def load_video_corpus(data) -> VideoCorpus:
    """The video corpus a ``data:`` section (a :class:`~text2sign.data.config.VideoCorpusDataConfig`) names."""
    if not data.corpus:
        raise CorpusError("data.corpus is empty: name a video corpus (text2sign prepare video --from CORPUS --out DIR)")
    return VideoCorpus.load(data.corpus)


class VideoCorpusWriter:
    """Appends clips to an open ``frames.u8`` and records their rows; see :func:`build_video_corpus`."""

    def __init__(self, out: BinaryIO, height: int, width: int):
        self.out, self.height, self.width = out, height, width
        self.items: list[VideoItem] = []
        self._ids: set[str] = set()
        self._total = 0

    def add(self, frames: Iterable[np.ndarray], fps: float, **meta: str) -> VideoItem:
        """Append one clip's ``(H, W, 3)`` frames (streamed); `meta` holds the manifest's text columns."""
        item_id, split = meta["id"], meta["split"]
        if split not in SPLITS:
            raise CorpusError(f"unknown split {split!r}")
        if item_id in self._ids:
            raise CorpusError(f"duplicate clip id {item_id!r}")
        for column in ("text", "gloss"):
            check_item_text(meta.get(column) or "", f"clip {item_id}'s {column}")
        count = 0
        for frame in frames:
            if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
                raise CorpusError(
                    f"clip {item_id}: frame {count} is {frame.shape} {frame.dtype}, expected ({self.height}, "
                    f"{self.width}, 3) uint8"
                )
            self.out.write(np.ascontiguousarray(frame).tobytes())
            count += 1
        if count == 0:
            raise CorpusError(f"clip {item_id} has no frames")
        item = VideoItem(
            id=item_id,
            split=split,
            text=meta.get("text", ""),
            gloss=meta.get("gloss", ""),
            spoken_language=meta.get("spoken_language", ""),
            signed_language=meta.get("signed_language", ""),
            signer=meta.get("signer", ""),
            start=self._total,
            num_frames=count,
            fps=check_fps(fps),
        )
        self._total += count
        self.items.append(item)
        self._ids.add(item_id)
        return item

    def write_index(self, directory: Path, source: str, extra: dict | None = None) -> None:
        """stats.json (with `extra` facts, e.g. how frames were shaped), then manifest.csv."""
        if not self.items:
            raise CorpusError("refusing to write an empty video corpus")
        by_split = {s: [i for i in self.items if i.split == s] for s in SPLITS}
        stats = {
            "kind": "video",
            "items": {s: len(v) for s, v in by_split.items()},
            "frames": {s: sum(i.num_frames for i in v) for s, v in by_split.items()},
            "languages": dict(sorted(Counter(f"{i.spoken_language}->{i.signed_language}" for i in self.items).items())),
            "height": self.height,
            "width": self.width,
            "total_frames": self._total,
            "source": source,
            **(extra or {}),
        }
        write_text_atomic(directory / STATS, json.dumps(stats, ensure_ascii=False, indent=1))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for item in self.items:
            writer.writerow(asdict(item))
        write_text_atomic(directory / MANIFEST, buffer.getvalue())


def build_video_corpus(
    root: str | Path,
    height: int,
    width: int,
    fill: Callable[[VideoCorpusWriter], str],
    inputs: Iterable[str | Path | None] = (),
    extra_stats: dict | None = None,
) -> VideoCorpus:
    """A video corpus at `root` from ``fill(writer)``, which adds the clips and returns a description
    of their source (`inputs`: the paths it reads, which `root` must stay apart from). It is built in
    a temporary directory renamed into place: on any error nothing is left behind and an older
    corpus at `root` stays as it was."""
    root = check_video_corpus_output(root, inputs)
    with atomic_dir(root) as tmp:
        with open(tmp / FRAMES, "wb") as out:
            writer = VideoCorpusWriter(out, height, width)
            source = fill(writer)
        writer.write_index(tmp, source, extra_stats)
    return VideoCorpus.load(root)


def render_pose_corpus(
    corpus: Corpus | str | Path,
    out: str | Path,
    size: int = 64,
    fps: float = 12.5,
    on_item: Callable[[], None] | None = None,
) -> VideoCorpus:
    """Every item of a pose corpus drawn by :func:`~text2sign.rendering.iter_frames` at `size` x `size`
    pixels and `fps`: the same drawing ``evaluate`` scores video models against."""
    from text2sign.rendering import iter_frames

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.load(corpus)
    check_video_corpus_output(out, [corpus.root])
    fps = check_fps(fps)

    def fill(writer: VideoCorpusWriter) -> str:
        for item in corpus.items:
            frames = iter_frames(corpus.load_pose(item), width=size, height=size, fps=fps)
            writer.add(frames, fps, **_text_columns(item))
            if on_item:
                on_item()
        return f"rendered from {corpus.root} at {size} px, {fps:g} fps"

    return build_video_corpus(out, size, size, fill, [corpus.root])


def _text_columns(item) -> dict[str, str]:
    names = ("id", "split", "text", "gloss", "spoken_language", "signed_language", "signer")
    return {n: getattr(item, n) for n in names}


def fit_frames(frames: np.ndarray, count: int | None) -> np.ndarray:
    """`count` frames: evenly sampled from a longer clip, a shorter one padded with its last frame
    (the designs' "sample or pad to N"); None keeps every frame."""
    if count is None or len(frames) == count:
        return frames
    if len(frames) > count:
        return frames[np.round(np.linspace(0, len(frames) - 1, count)).astype(int)]
    pad = np.repeat(frames[-1:], count - len(frames), axis=0)
    return np.concatenate([frames, pad])  # (count, H, W, 3)


@dataclass(frozen=True)
class FolderOptions:
    """How `import_video_folder` shapes clips. The UNet3D design's data: 28 frames of 180 x 320,
    centre-cropped to 128 x 128, is ``frames=28, crop=128``."""

    frames: int | None = None  # sample or pad every clip to this many frames
    resize: int | None = None  # scale so the shorter side has this many pixels (before cropping)
    crop: int | None = None  # centre square of this side; without resize or crop clips keep their size
    fps: float | None = None  # resample in time first; None keeps each file's own rate
    spoken: str = "en"
    signed: str = "ase"
    dev_fraction: float = 0.05
    test_fraction: float = 0.05


def split_for(name: str, dev_fraction: float, test_fraction: float) -> str:
    """A clip's split from a hash of its name: stable when the folder grows."""
    u = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big") / 2**64
    return "dev" if u < dev_fraction else "test" if u < dev_fraction + test_fraction else "train"


def folder_clips(root: Path, allow_outside: bool = False) -> list[tuple[Path, Path]]:
    """(video, text) pairs of the designs' layout; subfolders train/ dev/ test/ name splits. A video
    or text that is a symlink out of `root` is refused unless `allow_outside`."""
    from text2sign.video.io import VIDEO_SUFFIXES

    pairs = []
    for video in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()):
        text = video.with_suffix(".txt")
        if text.is_file():
            pairs.append(tuple(inside(root, p.relative_to(root), str(p), allow_outside) for p in (video, text)))
    return pairs


def shaped_frames(path: Path, options: FolderOptions) -> tuple[float, Iterator[np.ndarray]]:
    """The frame rate and the frames of the video at `path` shaped by `options`, decoded and shaped
    one at a time: memory is one frame however long the video. Which source frames are kept
    (resampled in time, then sampled or padded to `options.frames`) is worked out from the frame
    count before any is decoded, which takes a first decoding pass when it is needed."""
    from text2sign.video.io import iter_video, video_rate, video_rate_and_count

    if options.fps is None and options.frames is None:
        return video_rate(path), (_shape_frame(frame, options, path) for frame in iter_video(path))
    fps, count = video_rate_and_count(path)
    picks = np.arange(count)
    if options.fps is not None and abs(check_fps(options.fps) - fps) >= 1e-9:
        picks, fps = resample_indices(count, fps, options.fps), check_fps(options.fps)
    picks = fit_frames(picks, options.frames)  # (T',) source frame of each output frame, in order
    return fps, _picked(iter_video(path), picks, options, path)


def _picked(
    frames: Iterator[np.ndarray], picks: np.ndarray, options: FolderOptions, path: Path
) -> Iterator[np.ndarray]:
    repeats = np.bincount(picks)  # how often each source frame is shown
    for index, frame in enumerate(frames):
        if index >= len(repeats):
            break
        if repeats[index]:
            shaped = _shape_frame(frame, options, path)
            for _ in range(repeats[index]):
                yield shaped


def _shape_frame(frame: np.ndarray, options: FolderOptions, path: Path) -> np.ndarray:
    height, width = frame.shape[:2]
    if options.resize is not None:
        scale = options.resize / min(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        frame = resize_frame(frame, width, height)
    if options.crop is not None:
        if options.crop > width or options.crop > height:
            raise CorpusError(f"{path}: cannot crop {options.crop} x {options.crop} out of a {width} x {height} video")
        left, top = (width - options.crop) // 2, (height - options.crop) // 2
        frame = frame[top : top + options.crop, left : left + options.crop]
    return np.ascontiguousarray(frame)  # (H', W', 3)


def read_clip_text(path: Path) -> str:
    """A clip's NAME.txt: UTF-8, at most :data:`~text2sign.limits.MAX_ITEM_TEXT_CHARS` characters."""
    text = read_text_bounded(path, MAX_ITEM_TEXT_BYTES, "a clip's text", CorpusError).strip()
    check_item_text(text, str(path))
    return text


def import_video_folder(
    root: str | Path,
    out: str | Path,
    options: FolderOptions = FolderOptions(),
    on_item: Callable[[], None] | None = None,
    allow_outside: bool = False,
) -> tuple[VideoCorpus, list[str]]:
    """The designs' GIF/MP4 + ``.txt`` folder as a video corpus; returns it and what was skipped.

    Every clip must come out the same size (give `resize`/`crop` when the files differ). A clip
    under a ``train``/``dev``/``test`` folder takes that split, any other one a split by hash.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"video folder not found: {root}")
    check_video_corpus_output(out, [root])
    pairs = folder_clips(root, allow_outside)
    if not pairs:
        raise CorpusError(f"{root} holds no NAME.gif / NAME.mp4 with a NAME.txt next to it")
    texts = [read_clip_text(text_file) for _, text_file in pairs]  # every text checked before any video is decoded
    first_frames = shaped_frames(pairs[0][0], options)[1]
    first = next(first_frames, None)
    first_frames.close()
    if first is None:
        raise CorpusError(f"{pairs[0][0]} holds no video frames")
    height, width = first.shape[:2]
    skipped: list[str] = []

    def fill(writer: VideoCorpusWriter) -> str:
        for (video, _), text in zip(pairs, texts):
            rel = video.relative_to(root)
            if not text:
                skipped.append(f"{rel}: empty text")
                continue
            fps, frames = shaped_frames(video, options)
            named = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in SPLITS else None
            item_id = rel.with_suffix("").as_posix()
            writer.add(
                _same_size(frames, (height, width), rel, pairs[0][0].name),
                fps,
                id=item_id,
                split=named or split_for(item_id, options.dev_fraction, options.test_fraction),
                text=text,
                spoken_language=options.spoken,
                signed_language=options.signed,
            )
            if on_item:
                on_item()
        return f"imported from {root}"

    # How frames were shaped, so poses extracted from the original videos can be placed on them.
    shaping = {"shaping": {"resize": options.resize, "crop": options.crop}}
    return build_video_corpus(out, height, width, fill, [root], shaping), skipped


def _same_size(frames: Iterator[np.ndarray], size: tuple[int, int], rel: Path, first: str) -> Iterator[np.ndarray]:
    for frame in frames:
        if frame.shape[:2] != size:
            raise CorpusError(
                f"{rel} is {frame.shape[1]} x {frame.shape[0]} after shaping, {first} is {size[1]} x {size[0]}: "
                "give --resize and/or --crop"
            )
        yield frame


def frames_to_unit(frames: np.ndarray) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` -> float32 ``(3, T, H, W)`` in [-1, 1], the diffusion models' pixel space."""
    return (frames.astype(np.float32).transpose(3, 0, 1, 2) / 127.5) - 1.0


def unit_to_frames(video: np.ndarray) -> np.ndarray:
    """float ``(3, T, H, W)`` in [-1, 1] -> uint8 ``(T, H, W, 3)``."""
    return np.clip(np.round((video.transpose(1, 2, 3, 0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    return np.stack([resize_frame(f, size, size) for f in frames])
