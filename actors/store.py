"""`StateStore`: the only writer of the SQLite database.

Other actors ask it by message: a `Write` carries typed commands (`state.commands`: the
store knows the SQL, the sender only what should change). A `Write`'s operations share one
transaction, and writes that queue up while a commit is in progress (or, when writers are many,
within `COMMIT_INTERVAL` of the last one) share the next one (group commit: one fsync for
many). Blocking SQLite work runs in the store's own writer thread, one call at a time, so the
event loop never waits on the disk and the writing connection is used by that thread only:
the figures of `snapshot` are the ones that thread kept after its last commit.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import apsw
import attrs
import outcome
import trio

from actors import Actor, ActorFailed, ActorRef, ActorStatistics, MailboxFull, ReplyError
from state import BatchOutcome, Database, Statistics, StoreError, open_database, seen
from state.commands import Command, Operation, Query, in_batch
from state.errors import REFUSALS

T = TypeVar("T")


def _operations(ops: Iterable[Operation]) -> tuple[Operation, ...]:
    # Not `tuple[Operation, ...]` as the converter: calling the alias cost a few µs per write.
    return ops if type(ops) is tuple else tuple(ops)


@attrs.frozen(kw_only=True)
class Write:
    """Run each of `ops` (a `Command`, or a function of the connection) in ONE transaction;
    the reply is their results, in order.

    An operation that raises has only its own changes rolled back; the reply then holds its
    exception (see `WriteResult`). `topic` names what changed (e.g. "polls") for the
    publisher.
    """

    ops: tuple[Operation, ...] = attrs.field(converter=_operations)
    topic: str = "state"


@attrs.frozen(kw_only=True)
class Read:
    """Run `fn(conn)` (or a typed `Query`) on the writer's connection (sees every committed
    write); reply its result."""

    fn: Query | Callable[[apsw.Connection], Any]


#: Shortest time between the starts of two write transactions (seconds). A commit writes the
#: changed pages to the WAL and syncs it; under load a commit per few writes costs more CPU and
#: disk than the writes, while waiting this long adds at most as much to a write's reply.
COMMIT_INTERVAL = 0.05

_TYPED = (Command, Query)

#: What a failing read raises that goes back to its caller (anything else is a crash).
_REFUSED_READS = (apsw.Error, StoreError, ValueError, LookupError, TypeError)


def _runnable(op: Operation | Query) -> Callable[[apsw.Connection], Any]:
    return op.run if isinstance(op, _TYPED) else op


#: Outcome of one operation of a `Write`: its `value`, or its `error` (`unwrap` returns the
#: one or raises the other). The writer thread's own result, handed over as it is.
WriteResult = BatchOutcome


@attrs.frozen(kw_only=True)
class Changed:
    """Told to subscribers after a committed write: its `topic`, and the creators whose state
    it changed (`None`: unknown, or not a creator's state), so a file made per creator is
    rebuilt for those creators only."""

    topic: str
    creators: frozenset[str] | None = None


def _creators_of(ops: Iterable[Operation]) -> frozenset[str] | None:
    """The creators typed commands name (`creator_id`), or None when an operation names none
    (a plain function, or a command that is not a creator's)."""
    found: set[str] = set()
    return frozenset(found) if _add_creators(ops, found) else None


def _add_creators(ops: Iterable[Operation], found: set[str]) -> bool:
    """Add the creators typed commands name (`creator_id`) to `found`; False as soon as an
    operation names none (a plain function, or a command that is not a creator's)."""
    for op in ops:
        if not getattr(op, "touches_exports", True):
            continue
        creator = getattr(op, "creator_id", None)
        if not isinstance(creator, str):
            return False
        found.add(creator)
    return True


#: A topic not met yet in a group of writes (`StateStore._wrote`).
_NONE_YET: Any = object()


def _reads_first(messages: list[Any]) -> list[int]:
    """The indexes of the `Read`s of `messages` that may be answered before every write among
    them: typed queries (`Query.state_keys`) of state that no write queued before them may
    change (`Command.state_keys`), as long as nothing unknown (a plain function) came first.

    Why: under a flood of writes (more creators than the process can serve), a restarted
    actor's start read would otherwise be answered after the writes queued before it, and
    time out (then crash, restart, and read again). Reads of the same creator as a queued
    write keep their place, so a read still sees every write its creator queued before it."""
    first_write = next((i for i, m in enumerate(messages) if isinstance(m, Write)), None)
    if first_write is None or not any(
        isinstance(m, Read) and isinstance(m.fn, Query) for m in messages[first_write + 1 :]
    ):
        return []
    changed: set[str] = set()
    early: list[int] = []
    for i, message in enumerate(messages):
        if isinstance(message, Write):
            for op in message.ops:
                keys = op.state_keys() if isinstance(op, Command) else None
                if keys is None:
                    return early
                changed.update(keys)
            continue
        keys = message.fn.state_keys() if isinstance(message.fn, Query) else None
        if keys is None:
            return early  # a plain function may read (or do) anything: the rest keep order
        if i > first_write and changed.isdisjoint(keys):
            early.append(i)
    return early


class WriterThread:
    """One OS thread that runs the calls given to `run`, one at a time, in order.

    Whatever an object used only through it touches (the writing connection) is used by this
    thread alone, which is what SQLite connections and apsw's threading checks want.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn()` on the thread and return its result (or raise its exception).

        Like `trio.to_thread.run_sync`, a cancelled caller still waits for `fn` to return:
        the call cannot be abandoned halfway (a transaction either commits or rolls back).
        """
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        result: list[outcome.Outcome[T]] = []

        def job() -> None:
            result.append(outcome.capture(fn))
            try:
                token.run_sync_soon(done.set)
            except trio.RunFinishedError:
                pass  # nobody is waiting any more

        self._jobs.put(job)
        with trio.CancelScope(shield=True):
            await done.wait()
        return result[0].unwrap()

    def close(self) -> None:
        """Let the thread end once the calls already given to it are done."""
        self._jobs.put(None)


@attrs.frozen(kw_only=True, slots=True)
class StoreStatistics(ActorStatistics):
    """What the store shows in the tree (`StateStore.snapshot`): writes and commits made,
    operations that failed, and the database file's size after the last commit (None: not
    open yet)."""

    writes: int
    commits: int
    #: Operations that raised anything but a refusal (rolled back alone): a fault to look at.
    failed_ops: int
    #: Operations the state refused (`state.errors.REFUSALS`: no open poll, too few points),
    #: each answered to its command: not a fault.
    refused_ops: int = 0
    file_size: int | None


class StateStore(Actor):
    """Owns the database; `Write` and `Read` messages run in its writer thread."""

    mailbox_size = 10_000
    #: Every message waiting when the writer is free is taken at once (one call to the writer
    #: thread, one transaction for the writes): under load, one commit (WAL pages written
    #: once, one fsync) for many writes, and a read queued behind a flood of writes is
    #: answered after one batch, not after as many as the flood fills (each waiting for the
    #: busy event loop to run the store again).
    max_batch = mailbox_size
    #: A stop commits every write queued before it (and during it) first: each was queued
    #: for commit, some by a producer whose own stop already ended (cut off).
    drain_on_stop = True

    def __init__(
        self,
        path: Path,
        *,
        subscribers: Sequence[Callable[[], ActorRef]] = (),
        commit_interval: float = COMMIT_INTERVAL,
    ) -> None:
        self._path = path
        self._subscribers = subscribers
        self._commit_interval = commit_interval
        self._next_commit = -math.inf
        self._last_group = 0  # writes in the last transaction
        self._db: Database | None = None
        self._thread: WriterThread | None = None
        # Taken by the writer thread after each commit; `snapshot` reads only this.
        self._statistics: Statistics | None = None
        self.writes = 0
        self.commits = 0
        self.failed_ops = 0
        self.refused_ops = 0

    async def on_start(self) -> None:
        self._thread = WriterThread(f"store-writer:{self._path}")

        def open_() -> tuple[Database, Statistics]:
            db = open_database(str(self._path))
            # The seen ids journaled before the last stop go to their scopes' ranges now, so
            # the start reads of every creator's recent ids scan no journal.
            with db.transaction() as conn:
                seen.fold_seen(conn)
            return db, db.statistics()

        self._db, self._statistics = await self._thread.run(open_)

    async def on_stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        db, self._db = self._db, None
        if db is not None:
            with trio.CancelScope(shield=True):
                await thread.run(db.close)
        thread.close()

    async def handle_batch(self, messages: list[Any]) -> list[Any]:
        """Every queued message at once, in ONE call to the writer thread: the reads that
        depend on none of the writes queued before them first (`_reads_first`), then the rest
        in order, consecutive `Write`s sharing ONE transaction (one commit, one fsync: group
        commit), a failing operation still undone alone."""
        writes = 0
        for message in messages:
            if isinstance(message, Write):
                writes += 1
            elif not isinstance(message, Read):
                raise TypeError(f"StateStore takes Write or Read, got {type(message).__name__}")
        if writes and self._last_group > 1:
            # Writers that share commits are many: at most one commit per interval, what
            # arrives meanwhile waits in the mailbox and shares the next one (under load, one
            # commit for many writes, not one per few). A lone writer never waits.
            if trio.current_time() < self._next_commit:
                await trio.sleep_until(self._next_commit)
        if writes:
            self._next_commit = trio.current_time() + self._commit_interval
            self._last_group = writes
        early = _reads_first(messages)
        # Each step: a read's index, or the indexes of consecutive writes (one transaction).
        steps: list[int | list[int]] = list(early)
        ahead = set(early)
        group: list[int] = []
        for i, message in enumerate(messages):
            if isinstance(message, Write):
                group.append(i)
            elif i not in ahead:
                if group:
                    steps.append(group)
                    group = []
                steps.append(i)
        if group:
            steps.append(group)
        replies: list[Any] = [None] * len(messages)
        done, failure = await self._run_steps(messages, steps, replies)
        for group in done:
            self._wrote([messages[i] for i in group], [replies[i] for i in group])
        if failure is not None:
            try:
                raise failure
            finally:
                del failure
        return replies

    async def _run_steps(
        self, messages: list[Any], steps: list[int | list[int]], replies: list[Any]
    ) -> tuple[list[list[int]], BaseException | None]:
        """Run `steps` on the writer thread, putting each message's reply in `replies`; return
        the groups of writes committed, and what stopped the steps early (a crash), if any."""
        db, thread = self._db, self._thread
        assert db is not None and thread is not None

        def run() -> tuple[list[list[int]], BaseException | None]:
            done: list[list[int]] = []
            try:
                for step in steps:
                    if isinstance(step, int):
                        fn = _runnable(messages[step].fn)
                        try:
                            replies[step] = fn(db.connection)
                        except _REFUSED_READS as exc:
                            # A failing read is the caller's problem: it gets the exception,
                            # the only writer stays up (a crash here would restart it, and the
                            # root may give up).
                            replies[step] = ReplyError(exc)
                        continue
                    writes = [messages[i] for i in step]
                    # The operations of a kind that combine run as one (`in_batch`).
                    items, order = in_batch([op for w in writes for op in w.ops])
                    results = db.batch(items)
                    if order is not None:
                        in_order: list[WriteResult] = [results[0]] * len(order)
                        for at, result in zip(order, results, strict=True):
                            in_order[at] = result
                        results = in_order
                    at = 0
                    for i, w in zip(step, writes, strict=True):
                        replies[i] = results[at : at + len(w.ops)]
                        at += len(w.ops)
                    done.append(step)
            except BaseException as exc:  # handed to the trio side, which raises it
                return done, exc
            finally:
                self._statistics = db.statistics()
            return done, None

        return await thread.run(run)

    def _wrote(self, writes: list[Write], results: list[list[WriteResult]]) -> None:
        """Count a committed group of writes and tell subscribers what it changed."""
        self.writes += len(writes)
        self.commits += 1
        for result in itertools.chain.from_iterable(results):
            error = result.error
            if error is None:
                continue
            if isinstance(error, REFUSALS):
                self.refused_ops += 1
            else:
                self.failed_ops += 1
        # The creators each topic's writes changed: one set per topic, filled in place, and
        # a topic already unknown (None) looks at no more operations.
        topics: dict[str, set[str] | None] = {}
        for w in writes:
            topic = w.topic
            found = topics.get(topic, _NONE_YET)
            if found is None:
                continue
            if found is _NONE_YET:
                found = topics[topic] = set()
            if not _add_creators(w.ops, found):
                topics[topic] = None
        for topic, creators in topics.items():
            self._notify(topic, None if creators is None else frozenset(creators))

    async def handle(self, message: Any) -> Any:
        (reply,) = await self.handle_batch([message])
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def _notify(self, topic: str, creators: frozenset[str] | None = None) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber().cast(Changed(topic=topic, creators=creators))
            except (MailboxFull, KeyError, ActorFailed, TypeError):
                # A full mailbox already holds a pending Changed; a subscriber that is gone
                # or misnamed must never make the only writer crash.
                pass

    def snapshot(self) -> StoreStatistics:
        # Never the connection itself: it belongs to the writer thread, which may be inside
        # a batch right now (a query from here would fail or stall the event loop).
        stats = self._statistics
        return StoreStatistics(
            writes=self.writes,
            commits=self.commits,
            failed_ops=self.failed_ops,
            refused_ops=self.refused_ops,
            file_size=None if stats is None else stats.file_size,
        )


async def write(store: ActorRef, *ops: Operation, topic: str) -> list[Any]:
    """Send one `Write` and return the operations' values, raising the first failure."""
    results = await store.call(Write(ops=ops, topic=topic), timeout=30.0)
    for result in results:
        if result.error is not None:
            error = result.error
            # The raise puts this frame in the error's traceback: while the frame held the
            # outcomes (or the error) that would be a cycle, kept until the oldest GC pass.
            del results, result
            try:
                raise error
            finally:
                del error
    return [r.value for r in results]
