"""Seen message ids: per scope, replays detected, retention bounded by age and by count."""

from __future__ import annotations

import os

import apsw
import pytest

from state import InvalidArgument, open_database, seen
from state.migrations import migrate
from state.seen import (
    fold_seen,
    id_key,
    mark_seen,
    mark_seen_many,
    prune_seen,
    recent_seen,
    recent_seen_keys,
    request_prune,
    seen_among,
)

T0 = 1_795_000_000_000


def test_a_message_id_is_new_once_per_scope_and_platform(db):
    with db.transaction() as conn:
        assert mark_seen(conn, scope="daniel", platform="twitch", message_id="m1", now=T0)
        assert not mark_seen(conn, scope="daniel", platform="twitch", message_id="m1", now=T0)
        assert mark_seen(conn, scope="daniel", platform="kick", message_id="m1", now=T0)
        assert mark_seen(conn, scope="mia", platform="twitch", message_id="m1", now=T0)
    found = seen_among(db.connection, scope="daniel", platform="twitch", message_ids=["m1", "m2"])
    assert found == {"m1"}


def test_ids_marked_in_one_pass_are_stored_once_each_in_the_order_seen(db):
    with db.transaction() as conn:
        keys = [("twitch", "m2"), ("twitch", "m1"), ("kick", "m1"), ("twitch", "m2")]
        mark_seen_many(conn, scope="daniel", keys=keys, now=T0 + 5)
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "m3")], now=T0 + 6)
        with pytest.raises(InvalidArgument):
            mark_seen_many(conn, scope="daniel", keys=[("twitch", "")], now=T0)
    stored = [
        ("kick", "m1", T0 + 5),
        ("twitch", "m1", T0 + 5),
        ("twitch", "m2", T0 + 5),
        ("twitch", "m3", T0 + 6),
    ]
    journal = "SELECT platform, message_id, seen_at FROM seen_journal ORDER BY rowid"
    assert sorted(db.connection.execute(journal).fetchall()) == stored
    with db.transaction() as conn:
        fold_seen(conn)
    assert db.connection.execute(journal).fetchall() == []
    rows = db.connection.execute(
        "SELECT platform, message_id, seen_at FROM seen_messages ORDER BY platform, message_id"
    ).fetchall()
    assert rows == stored
    assert recent_seen(db.connection, scope="daniel", limit=2) == [
        ("twitch", "m2"),
        ("twitch", "m3"),
    ]
    found = seen_among(db.connection, scope="daniel", platform="twitch", message_ids=["m3", "x"])
    assert found == {"m3"}
    assert seen_among(db.connection, scope="daniel", platform="twitch", message_ids=[]) == set()


def test_recent_seen_gives_the_newest_of_one_scope_oldest_first(db):
    with db.transaction() as conn:
        for i in range(5):
            mark_seen(conn, scope="daniel", platform="replay", message_id=f"m{i}", now=T0 + i)
        mark_seen(conn, scope="mia", platform="replay", message_id="x", now=T0 + 9)
    assert recent_seen(db.connection, scope="daniel", limit=3) == [
        ("replay", "m2"),
        ("replay", "m3"),
        ("replay", "m4"),
    ]


def test_prune_forgets_by_age_and_beyond_the_newest_count_of_its_scope_only(db):
    with db.transaction() as conn:
        for i in range(10):
            mark_seen(conn, scope="daniel", platform="twitch", message_id=f"m{i}", now=T0 + i)
            mark_seen(conn, scope="mia", platform="twitch", message_id=f"m{i}", now=T0 + i)
        assert prune_seen(conn, scope="daniel", older_than=T0 + 2) == 2
        assert prune_seen(conn, scope="daniel", older_than=0, keep_last=3) == 5
    assert [m for _p, m in recent_seen(db.connection, scope="daniel", limit=100)] == [
        "m7",
        "m8",
        "m9",
    ]
    assert len(recent_seen(db.connection, scope="mia", limit=100)) == 10


def test_prune_refuses_nonsense_bounds(db):
    with db.transaction() as conn, pytest.raises(InvalidArgument):
        prune_seen(conn, scope="daniel", older_than=-1)
    with db.transaction() as conn, pytest.raises(InvalidArgument):
        prune_seen(conn, scope="daniel", older_than=0, keep_last=0)


