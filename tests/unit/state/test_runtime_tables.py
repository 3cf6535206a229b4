"""Cooldowns, signals, quota usage, stream sessions and creators/meta."""

from __future__ import annotations

from typing import Any

import pytest

from state import InvalidArgument, open_database
from state.cooldowns import (
    active_cooldowns,
    clear_cooldown,
    get_cooldown,
    prune_expired_cooldowns,
    set_cooldown,
    set_cooldowns,
    try_start_cooldown,
)
from state.creators import list_creators, upsert_creator
from state.quotas import add_quota_units, get_quota_usage, list_quota_usage, prune_quota
from state.signals import (
    PRUNE_EVERY,
    SIGNAL_KINDS,
    append_signal,
    append_signal_values,
    append_signals,
    prune_signals,
    recent_signal_ids,
    recent_signals,
    signals_after,
)
from state.streams import (
    current_session,
    end_session,
    list_sessions,
    start_session,
    update_session,
)

T0 = 1_795_000_000_000


# --- cooldowns ----------------------------------------------------------------------------------


def test_cooldown_is_active_until_it_expires(db):
    with db.transaction() as conn:
        set_cooldown(conn, scope="daniel/!hug", expires_at=T0 + 1000)
    assert get_cooldown(db.connection, "daniel/!hug", now=T0 + 999).expires_at == T0 + 1000
    assert get_cooldown(db.connection, "daniel/!hug", now=T0 + 1000) is None
    assert get_cooldown(db.connection, "other", now=T0) is None


def test_set_cooldowns_starts_each_in_order_and_refuses_a_bad_expiry_whole(db):
    with db.transaction() as conn:
        set_cooldowns(conn, [("d/1", T0 + 10), ("d/2", T0 + 20), ("d/1", T0 + 30)])
    conn = db.connection
    assert get_cooldown(conn, "d/1", now=T0).expires_at == T0 + 30  # the later one wins
    assert get_cooldown(conn, "d/2", now=T0).expires_at == T0 + 20
    with pytest.raises(InvalidArgument, match="expires_at"):
        with db.transaction() as conn:
            set_cooldowns(conn, [("d/3", T0 + 10), ("d/4", "soon")])  # type: ignore[list-item]
    assert get_cooldown(db.connection, "d/3", now=T0) is None  # nothing of the call stays


def test_try_start_cooldown_fires_once_per_window(db):
    with db.transaction() as conn:
        assert try_start_cooldown(conn, scope="s", now=T0, duration_ms=500) is not None
        assert try_start_cooldown(conn, scope="s", now=T0 + 499, duration_ms=500) is None
        assert try_start_cooldown(conn, scope="s", now=T0 + 500, duration_ms=500) is not None
        with pytest.raises(InvalidArgument):
            try_start_cooldown(conn, scope="s", now=T0, duration_ms=0)


def test_cooldowns_persist_across_reopen(db_path):
    with open_database(db_path) as db:
        with db.transaction() as conn:
            set_cooldown(conn, scope="daniel/!clip", expires_at=T0 + 60_000)
    with open_database(db_path) as db:
        assert get_cooldown(db.connection, "daniel/!clip", now=T0).expires_at == T0 + 60_000


def test_prune_expired_and_active_listing_by_prefix(db):
    with db.transaction() as conn:
        set_cooldown(conn, scope="a/1", expires_at=T0 + 10)
        set_cooldown(conn, scope="a/2", expires_at=T0 + 100)
        set_cooldown(conn, scope="a%/3", expires_at=T0 + 100)
        set_cooldown(conn, scope="b/1", expires_at=T0 + 100)
        assert [c.scope for c in active_cooldowns(conn, now=T0 + 50, prefix="a/")] == ["a/2"]
        assert prune_expired_cooldowns(conn, now=T0 + 10) == 1
        assert clear_cooldown(conn, scope="b/1")
        assert not clear_cooldown(conn, scope="b/1")
    assert [c.scope for c in active_cooldowns(db.connection, now=T0)] == ["a%/3", "a/2"]


