"""The store's cost per chat message: the trigger engines' and replays' writes at a chat rate.

Run: `python benchmarks/store_writes.py [--creators 1000] [--rate 1.1] [--seconds 10]`

Each of N creators chats `rate` messages per second (the scale benchmark's example replay at
speed 10 gives about 1.1). Per chat message the store gets what the example's trigger engine
and replay send (counted from a 300-creator scale run), in a cycle of seven messages:

- a `!vote`: `Write(SetCooldowns(seen), GrantPoints, RecordVote)`;
- a tally keyword: `Write(SetCooldowns(seen), GrantPoints, ChangeTally)`;
- a reply with a cooldown: `Write(SetCooldowns(cooldown, seen))`;
- four plain messages (nothing at once);

and, every second message of a creator (the engine flushes once a second, and in the example's
log about every second message comes a second or more after the last flush), the flush
`Write(AppendSignals, GrantPoints, MarkSeen)` of the buffered chat; the replay's position save
as often as `actors.replay` saves it at this rate.

The writes go to a real `StateStore` actor (its writer thread, group commit, replies) at that
rate. Measured over the window: the writer thread's CPU time (read on that thread through a
`Read`) and the trio thread's (sending, the store actor, replies, `Changed` casts, and this
driver's 10 ms pacing loop), each per chat message, beside the cost of making the same
commands (timed apart). The floor, measured in the same run on another database: the
same SQL statements the commands run, as raw apsw executes in one transaction per group of
writes (what any code writing these rows must at least pay).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trio  # noqa: E402

from actors.replay.actor import SAVE_EVERY_LINES, SAVE_EVERY_SECONDS  # noqa: E402
from actors.store import Read, StateStore, Write  # noqa: E402
from state import open_database  # noqa: E402
from state.commands import (  # noqa: E402
    AppendSignals,
    ChangeTally,
    GrantPoints,
    MarkSeen,
    OpenPoll,
    PointsGrant,
    RecordVote,
    SaveReplayPosition,
    SetCooldowns,
    SignalRow,
)
from state.loyalty import Viewer  # noqa: E402
from state.replays import ReplayPosition  # noqa: E402
from supervisors import ChildSpec, Supervisor  # noqa: E402

T0 = 1_790_000_000_000
CYCLE = ("vote", "tally", "cooldown", "chat", "chat", "chat", "chat")
VIEWERS = 10


def viewer(n: int) -> Viewer:
    return Viewer(platform="replay", viewer_key=f"v{n % VIEWERS}", login=f"v{n}", display_name="V")


class Creator:
    """What one creator's engine and replay write, message by message."""

    def __init__(self, creator_id: str, save_every: int) -> None:
        self.id = creator_id
        self.save_every = save_every
        self.n = 0
        self.seen: list[tuple[str, str]] = []
        self.grants: list[PointsGrant] = []
        self.rows: list[SignalRow] = []

    def message(self, now: int) -> list[Write]:
        """The writes sent at once for the next chat message."""
        n, self.n = self.n, self.n + 1
        key = ("replay", f"{self.id}-m{n}")
        grant = PointsGrant(viewer=viewer(n), amount=1, at=now, per_message=True)
        kind = CYCLE[n % len(CYCLE)]
        self.rows.append(
            SignalRow(
                kind="chat", creator_id=self.id, timestamp=now, entity_id=key[1],
                type="message", source="replay", summary="hello chat",
            )
        )  # fmt: skip
        flush = self.flush(now) if n % 2 else []
        if n % self.save_every == self.save_every - 1:
            position = ReplayPosition(digest="d" * 64, pass_number=1, lines_done=n + 1)
            save = SaveReplayPosition(creator_id=self.id, position=position)
            flush.append(Write(ops=(save,), topic="replay"))
        if kind == "chat":
            self.seen.append(key)
            self.grants.append(grant)
            return flush
        seen = MarkSeen(scope=self.id, keys=(key,), now=now)
        if kind == "cooldown":
            expiry = ((f"{self.id}:trigger:ping", now + 30_000),)
            cooldown = SetCooldowns(expiries=expiry, seen=seen)
            return [*flush, Write(ops=(cooldown,), topic="cooldowns")]
        grants, self.grants = (*self.grants, grant), []
        first = (
            SetCooldowns(expiries=(), seen=seen),
            GrantPoints(creator_id=self.id, grants=grants),
        )
        if kind == "vote":
            vote = RecordVote(
                creator_id=self.id, voter_key=f"v{n % VIEWERS}", option=str(1 + n % 2), now=now,
                source="replay",
            )  # fmt: skip
            return [*flush, Write(ops=(*first, vote), topic="polls+points")]
        tally = ChangeTally(
            creator_id=self.id, tally_id="deaths", label="Deaths", op="increment", amount=1,
            now=now, source="replay",
        )  # fmt: skip
        return [*flush, Write(ops=(*first, tally), topic="tallies+points")]

    def flush(self, now: int) -> list[Write]:
        """The engine's flush."""
        ops: list[Any] = []
        if self.rows:
            ops.append(AppendSignals(rows=self.rows))
        if self.grants:
            ops.append(GrantPoints(creator_id=self.id, grants=self.grants))
        if self.seen:
            ops.append(MarkSeen(scope=self.id, keys=self.seen, now=now))
        self.rows, self.grants, self.seen = [], [], []
        return [Write(ops=ops, topic="activity")] if ops else []