def test_migration_keeps_the_old_creator_prefixed_ids_under_their_creator(tmp_path):
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=5)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO chat_seen (platform, message_id, seen_at) VALUES "
        "('youtube', 'daniel:abc:def', 1), ('rumble', 'mia:42', 2)"
    )
    conn.execute("COMMIT")
    conn.close()
    with open_database(path) as db:
        assert recent_seen(db.connection, scope="daniel", limit=10) == [("youtube", "abc:def")]
        assert recent_seen(db.connection, scope="mia", limit=10) == [("rumble", "42")]


def test_migration_to_time_order_keeps_every_id_with_the_time_it_was_seen(tmp_path):
    path = tmp_path / "v8.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=8)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO seen_messages (scope, platform, message_id, seen_at) VALUES "
        "('daniel', 'twitch', 'b', 2), ('daniel', 'twitch', 'a', 3), ('mia', 'kick', 'c', 1)"
    )
    conn.execute("COMMIT")
    conn.close()
    with open_database(path) as db:
        assert recent_seen(db.connection, scope="daniel", limit=10) == [
            ("twitch", "b"),
            ("twitch", "a"),
        ]
        assert recent_seen(db.connection, scope="mia", limit=10) == [("kick", "c")]
        with db.transaction() as conn:
            assert not mark_seen(conn, scope="daniel", platform="twitch", message_id="a", now=9)


def _wal_frames(db) -> int:
    """Pages written to the WAL since it was last reset (a frame: 24-byte header + page)."""
    path = db.path + "-wal"
    page = db.connection.execute("PRAGMA page_size").fetchone()[0]
    return max(0, (os.path.getsize(path) - 32) // (page + 24)) if os.path.exists(path) else 0


def test_a_commit_marking_one_id_per_scope_writes_a_few_pages_not_one_per_scope(db):
    # 300 creators, each with a few pages of ids already: one new id each, one commit.
    with db.transaction() as conn:
        for c in range(300):
            mark_seen_many(
                conn, scope=f"c{c:03d}", keys=[("replay", f"old-{i}") for i in range(200)], now=T0
            )
        fold_seen(conn)
    db.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _wal_frames(db) == 0
    with db.transaction() as conn:
        for c in range(300):
            mark_seen_many(conn, scope=f"c{c:03d}", keys=(("replay", "new"),), now=T0 + 1)
    assert _wal_frames(db) < 20  # an insert into each scope's range wrote 300 and more
    assert recent_seen(db.connection, scope="c123", limit=1) == [("replay", "new")]


def test_reads_see_ids_in_the_journal_and_folded_ids_as_one_set(db):
    with db.transaction() as conn:
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "a"), ("twitch", "b")], now=T0)
        fold_seen(conn)
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "c"), ("kick", "d")], now=T0 + 1)
        mark_seen_many(conn, scope="mia", keys=[("twitch", "x")], now=T0 + 2)
        # the same id at the same time, journaled twice: one id, as in `seen_messages`
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "c")], now=T0 + 1)
        assert not mark_seen(conn, scope="daniel", platform="twitch", message_id="a")
        assert not mark_seen(conn, scope="daniel", platform="twitch", message_id="c")
        assert mark_seen(conn, scope="daniel", platform="twitch", message_id="e", now=T0 + 3)
    assert recent_seen(db.connection, scope="daniel", limit=10) == [
        ("twitch", "a"),
        ("twitch", "b"),
        ("kick", "d"),
        ("twitch", "c"),
        ("twitch", "e"),
    ]
    assert recent_seen(db.connection, scope="daniel", limit=2, platform="twitch") == [
        ("twitch", "c"),
        ("twitch", "e"),
    ]
    found = seen_among(
        db.connection, scope="daniel", platform="twitch", message_ids=["a", "c", "d", "x"]
    )
    assert found == {"a", "c"}
    before = recent_seen(db.connection, scope="daniel", limit=10)
    with db.transaction() as conn:
        fold_seen(conn)
    assert recent_seen(db.connection, scope="daniel", limit=10) == before


