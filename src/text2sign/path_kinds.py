"""What a path a user gives holds, told by its files, in one place (``info``, ``recognize``)."""

from __future__ import annotations

import os
from pathlib import Path

from text2sign.errors import Text2SignError

KINDS = ("checkpoint", "run", "video-corpus", "corpus", "video", "pose")


def path_kind(path: str | os.PathLike) -> str:
    """One of :data:`KINDS`: a folder is a ``checkpoint`` (it has config.json), a training ``run``
    (checkpoints/), a ``video-corpus`` (frames.u8) or a ``corpus``; a file is a ``video`` (.gif,
    .mp4) or a ``pose`` (anything else: its reader says what is wrong with it). A path that does
    not exist is one error line."""
    from text2sign.checkpoints import CHECKPOINTS_DIR, CONFIG_NAME
    from text2sign.data.corpus import VIDEO_FRAMES
    from text2sign.video.io import VIDEO_SUFFIXES

    path = Path(path)
    if not path.exists():
        raise Text2SignError(f"not found: {path}")
    if not path.is_dir():
        return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "pose"
    if (path / CONFIG_NAME).is_file():
        return "checkpoint"
    if (path / CHECKPOINTS_DIR).is_dir():
        return "run"
    return "video-corpus" if (path / VIDEO_FRAMES).is_file() else "corpus"