def test_pruning_a_prefix_forgets_only_its_cooldowns_that_ended(db):
    from state.commands import PruneCooldowns, SetCooldowns

    with db.transaction() as conn:
        set_cooldowns(
            conn,
            [("a/1", T0 + 10), ("a/2", T0 + 100), ("a%/3", T0 + 10), ("ab/4", T0 + 10)],
        )
        assert prune_expired_cooldowns(conn, now=T0 + 10, prefix="a/") == 1
        # The prune rides with a write of cooldowns, ahead of what that write sets.
        SetCooldowns(
            expiries=(("a/1", T0 + 5),), prune=PruneCooldowns(prefix="a%/", now=T0 + 50)
        ).run(conn)
    rows = db.connection.execute("SELECT scope FROM cooldowns ORDER BY scope").fetchall()
    assert [r[0] for r in rows] == ["a/1", "a/2", "ab/4"]  # a/1 set again, after the prune
    with pytest.raises((TypeError, ValueError)):
        PruneCooldowns(prefix="", now=T0)


def test_active_cooldowns_by_prefix_read_only_the_prefix_key_range(db):
    scopes = ["a/1", "a/\uffff", "a/\U0010ffff/x", "a0", "a/\ud7ff", "a\ud7ff/1", "a\ue000/1"]
    with db.transaction() as conn:
        set_cooldowns(conn, [(scope, T0 + 100) for scope in scopes])
    conn = db.connection
    for prefix in ("a/", "a/\U0010ffff", "a\ud7ff", "a/\uffff"):
        found = [c.scope for c in active_cooldowns(conn, now=T0, prefix=prefix)]
        assert found == sorted(s for s in scopes if s.startswith(prefix)), prefix
    plan = " ".join(
        str(row[3])
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT scope FROM cooldowns WHERE scope >= ? AND scope < ?",
            ("a/", "a0"),
        )
    )
    assert "PRIMARY KEY" in plan


def test_cooldowns_carry_over_the_migration_that_drops_the_expiry_index(tmp_path):
    import apsw

    from state.migrations import migrate

    path = tmp_path / "v9.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=9)
    conn.execute("BEGIN")
    set_cooldowns(conn, [("d/1", T0 + 10), ("d/2", T0 + 20), ("e/1", T0 + 30)])
    conn.execute("COMMIT")
    conn.close()
    with open_database(path) as db:
        names = {str(r[0]) for r in db.connection.execute("SELECT name FROM sqlite_schema")}
        assert "cooldowns_by_expiry" not in names
        assert [(c.scope, c.expires_at) for c in active_cooldowns(db.connection, now=T0)] == [
            ("d/1", T0 + 10),
            ("d/2", T0 + 20),
            ("e/1", T0 + 30),
        ]
        assert [c.scope for c in active_cooldowns(db.connection, now=T0 + 15, prefix="d/")] == [
            "d/2"
        ]


# --- signals ------------------------------------------------------------------------------------


def add_signal(conn, kind, i, keep=3):
    return append_signal(
        conn,
        kind=kind,
        creator_id="d",
        timestamp=T0 + i,
        entity_id=f"e{i}",
        type="message",
        source="twitch",
        summary=f"#{i}",
        keep=keep,
    )


def test_signals_are_pruned_to_the_newest_n_per_kind_once_per_prune_every_appends(db):
    sizes = []
    with db.transaction() as conn:
        for i in range(3 * PRUNE_EVERY):
            add_signal(conn, "chat", i)
            sizes.append(len(recent_signals(conn, "chat")))
        for i in range(2):
            add_signal(conn, "tally", i)
    # Bounded between prunes, and pruned to exactly the newest 3 when the ids cross a multiple.
    assert max(sizes) <= 3 + PRUNE_EVERY
    assert sizes.count(3) >= 2 and sizes[-1] < 3 + PRUNE_EVERY
    last = 3 * PRUNE_EVERY - 1
    newest = [s.summary for s in recent_signals(db.connection, "chat", limit=3)]
    assert newest == [f"#{last - 2}", f"#{last - 1}", f"#{last}"]  # newest last
    assert [s.summary for s in recent_signals(db.connection, "tally")] == ["#0", "#1"]
    assert recent_signals(db.connection, "score") == []


