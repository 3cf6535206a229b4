"""`StateStore`: the only writer of the database, driven by `Write`/`Read` messages.

The store runs SQLite in a worker thread (`trio.to_thread`), so these tests use the real clock.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Any

import apsw
import pytest
import trio

from actors import Actor, ActorFailed, Detail
from actors.store import Changed, Read, StateStore, StoreStatistics, Write, WriteResult, write
from state import open_database
from state.errors import RecordNotFound, Refused
from state.seen import mark_seen_many
from supervisors import Backoff, ChildSpec, Supervisor

NO_BACKOFF = Backoff(initial=0)


class Recorder(Actor):
    """Keeps every message it is sent; `"get"` answers the list."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def handle(self, message: Any) -> Any:
        if message == "get":
            return list(self.seen)
        self.seen.append(message)
        return None


def make_table(conn: apsw.Connection) -> None:
    """Create the scratch table the tests write to."""
    conn.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)")


def insert(key: str, value: int) -> Any:
    """An operation inserting one row."""

    def op(conn: apsw.Connection) -> str:
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (key, value))
        return key

    return op


def rows(conn: apsw.Connection) -> list[tuple[str, int]]:
    """Every row of the scratch table, by key."""
    return [tuple(r) for r in conn.execute("SELECT k, v FROM t ORDER BY k")]


async def start_tree(nursery: trio.Nursery, database: Path) -> Supervisor:
    """root: store (publishing `Changed` to `sub`) and the `sub` recorder."""
    root: Supervisor

    def store() -> StateStore:
        return StateStore(database, subscribers=[lambda: root.lookup("sub")])

    root = Supervisor(
        "root", [ChildSpec("store", store), ChildSpec("sub", Recorder)], backoff=NO_BACKOFF
    )
    await nursery.start(root.run)
    await write(root.lookup("store"), make_table, topic="setup")
    return root


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "runtime.sqlite3"


