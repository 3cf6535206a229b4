"""`Outbox`: the bounded queue of chat replies waiting to be sent, with counted drops."""

from __future__ import annotations

from collections import deque
from typing import Any

import attrs
import structlog
import trio

from actors.chat import SendChat

__all__ = ["Outbox", "OutboxStatistics", "Outgoing"]


@attrs.frozen(kw_only=True)
class Outgoing:
    """One reply waiting for its turn."""

    text: str
    reply_to: str | None
    trigger_id: str | None
    queued_at: float  # trio time


@attrs.frozen(kw_only=True)
class OutboxStatistics:
    """Counters of an `Outbox`."""

    queued: int
    dropped: int
    dropped_reasons: tuple[tuple[str, int], ...]  # sorted by reason

    def reasons(self) -> dict[str, int]:
        """`dropped_reasons` as a dict (for snapshots)."""
        return dict(self.dropped_reasons)


class Outbox:
    """Replies queued in order, at most `capacity`; one older than `max_age` seconds when its
    turn comes is dropped ("stale"). Every drop is counted by reason and logged."""

    def __init__(self, *, platform: str, capacity: int = 100, max_age: float = 60.0) -> None:
        self.platform = platform
        self.capacity = capacity
        self.max_age = max_age
        self.log: Any = structlog.get_logger("actors.connection").bind(component=platform)
        self._items: deque[Outgoing] = deque()
        self._changed = trio.Event()
        self.dropped = 0
        self._reasons: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, message: SendChat) -> bool:
        """Queue `message`, or drop it ("queue_full"); True when queued."""
        if len(self._items) >= self.capacity:
            self.drop("queue_full", message.trigger_id)
            return False
        self._items.append(
            Outgoing(
                text=message.text,
                reply_to=message.reply_to,
                trigger_id=message.trigger_id,
                queued_at=trio.current_time(),
            )
        )
        self._changed.set()
        return True

    def drop(self, reason: str, trigger_id: str | None, **extra: Any) -> None:
        """Count and log one reply that will not be sent."""
        self.dropped += 1
        self._reasons[reason] = self._reasons.get(reason, 0) + 1
        self.log.warning(
            f"{self.platform} reply dropped", reason=reason, trigger=trigger_id, **extra
        )

    async def peek(self) -> Outgoing:
        """Wait for the next reply young enough to send (dropping stale ones); it stays queued
        until `done()` (a send cut short by a reconnect is retried on the next connection)."""
        while True:
            while not self._items:
                self._changed = trio.Event()
                await self._changed.wait()
            item = self._items[0]
            if trio.current_time() - item.queued_at > self.max_age:
                self._items.popleft()
                self.drop("stale", item.trigger_id)
                continue
            return item

    def done(self) -> Outgoing:
        """Remove the reply `peek` returned (sent, or dropped by the caller)."""
        return self._items.popleft()

    def wake(self) -> None:
        """Wake a `peek` waiting on an empty queue (e.g. to let it see a state change)."""
        self._changed.set()

    def statistics(self) -> OutboxStatistics:
        """The counters as a value."""
        return OutboxStatistics(
            queued=len(self._items),
            dropped=self.dropped,
            dropped_reasons=tuple(sorted(self._reasons.items())),
        )
