"""What every importer shares: index CSVs read with one-line errors, languages and splits taken from
columns or flags, and corpora written all at once.

A corpus is built in a temporary directory next to its destination and renamed into place only
when every item is written and the manifest is closed, so an import that fails half way (a bad
file in row 900) leaves nothing behind, and an earlier corpus at the destination stays as it was.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from text2sign.data.corpus import SPLITS, Corpus, corpus_output
from text2sign.errors import CorpusError, InvalidPoseError
from text2sign.pose.normalize import shoulder_normalization
from text2sign.pose.sequence import PoseSequence

# Names other tools give the dev split.
SPLIT_ALIASES = {"val": "dev", "valid": "dev", "validation": "dev", "development": "dev", "eval": "test"}


@dataclass(frozen=True)
class IndexRow:
    line: int  # 1-based line in the CSV, for messages
    values: dict[str, str]

    def get(self, column: str, default: str = "") -> str:
        return (self.values.get(column) or default).strip()


def read_index(
    path: str | Path,
    required: Sequence[str | tuple[str, ...]],
    optional: Sequence[str] = (),
    other_columns: bool = False,
) -> list[IndexRow]:
    """Rows of a CSV with a header line. Each entry of `required` is a column name or a tuple of
    alternatives (the first present is used; rows must fill it). Columns that are neither required
    nor optional are an error unless `other_columns` (a format of another tool's, with columns of
    its own), so that a misspelt optional column is not silently ignored."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"index CSV not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [(c or "").strip() for c in reader.fieldnames or []]
            raw = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError:
        raise CorpusError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise CorpusError(f"{path}: not a readable CSV ({exc})") from None
    if not columns:
        raise CorpusError(f"{path} is empty: expected a header line naming the columns")
    chosen = []
    for entry in required:
        names = (entry,) if isinstance(entry, str) else entry
        present = [n for n in names if n in columns]
        if not present:
            wanted = " or ".join(repr(n) for n in names)
            raise CorpusError(f"{path} lacks the column {wanted} (it has: {', '.join(columns)})")
        chosen.append(present[0])
    known = {n for entry in required for n in ((entry,) if isinstance(entry, str) else entry)} | set(optional)
    unknown = [c for c in columns if c not in known]
    if unknown and not other_columns:
        raise CorpusError(f"{path}: unknown column {unknown[0]!r}; the columns are {', '.join(sorted(known))}")
    if not raw:
        raise CorpusError(f"{path} has a header but no rows")
    rows = []
    for line, values in raw:
        # DictReader files surplus values under the key None and fills missing ones with None.
        if None in values or None in values.values():
            raise CorpusError(f"{path}:{line}: the row has a different number of values than the header")
        row = IndexRow(line, {k.strip(): v for k, v in values.items()})
        for column in chosen:
            if not row.get(column):
                raise CorpusError(f"{path}:{line}: empty {column!r}")
        rows.append(row)
    return rows


def first_column(row: IndexRow, names: Sequence[str]) -> str:
    """The value of the first of `names` the row has a value for."""
    return next((row.get(n) for n in names if row.get(n)), "")


def check_languages_given(rows: Sequence[IndexRow], spoken: str | None, signed: str | None, source: str | Path) -> None:
    """Every row has a spoken and a signed language, from its columns or from --spoken / --signed;
    else one line saying how many rows lack which, before any row is read."""
    lacking = {
        flag: [row.line for row in rows if not (row.get(column) or given)]
        for flag, column, given in (("--spoken", "spoken_language", spoken), ("--signed", "signed_language", signed))
    }
    if any(lacking.values()):
        parts = [
            f"{len(lines)} rows have no {flag[2:]}_language (first: line {lines[0]})"
            for flag, lines in lacking.items()
            if lines
        ]
        raise CorpusError(
            f"{source}: {' and '.join(parts)}; every clip needs both languages: give --spoken and --signed "
            "for the whole index, or fill the spoken_language and signed_language columns"
        )


def row_languages(row: IndexRow, spoken: str | None, signed: str | None, where: str) -> tuple[str, str]:
    """(spoken, signed) from the row's ``spoken_language``/``signed_language``, else the flags."""
    pair = (row.get("spoken_language") or spoken or "", row.get("signed_language") or signed or "")
    if not pair[0] or not pair[1]:
        missing = "--spoken" if not pair[0] else "--signed"
        column = "spoken_language" if not pair[0] else "signed_language"
        raise CorpusError(f"{where}: no {column} in the row and no {missing} given")
    return pair


def parse_split(value: str, where: str, default: str = "train") -> str:
    split = value.strip().lower() or default
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLITS:
        raise CorpusError(
            f"{where}: unknown split {value!r}; splits are {', '.join(SPLITS)} (or val / validation for dev)"
        )
    return split


def check_normalizable(seq: PoseSequence, where: str) -> None:
    """Every model and the corpus statistics centre poses on the shoulders: say now which item
    cannot be, rather than fail later without its name."""
    try:
        shoulder_normalization(seq)
    except InvalidPoseError as exc:
        raise InvalidPoseError(f"{where}: {exc}; such a clip cannot be used (remove it or fix its keypoints)") from None


def write_corpus(
    out: str | Path,
    items: Iterable[tuple[PoseSequence, dict]],
    pose_suffix: str = ".pose",
    extra_stats: dict | None = None,
    inputs: Iterable[str | Path | None] = (),
) -> Corpus:
    """Write `items` (a pose and its manifest fields, ``id`` and ``split`` at least) as the corpus
    `out`, atomically; `inputs` are the paths the import reads, which `out` must stay apart from.
    `extra_stats` is read after the last item, so an importer can fill it in while its items are
    produced. Importers call :func:`check_corpus_output` before reading anything, too."""
    with corpus_output(out, pose_suffix, inputs) as writer:
        for seq, meta in items:
            check_normalizable(seq, f"item {meta['id']}")
            writer.add(seq, **meta)
        writer.close(extra_stats=extra_stats)
    return Corpus.load(out)
