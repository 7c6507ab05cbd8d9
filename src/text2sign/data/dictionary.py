"""A user's dictionary of isolated signs (videos or pose files) -> a lexicon corpus for ``concat``.

The source is a folder and an index CSV with the columns ``path,text`` (a clip, relative to the
folder, and the word it signs) and optionally ``gloss, spoken_language, signed_language, signer,
split``.
Clips may be videos, extracted here with MediaPipe Holistic (:mod:`text2sign.data.extract`; the
extractions are kept in a folder of their own, so a second run redoes none), or ``.pose`` /
``.npz`` files. Every clip is put in one layout (``holistic-178`` by default: the layout of the
fingerspelling lexicon that ``concat`` falls back to), has its rest frames trimmed, and becomes an
item of its split (``train`` unless the row says otherwise; ``concat`` uses them all, a word-level
model such as GAN-NAT trains on ``train`` and validates on ``dev``). ``generate --model concat
--lexicon OUT`` then signs each word it finds there (looked up by gloss where a row has one, else
by text) and fingerspells the rest.

**Rest trimming.** A recorded sign starts and ends with the hands at rest. A frame is *signing*
when some hand is seen (over half its points observed) with its mean height above the rest line,
:data:`REST_LINE` shoulder widths below the shoulders' midpoint (image y grows downwards). Frames
before the first signing frame and after the last are cut, except :data:`REST_MARGIN` frames on
each side, kept so the sign still starts from and returns towards rest. A clip with no signing
frame (both hands always low or unseen) is kept whole and reported. The line comes from the 600
recorded clips of the fingerspelling lexicon: mid-clip the higher hand is between 0.49 shoulder
widths above and 0.58 below the shoulders in 90 % of them, at their first and last frames it is
1.04 below (median); those clips are already cut close, and the rule removes 1 % of their frames.

**Duplicates and conflicts.** Entries are told apart by signed language and key (gloss, else
text, compared as ``concat`` compares words: case and Unicode form ignored). A row with the key
and the clip of an earlier row is a duplicate; a row with an earlier row's key but another clip is
a conflict. Either way the first row is kept and the later one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from text2sign.data.corpus import Corpus, check_corpus_output
from text2sign.data.extract import (
    VIDEO_SUFFIXES,
    ExtractPlan,
    ExtractReport,
    ExtractResult,
    check_extraction_output,
    extract_videos,
)
from text2sign.data.importing import check_languages_given, parse_split, read_index, row_languages, write_corpus
from text2sign.data.lexicon import normalize_key
from text2sign.errors import CorpusError, InvalidPoseError
from text2sign.pose.io import POSE_SUFFIXES, load_pose
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import shoulder_normalization
from text2sign.pose.sequence import PoseSequence
from text2sign.sources import inside

REST_LINE = 0.8  # shoulder widths below the shoulder midpoint
REST_MARGIN = 2  # rest frames kept before and after the signing
DEFAULT_LAYOUT = "holistic-178"
OPTIONAL_COLUMNS = ("gloss", "spoken_language", "signed_language", "signer", "split")


def signing_span(seq: PoseSequence, rest_line: float = REST_LINE, margin: int = REST_MARGIN) -> tuple[int, int] | None:
    """[start, end) of the frames kept by the rest-trimming rule (module docstring), or None
    where the clip shows no signing frame (or has no hands or shoulders to judge by)."""
    try:
        norm = shoulder_normalization(seq)
    except InvalidPoseError:
        return None
    line = norm.center[1] + rest_line * norm.scale
    signing = np.zeros(seq.num_frames, bool)
    for kind in ("left_hand", "right_hand"):
        hand = seq.layout.kind_indices(kind)
        if not hand.size:
            continue
        seen = seq.mask[:, hand]  # (T, H)
        height = np.where(seen, seq.data[:, hand, 1], 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)  # (T,)
        signing |= (seen.mean(axis=1) > 0.5) & (height < line)
    if not signing.any():
        return None
    frames = np.flatnonzero(signing)
    return max(0, int(frames[0]) - margin), min(seq.num_frames, int(frames[-1]) + 1 + margin)


@dataclass(frozen=True)
class DictionaryEntry:
    line: int
    clip: Path
    text: str
    gloss: str
    spoken_language: str
    signed_language: str
    signer: str
    split: str

    @property
    def key(self) -> str:
        return (self.gloss or self.text).strip()


@dataclass
class DictionaryReport:
    corpus: Corpus | None = None
    notes: list[str] = field(default_factory=list)  # duplicates, conflicts, untrimmed clips, unusable keys
    trimmed_frames: int = 0
    extraction: ExtractReport | None = None


def read_dictionary_index(
    src: Path,
    index_csv: Path,
    spoken: str | None,
    signed: str | None,
    report: DictionaryReport,
    allow_outside: bool = False,
) -> list[DictionaryEntry]:
    """The rows to import, duplicates and conflicts left out (and noted in `report`); a clip outside
    `src` is refused unless `allow_outside` (see :mod:`text2sign.sources`)."""
    rows = read_index(index_csv, ["path", "text"], OPTIONAL_COLUMNS)
    check_languages_given(rows, spoken, signed, index_csv)
    kept: dict[tuple[str, str], DictionaryEntry] = {}
    for row in rows:
        where = f"{index_csv}:{row.line}"
        clip = inside(src, row.get("path"), where, allow_outside)
        if not clip.is_file():
            raise CorpusError(f"{where}: no clip at {clip}")
        suffix = clip.suffix.lower()
        if suffix not in POSE_SUFFIXES and suffix not in VIDEO_SUFFIXES:
            kinds = f"a video ({', '.join(VIDEO_SUFFIXES)}) nor a pose file ({', '.join(POSE_SUFFIXES)})"
            raise CorpusError(f"{where}: {clip.name} is neither {kinds}")
        spoken_language, signed_language = row_languages(row, spoken, signed, where)
        entry = DictionaryEntry(
            row.line,
            clip,
            row.get("text"),
            row.get("gloss"),
            spoken_language,
            signed_language,
            row.get("signer"),
            parse_split(row.get("split"), where),
        )
        name = (signed_language, normalize_key(entry.key))
        first = kept.get(name)
        if first is None:
            kept[name] = entry
            if len(entry.key.split()) > 1:
                report.notes.append(
                    f"{where}: {entry.key!r} is several words, and concat looks words up one at a time: "
                    "give the row a one-word gloss (such as THANK-YOU) to make it usable"
                )
        elif first.clip.resolve() == clip.resolve():
            report.notes.append(
                f"{where}: duplicate of line {first.line} ({entry.key!r} in {signed_language}); left out"
            )
        else:
            report.notes.append(
                f"{where}: conflict: {entry.key!r} in {signed_language} is already line {first.line}'s clip "
                f"{first.clip.name}; kept that one, left out {clip.name}"
            )
    return list(kept.values())


def extracted_path(entry: DictionaryEntry, src: Path, extracted_dir: Path) -> Path:
    try:
        relative = entry.clip.resolve().relative_to(src.resolve())
    except ValueError:
        relative = Path(entry.clip.name)
    return extracted_dir / relative.with_suffix(".pose")


def build_dictionary(
    src_dir: str | Path,
    index_csv: str | Path,
    out_dir: str | Path,
    spoken: str | None = None,
    signed: str | None = None,
    layout: str = DEFAULT_LAYOUT,
    jobs: int = 1,
    extracted_dir: str | Path | None = None,
    on_plan: Callable[[ExtractPlan], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
    allow_outside: bool = False,
) -> DictionaryReport:
    """Import the dictionary (module docstring). Videos are extracted into `extracted_dir`
    (default: ``OUT-extracted`` beside the corpus); if any cannot be, nothing is written, and
    the ones that could are kept there for the next run. A clip the index names outside `src_dir`
    is refused unless `allow_outside`."""
    src, out, index_csv = Path(src_dir), Path(out_dir), Path(index_csv)
    if not src.is_dir():
        raise CorpusError(f"dictionary folder not found: {src}")
    target = get_layout(layout)
    check_corpus_output(out, [src, index_csv])
    report = DictionaryReport()
    entries = read_dictionary_index(src, index_csv, spoken, signed, report, allow_outside)
    if extracted_dir is None:
        extracted_dir = out.absolute().with_name(f"{out.absolute().name}-extracted")
    extracted_dir = Path(extracted_dir)
    videos = [e for e in entries if e.clip.suffix.lower() in VIDEO_SUFFIXES]
    if videos:
        check_extraction_output(extracted_dir, [src, index_csv], "--extracted")
        if extracted_dir.resolve() == out.resolve() or out.resolve() in extracted_dir.resolve().parents:
            # The corpus replaces OUT as a whole: extractions kept inside it would be deleted with it.
            raise CorpusError(
                f"--extracted {extracted_dir} lies inside --out {out}, which is replaced as a whole; keep it beside"
            )
    poses = {e.line: e.clip for e in entries if e.clip.suffix.lower() in POSE_SUFFIXES}
    if videos:
        # Rows may share a clip (synonyms); each video is extracted once.
        pairs = list(dict.fromkeys((e.clip, extracted_path(e, src, extracted_dir)) for e in videos))
        report.extraction = extract_videos(pairs, jobs=jobs, on_plan=on_plan, on_frames=on_frames, on_result=on_result)
        failed = report.extraction.failed
        if failed:
            kept = len(report.extraction.done) + len(report.extraction.skipped)
            raise CorpusError(
                f"{len(failed)} of {len(pairs)} videos could not be extracted (listed above): fix or remove their rows "
                f"and run again; the {kept} extracted are kept in {extracted_dir} and will not be redone"
            )
        poses.update({e.line: extracted_path(e, src, extracted_dir) for e in videos})

    def items() -> Iterator[tuple[PoseSequence, dict]]:
        for entry in entries:
            yield (
                _trimmed(entry, poses[entry.line], target, report),
                {
                    "id": f"{entry.signed_language}/{entry.key}",
                    "split": entry.split,
                    "text": entry.text,
                    "gloss": entry.gloss,
                    "spoken_language": entry.spoken_language,
                    "signed_language": entry.signed_language,
                    "signer": entry.signer,
                },
            )
        extra["trimmed_frames"] = report.trimmed_frames

    extra = {"source": "lexicon", "rest_trimming": {"rest_line": REST_LINE, "margin": REST_MARGIN}}
    report.corpus = write_corpus(out, items(), pose_suffix=".pose", extra_stats=extra, inputs=[src, index_csv])
    return report


def _trimmed(entry: DictionaryEntry, path: Path, target, report: DictionaryReport) -> PoseSequence:
    seq = load_pose(path)
    try:
        seq = seq.to_layout(target)
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{entry.clip}: {exc} (choose another --layout)") from None
    span = signing_span(seq)
    if span is None:
        report.notes.append(
            f"{entry.clip.name}: no signing frame found (hands never above the rest line); kept untrimmed"
        )
        return seq
    report.trimmed_frames += seq.num_frames - (span[1] - span[0])
    return seq[span[0] : span[1]]
