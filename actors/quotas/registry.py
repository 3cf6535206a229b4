"""`QuotaRegistry`: the actor that owns every creator's quota trackers.

Platform actors ask it before a quota-costing call (`Charge`). The units are committed to the
store before the answer says yes, so a crash or restart never forgets what was spent and a
restart at noon does not hand out a fresh day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import apsw
import attrs

from actors import Actor, ActorRef, ActorStatistics
from actors.quotas.tracker import QuotaDecision, QuotaFigures, QuotaPolicy, QuotaTracker
from actors.store import Read, write
from config.models import CreatorConfig
from state import quotas
from state.timeutil import from_datetime


@attrs.frozen(kw_only=True)
class Charge:
    """Spend the cost of `method`; the reply is a `QuotaDecision` (`allowed` False: refused,
    nothing spent)."""

    creator_id: str
    platform: str
    method: str


@attrs.frozen(kw_only=True)
class Check:
    """Like `Charge` without spending anything."""

    creator_id: str
    platform: str
    method: str


@attrs.frozen(kw_only=True)
class PollingInterval:
    """Seconds between calls of `method` that make the budget last (reply: float)."""

    creator_id: str
    platform: str
    method: str
    minimum: float


def policies_for(
    creator: CreatorConfig, costs: Mapping[str, Mapping[str, int]]
) -> dict[str, QuotaPolicy]:
    """The quota-limited platforms a creator's configuration enables.

    `costs` maps a platform to the units each of its API methods costs; the platform's protocol
    module owns that table (YouTube: `actors.youtube.livechat.QUOTA_COSTS`), so it is passed in
    rather than imported: the platform actors depend on this registry, not the reverse.
    """
    found: dict[str, QuotaPolicy] = {}
    if creator.youtube is not None and creator.youtube.enabled:
        found["youtube"] = QuotaPolicy(
            daily_budget=creator.youtube.daily_quota, costs=costs["youtube"]
        )
    return found


@attrs.frozen(kw_only=True, slots=True)
class QuotaRegistryStatistics(ActorStatistics):
    """What the registry shows in the tree (`QuotaRegistry.snapshot`): every tracker's
    figures, the rows of `quotas.json`."""

    quotas: tuple[QuotaFigures, ...] = ()


class QuotaRegistry(Actor):
    """One `QuotaTracker` per creator x platform.

    `costs`: per platform, the units each API method costs (see `policies_for`).
    """

    def __init__(
        self,
        creators: Sequence[CreatorConfig],
        *,
        costs: Mapping[str, Mapping[str, int]],
        store: Callable[[], ActorRef],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._clock = clock
        self.trackers: dict[tuple[str, str], QuotaTracker] = {
            (c.id, platform): QuotaTracker(creator_id=c.id, platform=platform, policy=policy)
            for c in creators
            if c.enabled
            for platform, policy in policies_for(c, costs).items()
        }

    async def on_start(self) -> None:
        now = self._clock()
        keys = [(t, t.window_key(now)) for t in self.trackers.values()]

        def restore(conn: apsw.Connection) -> list[int]:
            used = []
            for tracker, window in keys:
                row = quotas.get_quota_usage(
                    conn, creator_id=tracker.creator_id, platform=tracker.platform, window=window
                )
                used.append(row.used if row is not None else 0)
            return used

        spent = await self._store().call(Read(fn=restore), timeout=30)
        for (tracker, window), units in zip(keys, spent, strict=True):
            tracker.window = window
            tracker.used = units

    def _tracker(self, creator_id: str, platform: str) -> QuotaTracker:
        tracker = self.trackers.get((creator_id, platform))
        if tracker is None:
            raise KeyError(f"no quota is tracked for {creator_id} on {platform}")
        return tracker

    async def handle(self, message: Any) -> Any:
        now = self._clock()
        if isinstance(message, Check | Charge | PollingInterval):
            if (message.creator_id, message.platform) not in self.trackers:
                # A question about an untracked budget is the caller's mistake, not a reason
                # for the registry to crash: refuse (and poll slowly) so it is visible.
                self.log.warning(
                    "quota asked for an untracked budget",
                    creator=message.creator_id,
                    platform=message.platform,
                )
                if isinstance(message, PollingInterval):
                    return max(message.minimum, 60.0)
                return QuotaDecision(
                    allowed=False,
                    method=message.method,
                    cost=0,
                    used=0,
                    remaining=0,
                    status="exhausted",
                    reset_at=now,
                )
        if isinstance(message, Check):
            return self._tracker(message.creator_id, message.platform).check(message.method, now)
        if isinstance(message, PollingInterval):
            tracker = self._tracker(message.creator_id, message.platform)
            return tracker.polling_interval(now, method=message.method, minimum=message.minimum)
        if isinstance(message, Charge):
            return await self._charge(message, now)
        raise TypeError(f"QuotaRegistry takes Charge, Check or PollingInterval, got {message!r}")

    async def _charge(self, message: Charge, now: datetime) -> QuotaDecision:
        tracker = self._tracker(message.creator_id, message.platform)
        decision = tracker.check(message.method, now)
        if not decision.allowed:
            tracker.refused += 1
            self.log.warning(
                "quota call refused",
                creator=message.creator_id,
                platform=message.platform,
                method=message.method,
                remaining=decision.remaining,
            )
            return decision
        window = tracker.window_key(now)

        def persist(conn: apsw.Connection) -> None:
            quotas.add_quota_units(
                conn,
                creator_id=tracker.creator_id,
                platform=tracker.platform,
                window=window,
                units=decision.cost,
                now=from_datetime(now),
            )

        await write(self._store(), persist, topic="quotas")
        return tracker.charge(message.method, now)

    def snapshot(self) -> QuotaRegistryStatistics:
        now = self._clock()
        return QuotaRegistryStatistics(quotas=tuple(t.view(now) for t in self.trackers.values()))
