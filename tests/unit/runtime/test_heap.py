"""`runtime.heap`: glibc's mmap threshold fixed, nowhere else touched."""

from __future__ import annotations

import platform
import sys

import pytest

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
