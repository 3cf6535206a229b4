"""The bounded mailbox of one child slot, and the envelope that carries a call's reply.

A mailbox belongs to a path, not to an actor instance: it outlives crashes and restarts so
that messages sent while nobody is there wait for the next instance. It is a deque with one
receiver and parked senders: cheaper than a memory channel pair, and it lets us count depth
and peak without a statistics call per message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import outcome
import trio

from actors._errors import ActorFailed, MailboxFull


class _Stop:
    """Returned by `Mailbox.get` once the running instance was asked to stop."""

    __slots__ = ()


STOP: Any = _Stop()


class _NotTaken:
    """`NOT_TAKEN`: what `Mailbox.answer_now` returns when the call was not answered (nothing
    was delivered: the caller sends it the usual way)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_TAKEN"


NOT_TAKEN: Any = _NotTaken()


class _Idle:
    """`IDLE`: what `Mailbox.get` returns, in a mailbox served on demand (`serve_on_demand`),
    once nothing is queued: the receiving task ends instead of waiting, and the next message
    (or a stop) starts another."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "IDLE"


IDLE: Any = _Idle()

# Messages a busy receiver takes before it yields to the scheduler.
BURST = 32


#: `Call._result` of a reply delivered as a plain value (`Call.reply`), held in `_value`.
_VALUE: Any = object()


class Call:
    """A message with a caller waiting for its reply."""

    __slots__ = ("_result", "_task", "_value", "abandoned", "message", "on_resolve")

    def __init__(self, message: object) -> None:
        self.message = message
        self._task: trio.lowlevel.Task | None = None
        # The reply: an outcome, or `_VALUE` (the value is in `_value`), None before it came.
        self._result: outcome.Outcome | None = None
        self._value: Any = None
        self.abandoned = False
        #: Called (no arguments, in the resolving task) once the reply is delivered: lets a
        #: task that waits for several things be woken by this one (`PendingReply.notify`).
        self.on_resolve: Callable[[], object] | None = None

    @property
    def resolved(self) -> bool:
        """A reply (or failure) was delivered or the caller gave up."""
        return self._result is not None or self.abandoned

    @property
    def done(self) -> bool:
        """A reply (or failure) was delivered."""
        return self._result is not None

    def result_nowait(self) -> Any:
        """The delivered reply (or its error raised), without a checkpoint."""
        result = self._result
        if result is _VALUE:
            return self._value
        if result is None:
            raise RuntimeError("the reply has not arrived yet")
        return result.unwrap()

    def resolve(self, result: outcome.Outcome) -> None:
        """Deliver the reply (value or error) to the caller, if it is still waiting."""
        if self._result is None:
            self._deliver(result, None)

    def reply(self, value: object) -> None:
        """`resolve` with a value: kept as it is when no task waits for it (a reply taken
        with `result_nowait`, by a `PendingReply`, costs no outcome object per call)."""
        if self._result is None:
            self._deliver(outcome.Value(value) if self._task is not None else _VALUE, value)

    def _deliver(self, result: outcome.Outcome, value: object) -> None:
        # `_VALUE` as the result: the reply is `value` itself (no task waits for it).
        self._value = value
        self._result = result
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task, result)
        if self.on_resolve is not None:
            self.on_resolve()

    async def wait(self) -> Any:
        """Wait for `resolve`; cancellation abandons the call (a late reply is dropped)."""
        if self._result is not None:
            await trio.lowlevel.checkpoint()
            return self.result_nowait()
        self._task = trio.lowlevel.current_task()
        return await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        self.abandoned = True
        return trio.lowlevel.Abort.SUCCEEDED


class InlineFailure:
    """Queued in place of a call whose inline handling (`Actor.call_nowait`) raised: the
    mailbox loop raises `error` with the call as the message being handled, so the instance
    crashes as if `handle` had raised, and the caller fails as then (never in its own step)."""

    __slots__ = ("call", "error")

    def __init__(self, call: Call, error: Exception) -> None:
        self.call = call
        self.error = error


class Mailbox:
    """Bounded FIFO with one receiver (the current instance) and any number of senders."""

    __slots__ = (
        "_burst",
        "_queue",
        "_receiver",
        "_room_waiters",
        "_senders",
        "answer",
        "capacity",
        "closed",
        "held_back",
        "held_back_at",
        "inline",
        "path",
        "peak",
        "received",
        "refused",
        "refused_at",
        "starter",
        "stop_requested",
    )

    def __init__(self, path: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self.path = path
        self.capacity = capacity
        # Made at the first message (an empty deque holds a 64-slot block, ~770 bytes): a
        # supervisor's exits and an actor taking casts inline may never need one.
        self._queue: deque[object] | tuple[()] = ()
        # The receiving task waiting for a message; `IDLE` when served on demand and no
        # receiving task runs (`starter` starts one for the next message, or a stop).
        self._receiver: trio.lowlevel.Task | None = None
        #: Set by an instance that serves the mailbox on demand (`serve_on_demand`).
        self.starter: Callable[[], object] | None = None
        # Senders waiting for room (backpressure), made when the first one waits.
        self._senders: trio.lowlevel.ParkingLot | None = None
        # Tasks waiting for room for some messages (`wait_for_room`), made likewise.
        self._room_waiters: trio.lowlevel.ParkingLot | None = None
        self.peak = 0
        self.received = 0
        # Messages refused because the mailbox was full, and when the last one was (trio
        # clock): an actor that cannot keep up shows as overloaded while it refuses.
        self.refused = 0
        self.refused_at: float | None = None
        # Times a sender waited for room (backpressure), and when the last one began: an
        # actor its senders wait for shows as backed up meanwhile.
        self.held_back = 0
        self.held_back_at: float | None = None
        self.closed = False
        self.stop_requested = False
        self._burst = 0
        #: Set by the running instance of an actor with `handle_nowait` or `call_nowait`:
        #: given a message while the receiver is idle, it takes it now (returns None) instead
        #: of waking the receiver, or returns what to queue (the message, or an
        #: `InlineFailure` standing for it).
        self.inline: Callable[[object], object] | None = None
        #: Set beside `inline` by an actor with `call_nowait`: given a call's message while the
        #: receiver is idle, its reply (`NOT_TAKEN` when declined), or an `InlineFailure`
        #: to queue (`answer_now`). No `Call` is made for a call answered at once.
        self.answer: Callable[[object], object] | None = None

    @property
    def depth(self) -> int:
        """Messages waiting, not counting one being handled."""
        return len(self._queue)

    def put_nowait(self, item: object) -> None:
        """Queue `item` or raise `MailboxFull` / `ActorFailed` (path removed)."""
        self._make_room()
        # An idle receiver means nothing is queued: a message taken inline keeps the order.
        if self._receiver is not None and self.inline is not None:
            queued = self.inline(item)
            if queued is None:
                self.received += 1
                return
            item = queued
        self._append(item)

    def _make_room(self) -> None:
        """Raise `ActorFailed` when closed, `MailboxFull` (counted) when full."""
        if self.closed:
            raise ActorFailed(self.path, "actor stopped for good")
        if len(self._queue) >= self.capacity:
            self.refused += 1
            self.refused_at = trio.current_time()
            raise MailboxFull(self.path, self.capacity)

    def _append(self, item: object) -> None:
        """Queue `item` (room was made) and wake the receiver if it waits."""
        queue = self._queue
        if isinstance(queue, tuple):
            queue = self._queue = deque()
        queue.append(item)
        depth = len(queue)
        if depth > self.peak:
            self.peak = depth
        self._wake_receiver()

    def _wake_receiver(self) -> None:
        """Wake the receiver waiting for a message, or start one (`starter`) when served on
        demand and none runs."""
        task = self._receiver
        if task is not None:
            self._receiver = None
            if task is IDLE:
                assert self.starter is not None  # IDLE only while served on demand
                self.starter()
            else:
                trio.lowlevel.reschedule(task)

    def serve_on_demand(self, starter: Callable[[], object]) -> None:
        """Have no task wait for messages: `starter()` is called to start a receiving task
        when a message is queued (not taken inline) or a stop is requested while none runs,
        and that task's `get` returns `IDLE` (it ends) once nothing is queued. For an
        instance whose messages are nearly all taken inline: no task of its own waits for the
        rare one queued. Called by the instance as it starts (at once, for what is queued)."""
        self.starter = starter
        self._receiver = IDLE
        if self._queue or self.stop_requested:
            self._wake_receiver()

    def stop_serving_on_demand(self) -> None:
        """The instance is gone: nothing starts a receiver any more (messages wait)."""
        self.starter = None
        if self._receiver is IDLE:
            self._receiver = None

    def answer_now(self, message: object) -> Any:
        """The reply to a call of `message`, when the idle receiver answers it now (in this
        step, `Actor.call_nowait`); `NOT_TAKEN` when it does not (busy, declined, or no
        inline answers: nothing was delivered); or the `InlineFailure` queued in its place
        when answering raised (the caller then waits for its call as for any other). A
        refusal (`ReplyError`) raises its error here, as the call's reply would."""
        answer = self.answer
        if answer is None or self._receiver is None or self.closed:
            return NOT_TAKEN
        try:
            reply = answer(message)
        except Exception:
            self.received += 1  # refused: answered all the same
            raise
        if type(reply) is InlineFailure:
            self.enqueue(reply)
        elif reply is not NOT_TAKEN:
            self.received += 1
        return reply

    def enqueue(self, item: object) -> None:
        """`put_nowait` without offering `item` to the receiver inline (it declined it, or it
        stands for a failure of its own)."""
        self._make_room()
        self._append(item)

    async def put(self, item: object) -> None:
        """Queue `item`, waiting for room (backpressure). Checkpoints like any trio call."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while len(self._queue) >= self.capacity and not self.closed:
            await self._wait_for_room()
        self.put_nowait(item)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def _wait_for_room(self) -> None:
        senders = self._senders
        if senders is None:
            senders = self._senders = trio.lowlevel.ParkingLot()
        self._held_back()
        await senders.park()

    def _held_back(self) -> None:
        """A sender waits for room: counted, so an actor that keeps its senders waiting
        shows as backed up (nothing is refused, so nothing else would say so)."""
        self.held_back += 1
        self.held_back_at = trio.current_time()

    def has_room(self, room: int = 1) -> bool:
        """Whether `room` more messages would be queued now (`put_nowait` of one succeeds
        when `has_room()`); more than the capacity fits only an empty mailbox."""
        depth = len(self._queue)
        return not self.closed and (depth + room <= self.capacity or depth == 0)

    async def wait_for_room(self, room: int = 1) -> None:
        """Wait until `has_room(room)` or the mailbox is closed: for a sender that queues
        several messages without waiting (`request`) and must not be refused (backpressure
        ahead of them, not a `MailboxFull` among them). A checkpoint like any trio call."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self.closed and not self.has_room(room):
            # Not with the senders waiting for one place (`put`), one of whom each message
            # taken wakes: one that wants more would take that wake-up and wait on.
            waiting = self._room_waiters
            if waiting is None:
                waiting = self._room_waiters = trio.lowlevel.ParkingLot()
            self._held_back()
            await waiting.park()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def put_then_wait(self, call: Call) -> Any:
        """Queue a call and wait for its reply, without an extra scheduling round."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while len(self._queue) >= self.capacity and not self.closed:
            await self._wait_for_room()
        self.put_nowait(call)
        return await call.wait()

    async def get(self) -> object:
        """The next message, or `STOP` once a stop was requested for the running instance
        (or `IDLE` when nothing is queued in a mailbox served on demand: `serve_on_demand`).

        A receiver that had to wait has already yielded, so it takes the message without a
        second trip through the scheduler; a busy one yields once per `BURST` messages,
        which keeps it fair to other tasks without paying a context switch per message.
        """
        if self._queue and not self.stop_requested:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._burst += 1
            if self._burst >= BURST:
                self._burst = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
            if self._queue and not self.stop_requested:
                return self._take()
        while not self.stop_requested:
            if self._queue:
                return self._take()
            if self.starter is not None:  # served on demand: this receiver ends
                self._receiver = IDLE
                self._burst = 0
                self._queue = ()  # its deque (~760 bytes) is made again when needed
                return IDLE
            self._receiver = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_receive)
            self._burst = 0
        await trio.lowlevel.checkpoint()
        return STOP

    def take_nowait(self) -> object | None:
        """The next queued message without waiting, or None (empty, or a stop is pending)."""
        if self.stop_requested or not self._queue:
            return None
        return self._take()

    def take_left(self) -> object | None:
        """The next queued message even once a stop was requested, or None (empty, or
        closed): for an instance that handles what was queued before it stops
        (`Actor.drain_on_stop`)."""
        if not self._queue:
            return None
        return self._take()

    def _take(self) -> object:
        item = self._queue.popleft()  # type: ignore[union-attr]  # non-empty: a deque
        self.received += 1
        senders = self._senders
        if senders:
            senders.unpark()
        waiting = self._room_waiters
        if waiting:
            # Each looks again. A store takes its whole queue at once: each waiter is woken
            # about once per batch, however many wait.
            waiting.unpark_all()
        return item

    def _abort_receive(self, _: object) -> trio.lowlevel.Abort:
        self._receiver = None
        return trio.lowlevel.Abort.SUCCEEDED

    def take_inline_failures(self) -> list[InlineFailure]:
        """Remove and return the queued `InlineFailure`s: an instance that stops before its
        loop raised them leaves them to no one (the next instance must not crash of them)."""
        queue = self._queue
        failures = [item for item in queue if type(item) is InlineFailure]
        if failures:
            self._queue = deque(item for item in queue if type(item) is not InlineFailure)
        return failures

    def request_stop(self) -> None:
        """Make the running instance's `get` return `STOP` (it finishes its current message)."""
        self.stop_requested = True
        self._wake_receiver()

    def close(self) -> list[object]:
        """Refuse further messages and return those still queued (for dead-lettering)."""
        self.closed = True
        pending = list(self._queue)
        self._queue = ()
        if self._senders is not None:
            self._senders.unpark_all()
        if self._room_waiters is not None:
            self._room_waiters.unpark_all()
        self.request_stop()
        return pending
