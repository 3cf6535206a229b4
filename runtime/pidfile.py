"""A PID file that keeps a second runtime off the same data folder.

Protocol (POSIX and Windows alike):

1. Create the file with `O_CREAT | O_EXCL`; if it exists, open the existing one instead.
2. Take a non-blocking advisory lock on it (`fcntl.flock` / `msvcrt.locking`) and keep the file
   open, so the lock lives exactly as long as this process: the OS drops it when we die, even on
   SIGKILL or a power cut followed by a reboot.
3. Check that the path still names the file we locked (same device and inode). A racer may have
   removed or replaced it between our `open` and our lock; then we start over.
4. Holding the lock, we are the only contender. Old content naming a living process that looks
   like ours (a lock that was not honoured, say on a network share) still refuses to start;
   anything else (no PID, garbage, a dead PID, a reused PID belonging to another program) is
   stale and is overwritten in place, which keeps the locked inode the single authority.

If the lock is held by someone else, that someone is running: `AlreadyRunning` names the PID
written in the file. Release removes the file only while it still holds our PID.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from runtime.exit_codes import InitError, StartupError

_WINDOWS = sys.platform == "win32"

# The platform branches test `sys.platform` itself, not `_WINDOWS`: type checkers understand that
# form, so each branch is checked against its own platform's modules.
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

# On Windows, `msvcrt.locking` locks are mandatory for the locked bytes: lock one byte far
# beyond the content so other processes can still read the PID.
_WINDOWS_LOCK_OFFSET = 1 << 30
# How long to wait for a competitor that holds the lock to write its PID.
_PID_WAIT_SECONDS = 1.0
_ATTEMPTS = 20


class AlreadyRunning(StartupError):
    """Another runtime holds the PID file of this data folder (exit code 3)."""

    def __init__(self, pid: int | None, path: Path) -> None:
        who = f"PID {pid}" if pid is not None else "a process that has not written its PID yet"
        super().__init__(
            f"another instance of the runtime is already running on this data folder "
            f"({who}, PID file {path})"
        )
        self.pid = pid
        self.path = path


def _read_pid_from_fd(fd: int) -> int | None:
    """The PID written at the start of the file, or None when empty or not a PID."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 64)
    except OSError:
        return None
    return _parse_pid(data)


def _parse_pid(data: bytes) -> int | None:
    text = data.split(b"\0", 1)[0].strip()
    if not text.isdigit() or len(text) > 10:
        return None
    pid = int(text)
    return pid if pid > 0 else None


def _try_lock(fd: int) -> bool:
    """Take the exclusive advisory lock without waiting; False when someone else holds it."""
    if sys.platform == "win32":  # pragma: no cover
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        with contextlib.suppress(OSError):
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    ours = os.fstat(fd)
    return (ours.st_dev, ours.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (it may belong to someone else)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover
        return _windows_process_image(pid) is not None
    try:
        # Signal 0: existence check only. (Never on Windows: there os.kill terminates.)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return False
    return True


def _looks_like_runtime(pid: int) -> bool:
    """Best effort: is the living process `pid` a Python/runtime process (PID not reused)?

    Linux reads `/proc/<pid>/cmdline`; Windows asks for the executable's image name. Where
    neither is available the answer is "yes", the cautious side (refuse rather than double-run).
    """
    if sys.platform == "win32":  # pragma: no cover
        image = _windows_process_image(pid)
        return image is None or image == "" or "python" in image.lower()
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_bytes()
        if stat.rsplit(b")", 1)[-1].split()[:1] == [b"Z"]:
            return False  # a zombie: it has exited, only its exit status remains
        # cmdline is briefly empty while a process is being exec'd; comm fills that gap.
        cmdline = (proc / "cmdline").read_bytes() + b" " + (proc / "comm").read_bytes()
    except FileNotFoundError:
        # Either no /proc (macOS, BSD) or the process just went away.
        return not Path("/proc/self").exists() and _pid_alive(pid)
    except OSError:
        return True
    text = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").lower()
    return "python" in text or "runtime" in text


def _windows_process_image(pid: int) -> str | None:  # pragma: no cover - Windows only
    """Image path of a living process, "" when alive but not queryable, None when gone."""
    if sys.platform != "win32":
        raise OSError("process images are read this way on Windows only")
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    process_query_limited_information = 0x1000
    still_active = 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        # Access denied means it exists but belongs to a more privileged account.
        return "" if ctypes.get_last_error() == 5 else None
    try:
        code = wintypes.DWORD()
        if kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) and code.value != still_active:
            return None
        size = wintypes.DWORD(1024)
        buffer = ctypes.create_unicode_buffer(size.value)
        if kernel32.QueryFullProcessImageNameW(handle, 0, buffer, ctypes.byref(size)):
            return buffer.value
        return ""
    finally:
        kernel32.CloseHandle(handle)


