"""`ModerationQueue`: a platform actor's filter moderation requests, carried out beside chat.

A chat filter's `Moderate` (delete a message, time its author out) reaches the platform actor
as a message; the actor `offer`s it here and returns at once, so moderation never holds up
reading chat. `serve(execute)` runs in the actor's nursery and hands the requests, oldest
first, to the platform's `execute` coroutine (the API calls). Every request ends counted under
one outcome, and every one but `done` is logged with a sentence a person can act on:

- ``done``: the platform carried it out;
- ``refused``: the platform said no (a missing scope, not a moderator): `ModerationRefused`;
- ``failed``: anything else went wrong (network, 5xx, 429 after the wait, a token that cannot
  be had): `ModerationFailed`, `httpx.HTTPError`, `TokenUnavailable`, `ValueError`;
- ``dropped``: not tried (the queue was full, or the request waited longer than `max_age`);
- ``unsupported``: this platform (or this configuration) cannot do it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

import attrs
import httpx
import structlog
import trio

from actors.accounts import TokenUnavailable
from actors.chat import Moderate

__all__ = [
    "OUTCOMES",
    "ModerationFailed",
    "ModerationQueue",
    "ModerationRefused",
    "ModerationStatistics",
]

OUTCOMES: Final = ("done", "refused", "failed", "dropped", "unsupported")


class ModerationFailed(Exception):
    """The platform did not carry out a request; the message is the sentence to log."""


class ModerationRefused(ModerationFailed):
    """The platform refused the request for want of a permission (HTTP 403): the message says
    which scope or role the account needs."""


@attrs.frozen(kw_only=True)
class ModerationStatistics:
    """Counters of a `ModerationQueue`: requests waiting and outcomes so far."""

    queued: int
    done: int
    refused: int
    failed: int
    dropped: int
    unsupported: int
    last_error: str | None


class ModerationQueue:
    """At most `capacity` waiting requests; see the module docs."""

    def __init__(self, *, platform: str, capacity: int = 50, max_age: float = 120.0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.platform = platform
        self.capacity = capacity
        self.max_age = max_age
        self.log: Any = structlog.get_logger("actors.moderation").bind(component=platform)
        self._items: deque[tuple[Moderate, float]] = deque()
        self._changed = trio.Event()
        self.counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.last_error: str | None = None

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, moderate: Moderate) -> bool:
        """Queue `moderate`, or drop it (counted, logged) when the queue is full."""
        if len(self._items) >= self.capacity:
            self._count("dropped", moderate, f"the {self.platform} moderation queue is full")
            return False
        self._items.append((moderate, trio.current_time()))
        self._changed.set()
        return True

    def unsupported(self, moderate: Moderate, why: str) -> None:
        """Count and log a request this platform cannot carry out; `why` is the sentence."""
        self._count("unsupported", moderate, why)

    async def serve(self, execute: Callable[[Moderate], Awaitable[None]]) -> None:
        """Carry out the queued requests one at a time with `execute`, forever."""
        while True:
            while not self._items:
                self._changed = trio.Event()
                await self._changed.wait()
            moderate, queued_at = self._items.popleft()
            if trio.current_time() - queued_at > self.max_age:
                self._count("dropped", moderate, f"waited more than {self.max_age:g} s")
                continue
            try:
                await execute(moderate)
            except ModerationRefused as exc:
                self._count("refused", moderate, str(exc))
            except (ModerationFailed, TokenUnavailable, ValueError) as exc:
                self._count("failed", moderate, str(exc))
            except httpx.HTTPError as exc:
                self._count(
                    "failed",
                    moderate,
                    f"the {self.platform} API could not be reached ({type(exc).__name__})",
                )
            else:
                self._count("done", moderate, "")

    def _count(self, outcome: str, moderate: Moderate, sentence: str) -> None:
        self.counts[outcome] += 1
        fields = {
            "action": moderate.action,
            "filter": moderate.filter_id,
            "login": moderate.login,
            "outcome": outcome,
        }
        if outcome == "done":
            self.log.info(f"{self.platform} moderation done", **fields)
            return
        self.last_error = sentence
        self.log.warning(f"{self.platform} moderation not carried out: {sentence}", **fields)

    def statistics(self) -> ModerationStatistics:
        """The counters as a value."""
        return ModerationStatistics(
            queued=len(self._items), last_error=self.last_error, **self.counts
        )
