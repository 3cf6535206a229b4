"""The `Actor` base class and the loop that serves one instance."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import outcome
import structlog
import trio

from actors._errors import ActorFailed, ReplyError, describe
from actors._mailbox import IDLE, NOT_TAKEN, STOP, Call, InlineFailure, Mailbox

if TYPE_CHECKING:
    from actors._ref import ActorRef
    from actors._tree import Detail
    from actors.connection import ConnectionHealth


class PathLogger:
    """`log` of an actor or supervisor: a logger bound to its `path`, made on first use (most
    instances never log, and a bound logger is about a kilobyte each). Assigning `log`, or
    deleting it after the path changed, works as for a plain attribute."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        log = instance.__dict__["log"] = bind_logger(instance.path)  # type: ignore[attr-defined]
        return log


class Actor:
    """Subclass and implement `handle`; a supervisor runs it from a `ChildSpec` factory.

    Each instance gets `self.nursery` (lives exactly as long as the instance), `self.path`,
    `self.ref` (a ref to its own path) and `self.log` (a logger bound to the path) before
    `on_start` runs.
    """

    # What the supervisor gives each instance lives in slots, not in the instance's dict: an
    # attribute first set after `__init__` costs every instance a dict of its own (CPython's
    # shared-key dicts), about a kilobyte per actor.
    __slots__ = ("__dict__", "__weakref__", "nursery", "path", "ref")

    mailbox_size: ClassVar[int] = 1000
    #: Most messages given to one `handle_batch` call (for actors that define it).
    max_batch: ClassVar[int] = 64
    #: A batching actor (`handle_batch`) asked to stop first handles every message already
    #: queued, and those arriving meanwhile, within its grace period (the store: what was
    #: queued for commit is committed, not dropped). A stop cut off by the grace period or
    #: the shutdown deadline still ends it; what is left then becomes dead letters.
    drain_on_stop: ClassVar[bool] = False

    nursery: trio.Nursery
    path: str
    ref: ActorRef
    log: Any = PathLogger()

    async def handle(self, message: Any) -> Any:
        """Handle one message; the return value is the reply to a `call`."""
        raise TypeError(f"{type(self).__name__} takes no messages (got {type(message).__name__})")

    #: Optional: `async def handle_batch(self, messages: list) -> list` handles every message
    #: already waiting (up to `max_batch`) at once and returns one reply per message, in
    #: order. An actor that can amortise work across messages (one transaction for many
    #: writes) defines it; raising is a crash and fails every call of the batch.
    handle_batch: Any = None

    #: Optional: `def handle_nowait(self, message) -> bool` takes a cast synchronously, in
    #: the sender's step, when the instance is idle (its mailbox loop waits for a message, so
    #: nothing is queued ahead and order is kept): for casts whose handling is plain
    #: bookkeeping (recording a reply), which then cost no task wake-up. It returns False to
    #: have the message queued for `handle` as usual. An exception crashes the instance as
    #: `handle` raising would (the message is the one being handled), never the sender's
    #: step. Calls go through `call_nowait`, or `handle`.
    handle_nowait: Any = None

    #: Optional: `def call_nowait(self, message) -> Any` answers a call synchronously, in the
    #: caller's step, when the instance is idle (as `handle_nowait` for casts): its return
    #: value is the reply (a `ReplyError` refuses it), and the caller's wait costs no task
    #: wake-up of this actor. It returns `QUEUE` to have the call queued for `handle` as
    #: usual. Any other exception crashes the instance as `handle` raising would (the call
    #: is the message being handled, its caller fails), never the caller's step; so it must
    #: not leave anything half-applied when it raises.
    call_nowait: Any = None

    async def on_start(self) -> None:
        """Runs before the instance counts as started; raising is a crash."""

    async def on_stop(self) -> None:
        """Runs whenever the instance stops, within the child's grace period."""

    async def run(self) -> None:
        """Override to own a connection: runs beside the mailbox loop once `on_start` returned.

        Returning normally is a normal exit of the instance; raising is a crash.
        """

    def snapshot(self) -> Detail:
        """What the actor shows of itself in the tree (`Supervisor.tree`, read by the exports
        and the control API): a frozen `ActorStatistics` of its own (override to show one),
        or None."""
        return None

    def health(self) -> ConnectionHealth | None:
        """The connection health of an actor that talks to the network (`None` for others):
        a frozen `actors.connection.ConnectionHealth`, read by /status, the exports and the
        telemetry. Override it in network actors (usually `self.lifecycle.health(...)`)."""
        return None


