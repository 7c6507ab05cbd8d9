"""Files are read only from inside the folder a command was given.

A path written in a file (an index row, a corpus manifest) or found in a folder (a symlink among a
dataset's clips) is resolved, ``..`` and symlinks included, and refused when it lands outside that
folder. A dataset or corpus someone hands over must not make a command read the user's other files
(and copy them into a corpus the user may share); where a user means it, the commands that import
data take :data:`ALLOW_OUTSIDE_FLAG`.
"""

from __future__ import annotations

import os
from pathlib import Path

from text2sign.errors import CorpusError

ALLOW_OUTSIDE_FLAG = "--allow-outside-paths"
ALLOW_OUTSIDE_HINT = f"pass {ALLOW_OUTSIDE_FLAG} to read it anyway"


def inside(
    folder: str | os.PathLike,
    path: str | os.PathLike,
    where: str,
    allow_outside: bool = False,
    hint: str = ALLOW_OUTSIDE_HINT,
) -> Path:
    """``folder / path``, refused with one line naming `where` (e.g. ``index.csv:7``) when it
    resolves outside `folder`, unless `allow_outside`. `hint` says how to get past the refusal."""
    folder = Path(folder)
    candidate = folder / path
    if allow_outside:
        return candidate
    try:
        resolved, root = candidate.resolve(), folder.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise CorpusError(f"{where}: cannot resolve {path} ({exc})") from None
    if resolved != root and root not in resolved.parents:
        raise CorpusError(f"{where}: {path} leads outside {folder} (to {resolved}); {hint}")
    return candidate