async def test_one_write_commits_all_its_operations_in_one_transaction(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    seen_in_between: list[int] = []

    def peek_from_another_connection(conn: apsw.Connection) -> None:
        # Inside the transaction: a second connection must not see the first insert yet.
        other = apsw.Connection(str(database), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            seen_in_between.append(other.execute("SELECT count(*) FROM t").get)
        finally:
            other.close()

    results = await store.call(
        Write(ops=(insert("a", 1), peek_from_another_connection, insert("b", 2)), topic="t")
    )
    assert [r.unwrap() for r in results] == ["a", None, "b"]
    assert seen_in_between == [0]
    assert await store.call(Read(fn=rows)) == [("a", 1), ("b", 2)]
    await root.stop()


async def test_a_failing_operation_is_rolled_back_alone(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")

    def half_then_fail(conn: apsw.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES ('half', 0)")
        raise ValueError("bad op")

    results = await store.call(
        Write(ops=(insert("a", 1), half_then_fail, insert("b", 2)), topic="t")
    )
    assert isinstance(results[1], WriteResult)
    assert isinstance(results[1].error, ValueError)
    assert results[0].unwrap() == "a" and results[2].unwrap() == "b"
    with pytest.raises(ValueError, match="bad op"):
        results[1].unwrap()
    assert await store.call(Read(fn=rows)) == [("a", 1), ("b", 2)]
    assert root.lookup("store") is not None
    # The helper raises the first failure; the store itself keeps running and counts it.
    with pytest.raises(ValueError):
        await write(store, half_then_fail, topic="t")
    detail = {r.path: r.detail for r in root.tree()}["root/store"]
    assert isinstance(detail, StoreStatistics) and detail.failed_ops == 2
    assert detail.refused_ops == 0
    assert await store.call(Read(fn=lambda c: c.execute("SELECT 1").get)) == 1
    await root.stop()


async def test_a_refused_operation_is_counted_as_refused_not_failed(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")

    def short_of_points(conn: apsw.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES ('half', 0)")
        raise Refused("you have 5 beans, this costs 20")

    def no_such_poll(conn: apsw.Connection) -> None:
        raise RecordNotFound("poll 'p9'")

    results = await store.call(
        Write(ops=(insert("a", 1), short_of_points, no_such_poll), topic="t")
    )
    assert isinstance(results[1].error, Refused) and isinstance(results[2].error, RecordNotFound)
    assert await store.call(Read(fn=rows)) == [("a", 1)]  # the refused one's insert undone
    detail = {r.path: r.detail for r in root.tree()}["root/store"]
    assert isinstance(detail, StoreStatistics)
    assert (detail.refused_ops, detail.failed_ops) == (2, 0)
    await root.stop()


async def test_read_sees_every_committed_write(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    for n in range(5):
        await write(store, insert(f"k{n}", n), topic="t")
        assert len(await store.call(Read(fn=rows))) == n + 1
    await root.stop()


async def test_committed_writes_tell_subscribers_what_changed(nursery, database):
    root = await start_tree(nursery, database)
    await write(root.lookup("store"), insert("a", 1), topic="polls")
    await write(root.lookup("store"), insert("b", 1), topic="tallies")
    seen = await root.lookup("sub").call("get")
    assert seen == [Changed(topic="setup"), Changed(topic="polls"), Changed(topic="tallies")]
    await root.stop()


async def test_reads_do_not_notify_subscribers(nursery, database):
    root = await start_tree(nursery, database)
    await root.lookup("store").call(Read(fn=rows))
    assert await root.lookup("sub").call("get") == [Changed(topic="setup")]
    await root.stop()


async def test_a_restarted_store_reopens_the_database_and_keeps_the_data(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    await write(store, insert("before", 1), topic="t")
    await root.restart_child("store")
    # The same ref reaches the fresh instance, which opened the database again.
    await write(store, insert("after", 2), topic="t")
    assert await store.call(Read(fn=rows)) == [("after", 2), ("before", 1)]
    rows_ = {r.path: r for r in root.tree()}
    assert rows_["root/store"].restarts == 1
    await root.stop()


async def test_a_crash_in_a_read_restarts_the_store_with_the_data_intact(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    await write(store, insert("kept", 1), topic="t")

    def boom(_conn: apsw.Connection) -> None:
        raise RuntimeError("reader bug")

    with pytest.raises(ActorFailed):
        await store.call(Read(fn=boom))
    assert await store.call(Read(fn=rows)) == [("kept", 1)]
    await root.stop()


async def test_the_store_refuses_unknown_messages(nursery, database):
    root = await start_tree(nursery, database)
    with pytest.raises(ActorFailed) as info:
        await root.lookup("store").call("hello")
    assert isinstance(info.value.__cause__, TypeError)
    await root.stop()


def slow_insert(key: str) -> Any:
    """An operation that keeps SQLite busy for a while (so the writer thread is inside apsw)
    before it inserts one row."""

    def op(conn: apsw.Connection) -> str:
        conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) "
            "SELECT count(*) FROM c"
        ).fetchone()
        conn.execute("INSERT INTO t (k, v) VALUES (?, 0)", (key,))
        return key

    return op


async def test_snapshots_taken_during_batches_never_touch_the_writing_connection(nursery, database):
    # Every publish and every GET /status walks the tree, which takes the store's snapshot
    # while its thread is inside a batch: that must neither fail nor crash the store.
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    snapshots: list[Detail] = []
    done = trio.Event()

    async def hammer() -> None:
        while not done.is_set():
            rows_ = {r.path: r for r in root.tree()}
            snapshots.append(rows_["root/store"].detail)
            await trio.lowlevel.checkpoint()

    nursery.start_soon(hammer)
    keys = [f"k{i}" for i in range(3)]
    async with trio.open_nursery() as writers:
        for key in keys:
            writers.start_soon(partial(write, store, slow_insert(key), topic="t"))
    done.set()

    assert len(snapshots) > 100
    assert [s for s in snapshots if not isinstance(s, StoreStatistics)] == []
    assert sorted(k for k, _ in await store.call(Read(fn=rows))) == sorted(keys)
    tree = {r.path: r for r in root.tree()}
    assert tree["root/store"].restarts == 0
    assert tree["root/store"].last_error is None
    # The figures come from what the writer thread kept after its last commit.
    store_detail = tree["root/store"].detail
    assert isinstance(store_detail, StoreStatistics)
    assert store_detail.writes == 1 + len(keys)
    assert store_detail.file_size is not None and store_detail.file_size > 0
    await root.stop()


def test_a_write_names_the_creators_its_commands_change() -> None:
    from actors.store import _creators_of
    from state.commands import GrantPoints, MarkSeen, SetCooldowns

    grant = GrantPoints(creator_id="daniel", grants=())
    seen = MarkSeen(scope="daniel", keys=(("twitch", "m1"),), now=1)
    assert _creators_of([grant, SetCooldowns(expiries=(), seen=seen)]) == {"daniel"}
    assert _creators_of([SetCooldowns(expiries=())]) == frozenset()  # no exported state
    assert _creators_of([grant, lambda conn: None]) is None  # a function: unknown


async def test_a_failure_raised_by_write_is_not_held_by_the_frame_that_raised_it(nursery, database):
    # A frame in an exception's traceback that holds the exception (or the outcomes holding
    # it) makes a cycle that only the oldest, rarest GC pass frees: one per refused action.
    from state.errors import Refused

    root = await start_tree(nursery, database)
    store = root.lookup("store")

    def refuse(conn: apsw.Connection) -> None:
        raise Refused("you are already in the giveaway")

    with pytest.raises(Refused, match="already in the giveaway") as caught:
        await write(store, insert("a", 1), refuse, topic="t")
    tb = caught.value.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    [raised_in] = [f for f in frames if f.f_code is write.__code__]
    assert not {"results", "result", "error"} & raised_in.f_locals.keys()
    assert await write(store, insert("b", 2), topic="t") == ["b"]
    await root.stop()


async def test_a_store_starting_folds_the_seen_ids_journaled_before_it_stopped(nursery, database):
    with open_database(database) as db, db.transaction() as conn:
        mark_seen_many(conn, scope="daniel", keys=[("twitch", "a"), ("twitch", "b")], now=1)
    root = await start_tree(nursery, database)
    store = root.lookup("store")

    def journal_and_folded(conn: apsw.Connection) -> tuple[object, object]:
        journal = conn.execute("SELECT count(*) FROM seen_journal").get
        folded = conn.execute("SELECT count(*) FROM seen_messages").get
        return journal, folded

    assert await store.call(Read(fn=journal_and_folded)) == (0, 2)
    await root.stop()


async def test_a_stop_commits_the_writes_queued_behind_the_one_in_flight(nursery, database):
    root = await start_tree(nursery, database)
    store = root.lookup("store")
    entered, release = threading.Event(), threading.Event()

    def held(conn: apsw.Connection) -> str:
        entered.set()
        release.wait()
        return insert("held", 0)(conn)

    store.cast(Write(ops=(held,), topic="t"))
    await trio.to_thread.run_sync(entered.wait)  # in the writer thread: the rest queue up
    for n in range(5):
        store.cast(Write(ops=(insert(f"k{n}", n),), topic="t"))

    async def stop() -> None:
        await root.stop()

    async with trio.open_nursery() as stopping:
        stopping.start_soon(stop)
        await trio.sleep(0.05)  # the stop is requested while the first write is in flight
        release.set()
    assert root.registry is not None
    # (the `Changed` casts to the subscriber, stopped first, are the only dead letters)
    assert {d.message_type for d in root.registry.dead_letters.recent} <= {"Changed"}
    db = open_database(str(database))
    try:
        assert rows(db.connection) == [("held", 0), *((f"k{n}", n) for n in range(5))]
    finally:
        db.close()
