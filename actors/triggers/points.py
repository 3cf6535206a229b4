"""Earning loyalty points: per message (paced) and per active minute. Pure code, no I/O.

`PointsLedger` turns chat into `PointsGrant`s for the store: a message earns `per_message` at
most once per `message_cooldown_seconds` per viewer; every minute, each viewer seen in the
last `ACTIVE_WINDOW_SECONDS` earns `per_minute_active`; subscribers (and YouTube members) earn
`subscriber_multiplier` times as much.

Active minutes accrue per viewer and become one grant (their sum) once the viewer has
accrued `credit_every_minutes` (1 by default: a grant per minute), or when the viewer chats,
stops being active, or `take` settles everything. With a few minutes, a store row change per
viewer every few minutes instead of every minute, for the same earnings; a caller that shows
or spends balances then settles first (`take()`), and may flush without settling.

Earnings not yet taken are summed per viewer as they come (one for messages, one for active
minutes): a caller that takes them every few seconds holds one value per viewer, not one per
earning, and hands the store the same sums it would add up itself.

Times are on the engine's clock for the event: the recorded clock on the replay platform, the
wall clock elsewhere, kept apart as two clock domains so a replay never moves live minutes and
the reverse.
"""

from __future__ import annotations

import operator

from actors.events import ChatEvent
from config.models import PointsConfig
from state.commands import PointsGrant, Viewer

ACTIVE_WINDOW_SECONDS = 600.0
MINUTE = 60.0
#: After a long gap (a replay's pause, a stalled clock) at most this many minutes are paid.
MAX_CATCH_UP_MINUTES = 10
#: Active minutes a viewer may accrue before they are handed over unsettled, for a caller that
#: asks for fewer grants (`PointsLedger(credit_every_minutes=...)`).
CREDIT_EVERY_MINUTES = 5
_SUBSCRIBER_ROLES = frozenset({"subscriber", "member"})


class _Seen:
    """When a viewer last chatted (within the active window), as whom, and whether they
    subscribe: one per viewer, updated in place by each message."""

    __slots__ = ("at", "subscriber", "viewer")

    def __init__(self, at: float, viewer: Viewer, subscriber: bool) -> None:
        self.at, self.viewer, self.subscriber = at, viewer, subscriber


class _Pending:
    """Earnings of one viewer not yet taken: the sums earned by messages and by active
    minutes, the time of the latest of each (None: none), and the viewer as last seen (the
    store keeps the names and times of the later credit)."""

    __slots__ = ("messages", "messages_at", "minutes", "minutes_at", "viewer")

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.messages = self.minutes = 0
        self.messages_at: int | None = None
        self.minutes_at: int | None = None


_AT = operator.attrgetter("at")


class _Accrued:
    """Active minutes of one viewer not yet handed over: their sum, the last minute's time
    and the viewer as last seen (the grant they become)."""

    __slots__ = ("amount", "at", "minutes", "viewer")

    def __init__(self, viewer: Viewer, amount: int, at: int) -> None:
        self.viewer, self.amount, self.at, self.minutes = viewer, amount, at, 1


def is_subscriber(event: ChatEvent) -> bool:
    """Whether the chatter subscribes (or is a YouTube member)."""
    return not event.roles.isdisjoint(_SUBSCRIBER_ROLES)


