"""One corpus format for every dataset.

A corpus is a directory::

    CORPUS/
      manifest.csv      one row per item (columns: MANIFEST_COLUMNS)
      stats.json        summary (items/frames per split, languages, layout) and feature mean/std
      poses/...         one pose file per item, at the manifest's relative `path`

Builders (fingerspelling, phoenix, a user's own) only have to produce ``CorpusItem`` rows and
pose sequences; :class:`CorpusWriter` does the rest, atomically per file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from text2sign.errors import CorpusError, Text2SignError
from text2sign.fileio import atomic_dir, read_json_mapping, write_text_atomic
from text2sign.limits import MAX_INDEX_BYTES, MAX_ITEM_TEXT_CHARS
from text2sign.outputs import OutputKind, check_output_dir
from text2sign.pose.io import load_pose, save_pose
from text2sign.pose.normalize import FeatureStats, compute_feature_stats
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

MANIFEST = "manifest.csv"
STATS = "stats.json"
SPLITS = ("train", "dev", "test")


def _has_manifest_header(root: Path) -> bool:
    try:
        with (root / MANIFEST).open(encoding="utf-8") as f:
            return f.readline().strip().split(",")[:2] == ["id", "split"]
    except (OSError, UnicodeDecodeError):
        return False


# What a `prepare` command that builds a pose corpus may replace.
CORPUS_OUTPUT = OutputKind(
    "text2sign corpus",
    markers=(MANIFEST,),
    entries=(MANIFEST, STATS, "poses"),
    own=_has_manifest_header,
)
# Corpora are written by text2sign with every pose under poses/: a manifest pointing elsewhere was edited.
CORPUS_PATHS_HINT = "a corpus reads only files inside its own folder (its pose files live under poses/)"


@dataclass(frozen=True)
class CorpusItem:
    id: str
    split: str
    text: str
    gloss: str
    spoken_language: str
    signed_language: str
    signer: str
    path: str  # relative to the corpus directory
    fps: float
    num_frames: int

    @property
    def lexicon_key(self) -> str:
        """What this item means as a dictionary entry: its gloss if it has one, else its text."""
        return (self.gloss or self.text).strip()


MANIFEST_COLUMNS = tuple(f.name for f in fields(CorpusItem))


class Corpus:
    def __init__(self, root: str | Path, items: list[CorpusItem], stats: dict):
        self.root = Path(root)
        self.items = items
        self.stats = stats

    @classmethod
    def load(cls, root: str | Path) -> Corpus:
        root = Path(root)
        if not root.is_dir():
            raise CorpusError(f"corpus directory not found: {root}")
        manifest = root / MANIFEST
        if not manifest.is_file():
            raise CorpusError(
                f"{root} is not a text2sign corpus: {MANIFEST} is missing (build one with `text2sign prepare`)"
            )
        with manifest_errors(manifest), manifest.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or [])
            if missing and (root / VIDEO_FRAMES).is_file():
                raise CorpusError(
                    f"{root} is a video corpus (made by `prepare video`), and this takes a pose corpus: give the pose "
                    "corpus it was drawn from (evaluate draws a video model's references itself)"
                )
            if missing:
                raise CorpusError(f"{manifest} lacks the columns {sorted(missing)}")
            items = []
            for line, row in enumerate(reader, start=2):
                try:
                    items.append(
                        CorpusItem(
                            **{k: row[k] for k in MANIFEST_COLUMNS if k not in ("fps", "num_frames")},
                            fps=float(row["fps"]),
                            num_frames=int(row["num_frames"]),
                        )
                    )
                except (TypeError, ValueError):
                    raise CorpusError(f"{manifest}:{line}: malformed row") from None
                inside(root, items[-1].path, f"{manifest}:{line}", hint=CORPUS_PATHS_HINT)
        stats = read_stats(root / STATS) if (root / STATS).is_file() else {}
        return cls(root, items, stats)

    def __len__(self) -> int:
        return len(self.items)

    def split(self, name: str) -> list[CorpusItem]:
        if name not in SPLITS:
            raise CorpusError(f"unknown split {name!r}; splits are {', '.join(SPLITS)}")
        return [item for item in self.items if item.split == name]

    def item_path(self, item: CorpusItem) -> Path:
        """Where `item`'s pose file is (checked to be inside the corpus when it was loaded)."""
        return self.root / item.path

    def load_pose(self, item: CorpusItem) -> PoseSequence:
        try:
            return load_pose(self.item_path(item))
        except Text2SignError as exc:
            raise CorpusError(f"corpus item {item.id}: {exc}") from None

    def feature_stats(self) -> FeatureStats | None:
        d = self.stats.get("feature_stats")
        if not d:
            return None
        try:
            return FeatureStats.from_dict(d)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise CorpusError(
                f"{self.root / STATS}: 'feature_stats' is not the mean and std text2sign writes; rebuild the corpus"
            ) from None

    @property
    def layout_name(self) -> str | None:
        return self.stats.get("layout")

    def summary(self) -> dict:
        return summarize(self.items)


def summarize(items: list[CorpusItem]) -> dict:
    by_split = {s: [i for i in items if i.split == s] for s in SPLITS}
    return {
        "items": {s: len(v) for s, v in by_split.items()},
        "frames": {s: sum(i.num_frames for i in v) for s, v in by_split.items()},
        "languages": dict(sorted(Counter(f"{i.spoken_language}->{i.signed_language}" for i in items).items())),
    }


