"""StateStore group commit."""

from __future__ import annotations

from typing import Any

import trio

from actors.store import StoreStatistics
from supervisors import Supervisor


def store_statistics(root: Supervisor) -> StoreStatistics:
    """The store's typed snapshot, as the tree walk gives it."""
    detail = {r.path: r for r in root.tree()}["root/store"].detail
    assert isinstance(detail, StoreStatistics)
    return detail


async def test_writes_queued_during_a_commit_share_the_next_transaction(tmp_path) -> None:
    """Group commit: 50 writers at once cost far fewer than 50 commits, and each still gets
    its own result (a failing operation only fails its own write)."""
    from actors.store import StateStore, Write, WriteResult
    from state import counters
    from supervisors import ChildSpec, Supervisor

    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3"))])
    results: dict[int, WriteResult] = {}

    async def writer(n: int) -> None:
        def op(conn):
            if n == 7:
                raise ValueError("only this one fails")
            return counters.increment_tally(conn, creator_id="c", tally_id="t", label="T").count

        (result,) = await root.ref("store").call(Write(ops=(op,), topic="tallies"))
        results[n] = result

    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        async with trio.open_nursery() as writers:
            for n in range(50):
                writers.start_soon(writer, n)
        store = root.which_children()[0]
        detail = store_statistics(root)
        assert detail.writes == 50
        assert detail.commits < 50
        assert isinstance(results[7].error, ValueError)
        counts = sorted(r.value for n, r in results.items() if n != 7)
        assert counts == list(range(1, 50))  # every other write committed exactly once
        assert store.restarts == 0
        await root.stop()


async def test_a_failing_read_answers_the_caller_and_leaves_the_store_up(tmp_path) -> None:
    import apsw
    import pytest

    from actors.store import Read, StateStore
    from supervisors import ChildSpec, Supervisor

    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3"))])
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        store = root.ref("store")
        with pytest.raises(apsw.SQLError):
            await store.call(Read(fn=lambda conn: conn.execute("SELECT * FROM nope").fetchall()))
        # Several at once go through handle_batch: each caller still gets its own answer.
        results: list[object] = []

        async def read(fail: bool) -> None:
            def fn(conn):
                if fail:
                    raise LookupError("no such thing")
                return conn.execute("SELECT 1").fetchone()[0]

            try:
                results.append(await store.call(Read(fn=fn)))
            except LookupError as exc:
                results.append(str(exc))

        async with trio.open_nursery() as readers:
            for fail in (False, True, False):
                readers.start_soon(read, fail)
        assert sorted(map(str, results)) == ["1", "1", "no such thing"]
        assert root.which_children()[0].restarts == 0
        await root.stop()


async def test_when_writers_share_commits_the_next_commit_waits_out_the_interval(
    tmp_path, autojump_clock
) -> None:
    """Pacing, on trio's virtual clock (no call here has a timeout, so only the store's wait
    can move it): a lone writer never waits; after a commit that writers shared, the next one
    starts `commit_interval` later, and what queued meanwhile shares it."""
    import math

    from actors.store import StateStore, Write
    from state import creators
    from supervisors import ChildSpec, Supervisor

    def store() -> StateStore:
        return StateStore(tmp_path / "db.sqlite3", commit_interval=2.0)

    root = Supervisor("root", [ChildSpec("store", store)])

    def meta(key: str) -> Write:
        return Write(ops=(lambda conn: creators.set_meta(conn, key, "1"),), topic="t")

    def commits() -> int:
        return store_statistics(root).commits

    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        ref = root.ref("store")
        start = trio.current_time()
        for n in range(5):
            await ref.call(meta(f"lone{n}"), timeout=math.inf)
        assert trio.current_time() == start  # nobody waited
        assert commits() == 5
        shared = [ref.request(meta(f"shared{n}"), timeout=math.inf) for n in range(3)]
        for reply in shared:
            await reply.result()
        assert commits() == 6
        shared_at = trio.current_time()
        later = [ref.request(meta(f"later{n}"), timeout=math.inf) for n in range(10)]
        for reply in later:
            await reply.result()
        assert trio.current_time() >= shared_at + 2.0
        assert commits() == 7  # all ten, queued at once, in the one commit after the wait
        await root.stop()


async def test_writes_sharing_a_transaction_get_their_own_results_from_combined_commands(
    tmp_path,
) -> None:
    """The commands of a kind from many writes run as one (`state.commands.in_batch`), and
    each write's reply still holds its own commands' results in order: a bad command fails
    its own write only."""
    from actors.store import StateStore, Write
    from state import signals
    from state.commands import AppendSignals, MarkSeen, SignalRow
    from state.errors import InvalidArgument
    from supervisors import ChildSpec, Supervisor

    def row(n: int, kind: Any = "chat") -> SignalRow:
        return SignalRow(
            kind=kind, creator_id=f"c{n}", timestamp=n, entity_id=f"m{n}", type="message",
            source="twitch", summary=f"line {n}",
        )  # fmt: skip

    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3"))])
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        store = root.ref("store")
        # Queued at once: they share a transaction.
        pending = [
            store.request(
                Write(
                    ops=(
                        AppendSignals(rows=[row(n)] * (1 + n % 3)),
                        MarkSeen(scope=f"c{n}", keys=[("twitch", f"m{n}")], now=n),
                        AppendSignals(rows=[row(n, "nonsense" if n == 5 else "chat")]),
                    ),
                    topic="signals",
                ),
                timeout=30,
            )
            for n in range(20)
        ]
        replies = [await reply.result() for reply in pending]
        for n, results in enumerate(replies):
            assert [r.value for r in results[:2]] == [1 + n % 3, None]
            if n == 5:
                assert isinstance(results[2].error, InvalidArgument)
            else:
                assert results[2].value == 1
        assert store_statistics(root).commits < 20
        from state import open_database

        await root.stop()
    with open_database(tmp_path / "db.sqlite3") as db:
        chat = signals.recent_signals(db.connection, "chat")
    # In the order written: each write's rows, then the next write's.
    expected = [m for n in range(20) for m in [n] * (1 + n % 3) + ([] if n == 5 else [n])]
    assert [int(s.entity_id[1:]) for s in chat] == expected
