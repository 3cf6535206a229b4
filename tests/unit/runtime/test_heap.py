"""`runtime.heap`: glibc's mmap threshold fixed, nowhere else touched."""

from __future__ import annotations

import platform
import sys

import pytest
import trio
import trio.testing

from runtime import heap

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_threshold_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ENV_SETTING, raising=False)
    assert heap.keep_large_blocks_mapped()
    assert heap.keep_large_blocks_mapped()  # again: same setting
    block = bytearray(4 * heap.DEFAULT_MMAP_THRESHOLD)  # still allocates and frees as usual
    assert len(block) == 4 * heap.DEFAULT_MMAP_THRESHOLD


def test_the_operators_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(heap.ENV_SETTING, "65536")
    assert not heap.keep_large_blocks_mapped()


def test_nothing_is_set_on_other_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ENV_SETTING, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    assert not heap.keep_large_blocks_mapped()
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert not heap.keep_large_blocks_mapped()


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_heaps_are_limited_and_trimmed_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ARENA_ENV_SETTING, raising=False)
    assert heap.limit_heaps()
    kept = [bytearray(100) for _ in range(10_000)]
    del kept[::2]  # free space between live blocks: something to hand back
    heap.release_free_memory()  # True when pages went back; either way no error
    assert len(kept) == 5_000


def test_the_operators_arena_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(heap.ARENA_ENV_SETTING, "8")
    assert not heap.limit_heaps()


def test_neither_limit_nor_trim_on_other_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ARENA_ENV_SETTING, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    assert not heap.limit_heaps()
    assert not heap.release_free_memory()


async def test_the_free_memory_is_released_every_period(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    trims: list[float] = []
    loads: list[object] = []
    libc = object()

    def load() -> object:
        loads.append(libc)
        return libc

    def trim(given: object) -> bool:
        assert given is libc
        trims.append(trio.current_time())
        return True

    monkeypatch.setattr(heap, "_glibc", load)
    monkeypatch.setattr(heap, "_trim", trim)
    with trio.move_on_after(3.5 * heap.TRIM_SECONDS):
        await heap.release_free_memory_every()
    assert trims == [heap.TRIM_SECONDS * n for n in (1, 2, 3)]
    assert loads == [libc]  # the C library is loaded once, not at every trim


async def test_nothing_is_released_where_the_c_library_is_not_glibc(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    await heap.release_free_memory_every()  # returns at once instead of looping
    assert trio.current_time() == 0
