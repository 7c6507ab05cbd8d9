"""Atomic file writing: a failure never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from text2sign.errors import Text2SignError


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, with one clear line, when `path` cannot be written: it is a directory, or its
    directory cannot be made or written in (read-only file systems included). A missing directory
    is fine: writing makes it, as every command does for every output."""
    path = _file_target(path)
    check_writable_dir(path.parent)
    return path


def check_writable_dir(directory: Path) -> Path:
    """`directory` can hold a new file: it exists and a file can be created in it, or it is missing
    and its nearest existing ancestor is a folder that can be written in (tried, not guessed)."""
    existing = _nearest_existing(Path(directory))
    with _writing_into(existing):
        fd, probe = tempfile.mkstemp(prefix=".text2sign-write-test.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    return directory


def _file_target(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        raise Text2SignError(f"output path is a directory, expected a file: {path}")
    _nearest_existing(path.parent)
    return path


def _nearest_existing(directory: Path) -> Path:
    """The first of `directory` and its ancestors that exists, which must be a folder."""
    for candidate in (directory, *directory.parents):
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                raise Text2SignError(f"cannot make output directory {directory}: {candidate} is not a directory")
            return candidate
    return Path(".")


def make_parents(path: Path) -> list[Path]:
    """Make the missing folders above `path`; returns those made, deepest first, so that a failed
    write can take them away again (:func:`remove_made`)."""
    missing = []
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            break
        missing.append(parent)
    with _writing_into(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    return missing


def remove_made(folders: list[Path]) -> None:
    """Remove folders :func:`make_parents` made that are still empty (deepest first)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def _writing_into(directory: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise Text2SignError(f"cannot write to {directory}: {exc.strerror or exc}") from None


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries for `path` left by a process that was killed (SIGKILL gives no chance to
    clean up); a temporary names its owner's pid, and a live owner's is left alone."""
    for stale in path.parent.glob(f".{path.name}.*.tmp*"):
        pid = stale.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    The temporary file keeps the final suffix so that writers choosing a format by extension
    (PyAV, Pillow) behave as they would on the real name.
    """
    # The temporary file is itself the write test: no separate probe on every write.
    path = _file_target(path)
    made = make_parents(path)
    remove_stale_temporaries(path)
    try:
        with _writing_into(path.parent):
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{path.name}.{os.getpid()}.", suffix=f".tmp{path.suffix}", dir=path.parent
            )
    except Text2SignError:
        remove_made(made)
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    done = False
    try:
        yield tmp
        # mkstemp makes the file private (0600); outputs get the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        done = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not done:
            remove_made(made)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to `path`; if the block succeeds it replaces `path` (an old
    directory there is moved aside first, put back if the rename fails, then deleted)."""
    path = Path(path)
    made = make_parents(path)
    remove_stale_temporaries(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        remove_made(made)
        raise Text2SignError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    done = False
    try:
        yield tmp
        # mkdtemp makes the directory private (0700) and some writers (safetensors) make private
        # files; outputs get what a plain mkdir / open would.
        umask = current_umask()
        os.chmod(tmp, 0o777 & ~umask)
        for inner in tmp.rglob("*"):
            os.chmod(inner, (0o777 if inner.is_dir() else 0o666) & ~umask)
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except OSError:
            if old is not None:
                os.replace(old, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        done = True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            remove_made(made)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, payload: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def read_text_bounded(
    path: str | os.PathLike, max_bytes: int, what: str, error: type[Text2SignError] = Text2SignError
) -> str:
    """The UTF-8 text of `path`, refused in one line (naming the file) when it is over `max_bytes`
    (checked before reading), unreadable or not UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path} has {size:,} bytes; {what} may have at most {max_bytes:,}")
        with open(path, "rb") as f:
            # Read one byte past the limit: a file that grew since stat() is still caught.
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{path} has over {max_bytes:,} bytes; {what} may have at most {max_bytes:,}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path} is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); save it as UTF-8"
        ) from None


def read_json_mapping(
    path: str | os.PathLike, max_bytes: int, what: str, error: type[Text2SignError] = Text2SignError
) -> dict:
    """The JSON object in `path` (see :func:`read_text_bounded`); anything else is one line naming the file."""
    import json

    text = read_text_bounded(path, max_bytes, what, error)
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{path} is not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise error(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise error(f"{path} must hold a JSON object (a mapping of names to values), got {type(value).__name__}")
    return value