def test_appending_many_signals_at_once_keeps_every_kind_within_its_bound(db):
    rows = [
        {
            "kind": kind,
            "creator_id": "d",
            "timestamp": T0 + i,
            "entity_id": "e",
            "type": "message",
            "source": "twitch",
            "summary": f"#{i}",
        }
        for i in range(7)
        for kind in ("chat", "poll_vote")
    ]
    with db.transaction() as conn:
        for _ in range(40):
            append_signals(conn, rows, keep=5)
            for kind in ("chat", "poll_vote"):
                assert len(recent_signals(conn, kind)) <= 5 + PRUNE_EVERY + len(rows)
        with pytest.raises(InvalidArgument):
            append_signals(conn, rows, keep=0)
    newest = recent_signals(db.connection, "poll_vote", limit=5)
    assert [s.summary for s in newest] == ["#2", "#3", "#4", "#5", "#6"]


def test_prune_signals_applies_to_every_kind_and_validates(db):
    with db.transaction() as conn:
        for kind in ("chat", "poll_vote"):
            for i in range(5):
                add_signal(conn, kind, i, keep=100)
        assert prune_signals(conn, keep=2) == 6
        with pytest.raises(InvalidArgument):
            add_signal(conn, "nonsense", 0)
        with pytest.raises(InvalidArgument):
            prune_signals(conn, keep=0)
    assert len(recent_signals(db.connection, "poll_vote")) == 2


def test_signals_after_an_id_and_the_recent_ids_match_the_recent_signals(db):
    with db.transaction() as conn:
        for i in range(10):
            add_signal(conn, "chat", i, keep=6)
        add_signal(conn, "tally", 0)
    recent = recent_signals(db.connection, "chat", limit=4)
    ids = recent_signal_ids(db.connection, "chat", limit=4)
    assert ids == [s.id for s in reversed(recent)]  # newest first
    assert signals_after(db.connection, "chat", -1, limit=4) == recent
    assert signals_after(db.connection, "chat", recent[1].id, limit=4) == recent[2:]
    assert signals_after(db.connection, "chat", recent[-1].id, limit=4) == []
    everything = recent_signals(db.connection, "chat", limit=100)  # pruned in steps, not to 6
    assert recent_signal_ids(db.connection, "chat", limit=100) == [s.id for s in everything[::-1]]
    with pytest.raises(InvalidArgument):
        recent_signal_ids(db.connection, "nonsense", limit=1)  # type: ignore[arg-type]


def test_signals_read_in_one_row_keep_every_text_exactly(db):
    texts = ['"quoted" \\ back', "line\nbreak\ttab\x00nul", "ünïcödé 🎉 \u2028", "", "{user} said"]
    with db.transaction() as conn:
        for n, text in enumerate(texts):
            append_signal(
                conn,
                kind="chat",
                creator_id=f"c{n}",
                timestamp=2**62 + n,
                entity_id=text or "e",
                type="chat_message",
                source="twitch",
                summary=text,
                keep=100,
            )
    recent = recent_signals(db.connection, "chat", limit=100)
    assert [s.summary for s in recent] == texts
    assert signals_after(db.connection, "chat", -1, limit=100) == recent
    assert signals_after(db.connection, "chat", -1, limit=2) == recent[-2:]
    assert recent_signal_ids(db.connection, "chat", limit=3) == [s.id for s in recent[::-1]][:3]
    assert recent_signal_ids(db.connection, "tally", limit=3) == []
    assert signals_after(db.connection, "tally", -1, limit=3) == []


def test_signal_ids_keep_their_values_across_the_migration_and_only_grow(tmp_path):
    import apsw

    from state.migrations import migrate

    path = tmp_path / "v8.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=8)
    conn.execute("BEGIN")
    for i in range(5):
        add_signal(conn, "chat" if i % 2 else "tally", i, keep=100)
    conn.execute("COMMIT")
    before = [s.id for s in recent_signals(conn, "chat")] + [
        s.id for s in recent_signals(conn, "tally")
    ]
    conn.close()
    with open_database(path) as db:
        found = [s.id for s in recent_signals(db.connection, "chat")] + [
            s.id for s in recent_signals(db.connection, "tally")
        ]
        assert found == before
        with db.transaction() as conn:
            assert prune_signals(conn, keep=1) == 3  # the newest of each kind stays
            given = [add_signal(conn, "chat", 10 + i, keep=1).id for i in range(3)]
        assert given == [max(before) + 1, max(before) + 2, max(before) + 3]


