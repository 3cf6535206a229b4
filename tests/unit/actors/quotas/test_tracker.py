"""QuotaTracker: budget, reserve, hard cap, Pacific-midnight reset, pacing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.quotas import QuotaExhausted, QuotaPolicy, QuotaTracker
from actors.youtube.livechat import QUOTA_COSTS

YOUTUBE = QuotaPolicy(daily_budget=10_000, costs=QUOTA_COSTS)


def tracker(policy: QuotaPolicy = YOUTUBE, **kw) -> QuotaTracker:
    return QuotaTracker(creator_id="daniel", platform="youtube", policy=policy, **kw)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_charges_use_the_documented_method_costs() -> None:
    t = tracker()
    now = at("2026-11-21T18:00:00Z")
    t.charge("liveChatMessages.list", now)
    t.charge("liveChatMessages.insert", now)
    t.charge("videos.list", now)
    assert t.used == 5 + 20 + 1
    assert t.remaining(now) == 10_000 - 26


def test_the_day_resets_at_midnight_los_angeles_not_utc() -> None:
    t = tracker()
    t.charge("liveChatMessages.list", at("2026-11-21T18:00:00Z"))  # 10:00 PST
    # 07:59 UTC on the 22nd is 23:59 PST on the 21st: the same window.
    assert t.remaining(at("2026-11-22T07:59:00Z")) == 9_995
    assert t.reset_at(at("2026-11-22T07:59:00Z")) == at("2026-11-22T08:00:00Z")
    # 08:00 UTC is midnight PST: a fresh window.
    assert t.remaining(at("2026-11-22T08:00:00Z")) == 10_000
    assert t.window == "2026-11-22"


def test_reset_follows_daylight_saving_time() -> None:
    t = tracker()
    # In July Los Angeles is on PDT (UTC-7): midnight is 07:00 UTC.
    assert t.reset_at(at("2026-07-04T12:00:00Z")) == at("2026-07-05T07:00:00Z")
    # The day DST ends (1 Nov 2026) is 25 hours long.
    start = t.window_start(at("2026-11-01T12:00:00Z"))
    assert t.reset_at(at("2026-11-01T12:00:00Z")) - start == timedelta(hours=25)


def test_a_restart_at_noon_does_not_reset_the_day() -> None:
    first = tracker()
    noon = at("2026-11-21T20:00:00Z")
    for _ in range(100):
        first.charge("liveChatMessages.list", noon)
    # What the owner persisted: the window key and the units.
    restored = tracker(used=first.used, window=first.window_key(noon))
    assert restored.remaining(noon + timedelta(minutes=5)) == 10_000 - 500


def test_the_reserve_is_reported_as_buffer_and_the_cap_refuses_the_call() -> None:
    t = tracker(QuotaPolicy(daily_budget=100, buffer=20, costs={"list": 5, "insert": 20}))
    now = at("2026-11-21T18:00:00Z")
    for _ in range(16):
        t.charge("list", now)
    assert t.status(now) == "buffer"  # 20 left: inside the reserve
    decision = t.check("insert", now)
    assert decision.allowed and decision.status == "exhausted" and decision.remaining == 0
    t.charge("insert", now)
    with pytest.raises(QuotaExhausted) as info:
        t.charge("list", now)
    assert info.value.reset_at == at("2026-11-22T08:00:00Z")
    assert t.used == 100 and t.refused == 1 and t.status(now) == "exhausted"


def test_polling_stretches_so_the_budget_lasts_until_the_reset() -> None:
    t = tracker()
    now = at("2026-11-21T08:00:00Z")  # midnight PST: 24 h ahead
    interval = t.polling_interval(now, method="liveChatMessages.list", minimum=5.0)
    # 9,000 spendable units / 5 per call = 1,800 calls over 86,400 s: one per 48 s.
    assert interval == pytest.approx(48.0)
    late = at("2026-11-22T07:00:00Z")  # one hour before the reset
    assert t.polling_interval(late, method="liveChatMessages.list", minimum=5.0) == 5.0


def test_polling_backs_off_to_the_maximum_once_only_the_reserve_is_left() -> None:
    t = tracker(QuotaPolicy(daily_budget=100, buffer=20, costs={"list": 5}))
    now = at("2026-11-21T18:00:00Z")
    for _ in range(16):
        t.charge("list", now)
    assert t.polling_interval(now, method="list", minimum=5.0, maximum=900.0) == 900.0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        tracker().charge("videos.list", datetime(2026, 11, 21, 12))


@given(
    costs=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=200),
    minutes=st.lists(st.integers(min_value=0, max_value=180), min_size=1, max_size=200),
)
def test_usage_never_passes_the_cap_in_any_window(costs: list[int], minutes: list[int]) -> None:
    t = tracker(QuotaPolicy(daily_budget=500, costs={f"m{c}": c for c in costs}))
    now = at("2026-11-21T00:00:00Z")
    for cost, step in zip(costs, minutes, strict=False):
        now += timedelta(minutes=step)
        try:
            t.charge(f"m{cost}", now)
        except QuotaExhausted:
            assert t.remaining(now) < cost
        assert 0 <= t.used <= 500
