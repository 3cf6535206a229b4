"""Commands that combine (`Command.combines_as`) run as one per transaction (`in_batch`): each
still gets its own outcome, a bad one fails alone, and the rows end as running the commands
one after another leaves them (ids and rowids too)."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pytest

from state import Combined, Database, open_database, seen, signals
from state.commands import (
    AddScore,
    AppendSignals,
    ChangeTally,
    DeclareTallies,
    GrantPoints,
    JoinGiveaway,
    MarkSeen,
    OpenGiveaway,
    PointsGrant,
    PointsOf,
    PruneCooldowns,
    SetCooldowns,
    SignalRow,
    in_batch,
)
from state.errors import InvalidArgument
from state.loyalty import Viewer

T0 = 1_795_000_000_000


@pytest.fixture
def twin(tmp_path: pathlib.Path, migrated_template: pathlib.Path):
    """A second database like `db`: the same operations run there one by one."""
    path = tmp_path / "twin" / "store.db"
    path.parent.mkdir(parents=True)
    shutil.copyfile(migrated_template, path)
    database = open_database(path, synchronous="normal")
    try:
        yield database
    finally:
        database.close()


def one_by_one(db: Database, ops: list[Any]) -> list[Any]:
    return db.batch([op.run for op in ops])


def combined(db: Database, ops: list[Any]) -> list[Any]:
    """`ops` as the store runs them: combined, each outcome put back in its command's place."""
    items, order = in_batch(ops)
    outcomes = db.batch(items)
    if order is None:
        return outcomes
    in_place: list[Any] = [None] * len(ops)
    for at, outcome in zip(order, outcomes, strict=True):
        in_place[at] = outcome
    return in_place


def outcomes(results: list[Any]) -> list[Any]:
    return [(r.value, type(r.error), str(r.error)) for r in results]


TABLES = {
    "signals": "SELECT id, * FROM signals ORDER BY id",
    "seen_journal": "SELECT rowid, * FROM seen_journal ORDER BY rowid",
    "seen_messages": "SELECT * FROM seen_messages ORDER BY 1, 2, 3, 4",
    "seen_prune_requests": "SELECT * FROM seen_prune_requests ORDER BY 1",
    "cooldowns": "SELECT * FROM cooldowns ORDER BY 1",
    "points_balances": "SELECT rowid, * FROM points_balances ORDER BY rowid",
    "tallies": "SELECT * FROM tallies ORDER BY 1, 2",
}


def rows(db: Database) -> dict[str, list[Any]]:
    return {name: db.connection.execute(sql).fetchall() for name, sql in TABLES.items()}


def chat(creator: str, n: int, *, kind: signals.SignalKind = "chat") -> SignalRow:
    return SignalRow(
        kind=kind, creator_id=creator, timestamp=T0 + n, entity_id=f"m{n}", type="message",
        source="twitch", summary=f"line {n}",
    )  # fmt: skip


def viewer(name: str) -> Viewer:
    return Viewer(platform="twitch", viewer_key=f"k-{name}", login=name, display_name=name)


def grant(name: str, amount: int, at: int, *, earned: bool = True) -> PointsGrant:
    return PointsGrant(viewer=viewer(name), amount=amount, at=T0 + at, per_message=earned)


def same_in_both(db: Database, twin: Database, ops: list[Any]) -> list[Any]:
    """Run `ops` combined on `db` and one by one on `twin`; assert the outcomes and the rows
    are the same, and return the outcomes."""
    ours = combined(db, ops)
    theirs = one_by_one(twin, ops)
    assert outcomes(ours) == outcomes(theirs)
    assert rows(db) == rows(twin)
    return ours


def test_commands_of_a_kind_run_as_one_and_each_gets_its_own_result(db, twin):
    ops = [
        AppendSignals(rows=[chat("a", 1), chat("a", 2)]),
        MarkSeen(scope="a", keys=[("twitch", "m1"), ("twitch", "m2")], now=T0),
        GrantPoints(creator_id="a", grants=[grant("ann", 2, 1), grant("bob", 1, 2)]),
        AppendSignals(rows=[chat("b", 3)]),
        SetCooldowns(expiries=[("b/ping", T0 + 30_000)], seen=MarkSeen(
            scope="b", keys=[("twitch", "m3")], now=T0 + 1)),
        GrantPoints(creator_id="b", grants=[grant("cat", 5, 3)]),
        AppendSignals(rows=[]),
        MarkSeen(scope="a", keys=[("twitch", "m4")], now=T0 + 2),
    ]  # fmt: skip
    items, order = in_batch(ops)
    assert len(items) == 3 and all(isinstance(item, Combined) for item in items)
    assert order is not None and sorted(order) == list(range(len(ops)))
    results = same_in_both(db, twin, ops)
    assert [r.value for r in results] == [2, None, 2, 1, None, 1, 0, None]