def test_signals_carry_over_the_migration_that_leaves_chat_rows_unindexed(tmp_path):
    import apsw

    from state.migrations import migrate

    path = tmp_path / "v9.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=9)
    conn.execute("BEGIN")
    for i in range(12):
        add_signal(conn, SIGNAL_KINDS[i % 4], i, keep=100)
    conn.execute("COMMIT")
    before = {kind: recent_signals(conn, kind) for kind in SIGNAL_KINDS}
    conn.close()
    with open_database(path) as db:
        conn = db.connection
        assert {kind: recent_signals(conn, kind) for kind in SIGNAL_KINDS} == before
        for kind in SIGNAL_KINDS:
            assert signals_after(conn, kind, -1, limit=2) == before[kind][-2:]
            assert recent_signal_ids(conn, kind, limit=2) == [s.id for s in before[kind][::-1]][:2]
        with db.transaction() as conn:
            assert prune_signals(conn, keep=1) == 8  # the newest of each kind stays
        assert [len(recent_signals(db.connection, kind)) for kind in SIGNAL_KINDS] == [1] * 4


def test_a_chat_signal_is_appended_and_pruned_without_an_index_and_other_kinds_by_theirs(db):
    conn = db.connection

    def plan(sql: str, args: tuple) -> str:
        return " ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

    from state import signals

    indexes = {
        str(r[0]) for r in conn.execute("SELECT name FROM sqlite_schema WHERE tbl_name = 'signals'")
    }
    assert indexes == {"signals", "signals_of_rare_kinds"}
    assert "INDEX" not in plan(signals._PRUNE["chat"], (1000, 5))
    assert "INDEX" not in plan(signals._RECENT_IDS["chat"], (5,))
    for kind in ("poll_vote", "tally", "score"):
        assert "signals_of_rare_kinds" in plan(signals._PRUNE[kind], (1000, 5))
        assert "signals_of_rare_kinds" in plan(signals._RECENT_IDS[kind], (5,))
        assert "signals_of_rare_kinds" in plan(signals._AFTER[kind], (0, 5))


def test_signal_values_are_checked_like_keyword_fields(db):
    good = ("chat", "d", T0, "e", "message", "twitch", "")
    with db.transaction() as conn:
        assert append_signal_values(conn, [good, good]) == 2
        bad_rows: list[Any] = [
            ("nonsense", *good[1:]),
            (*good[:2], "1", *good[3:]),
            (*good[:3], "", *good[4:]),
        ]
        for bad in bad_rows:
            with pytest.raises(InvalidArgument):
                append_signal_values(conn, [good, bad])
    assert len(recent_signals(db.connection, "chat")) == 2


def test_recent_signals_filter_by_creator(db):
    with db.transaction() as conn:
        add_signal(conn, "score", 1)
        append_signal(
            conn,
            kind="score",
            creator_id="eve",
            timestamp=T0,
            entity_id="b",
            type="points",
            source="kick",
            summary="+3",
        )
    assert [s.creator_id for s in recent_signals(db.connection, "score", creator_id="eve")] == [
        "eve"
    ]


# --- quotas -------------------------------------------------------------------------------------


def test_quota_units_add_up_per_window_and_reset_with_a_new_window(db):
    with db.transaction() as conn:
        add_quota_units(
            conn, creator_id="d", platform="youtube", window="2026-11-21", units=5, now=T0
        )
        usage = add_quota_units(
            conn, creator_id="d", platform="youtube", window="2026-11-21", units=100, now=T0 + 1
        )
        fresh = add_quota_units(
            conn, creator_id="d", platform="youtube", window="2026-11-22", units=1, now=T0 + 2
        )
        with pytest.raises(InvalidArgument):
            add_quota_units(conn, creator_id="d", platform="youtube", window="w", units=-1)
    assert (usage.used, usage.updated_at) == (105, T0 + 1)
    assert fresh.used == 1
    assert (
        get_quota_usage(db.connection, creator_id="d", platform="youtube", window="2026-11-20")
        is None
    )
    assert [u.window for u in list_quota_usage(db.connection)] == ["2026-11-21", "2026-11-22"]
    assert len(list_quota_usage(db.connection, window="2026-11-22")) == 1
    with db.transaction() as conn:
        assert prune_quota(conn, older_than=T0 + 2) == 1