class InstanceStats:
    """What the mailbox loop updates per message; owned by the child slot."""

    __slots__ = ("current", "handled", "refused")

    def __init__(self) -> None:
        self.handled = 0
        self.refused = 0
        self.current: object | None = None


async def serve_actor(
    actor: Actor, mailbox: Mailbox, stats: InstanceStats, started: Callable[[], None]
) -> None:
    """Run one instance: `on_start`, then `run` beside the mailbox loop, until stopped.

    Returns normally on an orderly stop or when `run` returns; raises when the instance
    crashes. The message being handled at that moment stays in `stats.current` for the
    caller to dead-letter.
    """
    async with trio.open_nursery() as nursery:
        actor.nursery = nursery
        await actor.on_start()
        started()
        runs = type(actor).run is not Actor.run
        if actor.handle_batch is None and (
            actor.handle_nowait is not None or actor.call_nowait is not None
        ):
            answer = None if actor.call_nowait is None else _inline_answer(actor.call_nowait, stats)
            mailbox.inline = _inline_handler(actor.handle_nowait, answer, stats)
            mailbox.answer = answer
            try:
                if runs:
                    await _OnDemand(actor, mailbox, stats).run()
                else:
                    await _mailbox_loop(actor, mailbox, stats)
            finally:
                mailbox.inline = mailbox.answer = None  # the mailbox outlives this instance
                _fail_left_inline_failures(actor, mailbox)
        else:
            if runs:
                nursery.start_soon(_run_then_stop, actor, mailbox)
            if actor.handle_batch is not None:
                await _batch_loop(actor, mailbox, stats)
            else:
                await _mailbox_loop(actor, mailbox, stats)
        # The instance stops: background tasks end with it.
        nursery.cancel_scope.cancel()


class _OnDemand:
    """An instance with `run` whose messages are nearly all taken inline (`handle_nowait`,
    `call_nowait`): `run` goes on in the instance's own task, and a task to handle messages
    runs only while some are queued (`Mailbox.serve_on_demand`), instead of a mailbox loop
    waiting beside `run` for the whole life of the instance (a task, about 3 KiB, per actor).
    A stop requested ends `run` (cancelled) once the queued message being handled is done,
    as the loop's stop would; `run` returning stops the instance."""

    __slots__ = ("_actor", "_done", "_mailbox", "_receivers", "_stats")

    def __init__(self, actor: Actor, mailbox: Mailbox, stats: InstanceStats) -> None:
        self._actor, self._mailbox, self._stats = actor, mailbox, stats
        self._receivers = 0  # handling tasks running (at most one: started while none runs)
        self._done: trio.Event | None = None  # made when the stop waits for them

    async def run(self) -> None:
        mailbox = self._mailbox
        try:
            mailbox.serve_on_demand(self._start_receiver)
            await self._actor.run()
            # `run` returned (the instance exits): the message being handled (if any) is
            # finished first, nothing else is taken.
            mailbox.stop_serving_on_demand()
            mailbox.request_stop()
            if self._receivers:
                self._done = trio.Event()
                await self._done.wait()
        finally:
            mailbox.stop_serving_on_demand()

    def _start_receiver(self) -> None:
        self._receivers += 1
        self._actor.nursery.start_soon(self._receive)

    async def _receive(self) -> None:
        try:
            if await _mailbox_loop(self._actor, self._mailbox, self._stats) is STOP:
                # A stop (the message being handled is done): `run` and the background
                # tasks end with the instance, as after the mailbox loop's stop.
                self._actor.nursery.cancel_scope.cancel()
        finally:
            self._receivers -= 1
            if not self._receivers and self._done is not None:
                self._done.set()


def _fail_left_inline_failures(actor: Actor, mailbox: Mailbox) -> None:
    """Fail the calls whose inline handling raised in this instance while it stopped before
    its loop took them: their callers get `ActorFailed` (the error chained), logged."""
    for failure in mailbox.take_inline_failures():
        error = failure.error
        actor.log.error("call failed as the actor stopped", error=describe(error))
        failed = ActorFailed(mailbox.path, f"its handling failed: {describe(error)}")
        failed.__cause__ = error
        failure.call.resolve(outcome.Error(failed))


async def _run_then_stop(actor: Actor, mailbox: Mailbox) -> None:
    await actor.run()
    mailbox.request_stop()


