"""Seen message ids: per scope, replays detected, retention bounded by age and by count."""

from __future__ import annotations

import apsw
import pytest

from state import InvalidArgument, open_database
from state.migrations import migrate
from state.seen import mark_seen, mark_seen_many, prune_seen, recent_seen, seen_among

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
    rows = db.connection.execute(
        "SELECT platform, message_id, seen_at FROM seen_messages ORDER BY platform, message_id"
    ).fetchall()
    assert rows == [
        ("kick", "m1", T0 + 5),
        ("twitch", "m1", T0 + 5),
        ("twitch", "m2", T0 + 5),
        ("twitch", "m3", T0 + 6),
    ]
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
