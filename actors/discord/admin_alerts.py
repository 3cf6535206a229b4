"""`AdminAlerts`: posts the `AlertTracker`'s alerts to the configured Discord admin channel.

Every `check_seconds` it reads the supervision tree's rows (the `health` value each network
actor reports), asks the tracker what is due, and posts each alert as a channel message
(``POST /channels/{id}/messages`` with the bot token, through `DiscordRest`). An alert that
could not be posted (Discord unreachable, 5xx, rate limited) is kept (bounded) and tried again
at the next check; one Discord refuses for good (4xx: no access to the channel) is logged and
counted, never retried in a loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import trio

from actors import Actor
from actors.connection import ConnectionHealth, describe_failure
from actors.discord.alerts import Alert, AlertTracker
from actors.discord.restclient import DiscordHttpError, DiscordRest, RateLimited

__all__ = ["AdminAlerts", "health_components"]

_MAX_PENDING = 50


def health_components(
    rows: Iterable[Mapping[str, Any]],
) -> list[tuple[str, ConnectionHealth]]:
    """(path, health) of every row of `Supervisor.tree()` that carries a health value."""
    return [
        (row["path"], row["health"])
        for row in rows
        if isinstance(row.get("health"), ConnectionHealth)
    ]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AdminAlerts(Actor):
    """Tells the admins about components that stay down (see the module docs).

    `tree` returns the supervision tree's rows (`root.tree`); `rest` is a bot-token
    `DiscordRest` (owned: closed on stop).
    """

    def __init__(
        self,
        *,
        tree: Callable[[], Sequence[Mapping[str, Any]]],
        rest: DiscordRest,
        channel_id: str,
        alert_after_seconds: float = 300.0,
        check_seconds: float = 15.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._tree = tree
        self._rest = rest
        self.channel_id = channel_id
        self.check_seconds = check_seconds
        self._clock = clock
        self.tracker = AlertTracker(alert_after=timedelta(seconds=alert_after_seconds))
        self._pending: deque[Alert] = deque()
        self._checking = trio.Lock()  # one check at a time (the loop's, or a caller's)
        self.dropped = 0
        self.posted = 0
        self.post_failures = 0
        self.refused = 0
        self.last_error: str | None = None

    async def on_stop(self) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await self._rest.aclose()

    async def run(self) -> None:
        while True:
            await self.check()
            await trio.sleep(self.check_seconds)

    async def check(self) -> None:
        """One look at the tree; posts what is due (and what failed to post before)."""
        async with self._checking:
            await self._check()

    async def _check(self) -> None:
        now = self._clock()
        for alert in self.tracker.observe(health_components(self._tree()), now=now):
            if len(self._pending) >= _MAX_PENDING:
                # Discord has been unreachable for a long time: the oldest alert goes.
                lost = self._pending.popleft()
                self.dropped += 1
                self.log.warning("admin alert dropped", path=lost.path, kind=lost.kind.value)
            self._pending.append(alert)
        while self._pending:
            alert = self._pending[0]
            if not await self._post(alert):
                return  # keep it (and the ones after it, in order) for the next check
            self._pending.popleft()

    async def _post(self, alert: Alert) -> bool:
        """True when the alert is done with (posted, or refused for good)."""
        try:
            await self._rest.request(
                "POST",
                f"/channels/{self.channel_id}/messages",
                json={"content": alert.text(), "allowed_mentions": {"parse": []}},
            )
        except DiscordHttpError as exc:
            self.last_error = f"HTTP {exc.status} from discord.com: {exc.message}".rstrip(": ")
            if exc.permanent:
                self.refused += 1
                self.log.error("admin alert refused", error=self.last_error, path=alert.path)
                return True
            self.post_failures += 1
        except RateLimited as exc:
            self.post_failures += 1
            self.last_error = f"rate limited for {exc.wait:.0f} s"
        except (httpx.HTTPError, OSError) as exc:
            self.post_failures += 1
            failure = describe_failure(exc)
            self.last_error = failure.reason if failure else type(exc).__name__
        else:
            self.posted += 1
            self.log.info("admin alert posted", path=alert.path, kind=alert.kind.value)
            return True
        self.log.warning("admin alert not posted yet", error=self.last_error, path=alert.path)
        return False

    async def handle(self, message: Any) -> Any:
        raise TypeError(f"AdminAlerts takes no messages, got {type(message).__name__}")

    def snapshot(self) -> dict[str, Any]:
        """Counters (no channel contents)."""
        return {
            "kind": "admin_alerts",
            "channel_id": self.channel_id,
            "alerting": sorted(self.tracker.alerted),
            "pending": len(self._pending),
            "posted": self.posted,
            "post_failures": self.post_failures,
            "refused": self.refused,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }
