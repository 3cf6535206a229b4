"""Rate-limit governor: token buckets keyed by (platform, creator, action).

The core is sans-IO: every method takes `now` (seconds on any monotonic scale; the actors use
`trio.current_time()`, exact under trio's `MockClock`). A `TokenBucket` holds up to `capacity`
tokens and gains `refill_per_second` of them continuously; an action takes one (or more). A
platform that tells us its own bucket (Twitch Helix's `Ratelimit-Limit/Remaining/Reset`
headers, see `actors.twitch.helix.parse_rate_limit`) overrides our estimate with `observe`, and
a server-imposed wait (HTTP 429, "come back at reset") is a `block`.

`RateGovernor` holds the buckets of a process (or of one actor), counts what was taken and
refused, and describes them: `statistics()` gives a `BucketStatistics` per bucket (for
snapshots), `views()` the `rate_limits.json` rows (`exports.views.RateLimitView`).
`acquire` is the one async helper: it sleeps with `trio.sleep` until a token is there.

`SlidingWindow` is the other shape of limit: at most N actions in any period (Twitch chat's
"20 messages per 30 s", counted per account whichever transport sends them: IRC or Helix).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from datetime import datetime

import attrs
import trio

from exports.views import RateLimitView

__all__ = [
    "BucketStatistics",
    "RateGovernor",
    "RateKey",
    "RateLimit",
    "SlidingWindow",
    "TokenBucket",
    "acquire",
    "bucket_view",
]


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds (trio time).

    `acquire(limit=...)` may pass a different limit per call (Twitch's 20-vs-100 choice is
    made per message); the remembered times are the same.
    """

    def __init__(self, limit: int, period: float, *, capacity: int | None = None) -> None:
        if limit < 1 or not period > 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque(maxlen=max(limit, capacity or 0))

    def delay(self, now: float, limit: int | None = None) -> float:
        """Seconds to wait from `now` before one more acquisition fits (0 when it does)."""
        limit = limit or self.limit
        times = self._times
        while times and times[0] <= now - self.period:
            times.popleft()
        if len(times) < limit:
            return 0.0
        # The acquisition `limit` places back must leave the window first.
        return times[len(times) - limit] + self.period - now

    async def acquire(self, limit: int | None = None) -> None:
        """Wait until one more acquisition fits, then record it."""
        while True:
            wait = self.delay(trio.current_time(), limit)
            if wait <= 0:
                break
            await trio.sleep(wait)
        self._times.append(trio.current_time())

    def __len__(self) -> int:
        return len(self._times)


@attrs.frozen(kw_only=True)
class RateLimit:
    """A server's own token bucket as its last response described it.

    Parsed from a platform's headers by its protocol module (Twitch Helix:
    `actors.twitch.helix.parse_rate_limit`) and fed to `RateGovernor.observe_headers`.
    """

    limit: int
    remaining: int
    reset: int  # Unix seconds when the bucket is full again

    def wait_seconds(self, now: float) -> float:
        """Seconds to wait before the next call (0 while points remain). `now` = Unix time."""
        return 0.0 if self.remaining > 0 else max(0.0, self.reset - now)


