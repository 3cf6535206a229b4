"""Earning loyalty points: per message (paced) and per active minute. Pure code, no I/O.

`PointsLedger` turns chat into `PointsGrant`s for the store: a message earns `per_message` at
most once per `message_cooldown_seconds` per viewer; every minute, each viewer seen in the
last `ACTIVE_WINDOW_SECONDS` earns `per_minute_active`; subscribers (and YouTube members) earn
`subscriber_multiplier` times as much. Times are on the engine's clock for the event: the
recorded clock on the replay platform, the wall clock elsewhere, kept apart as two clock
domains so a replay never moves live minutes and the reverse.
"""

from __future__ import annotations

from typing import NamedTuple

from actors.events import ChatEvent
from config.models import PointsConfig
from state.commands import PointsGrant, Viewer

ACTIVE_WINDOW_SECONDS = 600.0
MINUTE = 60.0
#: After a long gap (a replay's pause, a stalled clock) at most this many minutes are paid.
MAX_CATCH_UP_MINUTES = 10
_SUBSCRIBER_ROLES = frozenset({"subscriber", "member"})


class _Seen(NamedTuple):
    at: float
    viewer: Viewer
    subscriber: bool


def is_subscriber(event: ChatEvent) -> bool:
    """Whether the chatter subscribes (or is a YouTube member)."""
    return not event.roles.isdisjoint(_SUBSCRIBER_ROLES)


class PointsLedger:
    """Pending point grants of one creator, and who was active when."""

    def __init__(self, config: PointsConfig) -> None:
        self.config = config
        self.pending: list[PointsGrant] = []
        self._earned: dict[tuple[str, str], float] = {}
        self._seen: dict[str, dict[tuple[str, str], _Seen]] = {}
        self._minute: dict[str, float] = {}

    def _scaled(self, amount: int, subscriber: bool) -> int:
        return int(amount * self.config.subscriber_multiplier) if subscriber else amount

    def on_chat(self, event: ChatEvent, viewer: Viewer, domain: str, now: float) -> None:
        """Account for one chat message (after filters: a filtered message earns nothing)."""
        config = self.config
        key = (event.platform, viewer.viewer_key)
        subscriber = is_subscriber(event)
        self.tick(domain, now)
        if config.per_minute_active:
            seen = self._seen.setdefault(domain, {})
            seen[key] = _Seen(now, viewer, subscriber)
        if config.per_message:
            last = self._earned.get(key)
            if last is None or now - last >= config.message_cooldown_seconds:
                self._earned[key] = now
                self.pending.append(
                    PointsGrant(
                        viewer=viewer,
                        amount=self._scaled(config.per_message, subscriber),
                        at=int(now * 1000),
                        per_message=True,
                    )
                )

    def tick(self, domain: str, now: float) -> None:
        """Pay the active minutes of `domain` that ended by `now`."""
        if not self.config.per_minute_active:
            return
        mark = self._minute.get(domain)
        if mark is None:
            self._minute[domain] = now
            return
        minutes = int((now - mark) // MINUTE)
        if minutes <= 0:
            return
        if minutes > MAX_CATCH_UP_MINUTES:
            mark = now - MAX_CATCH_UP_MINUTES * MINUTE
            minutes = MAX_CATCH_UP_MINUTES
        seen = self._seen.get(domain, {})
        for _ in range(minutes):
            mark += MINUTE
            for _key, entry in sorted(seen.items()):
                if mark - ACTIVE_WINDOW_SECONDS <= entry.at <= mark:
                    self.pending.append(
                        PointsGrant(
                            viewer=entry.viewer,
                            amount=self._scaled(self.config.per_minute_active, entry.subscriber),
                            at=int(mark * 1000),
                        )
                    )
        self._minute[domain] = mark
        cutoff = mark - ACTIVE_WINDOW_SECONDS
        for key in [k for k, e in seen.items() if e.at < cutoff]:
            del seen[key]
        if len(self._earned) > 100_000:  # bounded: forget pacing older than the cooldown
            limit = now - self.config.message_cooldown_seconds
            self._earned = {k: t for k, t in self._earned.items() if t >= limit}

    def take(self) -> list[PointsGrant]:
        """The grants not yet written, oldest first (and forget them)."""
        pending, self.pending = self.pending, []
        return pending
