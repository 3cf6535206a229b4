"""`StateStore` under a flood of writes: reads that depend on none of the queued writes are
answered first, reads of a creator with a queued write keep their place, and the whole batch
costs one trip to the writer thread and one transaction."""

from __future__ import annotations

import math
import threading
from typing import Any

import apsw
import attrs
import trio

from actors.store import Read, StateStore, StoreStatistics, Write, WriterThread, _reads_first
from state import counters
from state.commands import (
    ChangeTally,
    GrantPoints,
    MarkSeen,
    PointsGrant,
    Query,
    ReplayPositionOf,
    RestoreEngine,
    SaveReplayPosition,
    SetCooldowns,
)
from state.loyalty import Viewer
from state.replays import ReplayPosition
from supervisors import ChildSpec, Supervisor

T0 = 1_795_000_000_000


def tally(creator: str, n: int = 0) -> Write:
    return Write(
        ops=(
            ChangeTally(
                creator_id=creator, tally_id="deaths", label="Deaths", op="increment",
                amount=1, now=T0 + n, source="replay",
            ),
        ),
        topic="tallies",
    )  # fmt: skip


def chat_write(creator: str, n: int) -> Write:
    """What a trigger engine's flush sends for a chat line: points, seen id, cooldown."""
    viewer = Viewer(platform="replay", viewer_key="v", login="v", display_name="V")
    seen = MarkSeen(scope=creator, keys=[("replay", f"m{n}")], now=T0 + n)
    return Write(
        ops=(
            GrantPoints(creator_id=creator, grants=[PointsGrant(viewer=viewer, amount=1, at=n)]),
            SetCooldowns(expiries=[(f"{creator}/ping", T0 + n)], seen=seen),
        ),
        topic="activity",
    )


@attrs.frozen(kw_only=True)
class TalliesOf(Query):
    """Every tally's count, read when the store runs it (a creator's state, by its keys)."""

    creator_id: str

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.creator_id,))

    def run(self, conn: apsw.Connection) -> dict[str, int]:
        rows: list[tuple[Any, ...]] = conn.execute(
            "SELECT creator_id, count FROM tallies ORDER BY 1"
        ).fetchall()
        return {str(creator): int(count) for creator, count in rows}


def restore(creator: str) -> Read:
    return Read(
        fn=RestoreEngine(
            creator_id=creator, prefix=f"{creator}/", now=T0, tally_ids=["deaths"], seen_limit=10
        )
    )


def test_reads_of_state_no_queued_write_changes_go_first() -> None:
    messages: list[Any] = [
        tally("b"),
        restore("c"),  # no write of c before it: first
        Read(fn=TalliesOf(creator_id="b")),  # b's write came first: keeps its place
        Read(fn=ReplayPositionOf(creator_id="c")),
        chat_write("c", 1),
        restore("c"),  # c's points, seen ids and cooldowns changed before it
        Read(fn=ReplayPositionOf(creator_id="d")),
    ]
    assert _reads_first(messages) == [1, 3, 6]


def test_reads_after_a_write_of_unknown_reach_keep_their_place() -> None:
    messages: list[Any] = [
        tally("b"),
        Write(ops=(lambda conn: None,), topic="t"),  # a plain function may change anything
        restore("c"),
    ]
    assert _reads_first(messages) == []
    # a read of a plain function may do anything too: later reads keep their place
    messages = [tally("b"), Read(fn=lambda conn: None), restore("c")]
    assert _reads_first(messages) == []
    # a cooldown scope names its creator by its prefix: a restore of that prefix waits for it
    cooldown = Write(ops=(SetCooldowns(expiries=[("c/x/y", T0)]),), topic="cooldowns")
    assert _reads_first([cooldown, restore("c"), restore("x")]) == [2]
    # a batch without writes, or without typed reads after one, reorders nothing
    assert _reads_first([restore("c"), restore("d")]) == []
    assert _reads_first([restore("c"), tally("b"), Read(fn=lambda conn: 1)]) == []
    # a replay position is the creator's too
    save = SaveReplayPosition(
        creator_id="c", position=ReplayPosition(digest="d", pass_number=1, lines_done=3)
    )
    position = Read(fn=ReplayPositionOf(creator_id="c"))
    assert _reads_first([Write(ops=(save,), topic="replay"), position]) == []


async def test_a_start_read_behind_a_flood_of_writes_is_answered_before_them(
    tmp_path, autojump_clock, monkeypatch
) -> None:
    """On trio's virtual clock, no timeouts (only the writer thread's work takes time): while
    the writer is busy, a flood of writes of other creators queues up with a start read
    among them; the read is answered on the state before that flood, in the same single trip
    to the writer thread as the flood's transactions, while a read of a creator with a
    queued write, and a plain function read, still see the writes queued before them."""
    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3"))])
    release = threading.Event()

    def busy(conn: apsw.Connection) -> None:
        release.wait()  # the writer thread is busy until the test has queued the flood

    def commits() -> int:
        detail = {r.path: r for r in root.tree()}["root/store"].detail
        assert isinstance(detail, StoreStatistics)
        return detail.commits

    trips = []  # calls into the writer thread
    run = WriterThread.run

    async def counted(self: WriterThread, fn: Any) -> Any:
        trips.append(fn)
        return await run(self, fn)

    monkeypatch.setattr(WriterThread, "run", counted)

    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        ref = root.ref("store")
        await ref.call(tally("a"), timeout=math.inf)
        trips.clear()
        first = ref.request(Write(ops=(busy,), topic="t"), timeout=math.inf)
        await trio.testing.wait_all_tasks_blocked()
        flood = [ref.request(chat_write(f"b{n % 50}", n), timeout=math.inf) for n in range(300)]
        flood.append(ref.request(tally("a", 1), timeout=math.inf))
        start_read = ref.request(Read(fn=TalliesOf(creator_id="c")), timeout=math.inf)
        own_read = ref.request(Read(fn=TalliesOf(creator_id="a")), timeout=math.inf)
        flood += [ref.request(tally("b0", n), timeout=math.inf) for n in range(300)]
        plain_read = ref.request(
            Read(fn=lambda conn: counters.get_tally(conn, "b0", "deaths")), timeout=math.inf
        )
        release.set()
        await first.result()
        assert await start_read.result() == {"a": 1}  # before the flood: a's first tally only
        assert await own_read.result() == {"a": 2}  # after a's write queued before it
        assert (await plain_read.result()).count == 300  # in its place, after all the flood
        for reply in flood:
            assert all(r.ok for r in await reply.result())
        # the first tally, the busy write, then the flood: in two transactions around the
        # read that keeps its place (not one per read queued among the writes)
        assert commits() == 4
        assert len(trips) == 2  # the busy write; then the whole flood with its reads, at once
        await root.stop()