class TokenBucket:
    """`capacity` tokens, refilled at `refill_per_second`; starts full unless `tokens` is given.

    All methods take `now` explicitly; time never goes backwards for a bucket (an older `now`
    is treated as the last one seen).
    """

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        tokens: float | None = None,
        now: float = 0.0,
    ) -> None:
        if not capacity > 0:
            raise ValueError("capacity must be greater than 0")
        if refill_per_second < 0 or not math.isfinite(refill_per_second):
            raise ValueError("refill_per_second must be a finite number >= 0")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._tokens = self.capacity if tokens is None else min(float(tokens), self.capacity)
        self._at = now
        self.blocked_until: float | None = None

    def _refill(self, now: float) -> None:
        if now > self._at:
            gained = (now - self._at) * self.refill_per_second
            self._tokens = min(self.capacity, self._tokens + gained)
            self._at = now
        if self.blocked_until is not None and now >= self.blocked_until:
            self.blocked_until = None

    def available(self, now: float) -> float:
        """Tokens in the bucket at `now` (fractional while refilling)."""
        self._refill(now)
        return self._tokens

    def wait_time(self, now: float, n: float = 1.0) -> float:
        """Seconds from `now` until `n` tokens can be taken (0 when they can be now).

        `math.inf` when they never can (more than the capacity, or no refill and too few).
        """
        if n > self.capacity:
            return math.inf
        self._refill(now)
        block = 0.0 if self.blocked_until is None else self.blocked_until - now
        missing = n - self._tokens
        if missing <= 1e-12:
            refill_wait = 0.0
        elif self.refill_per_second == 0:
            return math.inf
        else:
            refill_wait = missing / self.refill_per_second
        return max(block, refill_wait, 0.0)

    def try_take(self, now: float, n: float = 1.0) -> bool:
        """Take `n` tokens if they are there (True), else take nothing (False)."""
        if self.wait_time(now, n) > 0:
            return False
        self._tokens -= n
        return True

    def block(self, until: float, now: float) -> None:
        """A server said "no more until `until`": empty the bucket and refuse until then."""
        self._refill(now)
        self._tokens = 0.0
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until

    def observe(self, *, limit: int, remaining: int, reset_in: float, now: float) -> None:
        """Adopt the server's view of the bucket: `limit` tokens, `remaining` left, full again
        in `reset_in` seconds (Helix headers). The refill rate becomes what refills it by then;
        with nothing remaining it is blocked until the reset."""
        if limit < 1:
            return
        self._refill(now)
        self.capacity = float(limit)
        self._tokens = float(max(0, min(remaining, limit)))
        reset_in = max(0.0, reset_in)
        if reset_in > 0 and remaining < limit:
            self.refill_per_second = (limit - self._tokens) / reset_in
        if remaining <= 0 and reset_in > 0:
            self.blocked_until = now + reset_in

    @property
    def window_seconds(self) -> float:
        """Seconds an empty bucket takes to fill up (the "window" of the limit)."""
        if self.refill_per_second == 0:
            return math.inf
        return self.capacity / self.refill_per_second


@attrs.frozen(kw_only=True, order=True)
class RateKey:
    """What a bucket limits: one action of one creator on one platform."""

    platform: str
    creator_id: str
    action: str

    @property
    def scope(self) -> str:
        """The `rate_limits.json` scope, e.g. `creator:daniel/youtube/chat`."""
        return f"creator:{self.creator_id}/{self.platform}/{self.action}"


@attrs.frozen(slots=True, kw_only=True)
class BucketStatistics:
    """One bucket of a `RateGovernor` at a moment (`RateGovernor.statistics`): what it limits,
    its size and state, and what was taken and refused through it."""

    #: The `rate_limits.json` scope, e.g. `creator:daniel/youtube/chat` (`RateKey.scope`).
    scope: str
    platform: str
    creator_id: str
    action: str
    #: The bucket's capacity in whole tokens.
    limit: int
    #: Seconds an empty bucket takes to fill (0.0 when it never refills).
    window_seconds: float
    #: "ok", "limited" (refilling) or "blocked" (a server said wait).
    status: str
    #: Whole tokens missing from a full bucket.
    used: int
    #: Tokens there now (fractional while refilling, rounded to 3 places).
    available: float
    #: Acquisitions granted, and refused, so far.
    taken: int
    limited: int
    #: Wall time of the last change the actor recorded (`RateGovernor.touch`), if any.
    updated_at: datetime | None = None


class _Entry:
    __slots__ = ("bucket", "limited", "taken", "updated_at")

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self.taken = 0
        self.limited = 0
        self.updated_at: datetime | None = None