def test_a_bad_command_among_combined_ones_fails_alone(db, twin):
    bad = SignalRow(
        kind="nonsense",  # type: ignore[arg-type]  # refused by the store, on purpose
        creator_id="a", timestamp=T0, entity_id="m", type="message",
        source="twitch", summary="",
    )  # fmt: skip
    ops = [
        AppendSignals(rows=[chat("a", 1)]),
        AppendSignals(rows=[chat("a", 2), bad]),
        AppendSignals(rows=[chat("a", 3)]),
        MarkSeen(scope="a", keys=[("twitch", "m1")], now=T0),
        MarkSeen(scope="", keys=[("twitch", "m2")], now=T0),
        GrantPoints(creator_id="a", grants=[grant("ann", 1, 1)]),
        GrantPoints(creator_id="a", grants=[grant("bob", -1, 1)]),
    ]
    results = same_in_both(db, twin, ops)
    assert [r.ok for r in results] == [True, False, True, True, False, True, False]
    assert isinstance(results[1].error, InvalidArgument)
    assert [s.summary for s in signals.recent_signals(db.connection, "chat")] == [
        "line 1",
        "line 3",
    ]


def test_the_signal_ring_is_pruned_where_each_append_would_have_pruned_it(db, twin):
    # Rows of several kinds in appends of different sizes, crossing `PRUNE_EVERY` many times
    # within one batch: the rows kept (and their ids) are those of the appends in turn.
    ops = []
    n = 0
    for size in [1, 3, 7, 2, 50, 1, 130, 5, 200, 1, 90, 300, 4] * 2:
        batch = []
        for _ in range(size):
            n += 1
            batch.append(chat("a", n, kind=("chat", "tally", "score")[n % 7 % 3]))
        ops.append(AppendSignals(rows=batch))
    assert n > 4 * signals.PRUNE_EVERY
    same_in_both(db, twin, ops)
    # And across batches: the ring continues from where the last one left it.
    same_in_both(db, twin, ops[:5])


def test_other_signals_keep_their_place_among_combined_appends(db, twin):
    ops = [
        DeclareTallies(creator_id="a", tallies=[("deaths", "Deaths")], now=T0),
        AppendSignals(rows=[chat("a", 1)]),
        ChangeTally(
            creator_id="a", tally_id="deaths", label=None, op="increment", amount=1, now=T0,
            source="twitch",
        ),
        AppendSignals(rows=[chat("a", 2)]),
    ]  # fmt: skip
    same_in_both(db, twin, ops)
    ids = [s.id for s in signals.recent_signals(db.connection, "chat")]
    (tally,) = signals.recent_signals(db.connection, "tally")
    assert ids[0] < tally.id < ids[1]


def test_the_seen_journal_folds_where_the_markings_in_turn_would(db, twin, monkeypatch):
    monkeypatch.setattr(seen, "FOLD_ROWS", 10)
    ops: list[Any] = []
    for n in range(30):
        prune = n % 4 == 1
        ops.append(
            MarkSeen(
                scope=f"c{n % 3}",
                keys=[("twitch", f"m{n}-{k}") for k in range(n % 4)],
                now=T0 + n,
                prune_before=T0 + n - 5 if prune else None,
                keep_last=3 if prune else None,
            )
        )
        if n % 5 == 0:
            ops.append(
                SetCooldowns(
                    expiries=[(f"c{n % 3}/t", T0 + n)],
                    seen=MarkSeen(scope=f"c{n % 3}", keys=[("kick", f"k{n}")], now=T0 + n),
                    prune=PruneCooldowns(prefix=f"c{n % 3}/", now=T0 + n) if n % 10 else None,
                )
            )
    same_in_both(db, twin, ops)
    same_in_both(db, twin, ops[:7])
    assert rows(db)["seen_messages"] and rows(db)["seen_journal"]


def test_grants_combined_end_as_grants_in_turn_new_viewers_in_the_same_order(db, twin):
    ops = [
        GrantPoints(creator_id="a", grants=[grant("ann", 1, 1), grant("bob", 2, 2)]),
        GrantPoints(creator_id="b", grants=[grant("ann", 3, 3, earned=False)]),
        GrantPoints(creator_id="a", grants=[grant("cat", 1, 4), grant("ann", 4, 5)]),
        GrantPoints(creator_id="b", grants=[grant("dan", 1, 6), grant("ann", 1, 7)]),
    ]
    same_in_both(db, twin, ops)
    # Known viewers, one of them renamed, and a new one.
    renamed = PointsGrant(
        viewer=Viewer(platform="twitch", viewer_key="k-bob", login="Bobby", display_name="B"),
        amount=1, at=T0 + 9, per_message=False,
    )  # fmt: skip
    ops = [
        GrantPoints(creator_id="b", grants=[grant("eve", 1, 8)]),
        GrantPoints(creator_id="a", grants=[renamed, grant("ann", 1, 10, earned=False)]),
        GrantPoints(creator_id="a", grants=[grant("fay", 2, 11)]),
    ]
    same_in_both(db, twin, ops)