def running_pid(path: Path | str) -> int | None:
    """The PID named by the PID file at `path` when that process is alive and looks like a
    runtime, else None. Reads only, and takes no lock (a lock held even briefly would make a
    runtime starting at that instant refuse to start)."""
    try:
        pid = _parse_pid(Path(path).read_bytes()[:64])
    except OSError:
        return None
    if pid is None or not _pid_alive(pid) or not _looks_like_runtime(pid):
        return None
    return pid


class PidFile:
    """The data folder's PID file, held for the lifetime of the process.

    Use as a context manager (`with PidFile(data_dir / "runtime.pid"):`) or call `acquire()`
    and `release()`. `acquire` raises `AlreadyRunning` (a `StartupError`, exit code 3) when
    another live runtime holds it, and `InitError` (exit code 2) when the file cannot be
    created at all (missing or read-only data folder).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid: int | None = None

    @property
    def acquired(self) -> bool:
        """Whether this object currently holds the PID file."""
        return self._fd is not None

    def acquire(self) -> None:
        """Create (or take over a stale) PID file and lock it; see the module docstring."""
        if self._fd is not None:
            raise RuntimeError(f"PID file {self.path} is already held by this object")
        for _ in range(_ATTEMPTS):
            fd = self._open()
            try:
                if not _try_lock(fd):
                    pid = self._wait_for_pid(fd)
                    raise AlreadyRunning(pid, self.path)
                if not _same_file(fd, self.path):
                    # Removed or replaced between our open and our lock: try again.
                    os.close(fd)
                    continue
                old = _read_pid_from_fd(fd)
                if (
                    old is not None
                    and old != os.getpid()
                    and _pid_alive(old)
                    and _looks_like_runtime(old)
                ):
                    raise AlreadyRunning(old, self.path)
                self._write_pid(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._fd = fd
            self._pid = os.getpid()
            return
        raise StartupError(f"could not acquire the PID file {self.path}: it keeps changing")

    def release(self) -> None:
        """Remove the file if it still names us, then drop the lock. Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        ours = False
        try:
            ours = _same_file(fd, self.path) and _read_pid_from_fd(fd) == self._pid
            if ours and not _WINDOWS:
                # Unlink while still holding the lock: a racer that opened the old inode will
                # see it is no longer at the path and start over.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            elif ours:  # pragma: no cover - Windows cannot delete a file that is open
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
        finally:
            _unlock(fd)
            os.close(fd)
        if ours and _WINDOWS:  # pragma: no cover
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _open(self) -> int:
        flags = os.O_RDWR | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                return os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return os.open(self.path, flags)
        except FileNotFoundError:
            # The existing file vanished between the two opens: create it on the next turn.
            # (Also a missing data folder, reported below when it persists.)
            if not self.path.parent.is_dir():
                raise InitError(
                    f"cannot create the PID file {self.path}: the folder does not exist"
                ) from None
            return os.open(self.path, flags | os.O_CREAT, 0o644)
        except OSError as err:
            raise InitError(
                f"cannot create the PID file {self.path}: {err.strerror or err}"
            ) from err

    def _write_pid(self, fd: int) -> None:
        data = f"{os.getpid()}\n".encode("ascii")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fsync(fd)

    @staticmethod
    def _wait_for_pid(fd: int) -> int | None:
        # The holder locks before it writes; give it a moment to write its PID.
        deadline = time.monotonic() + _PID_WAIT_SECONDS
        while True:
            pid = _read_pid_from_fd(fd)
            if pid is not None or time.monotonic() >= deadline:
                return pid
            time.sleep(0.02)

    def __enter__(self) -> PidFile:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"PidFile({str(self.path)!r}, acquired={self.acquired})"


__all__ = ["AlreadyRunning", "PidFile"]