# The frames file of a video corpus (text2sign.data.video_corpus), named here so that a pose command
# given a video corpus can say so without importing the video side.
VIDEO_FRAMES = "frames.u8"


class CorpusWriter:
    """Writes pose files and, on :meth:`close`, the manifest and statistics.

    The manifest is written last, so an interrupted build never looks like a finished corpus.
    """

    def __init__(self, root: str | Path, pose_suffix: str = ".pose"):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise CorpusError(f"corpus output {self.root} exists and is not a directory")
        if not self.root.parent.is_dir():
            raise CorpusError(f"output directory does not exist: {self.root.parent}")
        self.root.mkdir(exist_ok=True)
        self.pose_suffix = pose_suffix
        self.items: list[CorpusItem] = []
        self._ids: set[str] = set()
        self.layout_name: str | None = None

    def add(self, seq: PoseSequence, **meta) -> CorpusItem:
        """Save `seq` under poses/<split>/<id> and record it; `meta` are the other manifest fields."""
        item_id, split = meta["id"], meta["split"]
        if split not in SPLITS:
            raise CorpusError(f"unknown split {split!r}")
        if item_id in self._ids:
            raise CorpusError(f"duplicate corpus item id {item_id!r}")
        for column in ("text", "gloss"):
            check_item_text(meta.get(column) or "", f"item {item_id}'s {column}")
        if self.layout_name is None:
            self.layout_name = seq.layout.name
        elif seq.layout.name != self.layout_name:
            raise CorpusError(f"item {item_id} has layout {seq.layout.name}, corpus has {self.layout_name}")
        rel = Path("poses") / split / f"{safe_filename(item_id)}{self.pose_suffix}"
        (self.root / rel.parent).mkdir(parents=True, exist_ok=True)
        save_pose(seq, self.root / rel)
        item = CorpusItem(
            id=item_id,
            split=split,
            text=meta.get("text", ""),
            gloss=meta.get("gloss", ""),
            spoken_language=meta.get("spoken_language", ""),
            signed_language=meta.get("signed_language", ""),
            signer=meta.get("signer", ""),
            path=rel.as_posix(),
            fps=float(seq.fps),
            num_frames=seq.num_frames,
        )
        self.items.append(item)
        self._ids.add(item_id)
        return item

    def close(self, extra_stats: dict | None = None, feature_stats: FeatureStats | None = None) -> Corpus:
        """Write stats.json then manifest.csv. Feature statistics come from the train split."""
        if not self.items:
            raise CorpusError("refusing to write an empty corpus")
        if feature_stats is None:
            train = [i for i in self.items if i.split == "train"] or self.items
            feature_stats = compute_feature_stats(load_pose(self.root / i.path) for i in train)
        stats = {
            **summarize(self.items),
            "layout": self.layout_name,
            **(extra_stats or {}),
            "feature_stats": feature_stats.to_dict(),
        }
        write_text_atomic(self.root / STATS, json.dumps(stats, ensure_ascii=False, indent=1))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for item in self.items:
            writer.writerow(asdict(item))
        write_text_atomic(self.root / MANIFEST, buffer.getvalue())
        return Corpus(self.root, list(self.items), stats)


def check_corpus_output(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """`out` can become a corpus: its parent is writable, it is new, empty or a corpus (which an
    import replaces), and it is apart from `inputs`. Anything else is refused rather than deleted."""
    return check_output_dir(out, CORPUS_OUTPUT, inputs, error=CorpusError)


@contextlib.contextmanager
def corpus_output(
    out: str | Path, pose_suffix: str = ".pose", inputs: Iterable[str | Path | None] = ()
) -> Iterator[CorpusWriter]:
    """A :class:`CorpusWriter` building the corpus `out` in a temporary directory, renamed into place
    when the block ends without an error (call ``close()`` in it; load the result from `out`).
    `out` is checked first (:func:`text2sign.outputs.check_output_dir`): new, empty or a corpus, and
    apart from `inputs`, the paths the import reads."""
    out = check_corpus_output(out, inputs)
    with atomic_dir(out) as tmp:
        yield CorpusWriter(tmp, pose_suffix=pose_suffix)


def check_item_text(text: str, where: str) -> None:
    """An item's text fits a manifest row every reader takes: at most
    :data:`~text2sign.limits.MAX_ITEM_TEXT_CHARS` characters."""
    if len(text) > MAX_ITEM_TEXT_CHARS:
        raise CorpusError(
            f"{where}: the text has {len(text):,} characters; an item's text may have at most {MAX_ITEM_TEXT_CHARS:,}"
        )


def read_stats(path: Path) -> dict:
    """A corpus's stats.json: a JSON object whose `layout`, if any, is a name and whose
    `feature_stats`, if any, is a mapping; anything else is one line naming the file."""
    stats = read_json_mapping(path, MAX_INDEX_BYTES, "a corpus's stats.json", CorpusError)
    for key, kind, described in (("layout", str, "a layout name"), ("feature_stats", dict, "a mapping")):
        if stats.get(key) is not None and not isinstance(stats[key], kind):
            raise CorpusError(f"{path}: '{key}' must be {described}, got {type(stats[key]).__name__}")
    return stats


@contextlib.contextmanager
def manifest_errors(path: Path) -> Iterator[None]:
    """A manifest that is not UTF-8 CSV (or has a field over the csv module's limit) as one line."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise CorpusError(f"{path} is not a readable CSV manifest ({exc})") from None


def safe_filename(name: str) -> str:
    """Item ids may contain '/' (PHOENIX names) or letters of any script; keep them readable."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
