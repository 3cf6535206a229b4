"""`QuotaTracker`: a daily API budget that never runs dry before its reset.

Sans-IO: every method takes `now` (an aware datetime). The tracker knows the budget, the
per-method costs and when the window resets (midnight in the platform's time zone; YouTube
resets at midnight America/Los_Angeles, DST included). It answers three questions: may this
call be made (`check`), record that it was (`charge`), and how often may a poller call so that
the remaining budget lasts until the reset (`polling_interval`). Persisting usage is the
owner's job: `window_key` names the window a restart must restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

OK, BUFFER, EXHAUSTED = "ok", "buffer", "exhausted"


class QuotaExhausted(Exception):
    """The call would pass the hard cap; it must not be made before `reset_at`."""

    def __init__(self, method: str, cost: int, remaining: int, reset_at: datetime) -> None:
        super().__init__(
            f"{method} costs {cost} units but only {remaining} remain until "
            f"{reset_at.isoformat().replace('+00:00', 'Z')}"
        )
        self.method = method
        self.cost = cost
        self.remaining = remaining
        self.reset_at = reset_at


def _costs(value: Mapping[str, int]) -> Mapping[str, int]:
    costs = dict(value)
    for method, cost in costs.items():
        if not isinstance(cost, int) or cost < 0:
            raise ValueError(f"cost of {method!r} must be a non-negative integer, got {cost!r}")
    return costs


@attrs.frozen(kw_only=True)
class QuotaPolicy:
    """A platform's budget: `daily_budget` units per window; `buffer` units kept in reserve
    (below it the status is "buffer": callers slow down and warn); `hard_cap` the most that
    may ever be spent in a window (default: the budget); unknown methods cost `default_cost`."""

    daily_budget: int = attrs.field(validator=attrs.validators.ge(1))
    costs: Mapping[str, int] = attrs.field(factory=dict, converter=_costs)
    buffer: int | None = None
    hard_cap: int | None = None
    default_cost: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    timezone: str = "America/Los_Angeles"

    def __attrs_post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail now on a bad zone name
        if self.buffer is not None and not 0 <= self.buffer <= self.daily_budget:
            raise ValueError("buffer must lie between 0 and daily_budget")
        if self.hard_cap is not None and self.hard_cap < 1:
            raise ValueError("hard_cap must be at least 1")

    @property
    def buffer_units(self) -> int:
        """Units held back (10% of the budget unless configured)."""
        return self.buffer if self.buffer is not None else self.daily_budget // 10

    @property
    def cap(self) -> int:
        """Units that may be spent in one window."""
        return self.hard_cap if self.hard_cap is not None else self.daily_budget

    def cost(self, method: str) -> int:
        """Units `method` costs."""
        return self.costs.get(method, self.default_cost)


@attrs.frozen(kw_only=True)
class QuotaDecision:
    """The answer of `check`: whether the call may be made and the state it leaves."""

    allowed: bool
    method: str
    cost: int
    used: int
    remaining: int
    status: str
    reset_at: datetime


@attrs.frozen(kw_only=True, slots=True)
class QuotaFigures:
    """One tracker's numbers at a moment (`QuotaTracker.view`): what `quotas.json` shows."""

    platform: str
    creator_id: str
    used: int
    max: int
    buffer: int
    remaining: int
    #: The next reset, and the start of the window in use (the dashboard reads the latter).
    reset_at: datetime
    window_start: datetime
    status: str
    calls: int
    refused: int