def test_a_command_that_reads_points_sees_the_grants_before_it_and_none_after(db, twin):
    ann = viewer("ann")
    ops = [
        GrantPoints(creator_id="a", grants=[grant("ann", 5, 1)]),
        GrantPoints(creator_id="b", grants=[grant("ann", 7, 1)]),
        PointsOf(creator_id="a", viewer=ann),
        GrantPoints(creator_id="a", grants=[grant("ann", 1, 2)]),
        GrantPoints(creator_id="b", grants=[grant("ann", 1, 2)]),
        PointsOf(creator_id="b", viewer=ann),
        GrantPoints(creator_id="a", grants=[grant("ann", 100, 3)]),
    ]
    results = same_in_both(db, twin, ops)
    assert results[2].value.balance == 5
    assert results[5].value.balance == 8


def test_a_giveaway_entry_pays_with_the_points_granted_before_it(db, twin):
    ann = viewer("ann")
    ops = [
        OpenGiveaway(
            creator_id="a", giveaway_id="g1", prize="mug", entry_cost=3, subscribers_only=False,
            subscriber_tickets=1, now=T0,
        ),
        GrantPoints(creator_id="a", grants=[grant("ann", 2, 1)]),
        GrantPoints(creator_id="a", grants=[grant("ann", 2, 2)]),
        JoinGiveaway(creator_id="a", viewer=ann, subscriber=False, points_name="pts", now=T0),
        GrantPoints(creator_id="a", grants=[grant("ann", 10, 3)]),
    ]  # fmt: skip
    results = same_in_both(db, twin, ops)
    assert results[3].value[2].balance == 1


def test_an_unknown_operation_runs_after_every_command_before_it(db, twin):
    def count_signals(conn):
        return conn.execute("SELECT count(*) FROM signals").fetchone()[0]

    ops: list[Any] = [
        AppendSignals(rows=[chat("a", 1)]),
        AppendSignals(rows=[chat("a", 2)]),
        count_signals,
        AppendSignals(rows=[chat("a", 3)]),
    ]
    items, order = in_batch(ops)
    assert order == [0, 1, 2, 3] and len(items) == 3
    ours = combined(db, ops)
    theirs = twin.batch([op.run if isinstance(op, AppendSignals) else op for op in ops])
    assert outcomes(ours) == outcomes(theirs)
    assert ours[2].value == 2


def test_a_combined_run_that_fails_after_writing_runs_every_command_alone(db, twin, monkeypatch):
    ops = [AppendSignals(rows=[chat("a", n)]) for n in range(3)]
    calls = []
    original = signals.append_signal_groups

    def fail_after_writing(conn, groups, **kw):
        groups = [list(g) for g in groups]
        calls.append(len(groups))
        original(conn, groups, **kw)
        if len(groups) > 1:
            raise RuntimeError("boom, after writing")
        return [len(g) for g in groups]

    monkeypatch.setattr(signals, "append_signal_groups", fail_after_writing)
    results = combined(db, ops)
    assert [r.value for r in results] == [1, 1, 1]
    assert calls[0] == 3 and calls[1:] == [1, 1, 1]
    monkeypatch.undo()
    one_by_one(twin, ops)
    assert rows(db) == rows(twin)


def tally(creator: str, n: int, *, label: str | None = None) -> ChangeTally:
    return ChangeTally(
        creator_id=creator, tally_id="deaths", label=label, op="increment", amount=n,
        now=T0 + n, source="twitch",
    )  # fmt: skip


def test_tally_and_score_changes_run_with_the_appended_signals_their_rows_in_place(db, twin):
    ops = [
        AppendSignals(rows=[chat("a", 1)]),
        tally("a", 1),
        AppendSignals(rows=[chat("b", 2), chat("b", 3)]),
        AddScore(
            creator_id="b", scoreboard_id="s", title="S", label="x", points=3, now=T0,
            source="twitch",
        ),
        tally("a", 2),
        AppendSignals(rows=[chat("a", 4)]),
    ]  # fmt: skip
    items, _order = in_batch(ops)
    assert len(items) == 1 and isinstance(items[0], Combined)
    results = same_in_both(db, twin, ops)
    assert [r.value.count for r in (results[1], results[4])] == [1, 3]
    assert results[3].value.score == 3


def test_a_refused_change_among_signalled_changes_fails_alone(db, twin):
    ops = [
        tally("a", 1),
        AppendSignals(rows=[chat("a", 1)]),
        tally("a", 2, label=""),  # refused: an empty label
        tally("a", 3),
    ]
    results = same_in_both(db, twin, ops)
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[3].value.count == 4
