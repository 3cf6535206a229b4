"""The store's cost per chat message: the trigger engines' and replays' writes at a chat rate.

Run: `python benchmarks/store_writes.py [--creators 1000] [--rate 1.1] [--seconds 10]`,
or with real batches: `--capture DIR [--creators 1000 --warmup 40 --seconds 30]`, then
`--replay DIR [--repeat 5] [--by-command]`

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

Real batches instead of this cycle: `--capture DIR` runs the scale benchmark's runtime in this
process (`--creators`, the example's config, replays at speed 10) and, after `--warmup`
seconds, backs the database up and records every batch the store writes for `--seconds`;
`--replay DIR` then runs those batches on a copy of that database, in the writer's grouping
and as the store runs them (the commands that combine as one: `state.commands.in_batch`), and
prints the writer's CPU per chat message (and with `--by-command`, per command type) beside
the same batches run one command after another. Replays are repeatable, so they compare
changes to the store's code on the same work.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import apsw  # noqa: E402
import trio  # noqa: E402

import state.database  # noqa: E402
from actors.replay.actor import SAVE_EVERY_LINES, SAVE_EVERY_SECONDS  # noqa: E402
from actors.store import Read, StateStore, StoreStatistics, Write  # noqa: E402
from state import BatchOutcome, Combined, open_database  # noqa: E402
from state.commands import (  # noqa: E402
    AppendSignals,
    ChangeTally,
    Command,
    GrantPoints,
    MarkSeen,
    OpenPoll,
    PointsGrant,
    RecordVote,
    SaveReplayPosition,
    SetCooldowns,
    SignalRow,
    in_batch,
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
            found = {r.path: r.detail for r in root.tree()}["root/store"]
            assert isinstance(found, StoreStatistics)
            return float(found.commits), float(found.writes)

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
    seen = "INSERT INTO seen_journal (scope, platform, message_id, seen_at) VALUES (?, ?, ?, ?)"
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


CAPTURED_DATABASE = "start.sqlite3"
CAPTURED_BATCHES = "batches.pickle"


def capture(folder: Path, creators: int, warmup: float, seconds: float) -> None:
    """Run the runtime at `creators` (as `benchmarks/scale.py` configures it) in this process;
    after `warmup` seconds back its database up and record the commands of every batch the
    store writes for `seconds` (plain functions, which cannot be recorded, are counted)."""
    import tomli_w

    from benchmarks.scale import config_document
    from runtime.app import boot, serve
    from runtime.cli import load_config

    folder.mkdir(parents=True, exist_ok=True)
    batches: list[list[Command]] = []
    skipped = [0]
    recording = threading.Event()
    batch = state.database.Database.batch

    def recorded(
        db: state.database.Database, fns: Iterable[Callable[[apsw.Connection], Any]]
    ) -> list[BatchOutcome]:
        fns = list(fns)
        if recording.is_set():
            if not batches:
                db.backup(folder / CAPTURED_DATABASE)
            parts = [p for fn in fns for p in (fn.parts if isinstance(fn, Combined) else (fn,))]
            ops = [getattr(fn, "__self__", None) for fn in parts]
            skipped[0] += sum(1 for op in ops if not isinstance(op, Command))
            batches.append([op for op in ops if isinstance(op, Command)])
        return batch(db, fns)

    def window() -> None:
        time.sleep(warmup)
        recording.set()
        time.sleep(seconds)
        recording.clear()
        os.kill(os.getpid(), signal.SIGTERM)

    with tempfile.TemporaryDirectory(prefix="store-capture-") as tmp:
        config_path = Path(tmp) / "runtime.toml"
        document = config_document(Path(tmp) / "data", creators, 10.0)
        config_path.write_text(tomli_w.dumps(document))
        state.database.Database.batch = recorded  # type: ignore[method-assign, assignment]
        try:
            booted = boot(load_config(config_path, overrides={}))
            threading.Thread(target=window, daemon=True).start()
            trio.run(serve, booted)
        finally:
            state.database.Database.batch = batch  # type: ignore[method-assign]
    with open(folder / CAPTURED_BATCHES, "wb") as out:
        pickle.dump(batches, out)
    ops = sum(map(len, batches))
    print(f"captured {len(batches)} batches, {ops} commands ({skipped[0]} functions skipped)")


def replay_once(
    folder: Path, batches: list[list[Command]], *, one_by_one: bool, by_command: bool
) -> tuple[float, dict[str, float], collections.Counter[str]]:
    """Run `batches` on a copy of the captured database as the store runs them (the commands
    that combine as one, `state.commands.in_batch`), or `one_by_one`: the writer thread's CPU
    seconds (and, `by_command`, each command type's, with the number of its commands; a
    combined run counts as "*" and the type of its first command)."""
    cpu: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()

    def timed(name: str, n: int, run: Callable[[apsw.Connection], Any]) -> Any:
        def run_timed(conn: apsw.Connection) -> Any:
            start = time.thread_time()
            try:
                return run(conn)
            finally:
                cpu[name] += time.thread_time() - start
                count[name] += n

        return run_timed

    def item(i: Callable[[apsw.Connection], Any] | Combined) -> Any:
        if not by_command:
            return i
        if isinstance(i, Combined):
            name = "*" + type(getattr(i.parts[0], "__self__", i)).__name__
            return Combined(run=timed(name, len(i.parts), i.run), parts=i.parts)
        return timed(type(getattr(i, "__self__", i)).__name__, 1, i)

    with tempfile.TemporaryDirectory(prefix="store-replay-") as tmp:
        shutil.copy(folder / CAPTURED_DATABASE, Path(tmp) / "store.sqlite3")
        db = open_database(Path(tmp) / "store.sqlite3")
        start = time.thread_time()
        for ops in batches:
            items = [op.run for op in ops] if one_by_one else in_batch(ops)[0]
            db.batch([item(i) for i in items])
        total = time.thread_time() - start
        db.close()
    return total, cpu, count


def replay(folder: Path, repeat: int, by_command: bool) -> None:
    """Print the writer's CPU per chat message replaying a capture (best of `repeat`)."""
    with open(folder / CAPTURED_BATCHES, "rb") as f:
        batches: list[list[Command]] = pickle.load(f)
    gc.freeze()  # the loaded commands are many objects: keep the collector off them
    messages = sum(
        1
        for ops in batches
        for op in ops
        if isinstance(op, AppendSignals)
        for row in op.rows
        if row.kind == "chat"
    )
    best: dict[bool, float] = {}
    cpu: dict[bool, dict[str, float]] = {False: {}, True: {}}
    count: dict[bool, collections.Counter[str]] = {}
    for _ in range(repeat):
        for one_by_one in (False, True):
            # Both timed alike (timing each command adds to the total).
            total, per, counted = replay_once(
                folder, batches, one_by_one=one_by_one, by_command=by_command
            )
            best[one_by_one] = min(best.get(one_by_one, total), total)
            cpu[one_by_one] = {k: min(cpu[one_by_one].get(k, v), v) for k, v in per.items()}
            count[one_by_one] = counted
    ops = sum(map(len, batches))
    print(
        f"{len(batches)} captured batches, {ops} commands, {messages} chat messages "
        f"(best of {repeat}); load average {os.getloadavg()[0]:.2f}"
    )
    ours, peer = best[False], best[True]
    print(f"{'measure':34} {'ours':>10} {'one by one':>14} {'ratio':>7}")
    print(
        f"{'store writer thread CPU / message':34} {ours / messages * 1e6:>7.1f} us "
        f"{peer / messages * 1e6:>11.1f} us {ours / peer:>6.2f}x"
    )
    if by_command:
        for one_by_one in (False, True):
            print(f"per command type, {'one by one' if one_by_one else 'ours'}:")
            for name, seconds in sorted(cpu[one_by_one].items(), key=lambda kv: -kv[1]):
                n = count[one_by_one][name]
                print(f"  {name:20} {seconds:7.3f} s {n:8d} x {seconds / n * 1e6:6.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.1, help="messages/s per creator")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--capture", type=Path, help="record real batches into this folder")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds before --capture")
    parser.add_argument("--replay", type=Path, help="replay the batches captured in this folder")
    parser.add_argument("--repeat", type=int, default=5, help="replays (the best counts)")
    parser.add_argument("--by-command", action="store_true", help="replay: CPU per command")
    args = parser.parse_args()
    if args.capture is not None:
        capture(args.capture, args.creators, args.warmup, args.seconds)
        return
    if args.replay is not None:
        replay(args.replay, args.repeat, args.by_command)
        return
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