class PointsLedger:
    """Pending point grants of one creator, and who was active when."""

    # In slots: one of these per creator (a thousand), each dict of its own ~300 bytes.
    __slots__ = (
        "_accrued",
        "_earned",
        "_minute",
        "_seen",
        "config",
        "credit_every_minutes",
        "pending",
    )

    def __init__(self, config: PointsConfig, *, credit_every_minutes: int = 1) -> None:
        if credit_every_minutes < 1:
            raise ValueError(f"credit_every_minutes must be at least 1, got {credit_every_minutes}")
        self.config = config
        self.credit_every_minutes = credit_every_minutes
        #: Earnings not yet taken, by (platform, viewer key).
        self.pending: dict[tuple[str, str], _Pending] = {}
        self._earned: dict[tuple[str, str], float] = {}
        self._seen: dict[str, dict[tuple[str, str], _Seen]] = {}
        self._minute: dict[str, float] = {}
        self._accrued: dict[tuple[str, str], _Accrued] = {}

    @property
    def accrued(self) -> bool:
        """Whether active minutes wait to be handed over (`take()` settles them)."""
        return bool(self._accrued)

    def _add(
        self, key: tuple[str, str], viewer: Viewer, amount: int, at: int, per_message: bool
    ) -> None:
        # As the store adds up credits: the sum, and the later credit's time and names.
        known = self.pending.get(key)
        if known is None:
            known = self.pending[key] = _Pending(viewer)
        known.viewer = viewer
        if per_message:
            known.messages += amount
            known.messages_at = at
        else:
            known.minutes += amount
            known.minutes_at = at

    def _release(self, key: tuple[str, str]) -> None:
        found = self._accrued.pop(key, None)
        if found is not None:
            self._add(key, found.viewer, found.amount, found.at, False)

    def _scaled(self, amount: int, subscriber: bool) -> int:
        return int(amount * self.config.subscriber_multiplier) if subscriber else amount

    def on_chat(self, event: ChatEvent, viewer: Viewer, domain: str, now: float) -> None:
        """Account for one chat message (after filters: a filtered message earns nothing)."""
        config = self.config
        key = (event.platform, viewer.viewer_key)
        subscriber = is_subscriber(event)
        if config.per_minute_active:
            # `tick` when it has something to do: a first line, or a minute ended since the
            # mark (the test it makes itself; most lines come within the minute).
            mark = self._minute.get(domain)
            if mark is None or now - mark >= MINUTE:
                self.tick(domain, now)
        if self._accrued:  # the chatter's own balance is exact in what their message does
            self._release(key)
        if config.per_minute_active:
            seen = self._seen.get(domain)
            if seen is None:
                seen = self._seen[domain] = {}
            entry = seen.get(key)
            if entry is None:
                seen[key] = _Seen(now, viewer, subscriber)
            else:  # in place: no object per message
                entry.at, entry.viewer, entry.subscriber = now, viewer, subscriber
        if config.per_message:
            last = self._earned.get(key)
            if last is None or now - last >= config.message_cooldown_seconds:
                self._earned[key] = now
                amount = self._scaled(config.per_message, subscriber)
                self._add(key, viewer, amount, int(now * 1000), True)

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
        accrued = self._accrued
        per_minute = self.config.per_minute_active
        per_minute_subscribed = self._scaled(per_minute, True)
        each_minute = self.credit_every_minutes == 1 and not accrued
        for _ in range(minutes):
            mark += MINUTE
            at = int(mark * 1000)
            active = mark - ACTIVE_WINDOW_SECONDS
            if each_minute:
                # Each active viewer's minute, straight away (nothing accrues).
                for key, entry in sorted(seen.items()):
                    if active <= entry.at <= mark:
                        amount = per_minute_subscribed if entry.subscriber else per_minute
                        self._add(key, entry.viewer, amount, at, False)
                continue
            paid = set()
            for key, entry in sorted(seen.items()):
                if active <= entry.at <= mark:
                    amount = per_minute_subscribed if entry.subscriber else per_minute
                    paid.add(key)
                    known = accrued.get(key)
                    if known is None:
                        known = accrued[key] = _Accrued(entry.viewer, amount, at)
                    else:
                        known.amount += amount
                        known.at, known.viewer = at, entry.viewer
                        known.minutes += 1
                    if known.minutes >= self.credit_every_minutes:
                        self._release(key)
            # Viewers of this domain no longer active: what they accrued is all they get.
            for key in [k for k in accrued if k in seen and k not in paid]:
                self._release(key)
        self._minute[domain] = mark
        cutoff = mark - ACTIVE_WINDOW_SECONDS
        for key in [k for k, e in seen.items() if e.at < cutoff]:
            self._release(key)
            del seen[key]
        if len(self._earned) > 100_000:  # bounded: forget pacing older than the cooldown
            limit = now - self.config.message_cooldown_seconds
            self._earned = {k: t for k, t in self._earned.items() if t >= limit}

    def take(self, *, settle: bool = True) -> list[PointsGrant]:
        """The earnings not yet taken, a grant per viewer and kind (their sum, at the latest's
        time), oldest first (and forget them). With `settle` (for a command that shows or
        spends balances, and at a stop) every accrued active minute is among them; without
        (a periodic flush), minutes still accruing wait."""
        if settle and self._accrued:
            for key in sorted(self._accrued):
                self._release(key)
        pending, self.pending = self.pending, {}
        grants = []
        for p in pending.values():
            if p.messages_at is not None:
                grants.append(
                    PointsGrant(
                        viewer=p.viewer, amount=p.messages, at=p.messages_at, per_message=True
                    )
                )
            if p.minutes_at is not None:
                grants.append(PointsGrant(viewer=p.viewer, amount=p.minutes, at=p.minutes_at))
        grants.sort(key=_AT)  # the store keeps the names and times of the later credit
        return grants
