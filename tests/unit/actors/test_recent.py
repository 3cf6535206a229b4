"""RecentKeys: bounded dedupe memory."""

from __future__ import annotations

import pytest

from actors.recent import RecentKeys


def test_the_oldest_key_is_forgotten_beyond_the_size() -> None:
    recent = RecentKeys(3)
    for key in ("a", "b", "c", "a", "d"):  # "a" again is not a new entry
        recent.add(key)
    assert len(recent) == 3
    assert "a" not in recent and {"b", "c", "d"} <= {k for k in "abcd" if k in recent}


def test_a_million_keys_stay_within_the_bound() -> None:
    recent = RecentKeys(1000)
    for n in range(1_000_000):
        recent.add(n)
    assert len(recent) == 1000 and 999_999 in recent and 0 not in recent


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecentKeys(0)