def lines_per_save(rate: float) -> int:
    """How many lines of a creator the replay plays between two position saves."""
    return max(1, min(SAVE_EVERY_LINES, round(rate * SAVE_EVERY_SECONDS)))


def making_cost(creators: int, rate: float, messages: int) -> float:
    """CPU seconds to make the commands of `messages` chat messages (the driver's own part)."""
    everyone = [Creator(f"c{i:04d}", lines_per_save(rate)) for i in range(creators)]
    start = time.thread_time()
    for m in range(messages):
        everyone[m % creators].message(T0 + m)
    return time.thread_time() - start


async def drive_store(path: Path, creators: int, rate: float, seconds: float) -> dict[str, float]:
    """Send the writes of `creators` at `rate` to a real store; CPU per chat message."""
    root = Supervisor("root", [ChildSpec("store", lambda: StateStore(path))])
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        store = root.lookup("store")
        everyone = [Creator(f"c{i:04d}", lines_per_save(rate)) for i in range(creators)]
        opens = [
            Write(ops=(OpenPoll(creator_id=c.id, question="?", options=("a", "b"), now=T0),))
            for c in everyone
        ]
        for w in opens:
            await store.call(w, timeout=60)
        pending: trio.MemorySendChannel[Any]
        pending, replies = trio.open_memory_channel[Any](1_000_000)

        async def collect() -> None:
            async for reply in replies:
                for result in await reply.result():
                    result.unwrap()

        nursery.start_soon(collect)
        thread_cpu = Read(fn=lambda _conn: time.thread_time())

        def counts() -> tuple[float, float]:
            detail = {r["path"]: r.get("detail") for r in root.tree()}["root/store"] or {}
            return float(detail.get("commits", 0)), float(detail.get("writes", 0))

        commits0, writes0 = counts()
        writer0, trio0 = await store.call(thread_cpu), time.thread_time()
        start, messages, tick = trio.current_time(), 0, 0.01
        per_tick = creators * rate * tick
        due = 0.0
        while (elapsed := trio.current_time() - start) < seconds:
            now = T0 + int(elapsed * 1000)
            due += per_tick
            while due >= 1:
                due -= 1
                creator = everyone[messages % creators]
                messages += 1
                for w in creator.message(now):
                    pending.send_nowait(store.request(w, timeout=60))
            await trio.sleep(tick)
        await pending.aclose()
        writer1 = await store.call(thread_cpu)
        trio1 = time.thread_time()
        commits1, writes1 = counts()
        await root.stop()
    return {
        "messages": messages,
        "writer_us": (writer1 - writer0) / messages * 1e6,
        "trio_us": (trio1 - trio0) / messages * 1e6,
        "making_us": making_cost(creators, rate, messages) / messages * 1e6,
        "commits": commits1 - commits0,
        "writes": writes1 - writes0,
    }