class QuotaTracker:
    """Usage of one creator's budget on one platform, rolling over at each reset."""

    def __init__(
        self,
        *,
        creator_id: str,
        platform: str,
        policy: QuotaPolicy,
        used: int = 0,
        window: str | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.platform = platform
        self.policy = policy
        self._zone = ZoneInfo(policy.timezone)
        self.used = used
        self.window = window
        self.refused = 0
        self.calls = 0

    # ------------------------------------------------------------------ windows

    def window_key(self, now: datetime) -> str:
        """The reset window `now` falls in: the local date in the policy's time zone."""
        return self._local(now).date().isoformat()

    def reset_at(self, now: datetime) -> datetime:
        """When the window containing `now` ends (next local midnight), in UTC."""
        day = self._local(now).date() + timedelta(days=1)
        midnight = datetime(day.year, day.month, day.day, tzinfo=self._zone)
        return midnight.astimezone(UTC)

    def window_start(self, now: datetime) -> datetime:
        """When the window containing `now` began (local midnight), in UTC."""
        day = self._local(now).date()
        return datetime(day.year, day.month, day.day, tzinfo=self._zone).astimezone(UTC)

    def _local(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")
        return now.astimezone(self._zone)

    def _roll(self, now: datetime) -> None:
        key = self.window_key(now)
        if key != self.window:
            self.window = key
            self.used = 0

    # ------------------------------------------------------------------ budget

    def remaining(self, now: datetime) -> int:
        """Units left in the current window before the hard cap."""
        self._roll(now)
        return max(0, self.policy.cap - self.used)

    def status(self, now: datetime) -> str:
        """ "ok", "buffer" (inside the reserve: slow down) or "exhausted"."""
        left = self.remaining(now)
        if left <= 0:
            return EXHAUSTED
        return BUFFER if left <= self.policy.buffer_units else OK

    def check(self, method: str, now: datetime) -> QuotaDecision:
        """Whether `method` may be called now, without recording it."""
        cost = self.policy.cost(method)
        left = self.remaining(now)
        allowed = cost <= left
        after = left - cost if allowed else left
        status = EXHAUSTED if after <= 0 and cost > 0 else self.status(now)
        if allowed and 0 < after <= self.policy.buffer_units:
            status = BUFFER
        return QuotaDecision(
            allowed=allowed,
            method=method,
            cost=cost,
            used=self.used,
            remaining=after,
            status=status if allowed else EXHAUSTED,
            reset_at=self.reset_at(now),
        )

    def charge(self, method: str, now: datetime) -> QuotaDecision:
        """Record a call of `method`; raises `QuotaExhausted` (recording nothing) when it
        would pass the hard cap."""
        decision = self.check(method, now)
        if not decision.allowed:
            self.refused += 1
            raise QuotaExhausted(method, decision.cost, decision.remaining, decision.reset_at)
        self.used += decision.cost
        self.calls += 1
        return attrs.evolve(decision, used=self.used)

    def record_external(self, units: int, now: datetime) -> None:
        """Count units spent that were not charged here (e.g. restored from the store)."""
        self._roll(now)
        self.used += units

    # ----------------------------------------------------------------- pacing

    def polling_interval(
        self, now: datetime, *, method: str, minimum: float, maximum: float = 3600.0
    ) -> float:
        """Seconds between calls of `method` so the budget outside the reserve lasts until the
        reset; never below `minimum` (the platform's own hint), `maximum` once only the reserve
        is left (the reserve is for sends and rediscovery, not polling)."""
        cost = self.policy.cost(method)
        if cost == 0:
            return minimum
        spendable = self.remaining(now) - self.policy.buffer_units
        if spendable < cost:
            return maximum
        seconds_left = (self.reset_at(now) - now).total_seconds()
        calls = spendable // cost
        return min(maximum, max(minimum, seconds_left / calls))

    def view(self, now: datetime) -> QuotaFigures:
        """The numbers `quotas.json` shows for this tracker."""
        return QuotaFigures(
            platform=self.platform,
            creator_id=self.creator_id,
            used=self.used,
            max=self.policy.cap,
            buffer=self.policy.buffer_units,
            remaining=self.remaining(now),
            reset_at=self.reset_at(now),
            window_start=self.window_start(now),
            status=self.status(now),
            calls=self.calls,
            refused=self.refused,
        )