class RateGovernor:
    """Token buckets by `RateKey`, with counters and export views (sans-IO; see module docs).

    Buckets are created by `define` (re-defining keeps the current tokens, so a restarted actor
    that shares the governor does not get a fresh allowance).
    """

    def __init__(self) -> None:
        self._entries: dict[RateKey, _Entry] = {}

    def define(
        self,
        key: RateKey,
        *,
        capacity: float,
        refill_per_second: float,
        now: float,
    ) -> TokenBucket:
        """The bucket of `key`, created full if new; an existing one keeps its tokens."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(TokenBucket(capacity, refill_per_second, now=now))
        return entry.bucket

    def bucket(self, key: RateKey) -> TokenBucket:
        """The bucket of `key` (`KeyError` when it was never defined)."""
        return self._entries[key].bucket

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[RateKey]:
        return iter(sorted(self._entries))

    def wait_time(self, key: RateKey, now: float, n: float = 1.0) -> float:
        """Seconds until `n` tokens of `key` can be taken."""
        return self._entries[key].bucket.wait_time(now, n)

    def try_take(self, key: RateKey, now: float, n: float = 1.0) -> bool:
        """Take `n` tokens of `key` if there (counted as used), else count a refusal."""
        entry = self._entries[key]
        if entry.bucket.try_take(now, n):
            entry.taken += 1
            return True
        entry.limited += 1
        return False

    def observe_headers(
        self, key: RateKey, rate_limit: RateLimit, *, now: float, unix_now: float
    ) -> None:
        """Adopt `Ratelimit-Limit/Remaining/Reset` (Reset is Unix seconds; `unix_now` is the
        wall time matching `now`)."""
        entry = self._entries[key]
        entry.bucket.observe(
            limit=rate_limit.limit,
            remaining=rate_limit.remaining,
            reset_in=rate_limit.reset - unix_now,
            now=now,
        )

    def block(self, key: RateKey, *, until: float, now: float) -> None:
        """The server refused (429 or similar): nothing for `key` until `until`."""
        self._entries[key].bucket.block(until, now)

    def touch(self, key: RateKey, when: datetime) -> None:
        """Record the wall time of the last change (for `updated_at` in the export)."""
        self._entries[key].updated_at = when

    def status(self, key: RateKey, now: float) -> str:
        """The bucket's state: "ok" (a token is there), "limited" (refilling), "blocked"."""
        bucket = self._entries[key].bucket
        bucket.available(now)
        if bucket.blocked_until is not None:
            return "blocked"
        return "ok" if bucket.wait_time(now) == 0 else "limited"

    def statistics(self, now: float) -> tuple[BucketStatistics, ...]:
        """One value per bucket, sorted by scope (for snapshots)."""
        rows = []
        for key in self:
            entry = self._entries[key]
            bucket = entry.bucket
            tokens = bucket.available(now)
            window = bucket.window_seconds
            rows.append(
                BucketStatistics(
                    scope=key.scope,
                    platform=key.platform,
                    creator_id=key.creator_id,
                    action=key.action,
                    limit=int(bucket.capacity),
                    window_seconds=window if math.isfinite(window) else 0.0,
                    status=self.status(key, now),
                    used=max(0, int(bucket.capacity - math.floor(tokens + 1e-9))),
                    available=round(tokens, 3),
                    taken=entry.taken,
                    limited=entry.limited,
                    updated_at=entry.updated_at,
                )
            )
        return tuple(rows)

    def views(self, now: float) -> list[RateLimitView]:
        """`rate_limits.json` rows."""
        return [bucket_view(row) for row in self.statistics(now)]


def bucket_view(bucket: BucketStatistics) -> RateLimitView:
    """The `rate_limits.json` row of one bucket's figures (as found in a snapshot)."""
    return RateLimitView(
        scope=bucket.scope,
        limit=bucket.limit,
        window_seconds=bucket.window_seconds,
        status=bucket.status,
        used=bucket.used,
        updated_at=bucket.updated_at,
    )


async def acquire(governor: RateGovernor, key: RateKey, n: float = 1.0) -> None:
    """Wait (trio time) until `n` tokens of `key` are there, then take them.

    Raises `ValueError` when they never can be (more than the capacity).
    """
    while True:
        now = trio.current_time()
        wait = governor.wait_time(key, now, n)
        if math.isinf(wait):
            raise ValueError(f"{key.scope}: {n} tokens can never be taken")
        if wait <= 0 and governor.try_take(key, now, n):
            return
        await trio.sleep(max(wait, 1e-6))
