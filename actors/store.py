"""`StateStore`: the only writer of the SQLite database.

Other actors ask it by message: a `Write` carries typed commands (`state.commands`: the
store knows the SQL, the sender only what should change). A `Write`'s operations share one
transaction, and writes that
queue up while a commit is in progress share the next one (group commit: one fsync for
many). Blocking SQLite work runs in a worker thread the store owns, one at a time, so the
event loop never waits on the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import apsw
import attrs
import trio

from actors import Actor, ActorFailed, ActorRef, MailboxFull, ReplyError
from state import Database, StoreError, open_database
from state.commands import Command, Query

#: One operation of a `Write`: a typed command, or (for actors not yet moved to commands) a
#: function of the connection.
Operation = Command | Callable[[apsw.Connection], Any]


@attrs.frozen(kw_only=True)
class Write:
    """Run each of `ops` (a `Command`, or a function of the connection) in ONE transaction;
    the reply is their results, in order.

    An operation that raises has only its own changes rolled back; the reply then holds its
    exception (see `WriteResult`). `topic` names what changed (e.g. "polls") for the
    publisher.
    """

    ops: tuple[Operation, ...] = attrs.field(converter=tuple)
    topic: str = "state"


@attrs.frozen(kw_only=True)
class Read:
    """Run `fn(conn)` (or a typed `Query`) on the writer's connection (sees every committed
    write); reply its result."""

    fn: Query | Callable[[apsw.Connection], Any]


def _runnable(op: Operation | Query) -> Callable[[apsw.Connection], Any]:
    return op.run if isinstance(op, Command | Query) else op


@attrs.frozen(kw_only=True)
class WriteResult:
    """Outcome of one operation of a `Write`."""

    value: Any = None
    error: BaseException | None = None

    def unwrap(self) -> Any:
        """The value, or raise the operation's exception."""
        if self.error is not None:
            raise self.error
        return self.value


@attrs.frozen(kw_only=True)
class Changed:
    """Told to subscribers after a committed write."""

    topic: str


class StateStore(Actor):
    """Owns the database; `Write` and `Read` messages run in its worker thread."""

    mailbox_size = 10_000

    def __init__(self, path: Path, *, subscribers: Sequence[Callable[[], ActorRef]] = ()) -> None:
        self._path = path
        self._subscribers = subscribers
        self._db: Database | None = None
        self._limiter = trio.CapacityLimiter(1)
        self.writes = 0
        self.commits = 0
        self.failed_ops = 0

    async def on_start(self) -> None:
        self._db = await trio.to_thread.run_sync(
            lambda: open_database(str(self._path)), limiter=self._limiter
        )

    async def on_stop(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(db.close, limiter=self._limiter)

    async def handle_batch(self, messages: list[Any]) -> list[Any]:
        """Every queued message at once: consecutive `Write`s share ONE transaction (one
        commit, one fsync: group commit), each operation still isolated by its savepoint."""
        replies: list[Any] = []
        i = 0
        while i < len(messages):
            if not isinstance(messages[i], Write):
                try:
                    replies.append(await self.handle(messages[i]))
                except ReplyError as refused:
                    replies.append(refused)
                i += 1
                continue
            j = i
            while j < len(messages) and isinstance(messages[j], Write):
                j += 1
            replies.extend(await self._write_group(messages[i:j]))
            i = j
        return replies

    async def _write_group(self, writes: list[Write]) -> list[list[WriteResult]]:
        assert self._db is not None
        ops = [_runnable(op) for w in writes for op in w.ops]
        outcomes = await trio.to_thread.run_sync(self._db.batch, ops, limiter=self._limiter)
        self.writes += len(writes)
        self.commits += 1
        results = [WriteResult(value=o.value, error=o.error) for o in outcomes]
        self.failed_ops += sum(1 for r in results if r.error is not None)
        replies, at = [], 0
        for w in writes:
            replies.append(results[at : at + len(w.ops)])
            at += len(w.ops)
        for topic in dict.fromkeys(w.topic for w in writes):
            self._notify(topic)
        return replies

    async def handle(self, message: Any) -> Any:
        assert self._db is not None
        if isinstance(message, Write):
            outcomes = await trio.to_thread.run_sync(
                self._db.batch, [_runnable(op) for op in message.ops], limiter=self._limiter
            )
            self.writes += 1
            self.commits += 1
            results = [WriteResult(value=o.value, error=o.error) for o in outcomes]
            self.failed_ops += sum(1 for r in results if r.error is not None)
            self._notify(message.topic)
            return results
        if isinstance(message, Read):
            try:
                return await trio.to_thread.run_sync(
                    _runnable(message.fn), self._db.connection, limiter=self._limiter
                )
            except (apsw.Error, StoreError, ValueError, LookupError, TypeError) as exc:
                # A failing read is the caller's problem: it gets the exception, the only
                # writer stays up (a crash here would restart it, and the root may give up).
                raise ReplyError(exc) from exc
        raise TypeError(f"StateStore takes Write or Read, got {type(message).__name__}")

    def _notify(self, topic: str) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber().cast(Changed(topic=topic))
            except (MailboxFull, KeyError, ActorFailed, TypeError):
                # A full mailbox already holds a pending Changed; a subscriber that is gone
                # or misnamed must never make the only writer crash.
                pass

    def snapshot(self) -> dict[str, Any]:
        stats = self._db.statistics() if self._db is not None else None
        return {
            "writes": self.writes,
            "commits": self.commits,
            "failed_ops": self.failed_ops,
            "file_size": getattr(stats, "file_size", None),
        }


async def write(store: ActorRef, *ops: Operation, topic: str) -> list[Any]:
    """Send one `Write` and return the operations' values, raising the first failure."""
    results = await store.call(Write(ops=ops, topic=topic), timeout=30.0)
    return [r.unwrap() for r in results]
