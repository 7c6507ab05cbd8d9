"""NumPy files (``.npy``, ``.npz``) read within :mod:`text2sign.limits`.

An array's header declares its shape and type before its data; both are checked before anything
is decompressed or allocated, so a small file cannot make a reader allocate gigabytes (an ``.npz``
of zeros compresses about a thousandfold), and an array of complex numbers, text or objects
where numbers belong is one clear line rather than numpy's warning and a silent cast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from text2sign.errors import Text2SignError
from text2sign.limits import MAX_POSE_BYTES, MAX_POSE_FRAMES

REAL = "biuf"  # numpy dtype kinds of real numbers: bool, signed and unsigned integers, floats


def check_npz(
    path: str | os.PathLike,
    archive,
    error: type[Text2SignError],
    text: Iterable[str] = (),
    max_frames: int = MAX_POSE_FRAMES,
    max_bytes: int = MAX_POSE_BYTES,
) -> None:
    """Every array of the open `archive` (``np.load`` of `path`) as its header declares it: real
    numbers (text for the names in `text`), at most `max_frames` rows and `max_bytes` in all."""
    text = set(text)
    total = 0
    for name in archive.files:
        with archive.zip.open(f"{name}.npy") as member:
            shape, dtype = _header(member)
        total += _check(path, f"array '{name}'", shape, dtype, "U" if name in text else REAL, error, max_frames)
        if total > max_bytes:
            raise error(f"{path} declares over {max_bytes:,} bytes of arrays; at most {max_bytes:,} are read")


def load_npy(
    path: str | os.PathLike,
    error: type[Text2SignError],
    max_frames: int = MAX_POSE_FRAMES,
    max_bytes: int = MAX_POSE_BYTES,
) -> np.ndarray:
    """The real-valued array in the ``.npy`` file `path`, its header checked before its data is read."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            shape, dtype = _header(f)
    except (OSError, ValueError) as exc:
        raise error(f"{path} is not a readable .npy array ({type(exc).__name__}: {exc})") from None
    if _check(path, "its array", shape, dtype, REAL, error, max_frames) > max_bytes:
        raise error(f"{path} declares over {max_bytes:,} bytes; at most {max_bytes:,} are read")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # a cut file
        raise error(f"{path} is not a readable .npy array ({type(exc).__name__}: {exc})") from None


def _header(stream) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(stream)
    return shape, dtype


def _check(path, what: str, shape: tuple[int, ...], dtype: np.dtype, kinds: str, error, max_frames: int) -> int:
    if dtype.kind not in kinds:
        expected = "text" if kinds == "U" else "real numbers"
        raise error(f"{path}: {what} must hold {expected}, not {dtype} values")
    if shape and shape[0] > max_frames:
        raise error(f"{path}: {what} declares {shape[0]:,} rows (frames); at most {max_frames:,} are read")
    return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