class _Queue:
    """`QUEUE`: what `Actor.call_nowait` returns to have a call queued for `handle`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "QUEUE"


QUEUE: Any = _Queue()


def _inline_handler(
    handle_nowait: Callable[[object], bool] | None,
    answer: Callable[[object], object] | None,
    stats: InstanceStats,
) -> Callable[[object], object]:
    """What the mailbox calls for a message while the instance is idle: `answer` (see
    `_inline_answer`) for a call, resolved at once with its reply, `handle_nowait` for a cast;
    counted as handled when taken (None returned), else what to queue: the message
    (declined), or an `InlineFailure` (either raised: the loop raises it, a crash as in
    `handle`)."""

    def inline(message: object) -> object:
        if type(message) is Call:
            if answer is None:
                return message
            try:
                reply = answer(message.message)
            except Exception as refused:  # `answer` raises only what the actor refused with
                message.resolve(outcome.Error(refused))
                return None
            if reply is NOT_TAKEN:
                return message
            if type(reply) is InlineFailure:
                return InlineFailure(message, reply.error)
            message.reply(reply)
            return None
        if handle_nowait is None:
            return message
        try:
            taken = handle_nowait(message)
        except Exception as exc:
            # The crash `handle` raising would be, in the loop, with the message as the one
            # being handled (never the sender's): as for a call whose `call_nowait` raised.
            return InlineFailure(Call(message), exc)
        if taken:
            stats.handled += 1
            return None
        return message

    return inline


def _inline_answer(
    call_nowait: Callable[[object], Any], stats: InstanceStats
) -> Callable[[object], object]:
    """What `Mailbox.answer_now` calls for a call's message while the instance is idle: as
    `_inline_handler` does for a `Call`, without one: the reply (counted as handled),
    `NOT_TAKEN` when `call_nowait` declines, an `InlineFailure` (with a `Call` made for it)
    when it raises; a refusal raises its error for the caller."""

    def answer(message: object) -> object:
        try:
            reply = call_nowait(message)
        except ReplyError as refused:
            stats.refused += 1
            stats.handled += 1
            error = refused.error
        except Exception as exc:
            return InlineFailure(Call(message), exc)
        else:
            if reply is QUEUE:
                return NOT_TAKEN
            stats.handled += 1
            return reply
        # Outside the handler (no context added), from here only (a shared error object
        # keeps no growing traceback).
        raise error.with_traceback(None)

    return answer


async def _mailbox_loop(actor: Actor, mailbox: Mailbox, stats: InstanceStats) -> object:
    """Handle messages until `get` says `STOP` (or `IDLE`: served on demand, nothing is
    queued); returns which."""
    handle = actor.handle
    get = mailbox.get
    while True:
        item = await get()
        if item is STOP or item is IDLE:
            return item
        stats.current = item
        try:
            if type(item) is Call:
                result = await handle(item.message)
                stats.current = None
                item.reply(result)
            elif type(item) is InlineFailure:
                # A call whose `call_nowait` raised: the crash it would have been in `handle`.
                stats.current = item.call
                raise item.error
            else:
                await handle(item)
                stats.current = None
        except ReplyError as refused:
            stats.current = None
            stats.refused += 1
            if type(item) is Call:
                item.resolve(outcome.Error(refused.error))
            else:
                actor.log.warning("message refused", error=describe(refused.error))
        stats.handled += 1


async def _batch_loop(actor: Actor, mailbox: Mailbox, stats: InstanceStats) -> None:
    limit = max(1, actor.max_batch)
    take = mailbox.take_nowait
    draining = False
    while True:
        if not draining:
            item = await mailbox.get()
            if item is STOP:
                if not actor.drain_on_stop:
                    return
                draining = True  # stopping: what is queued, then stop
                take = mailbox.take_left
                continue
        else:
            await trio.lowlevel.checkpoint()  # a cut-off stop (cancelled) ends the drain
            item = mailbox.take_left()
            if item is None:
                return
        batch = [item]
        while len(batch) < limit:
            more = take()
            if more is None:
                break
            batch.append(more)
        stats.current = batch
        replies = await actor.handle_batch([m.message if type(m) is Call else m for m in batch])
        stats.current = None
        for message, reply in zip(batch, replies, strict=True):
            # A batch answers one message with an error by putting a ReplyError in its place.
            if type(message) is Call:
                if isinstance(reply, ReplyError):
                    message.resolve(outcome.Error(reply.error))
                else:
                    message.reply(reply)
        stats.handled += len(batch)


def bind_logger(path: str) -> Any:
    """A structlog logger bound to an actor path."""
    return structlog.get_logger("actors").bind(path=path)
