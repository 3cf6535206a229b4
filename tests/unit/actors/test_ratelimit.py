"""Token buckets and the rate governor: exact arithmetic on explicit times."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
import trio

from actors.ratelimit import (
    BucketStatistics,
    RateGovernor,
    RateKey,
    TokenBucket,
    acquire,
    bucket_view,
)
from actors.twitch.helix import parse_rate_limit
from exports.views import RateLimitView

KEY = RateKey(platform="youtube", creator_id="daniel", action="chat")


def test_a_bucket_starts_full_and_empties():
    bucket = TokenBucket(3, 1.0)
    assert [bucket.try_take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time(0.0) == 1.0
    assert bucket.available(0.0) == 0.0


def test_refill_is_continuous_and_capped():
    bucket = TokenBucket(2, 0.5, tokens=0, now=10.0)
    assert bucket.wait_time(10.0) == 2.0
    assert not bucket.try_take(11.0)
    assert bucket.wait_time(11.0) == 1.0
    assert bucket.try_take(12.0)
    assert bucket.available(100.0) == 2.0  # never above the capacity
    assert bucket.wait_time(100.0, 2) == 0.0
    assert bucket.wait_time(100.0, 3) == math.inf
    assert bucket.window_seconds == 4.0


def test_time_going_backwards_changes_nothing():
    bucket = TokenBucket(1, 1.0, tokens=0, now=5.0)
    assert bucket.wait_time(4.0) == 1.0  # as if still at 5.0... but measured from 4.0
    assert bucket.available(4.0) == 0.0


def test_without_refill_an_empty_bucket_waits_forever():
    bucket = TokenBucket(1, 0.0)
    assert bucket.try_take(0.0)
    assert bucket.wait_time(1e9) == math.inf


def test_taking_several_tokens_is_all_or_nothing():
    bucket = TokenBucket(5, 1.0, tokens=2)
    assert not bucket.try_take(0.0, 3)
    assert bucket.available(0.0) == 2.0
    assert bucket.wait_time(0.0, 3) == 1.0
    assert bucket.try_take(1.0, 3)
    assert bucket.available(1.0) == 0.0


def test_invalid_buckets_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(0, 1.0)
    with pytest.raises(ValueError):
        TokenBucket(1, -1.0)


def test_a_block_holds_until_its_end():
    bucket = TokenBucket(10, 10.0)
    bucket.block(30.0, now=0.0)
    assert bucket.wait_time(0.0) == 30.0
    assert not bucket.try_take(29.0)
    assert bucket.try_take(30.0)
    assert bucket.blocked_until is None


def test_helix_headers_set_the_bucket():
    bucket = TokenBucket(800, 800 / 60)
    headers = {"ratelimit-limit": "800", "ratelimit-remaining": "0", "ratelimit-reset": "1060"}
    limit = parse_rate_limit(headers)
    assert limit is not None
    bucket.observe(limit=limit.limit, remaining=limit.remaining, reset_in=60.0, now=0.0)
    assert bucket.capacity == 800 and bucket.wait_time(0.0) == 60.0
    assert bucket.refill_per_second == 800 / 60
    bucket.observe(limit=800, remaining=400, reset_in=30.0, now=60.0)
    assert bucket.available(60.0) == 400.0
    assert bucket.refill_per_second == 400 / 30


def test_the_governor_counts_and_describes_its_buckets():
    governor = RateGovernor()
    governor.define(KEY, capacity=2, refill_per_second=0.5, now=0.0)
    other = RateKey(platform="rumble", creator_id="daniel", action="poll")
    governor.define(other, capacity=1, refill_per_second=0.2, now=0.0)
    assert [governor.try_take(KEY, 0.0) for _ in range(3)] == [True, True, False]
    when = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    governor.touch(KEY, when)
    poll, chat = governor.statistics(0.0)  # sorted by scope
    assert chat == BucketStatistics(
        scope="creator:daniel/youtube/chat",
        platform="youtube",
        creator_id="daniel",
        action="chat",
        limit=2,
        window_seconds=4.0,
        status="limited",
        used=2,
        available=0.0,
        taken=2,
        limited=1,
        updated_at=when,
    )
    assert (poll.scope, poll.status, poll.updated_at) == ("creator:daniel/rumble/poll", "ok", None)
    governor.block(other, until=50.0, now=0.0)
    views = governor.views(1.0)
    assert views[0] == RateLimitView(
        scope="creator:daniel/rumble/poll", limit=1, window_seconds=5.0, status="blocked", used=1
    )
    assert views[1] == bucket_view(governor.statistics(1.0)[1])
    # Re-defining keeps what was spent: a restarted actor gets no fresh allowance.
    governor.define(KEY, capacity=2, refill_per_second=0.5, now=1.0)
    assert governor.bucket(KEY).available(1.0) == 0.5


def test_governor_adopts_helix_headers_with_unix_reset():
    governor = RateGovernor()
    governor.define(KEY, capacity=800, refill_per_second=800 / 60, now=100.0)
    limit = parse_rate_limit(
        {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "1700000030"}
    )
    assert limit is not None
    governor.observe_headers(KEY, limit, now=100.0, unix_now=1_700_000_000.0)
    assert governor.wait_time(KEY, 100.0) == 30.0
    assert governor.status(KEY, 110.0) == "blocked"
    assert governor.status(KEY, 130.0) == "ok"


async def test_acquire_waits_exactly(autojump_clock):
    governor = RateGovernor()
    governor.define(KEY, capacity=2, refill_per_second=0.5, now=trio.current_time())
    times = []
    for _ in range(5):
        await acquire(governor, KEY)
        times.append(trio.current_time())
    assert times == [0.0, 0.0, 2.0, 4.0, 6.0]
    with pytest.raises(ValueError):
        await acquire(governor, KEY, 3)