def floor(path: Path, creators: int, messages: int, group: int, save_every: int) -> float:
    """The same rows written by raw apsw statements, `group` writes per transaction; CPU us
    per chat message."""
    db = open_database(str(path), synchronous="full")
    conn = db.connection
    conn.execute("BEGIN")
    for c in range(creators):
        cid = f"c{c:04d}"
        conn.execute(
            "INSERT INTO polls (poll_id, creator_id, question, state, opened_at) "
            "VALUES (?, ?, '?', 'open', ?)",
            (f"{cid}-1", cid, T0),
        )
        conn.execute(
            "INSERT INTO poll_options (poll_id, option_id, label, position) VALUES "
            "(?, '1', 'a', 1), (?, '2', 'b', 2)",
            (f"{cid}-1", f"{cid}-1"),
        )
    conn.execute("COMMIT")
    seen = "INSERT INTO seen_messages (scope, platform, message_id, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"  # noqa: E501
    points = (
        "INSERT INTO points_balances (creator_id, platform, viewer_key, login, display_name, "
        "balance, earned_at, updated_at) VALUES (?, 'replay', ?, ?, 'V', 1, ?, ?) "
        "ON CONFLICT (creator_id, platform, viewer_key) DO UPDATE SET "
        "balance = balance + excluded.balance, updated_at = excluded.updated_at"
    )
    signal = (
        "INSERT INTO signals (kind, creator_id, timestamp, entity_id, type, source, summary) "
        "VALUES (?, ?, ?, ?, 'x', 'replay', 's')"
    )
    vote = (
        "INSERT INTO poll_votes (poll_id, voter_key, option_id, voted_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (poll_id, voter_key) DO UPDATE SET option_id = excluded.option_id"
    )
    tally = (
        "INSERT INTO tallies (creator_id, tally_id, label, count, updated_at) "
        "VALUES (?, 'deaths', 'Deaths', 1, ?) "
        "ON CONFLICT (creator_id, tally_id) DO UPDATE SET count = count + 1"
    )
    cooldown = (
        "INSERT INTO cooldowns (scope, expires_at) VALUES (?, ?) "
        "ON CONFLICT (scope) DO UPDATE SET expires_at = excluded.expires_at"
    )
    meta = (
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    cpu0 = time.process_time()
    writes = 0.0
    conn.execute("BEGIN IMMEDIATE")
    for m in range(messages):
        c = m % creators
        cid, n, now = f"c{c:04d}", m // creators, T0 + m
        key = f"{cid}-m{n}"
        kind = CYCLE[n % len(CYCLE)]
        conn.execute(seen, (cid, "replay", key, now))
        conn.execute(points, (cid, f"v{n % VIEWERS}", f"v{n}", now, now))
        conn.execute(signal, ("chat", cid, now, key))
        if kind == "vote":
            conn.execute(vote, (f"{cid}-1", f"v{n % VIEWERS}", str(1 + n % 2), now))
            conn.execute(signal, ("poll_vote", cid, now, f"{cid}-1"))
        elif kind == "tally":
            conn.execute(tally, (cid, now))
            conn.execute(signal, ("tally", cid, now, "deaths"))
        elif kind == "cooldown":
            conn.execute(cooldown, (f"{cid}:trigger:ping", now + 30_000))
        if n % save_every == save_every - 1:
            conn.execute(meta, (f"replay:{cid}", f'{{"lines_done":{n}}}'))
        writes += 1.5  # about 1.5 writes per chat message
        if writes >= group:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            writes = 0.0
    conn.execute("COMMIT")
    cpu = time.process_time() - cpu0
    db.close()
    return cpu / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.1, help="messages/s per creator")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-writes-") as tmp:
        ours = trio.run(
            drive_store, Path(tmp) / "store.sqlite3", args.creators, args.rate, args.seconds
        )
        group = max(1.0, ours["writes"] / max(1.0, ours["commits"]))
        base = floor(
            Path(tmp) / "floor.sqlite3",
            args.creators,
            int(ours["messages"]),
            int(group),
            lines_per_save(args.rate),
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.creators} creators x {args.rate} msg/s for {args.seconds:.0f} s: "
        f"{ours['messages']:.0f} chat messages, {ours['writes']:.0f} writes in "
        f"{ours['commits']:.0f} commits ({group:.1f} writes each); load average {load:.2f}"
    )
    print(f"{'measure':34} {'ours':>10} {'floor (raw apsw, same rows)':>30} {'ratio':>7}")
    print(
        f"{'store writer thread CPU / message':34} {ours['writer_us']:>7.1f} us "
        f"{base:>27.1f} us {ours['writer_us'] / base:>6.1f}x"
    )
    handling = ours["trio_us"] - ours["making_us"]
    print(
        f"{'trio thread CPU / message':34} {ours['trio_us']:>7.1f} us "
        f"  (making the commands {ours['making_us']:.1f} us, the rest {handling:.1f} us)"
    )


if __name__ == "__main__":
    main()