# --- stream sessions and chat dedupe -----------------------------------------------------------


def test_stream_session_start_is_idempotent_peak_only_rises_and_end_closes(db):
    with db.transaction() as conn:
        started = start_session(
            conn, platform="twitch", channel="daniel", started_at=T0, title="Speedrun", viewers=10
        )
        repeat = start_session(conn, platform="twitch", channel="daniel", started_at=T0 + 5)
        update_session(conn, platform="twitch", channel="daniel", viewers=50, now=T0 + 6)
        updated = update_session(
            conn, platform="twitch", channel="daniel", viewers=20, game="Celeste", now=T0 + 7
        )
        ended = end_session(conn, platform="twitch", channel="daniel", ended_at=T0 + 100)
        assert end_session(conn, platform="twitch", channel="daniel", ended_at=T0 + 101) is None
        assert update_session(conn, platform="twitch", channel="daniel", viewers=1) is None
    assert started.created and not repeat.created
    assert repeat.session.id == started.session.id
    assert (updated.peak_viewers, updated.title, updated.game) == (50, "Speedrun", "Celeste")
    assert ended.ended_at == T0 + 100
    assert current_session(db.connection, "twitch", "daniel") is None


def test_a_new_session_can_start_after_the_previous_ended(db):
    with db.transaction() as conn:
        start_session(conn, platform="kick", channel="c", started_at=T0)
        end_session(conn, platform="kick", channel="c", ended_at=T0 + 10)
        second = start_session(conn, platform="kick", channel="c", started_at=T0 + 20)
    assert second.created
    assert [s.started_at for s in list_sessions(db.connection, platform="kick")] == [
        T0 + 20,
        T0,
    ]


def test_upsert_creator_keeps_created_at(db):
    with db.transaction() as conn:
        upsert_creator(conn, creator_id="d", display_name="Daniel", now=T0)
        again = upsert_creator(conn, creator_id="d", display_name="Dan", now=T0 + 9)
    assert (again.display_name, again.created_at, again.updated_at) == ("Dan", T0, T0 + 9)
    assert [c.creator_id for c in list_creators(db.connection)] == ["d"]


def test_signals_of_a_version_13_database_carry_over_checked_by_comparisons(tmp_path):
    """Migration 14 checks the kind with `=`/`OR` (an `IN` list builds a temporary table for
    every appended row): the rows and ids carry over, a bad kind is still refused, and new
    ids continue above the old."""
    import apsw

    from state.migrations import migrate

    path = tmp_path / "v13.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=13)
    conn.execute("BEGIN")
    for i in range(12):
        add_signal(conn, SIGNAL_KINDS[i % 4], i, keep=100)
    conn.execute("COMMIT")
    before = {kind: recent_signals(conn, kind) for kind in SIGNAL_KINDS}
    conn.close()
    with open_database(path) as db:
        assert db.applied_migrations == (14,)
        conn = db.connection
        row = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'signals'").fetchone()
        assert row is not None
        (table,) = row
        assert " IN " not in table.upper() and "kind = 'chat' OR" in table
        assert {kind: recent_signals(conn, kind) for kind in SIGNAL_KINDS} == before
        with pytest.raises(apsw.ConstraintError), db.transaction() as conn:
            conn.execute(
                "INSERT INTO signals (kind, creator_id, timestamp, entity_id, type, source, "
                "summary) VALUES ('nonsense', 'd', 1, 'e', 't', 's', '')"
            )
        with db.transaction() as conn:
            newest = add_signal(conn, "chat", 99, keep=100)
        assert newest.id == max(s.id for kind in SIGNAL_KINDS for s in before[kind]) + 1
