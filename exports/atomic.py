"""Atomic, skip-unchanged file writes.

A reader (or a crash at any instant) must see the old file or the new one, never a torn one:
write a temporary file in the same folder (same filesystem, so the rename is atomic), flush,
fsync, ``os.replace`` over the target, then fsync the folder on POSIX so the rename itself is
durable (a caller writing many files to one folder may fsync it once after them all:
:func:`sync_folder`). This is blocking code; the publisher actor runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
import time
from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "cleanup_stale_temp_files",
    "is_temp_file",
    "read_bytes_or_none",
    "sync_folder",
    "write_atomic",
]

TEMP_SUFFIX = ".sstmp"
# ".<target name>.<16 hex>.sstmp": hidden, and unmistakably ours so the cleanup never
# touches a file it did not create.
_TEMP_RE = re.compile(r"^\..+\.[0-9a-f]{16}" + re.escape(TEMP_SUFFIX) + "$")

_IS_WINDOWS = sys.platform == "win32"
# On Windows os.replace fails with PermissionError while another process (a web server, an
# antivirus scanner, the dashboard's dev server) holds the target open. It clears quickly.
_REPLACE_ATTEMPTS = 10
_REPLACE_FIRST_DELAY = 0.01
_REPLACE_MAX_DELAY = 0.25


def is_temp_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a temporary file made by :func:`write_atomic`."""
    return bool(_TEMP_RE.match(Path(path).name))


def read_bytes_or_none(path: str | os.PathLike[str]) -> bytes | None:
    """The file's bytes, or ``None`` when it does not exist (or is not a regular file)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except PermissionError:
        if os.path.isdir(path):  # Windows reports opening a folder as access denied
            return None
        raise


#: How much of a file `_same_content` reads at a time: a file that differs is mostly told
#: apart in its first piece, not after reading it all.
_COMPARE_CHUNK = 64 * 1024


def _same_content(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data``: compared a piece at a time,
    stopping at the first piece that differs (a file of the same size whose content moved,
    as a publish's usually is, costs a read of its first piece, not of all of it)."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != len(data):  # cheap rejection before reading
                return False
            at = 0
            while at < len(data):
                piece = f.read(_COMPARE_CHUNK)
                if not piece or data[at : at + len(piece)] != piece:
                    return False
                at += len(piece)
            return not f.read(1)  # grown since the size was taken: not the same
    except OSError:  # missing, a folder, unreadable: written (and its error told) anew
        return False


def _replace(src: Path, dst: Path) -> None:
    delay = _REPLACE_FIRST_DELAY
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if not _IS_WINDOWS or attempt == _REPLACE_ATTEMPTS - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, _REPLACE_MAX_DELAY)


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the renames done in ``folder`` durable (fsync the folder on POSIX; a filesystem
    that refuses it is left alone)."""
    _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    if _IS_WINDOWS:  # directories cannot be opened for fsync there; NTFS journals renames
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and network mounts) refuse fsync on a directory
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | bytearray | memoryview,
    *,
    sync: bool = True,
) -> bool:
    """Atomically make ``path`` contain exactly ``data``.

    Returns ``False`` and touches nothing (not even the mtime) when the file already holds these
    bytes, ``True`` after a write. Missing parent folders are created. On any failure the
    temporary file is removed, the old file is left as it was, and the exception propagates.
    Without ``sync`` the folder is not fsynced after the rename: the caller does it
    (:func:`sync_folder`), once for every file it wrote there. A crash before that may leave
    the old file in place of the new one, never a torn one.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    target = Path(path)
    if _same_content(target, data):
        return False
    folder = target.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_dir(folder.parent)  # make the new folder's own entry durable too
    temp = folder / f".{target.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    try:
        # "xb": never clobber; umask-derived permissions (mkstemp's 0600 would hide the file
        # from a web server serving the folder).
        with open(temp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync:
        _fsync_dir(folder)
    return True


def cleanup_stale_temp_files(
    root: str | os.PathLike[str], *, min_age_seconds: float = 0.0, recursive: bool = True
) -> list[Path]:
    """Remove temporary files a crashed writer left under ``root``; return the removed paths.

    Only names matching :func:`is_temp_file` are touched. ``min_age_seconds`` protects temp files
    of a writer that may still be running (call with 0 at startup, before the first publish).
    """
    base = Path(root)
    if not base.is_dir():
        return []
    candidates = base.rglob("*" + TEMP_SUFFIX) if recursive else base.glob("*" + TEMP_SUFFIX)
    now = time.time()
    removed: list[Path] = []
    for candidate in sorted(candidates):
        if not is_temp_file(candidate):
            continue
        try:
            if now - candidate.stat().st_mtime < min_age_seconds:
                continue
            candidate.unlink()
        except OSError:
            continue  # vanished meanwhile, or not ours to delete: never fail the caller
        removed.append(candidate)
    return removed
