"""Never destroy what the user has: the check every command that writes a directory makes first.

A command writes a directory only where it is new, empty, or an output of the kind this command
writes that text2sign made (a corpus for ``prepare``, a checkpoint for ``train-recognizer``, ...),
recognised by the files such an output always has and by holding nothing else. It never writes
where the output is, contains or lies inside one of the command's inputs: replacing a corpus made
from a folder would delete that folder, and writing into an input would change what is being read.
Each kind of output is declared next to the code that writes it, as an :class:`OutputKind`.

Outputs are then built in a temporary directory renamed into place (:func:`text2sign.fileio.atomic_dir`),
so a failed run leaves neither a half-written output nor an empty folder.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from text2sign.errors import Text2SignError
from text2sign.fileio import check_writable_dir


@dataclass(frozen=True)
class OutputKind:
    """What one kind of output directory holds, so that a command recognises its own.

    name:      as messages say it ("text2sign corpus").
    markers:   files (or folders) every such output has.
    entries:   glob patterns of everything it may hold at its top level (temporaries of an
               interrupted write aside); anything else there is the user's.
    recursive: the patterns apply to every file in its subfolders too (a tree of extracted poses).
    own:       a closer look at a candidate that passed the above (e.g. a config.json's format).
    """

    name: str
    markers: tuple[str, ...] = ()
    entries: tuple[str, ...] = ()
    recursive: bool = False
    own: Callable[[Path], bool] | None = None

    def mismatch(self, path: Path) -> str | None:
        """Why `path` (an existing, non-empty directory) is not an output of this kind, for the
        refusal's message; None when it is one."""
        for marker in self.markers:
            if not (path / marker).exists():
                return f"no {marker}"
        found = path.rglob("*") if self.recursive else path.iterdir()
        for entry in found:
            if _temporary(entry.name) or (self.recursive and entry.is_dir() and not entry.is_symlink()):
                continue
            if not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in self.entries):
                return f"{entry.relative_to(path)} is not one of its files"
        if self.own is not None and not self.own(path):
            return f"its {self.markers[0]} is not one text2sign wrote" if self.markers else "not written by text2sign"
        return None


def _temporary(name: str) -> bool:
    # What atomic_path / atomic_dir leave while writing, or after a process was killed.
    return name.startswith(".") and (".tmp" in name or name.endswith(".old"))


def check_output_dir(
    path: str | os.PathLike,
    kind: OutputKind,
    inputs: Iterable[str | os.PathLike | None] = (),
    option: str = "--out",
    error: type[Text2SignError] = Text2SignError,
) -> Path:
    """Fail, in one line and before any work, unless `path` may become an output of `kind`: it is
    new, empty or an output of `kind`; it is not, does not contain and does not lie inside any of
    `inputs` (paths the command reads; None is skipped); its parent is a writable folder or can be
    made (writing makes it). `option` names the flag in messages, `error` is raised."""
    path = Path(path)
    check_apart(path, inputs, option, error)
    if path.exists() and not path.is_dir():
        raise error(f"{option} {path} exists and is not a directory")
    if path.is_dir() and any(not _temporary(p.name) for p in path.iterdir()):
        why = kind.mismatch(path)
        if why is not None:
            raise error(
                f"refusing to overwrite {path}: it is not empty and is not a {kind.name} ({why}); "
                "choose a new or empty folder (its files stay as they are)"
            )
    # The output is built next to its destination and renamed into place: the parent must take files.
    try:
        check_writable_dir(path.parent)
    except Text2SignError as exc:
        raise error(str(exc)) from None
    return path


def check_apart(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None],
    option: str = "--out",
    error: type[Text2SignError] = Text2SignError,
) -> None:
    """Fail unless the output `out` (a file or a folder) is none of `inputs`, contains none and lies
    inside none (None, or a path that does not exist, such as a shipped model's name, is skipped);
    `option` names its flag in the message."""
    target = Path(out).resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        source = Path(given).resolve()
        if target == source:
            relation = "is"
        elif source in target.parents:
            relation = "lies inside"
        elif target in source.parents:
            relation = "contains"
        else:
            continue
        raise error(f"{option} {out} {relation} the input {given}; write the output outside what the command reads")


def remove_if_empty(path: Path) -> None:
    """Remove `path` if it is an empty directory: one a run made, then wrote nothing into."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
