"""Timestamp helpers: integer Unix milliseconds in the store, ISO text in exports."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from state.timeutil import from_datetime, iso_ms, now_ms, to_datetime


def test_iso_ms_has_millisecond_precision_and_z():
    ms = from_datetime(dt.datetime(2026, 11, 21, 18, 30, 5, 120_999, tzinfo=dt.UTC))
    assert iso_ms(ms) == "2026-11-21T18:30:05.120Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        from_datetime(dt.datetime(2026, 1, 1))


def test_now_ms_is_close_to_the_wall_clock():
    wall = dt.datetime.now(dt.UTC)
    assert abs(now_ms() - from_datetime(wall)) < 5_000


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_round_trip_through_datetime(ms):
    assert from_datetime(to_datetime(ms)) == ms
