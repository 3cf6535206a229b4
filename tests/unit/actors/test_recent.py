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


async def test_preloaded_seen_messages_answer_from_memory_and_remember_across_instances(
    nursery, tmp_path
) -> None:
    from datetime import UTC, datetime

    from actors.recent import SeenMessages
    from actors.store import Read, StateStore
    from supervisors import ChildSpec, Supervisor

    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3"))])
    await nursery.start(root.run)
    now = datetime.now(UTC)

    reads: list[Read] = []

    class CountingStore:
        """The store's ref, counting the reads that go through it."""

        async def call(self, message, **kw):
            if isinstance(message, Read):
                reads.append(message)
            return await root.lookup("store").call(message, **kw)

    def seen(creator: str) -> SeenMessages:
        return SeenMessages(platform="test", creator_id=creator, store=CountingStore, size=10)

    first = seen("a")
    await first.mark(["m1", "m2"], now)
    other = seen("b")
    await other.mark(["m3"], now)

    again = seen("a")
    assert await again.preload(now) == 2  # only its own keys
    reads.clear()
    assert await again.unseen(["m1", "m3", "m4"]) == {"m3", "m4"}
    assert reads == []  # answered from memory
    await root.stop()
