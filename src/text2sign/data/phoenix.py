"""RWTH-PHOENIX-Weather 2014T in Progressive Transformers' text format, to and from a corpus.

The format is a directory of line-aligned files per split (one sequence per line)::

    {split}.skels   frames of 50 joints x (x, y, z) plus a counter t/T, all on one line
    {split}.text    German sentence
    {split}.gloss   DGS glosses (optional on import)
    {split}.files   sequence name, e.g. ``dev/11August_2010_Wednesday_tagesschau-2``

Coordinates are kept exactly as Progressive Transformers stores them (3D, centred on the neck,
divided by 3), so an import followed by an export gives back the same bytes. In memory and in
``.npz`` they are those numbers; the corpus's ``.pose`` files hold them on the pixel canvas of
the phoenix-50 layout (:data:`~text2sign.pose.layout.PHOENIX_PIXEL_FRAME`: 500 px per unit, the
neck at (320, 260) of 640 x 640), so pose-format, its ``visualize_pose`` and sign.mt's
pose-viewer draw them; every text2sign reader turns them back into these numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from text2sign.errors import CorpusError, InvalidPoseError
from text2sign.fileio import atomic_dir, write_text_atomic
from text2sign.outputs import OutputKind, check_output_dir
from text2sign.pose.io import PHOENIX_SCALE_NOTE, parse_skels_line, write_skels
from text2sign.pose.layout import PHOENIX_PIXEL_FRAME, Layout, get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

from .corpus import SPLITS, Corpus, CorpusItem, check_corpus_output, corpus_output

PHOENIX_FPS = 25.0
PHOENIX_LAYOUT = "phoenix-50"
SPOKEN_LANGUAGE = "de"
SIGNED_LANGUAGE = "gsg"  # ISO 639-3 for German Sign Language (DGS)
COORDINATES_NOTE = (
    f"{PHOENIX_SCALE_NOTE}; 3D joints (OpenPose lifted by inverse kinematics) centred on the neck; "
    f".pose files show them at {PHOENIX_PIXEL_FRAME.scale:g} px per unit with the neck at "
    f"({PHOENIX_PIXEL_FRAME.origin[0]:g}, {PHOENIX_PIXEL_FRAME.origin[1]:g}) px"
)

REQUIRED_SUFFIXES = (".skels", ".text", ".files")
OPTIONAL_SUFFIXES = (".gloss",)
# What `export phoenix` writes, and so may replace.
EXPORT_OUTPUT = OutputKind(
    "PHOENIX export", entries=tuple(f"{s}{suffix}" for s in SPLITS for suffix in REQUIRED_SUFFIXES + OPTIONAL_SUFFIXES)
)


def find_splits(src_dir: str | Path) -> list[str]:
    """The splits of `src_dir` that have all required files (``.skels``, ``.text``, ``.files``)."""
    src = Path(src_dir)
    if not src.is_dir():
        raise CorpusError(f"PHOENIX directory not found: {src}")
    return [s for s in SPLITS if all((src / f"{s}{suffix}").is_file() for suffix in REQUIRED_SUFFIXES)]


def count_items(src_dir: str | Path) -> dict[str, int]:
    """Sequences per split after checking the split's files agree line for line (for progress bars)."""
    src = Path(src_dir)
    splits = find_splits(src)
    if not splits:
        partial = sorted(p.name for s in SPLITS for p in src.glob(f"{s}.*"))
        hint = f" (found only {', '.join(partial)})" if partial else ""
        raise CorpusError(f"{src} holds no PHOENIX split: expected {{train,dev,test}}.skels, .text and .files{hint}")
    counts = {}
    for split in splits:
        paths = [src / f"{split}{suffix}" for suffix in REQUIRED_SUFFIXES + OPTIONAL_SUFFIXES]
        lines = {p: _count_lines(p) for p in paths if p.is_file()}
        skels = paths[0]
        for path, n in lines.items():
            if n != lines[skels]:
                raise CorpusError(
                    f"{path} has {n} lines but {skels} has {lines[skels]}; the files must be line-aligned"
                )
        counts[split] = lines[skels]
    return counts


def import_phoenix(
    src_dir: str | Path,
    out_dir: str | Path,
    on_item: Callable[[], None] | None = None,
    allow_outside: bool = False,
) -> Corpus:
    """Build a text2sign corpus from PHOENIX-2014T ``.skels``/``.text``/``.gloss``/``.files``
    (a file that is a symlink out of `src_dir` is refused unless `allow_outside`).

    `on_item` is called once after each imported sequence (e.g. to advance a progress bar; the
    total is ``sum(count_items(src_dir).values())``).
    """
    src = Path(src_dir)
    check_corpus_output(out_dir, [src])
    for split in find_splits(src):
        for suffix in REQUIRED_SUFFIXES + OPTIONAL_SUFFIXES:
            inside(src, f"{split}{suffix}", str(src / f"{split}{suffix}"), allow_outside)
    # Every split is checked before anything is written, so a misaligned split fails fast.
    counts = count_items(src)
    with corpus_output(out_dir, ".pose", [src]) as writer:
        _import_splits(src, counts, writer, on_item)
        writer.close(extra_stats={"source": "phoenix", "note": COORDINATES_NOTE})
    return Corpus.load(out_dir)


