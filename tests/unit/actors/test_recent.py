"""RecentKeys and SeenMessages: bounded dedupe memory, the latter persisted per creator."""

from __future__ import annotations

import pytest

from actors.recent import RecentKeys, SeenMessages
from state import open_database


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


def test_seen_messages_decides_in_memory_and_hands_new_ids_over_once():
    seen = SeenMessages(creator_id="daniel", store=None, size=2)
    assert seen.first_time("twitch", "a")
    assert not seen.first_time("twitch", "a")
    assert seen.first_time("kick", "a")  # another platform's "a"
    assert seen.queued == 2
    assert seen.persist_op(0) is not None and seen.queued == 0
    assert seen.persist_op(0) is None  # nothing new: nothing to write
    assert seen.first_time("twitch", "") and seen.first_time("twitch", "")
    assert seen.queued == 0  # an empty id names nothing (and would fail the store's write)


def test_seen_messages_persisted_are_restored_by_a_new_instance(tmp_path):
    with open_database(tmp_path / "s.db") as db:
        first = SeenMessages(creator_id="daniel", store=None, size=3)
        for message_id in ("m1", "m2", "m3", "m4"):
            first.first_time("replay", message_id)
        with db.transaction() as conn:
            op = first.persist_op(1_000)
            assert op is not None
            op.run(conn)
        again = SeenMessages(creator_id="daniel", store=None, size=3)
        assert again.load(again.restore_op().run(db.connection)) == 3
        other = SeenMessages(creator_id="mia", store=None, size=3)
        other.load(other.restore_op().run(db.connection))
    assert len(again) == 3 and not again.first_time("replay", "m4")
    assert other.first_time("replay", "m4")  # per creator


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
        # A counting stand-in for the store's ref (it has the one method SeenMessages uses).
        store = CountingStore
        return SeenMessages(
            platform="test",
            creator_id=creator,
            store=store,  # type: ignore[arg-type]
            size=10,
        )

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


@pytest.mark.parametrize("size", [1, 2, 3, 63, 64, 65, 256])
def test_recent_ids_remember_exactly_what_a_set_and_a_queue_would(size: int) -> None:
    import random

    from actors.recent import RecentIds

    rnd = random.Random(size)
    ids, reference = RecentIds(size), RecentKeys(size)
    # Ids holding the separator or the escape character, or one another's text, included.
    pieces = ["a", "b", "\n", "\\", "n", "x\ny", "\\n", "#1"]
    for _ in range(3000):
        message_id = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4)))
        if rnd.random() < 0.5:
            message_id = f"rp-{rnd.randint(0, 400):04d}"
        assert (message_id in ids) == (message_id in reference)
        assert ids.add(message_id) == (message_id not in reference)
        reference.add(message_id)
        assert len(ids) == len(reference)


def test_recent_ids_of_a_full_window_weigh_about_their_characters() -> None:
    import tracemalloc

    from actors.recent import RecentIds

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        window = RecentIds(256)
        for n in range(1000):
            window.add(f"rp-{n % 80:04d}#{n // 80}")
        weight = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(window) == 256 and "rp-0079#11" in window and "rp-0000#0" not in window
    assert weight < 256 * 20  # a set and a queue of strings: about 100 bytes per id


def test_recent_ids_match_a_key_only_where_a_slot_starts() -> None:
    from actors.recent import RecentIds

    a, b = bytes(4) + b"\x11" * 4, b"\x22" * 4 + bytes(4)
    straddle = b"\x11" * 4 + b"\x22" * 4  # the ring's bytes 4 to 12: across a and b
    window = RecentIds(4)
    window.add_keys(a + b)
    assert len(window) == 2
    window.add_keys(straddle)  # new: it takes a slot of its own
    assert len(window) == 3
    window.add_keys(straddle + a)  # both remembered now: nothing moves
    assert len(window) == 3


def test_recent_ids_take_packed_keys_as_they_take_ids() -> None:
    from actors.recent import RecentIds
    from state.seen import id_key

    ids = ["m1", "m2", "m1", "m3", "m4", "m5"]
    added, packed = RecentIds(3), RecentIds(3)
    for message_id in ids:
        added.add(message_id)
    packed.add_keys(b"".join(map(id_key, ids)))
    assert [m in packed for m in ("m1", "m2", "m3", "m4", "m5")] == [
        m in added for m in ("m1", "m2", "m3", "m4", "m5")
    ]
    assert len(packed) == len(added) == 3
    with pytest.raises(ValueError, match="no whole number"):
        packed.add_keys(b"\x00" * 7)


def test_recent_ids_overwrite_the_oldest_slot_once_full() -> None:
    from actors.recent import RecentIds

    window = RecentIds(3)
    for message_id in ("m1", "m2", "m3", "m4", "m5"):
        assert window.add(message_id)
    assert len(window) == 3
    assert [m in window for m in ("m1", "m2", "m3", "m4", "m5")] == [False, False, True, True, True]
    assert not window.add("m4")  # remembered: nothing moves
    assert window.add("m6") and "m3" not in window and "m4" in window
