"""The bounded mailbox of one child slot, and the envelope that carries a call's reply.

A mailbox belongs to a path, not to an actor instance: it outlives crashes and restarts so
that messages sent while nobody is there wait for the next instance. It is a deque with one
receiver and parked senders: cheaper than a memory channel pair, and it lets us count depth
and peak without a statistics call per message.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import outcome
import trio

from actors._errors import ActorFailed, MailboxFull


class _Stop:
    """Returned by `Mailbox.get` once the running instance was asked to stop."""

    __slots__ = ()


STOP: Any = _Stop()


class Call:
    """A message with a caller waiting for its reply."""

    __slots__ = ("_result", "_task", "abandoned", "message")

    def __init__(self, message: object) -> None:
        self.message = message
        self._task: trio.lowlevel.Task | None = None
        self._result: outcome.Outcome | None = None
        self.abandoned = False

    def resolve(self, result: outcome.Outcome) -> None:
        """Deliver the reply (value or error) to the caller, if it is still waiting."""
        if self._result is not None:
            return
        self._result = result
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task, result)

    async def wait(self) -> Any:
        """Wait for `resolve`; cancellation abandons the call (a late reply is dropped)."""
        if self._result is not None:
            await trio.lowlevel.checkpoint()
            return self._result.unwrap()
        self._task = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self._task = None
            self.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)


class Mailbox:
    """Bounded FIFO with one receiver (the current instance) and any number of senders."""

    __slots__ = (
        "_queue",
        "_receiver",
        "_senders",
        "capacity",
        "closed",
        "path",
        "peak",
        "received",
        "stop_requested",
    )

    def __init__(self, path: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self.path = path
        self.capacity = capacity
        self._queue: deque[object] = deque()
        self._receiver: trio.lowlevel.Task | None = None
        self._senders = trio.lowlevel.ParkingLot()
        self.peak = 0
        self.received = 0
        self.closed = False
        self.stop_requested = False

    @property
    def depth(self) -> int:
        """Messages waiting, not counting one being handled."""
        return len(self._queue)

    def put_nowait(self, item: object) -> None:
        """Queue `item` or raise `MailboxFull` / `ActorFailed` (path removed)."""
        if self.closed:
            raise ActorFailed(self.path, "actor stopped for good")
        queue = self._queue
        if len(queue) >= self.capacity:
            raise MailboxFull(self.path, self.capacity)
        queue.append(item)
        depth = len(queue)
        if depth > self.peak:
            self.peak = depth
        task = self._receiver
        if task is not None:
            self._receiver = None
            trio.lowlevel.reschedule(task)

    async def put(self, item: object) -> None:
        """Queue `item`, waiting for room (backpressure). Checkpoints like any trio call."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while len(self._queue) >= self.capacity and not self.closed:
            await self._senders.park()
        self.put_nowait(item)
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def put_then_wait(self, call: Call) -> Any:
        """Queue a call and wait for its reply, without an extra scheduling round."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while len(self._queue) >= self.capacity and not self.closed:
            await self._senders.park()
        self.put_nowait(call)
        return await call.wait()

    async def get(self) -> object:
        """The next message, or `STOP` once a stop was requested for the running instance."""
        queue = self._queue
        while True:
            if self.stop_requested:
                await trio.lowlevel.checkpoint()
                return STOP
            if queue:
                await trio.lowlevel.checkpoint_if_cancelled()
                item = queue.popleft()
                self.received += 1
                if self._senders:
                    self._senders.unpark()
                await trio.lowlevel.cancel_shielded_checkpoint()
                return item
            self._receiver = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._receiver = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)

    def request_stop(self) -> None:
        """Make the running instance's `get` return `STOP` (it finishes its current message)."""
        self.stop_requested = True
        task = self._receiver
        if task is not None:
            self._receiver = None
            trio.lowlevel.reschedule(task)

    def close(self) -> list[object]:
        """Refuse further messages and return those still queued (for dead-lettering)."""
        self.closed = True
        pending = list(self._queue)
        self._queue.clear()
        self._senders.unpark_all()
        self.request_stop()
        return pending
