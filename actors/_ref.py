"""`ActorRef`: the only way to reach an actor, bound to a path rather than an instance."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import outcome
import trio

from actors._errors import ActorFailed, CallTimeout
from actors._mailbox import NOT_TAKEN, Call, InlineFailure, Mailbox
from actors._registry import Registry


class ActorRef:
    """Delivers to whichever instance lives at `path`, across restarts at any level."""

    __slots__ = ("_mailbox", "_registry", "path")

    def __init__(self, registry: Registry, path: str) -> None:
        self._registry = registry
        self.path = path
        self._mailbox: Mailbox | None = None

    def _box(self) -> Mailbox:
        box = self._mailbox
        if box is None or box.closed:
            if self._registry.kind(self.path) == "supervisor":
                raise TypeError(f"{self.path} is a supervisor; supervisors take no messages")
            try:
                box = self._registry.mailbox(self.path)
            except KeyError:
                raise ActorFailed(self.path, "no actor at this path any more") from None
            self._mailbox = box
        return box

    def cast(self, message: object) -> None:
        """Queue `message` without blocking; `MailboxFull` when the mailbox is at capacity."""
        self._box().put_nowait(message)

    async def send(self, message: object) -> None:
        """Queue `message`, waiting for room in the mailbox (backpressure)."""
        await self._box().put(message)

    async def call(self, message: object, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Send `message` and return the handler's return value.

        Raises `CallTimeout` when no reply comes within `timeout` seconds (waiting for room
        counts), `ActorFailed` when the handler raised (the exception is `__cause__`) or the
        actor stopped for good (`__cause__` is None).
        """
        box = self._box()
        timer = self._registry.timer
        if timer is not None and not timer.closed and math.isfinite(timeout):
            await trio.lowlevel.checkpoint_if_cancelled()
            if box.has_room():
                call = Call(message)
                box.put_nowait(call)
                if not call.done:  # an idle actor may have answered it already (call_nowait)
                    timer.add(call, self.path, timeout)
                return await call.wait()
        # Slow path (waiting for room, no running tree, or no timeout): a cancel scope.
        with trio.move_on_after(timeout):
            return await box.put_then_wait(Call(message))
        raise CallTimeout(self.path, timeout)

    def has_room(self, room: int = 1) -> bool:
        """Whether the mailbox takes `room` more messages now (`Mailbox.has_room`); raises
        `ActorFailed` when no actor is at this path any more."""
        return self._box().has_room(room)

    async def wait_for_room(self, room: int = 1) -> None:
        """Wait until the mailbox takes `room` more messages, or it is closed (the actor
        stopped for good): backpressure for a sender that then queues them with `request`
        or `cast`, which never wait. Raises `ActorFailed` when no actor is at this path."""
        await self._box().wait_for_room(room)

    def request(self, message: object, timeout: float = 5.0) -> PendingReply:
        """Queue a call now, without waiting, and return its `PendingReply`.

        Requests made one after another reach the actor in that order, even when their
        replies are awaited by different tasks: this is what lets a caller keep working
        while the reply is on its way. Raises `MailboxFull` when the mailbox is full.
        """
        call = Call(message)
        self._box().put_nowait(call)
        if not call.done:  # a call an idle actor answered in this step needs no deadline
            self._watch(call, timeout)
        return PendingReply(call)

    def _watch(self, call: Call, timeout: float) -> None:
        """Fail `call` with `CallTimeout` unless answered within `timeout` (the call timer)."""
        timer = self._registry.timer
        if timer is not None and not timer.closed and math.isfinite(timeout):
            timer.add(call, self.path, timeout)

    def request_now(self, message: object, timeout: float = 5.0) -> tuple[Any, PendingReply | None]:
        """`request`, answered in this step when the actor is idle and takes the call at once
        (`Actor.call_nowait`): `(reply, None)` then, with no `Call` or `PendingReply` made,
        else `(None, pending)` as `request` returns it. The message is delivered exactly once
        either way; a refusal raises here as `pending.result_nowait()` would."""
        box = self._box()
        reply = box.answer_now(message)
        if reply is NOT_TAKEN:
            call = Call(message)
            box.enqueue(call)  # declined or busy: queued for `handle` (not offered again)
        elif type(reply) is InlineFailure:
            call = reply.call
        else:
            return reply, None
        self._watch(call, timeout)
        return None, PendingReply(call)

    def __repr__(self) -> str:
        return f"ActorRef({self.path!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ActorRef)
            and other.path == self.path
            and other._registry is self._registry
        )

    def __hash__(self) -> int:
        return hash(self.path)


class PendingReply:
    """The reply to a `request`, to await later (once)."""

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    @property
    def done(self) -> bool:
        """Whether the reply (or failure) has arrived: `result` then returns it at once."""
        return self._call.done

    def notify(self, wake: Callable[[], object]) -> None:
        """Call `wake()` once the reply arrives (at once if it has), in the task that delivers
        it: for a task that waits for other things too (an `actors.Alarm`'s `wake`). It should
        only wake someone: it runs inside another actor's step."""
        if self._call.done:
            wake()
        else:
            self._call.on_resolve = wake

    def fail(self, error: Exception) -> None:
        """Deliver `error` as the reply unless one has arrived (a later reply is dropped, as
        after a timeout): for a caller that watches the deadlines of its requests itself
        (made with `timeout=math.inf`, no call timer entry each), e.g. the oldest first."""
        self._call.resolve(outcome.Error(error))

    async def result(self) -> Any:
        """The handler's return value; raises like `ActorRef.call` does."""
        return await self._call.wait()

    def result_nowait(self) -> Any:
        """`result` of a reply that is `done`, without a checkpoint (for a task that has just
        passed one and would pay a scheduling round for nothing). Raises `RuntimeError`
        before the reply came."""
        return self._call.result_nowait()