def _import_splits(src: Path, counts: dict[str, int], writer, on_item: Callable[[], None] | None) -> None:
    for split in counts:
        skels = src / f"{split}.skels"
        texts = _read_lines(src / f"{split}.text")
        names = _read_lines(src / f"{split}.files")
        gloss_path = src / f"{split}.gloss"
        glosses = _read_lines(gloss_path) if gloss_path.is_file() else [""] * len(names)
        for number, line in enumerate(_iter_lines(skels), start=1):
            where = f"{skels}:{number}: "
            name = names[number - 1].strip()
            if not name:
                raise CorpusError(f"{src / f'{split}.files'}:{number}: empty sequence name")
            try:
                seq = parse_skels_line(line, PHOENIX_FPS, where=where)
            except InvalidPoseError as exc:
                # NaN/inf tokens parse as floats and fail later, in PoseSequence, without the location.
                message = str(exc)
                raise InvalidPoseError(message if message.startswith(where) else where + message) from None
            writer.add(
                seq,
                id=name,
                split=split,
                text=texts[number - 1],
                gloss=glosses[number - 1],
                spoken_language=SPOKEN_LANGUAGE,
                signed_language=SIGNED_LANGUAGE,
                signer="",
            )
            if on_item is not None:
                on_item()


def export_phoenix(corpus_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write each split of a phoenix-50 corpus as ``{split}.skels/.text/.gloss/.files``.

    Items keep manifest order. Returns the number of sequences written per split.
    """
    out = check_output_dir(out_dir, EXPORT_OUTPUT, [corpus_dir], error=CorpusError)
    corpus = Corpus.load(corpus_dir)
    target = get_layout(PHOENIX_LAYOUT)
    written: dict[str, int] = {}
    splits = [s for s in SPLITS if corpus.split(s)]
    if not splits:
        raise CorpusError(f"corpus {corpus.root} has no items to export")
    # CorpusWriter gives all items one layout, so the first one tells before anything is created.
    _to_phoenix_layout(corpus, corpus.items[0], target)
    for split in splits:
        _check_single_lines(corpus.split(split))
    with atomic_dir(out) as tmp:
        for split in splits:
            items = corpus.split(split)
            # A generator, so the poses of a full PHOENIX split (hundreds of MB) are never all in memory.
            write_skels((_skels_pose(corpus, item, target) for item in items), tmp / f"{split}.skels")
            write_text_atomic(tmp / f"{split}.text", "".join(f"{i.text}\n" for i in items))
            write_text_atomic(tmp / f"{split}.gloss", "".join(f"{i.gloss}\n" for i in items))
            write_text_atomic(tmp / f"{split}.files", "".join(f"{i.id}\n" for i in items))
            written[split] = len(items)
    return written


def _to_phoenix_layout(corpus: Corpus, item: CorpusItem, target: Layout) -> PoseSequence:
    seq = corpus.load_pose(item)
    try:
        return seq.to_layout(target)
    except InvalidPoseError as exc:
        raise InvalidPoseError(
            f"corpus {corpus.root} cannot be exported as PHOENIX .skels "
            f"(layout {seq.layout.name}, item {item.id}): {exc}"
        ) from None


def _skels_pose(corpus: Corpus, item: CorpusItem, target: Layout) -> PoseSequence:
    seq = _to_phoenix_layout(corpus, item, target)
    if abs(seq.fps - PHOENIX_FPS) > 1e-6:
        # .skels has no frame rate field; every reader assumes 25 fps.
        seq = seq.resample(fps=PHOENIX_FPS)
    return seq


# --- line-aligned files ---------------------------------------------------------------------


def _check_single_lines(items: list[CorpusItem]) -> None:
    for item in items:
        for field in ("id", "text", "gloss"):
            if any(ch in getattr(item, field) for ch in "\r\n"):
                raise CorpusError(
                    f"item {item.id!r}: its {field} spans several lines, which line-aligned PHOENIX files cannot hold"
                )


def _iter_lines(path: Path) -> Iterator[str]:
    """Lines split on '\\n' only (str.splitlines would also split on form feeds and U+2028 in text)."""
    try:
        with path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    yield raw.decode("utf-8").rstrip("\n").removesuffix("\r")
                except UnicodeDecodeError:
                    raise CorpusError(f"{path}:{number}: not UTF-8 text") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_lines(path: Path) -> list[str]:
    return list(_iter_lines(path))


def _count_lines(path: Path) -> int:
    """Line count matching :func:`_iter_lines`, without decoding (the full train .skels is about a gigabyte)."""
    count, last = 0, b"\n"
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    return count + (last != b"\n")