def test_the_marking_that_fills_the_journal_folds_it(db, monkeypatch):
    monkeypatch.setattr(seen, "FOLD_ROWS", 5)
    journal = "SELECT count(*) FROM seen_journal"
    with db.transaction() as conn:
        mark_seen_many(conn, scope="a", keys=[("replay", f"m{i}") for i in range(3)], now=T0)
        assert conn.execute(journal).fetchone() == (3,)
        mark_seen_many(conn, scope="b", keys=[("replay", "m0")], now=T0)
        assert conn.execute(journal).fetchone() == (4,)
        mark_seen_many(conn, scope="b", keys=[("replay", "m1")], now=T0)  # the fifth
        assert conn.execute(journal).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM seen_messages").fetchone() == (5,)
        mark_seen_many(conn, scope="b", keys=[("replay", "m2")], now=T0)  # counts from 1 again
        assert conn.execute(journal).fetchone() == (1,)
    assert len(recent_seen(db.connection, scope="a", limit=10)) == 3
    assert len(recent_seen(db.connection, scope="b", limit=10)) == 3


def test_a_prune_requested_with_a_marking_forgets_at_the_next_fold_counting_ids_marked_since(db):
    with db.transaction() as conn:
        for i in range(6):
            mark_seen(conn, scope="daniel", platform="twitch", message_id=f"m{i}", now=T0 + i)
            mark_seen(conn, scope="mia", platform="twitch", message_id=f"m{i}", now=T0 + i)
        request_prune(conn, scope="daniel", older_than=0, keep_last=10)
        request_prune(conn, scope="daniel", older_than=T0 + 1, keep_last=3)  # replaces it
        with pytest.raises(InvalidArgument):
            request_prune(conn, scope="daniel", older_than=0, keep_last=0)
    assert len(recent_seen(db.connection, scope="daniel", limit=100)) == 6  # not yet
    with db.transaction() as conn:
        mark_seen(conn, scope="daniel", platform="twitch", message_id="m6", now=T0 + 6)
        assert fold_seen(conn) == 4
        assert fold_seen(conn) == 0  # asked once, done once
    assert [m for _p, m in recent_seen(db.connection, scope="daniel", limit=100)] == [
        "m4",
        "m5",
        "m6",
    ]
    assert len(recent_seen(db.connection, scope="mia", limit=100)) == 6


def test_seen_ids_of_a_version_11_database_stay_remembered_at_version_12(tmp_path):
    path = tmp_path / "v11.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=11)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO seen_messages (scope, platform, message_id, seen_at) VALUES "
        "('daniel', 'twitch', 'b', 2), ('daniel', 'twitch', 'a', 3), ('mia', 'kick', 'c', 1)"
    )
    conn.execute("COMMIT")
    conn.close()
    with open_database(path) as db:
        assert db.applied_migrations[0] == 12
        assert recent_seen(db.connection, scope="daniel", limit=10) == [
            ("twitch", "b"),
            ("twitch", "a"),
        ]
        with db.transaction() as conn:
            assert not mark_seen(conn, scope="daniel", platform="twitch", message_id="a", now=9)
            assert mark_seen(conn, scope="mia", platform="kick", message_id="d", now=9)
            assert prune_seen(conn, scope="mia", older_than=5) == 1
        assert recent_seen(db.connection, scope="mia", limit=10) == [("kick", "d")]


def test_recent_seen_keys_pack_the_newest_ids_per_platform_oldest_first(db):
    with db.transaction() as conn:
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "a"), ("kick", "b")], now=T0)
        fold_seen(conn)
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "c"), ("twitch", "d")], now=T0 + 1)
        mark_seen_many(conn, scope="mia", keys=[("twitch", "x")], now=T0 + 2)
    assert recent_seen_keys(db.connection, scope="daniel", limit=9) == {
        "kick": id_key("b"),
        "twitch": id_key("a") + id_key("c") + id_key("d"),
    }
    assert recent_seen_keys(db.connection, scope="daniel", limit=2) == {
        "twitch": id_key("c") + id_key("d")
    }
    assert recent_seen_keys(db.connection, scope="daniel", limit=9, platform="kick") == {
        "kick": id_key("b")
    }
    assert recent_seen_keys(db.connection, scope="nobody", limit=9) == {}
    assert len(id_key("a much longer message id than eight bytes")) == seen.ID_KEY_BYTES
