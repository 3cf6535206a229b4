"""Atomic, skip-unchanged writes and stale temp file cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exports import atomic
from exports.atomic import (
    TEMP_SUFFIX,
    cleanup_stale_temp_files,
    is_temp_file,
    read_bytes_or_none,
    write_atomic,
)


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temp_file(p)]


def test_writes_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    assert write_atomic(target, b"{}\n") is True
    assert target.read_bytes() == b"{}\n"
    assert _temps(tmp_path) == []


def test_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "discord" / "runtime.json"
    assert write_atomic(target, b"x") is True
    assert target.read_bytes() == b"x"


def test_unchanged_bytes_write_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"same\n")
    old = 1_000_000_000
    os.utime(target, ns=(old, old))  # a rewrite would move the mtime to now
    inode = target.stat().st_ino
    assert write_atomic(target, b"same\n") is False
    assert target.stat().st_mtime_ns == old
    assert target.stat().st_ino == inode
    assert _temps(tmp_path) == []


def test_changed_bytes_replace_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"one")
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    # Same length, different content: the size shortcut must not skip it.
    assert write_atomic(target, b"owt") is True
    assert target.read_bytes() == b"owt"


def test_a_long_file_differing_only_at_its_end_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    body = b"x" * (3 * atomic._COMPARE_CHUNK + 17)
    write_atomic(target, body)
    assert write_atomic(target, body) is False  # equal in every piece
    changed = body[:-1] + b"y"  # same size, only the last piece differs
    assert write_atomic(target, changed) is True
    assert target.read_bytes() == changed


def test_a_same_size_file_that_differs_early_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.json"
    body = b"a" * (16 * atomic._COMPARE_CHUNK)
    write_atomic(target, body)
    read: list[int] = []
    real_open = open

    class Counting:
        def __init__(self, f: object) -> None:
            self._f = f

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()  # type: ignore[attr-defined]

        def __getattr__(self, name: str) -> object:
            return getattr(self._f, name)

        def read(self, size: int = -1) -> bytes:
            data: bytes = self._f.read(size)  # type: ignore[attr-defined]
            read.append(len(data))
            return data

    def counting_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        f = real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]
        return Counting(f) if mode == "rb" else f

    monkeypatch.setattr(atomic, "open", counting_open, raising=False)
    assert write_atomic(target, b"b" + body[1:]) is True
    assert sum(read) <= atomic._COMPARE_CHUNK  # told apart by its first piece
    assert target.read_bytes()[:2] == b"ba"


def test_accepts_bytearray_and_rejects_text(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a", bytearray(b"ab")) is True
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "b", "text")  # type: ignore[arg-type]


def test_replace_failure_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_fsync_failure_removes_the_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_windows_retries_replace_on_permission_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_replace = os.replace

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(src)
        if len(calls) < 3:
            raise PermissionError(13, "Access is denied")
        real_replace(src, dst)

    monkeypatch.setattr(atomic, "_IS_WINDOWS", True)
    monkeypatch.setattr(atomic, "_REPLACE_FIRST_DELAY", 0.0)
    monkeypatch.setattr(atomic.os, "replace", flaky_replace)
    target = tmp_path / "a.json"
    assert write_atomic(target, b"data") is True
    assert len(calls) == 3
    assert target.read_bytes() == b"data"
    assert _temps(tmp_path) == []


def test_windows_gives_up_after_bounded_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def locked(src: str, dst: str) -> None:
        calls.append(src)
        raise PermissionError(13, "Access is denied")

    monkeypatch.setattr(atomic, "_IS_WINDOWS", True)
    monkeypatch.setattr(atomic, "_REPLACE_FIRST_DELAY", 0.0)
    monkeypatch.setattr(atomic, "_REPLACE_MAX_DELAY", 0.0)
    monkeypatch.setattr(atomic.os, "replace", locked)
    with pytest.raises(PermissionError):
        write_atomic(tmp_path / "a.json", b"data")
    assert len(calls) == atomic._REPLACE_ATTEMPTS
    assert _temps(tmp_path) == []


def test_posix_does_not_retry_permission_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def denied(src: str, dst: str) -> None:
        calls.append(src)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic, "_IS_WINDOWS", False)
    monkeypatch.setattr(atomic.os, "replace", denied)
    with pytest.raises(PermissionError):
        write_atomic(tmp_path / "a.json", b"data")
    assert len(calls) == 1


def test_read_bytes_or_none(tmp_path: Path) -> None:
    assert read_bytes_or_none(tmp_path / "missing") is None
    assert read_bytes_or_none(tmp_path) is None
    (tmp_path / "f").write_bytes(b"abc")
    assert read_bytes_or_none(tmp_path / "f") == b"abc"


def test_temp_names_are_recognized() -> None:
    assert is_temp_file(f".clips.json.0123456789abcdef{TEMP_SUFFIX}")
    assert not is_temp_file("clips.json")
    assert not is_temp_file(".clips.json.tmp")
    assert not is_temp_file(f"clips.json.0123456789abcdef{TEMP_SUFFIX}")


def test_cleanup_removes_only_our_stale_temp_files(tmp_path: Path) -> None:
    (tmp_path / "telemetry").mkdir()
    stale = [
        tmp_path / f".clips.json.0123456789abcdef{TEMP_SUFFIX}",
        tmp_path / "telemetry" / f".events.json.fedcba9876543210{TEMP_SUFFIX}",
    ]
    keep = [
        tmp_path / "clips.json",
        tmp_path / ".clips.json.tmp",
        tmp_path / f"notes{TEMP_SUFFIX}",
    ]
    for p in stale + keep:
        p.write_bytes(b"x")
    removed = cleanup_stale_temp_files(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in stale)


def test_cleanup_respects_min_age_and_recursion(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    fresh = tmp_path / f".a.json.0123456789abcdef{TEMP_SUFFIX}"
    nested = tmp_path / "sub" / f".b.json.0123456789abcdef{TEMP_SUFFIX}"
    fresh.write_bytes(b"x")
    nested.write_bytes(b"x")
    assert cleanup_stale_temp_files(tmp_path, min_age_seconds=3600) == []
    assert cleanup_stale_temp_files(tmp_path, recursive=False) == [fresh]
    assert nested.exists()


def test_cleanup_of_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    assert cleanup_stale_temp_files(tmp_path / "nope") == []
