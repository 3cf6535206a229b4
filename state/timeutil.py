"""Time representation of the store.

Every timestamp in the database is an ``INTEGER`` number of milliseconds since the Unix epoch,
UTC. Why integers rather than ISO text: they sort and compare correctly in SQL, make arithmetic
(cooldown expiry, retry backoff, pruning by age) trivial, and cannot carry a stray time zone.
The export layer renders them with :func:`iso_ms` as ``2026-11-21T18:30:05.120Z``, the format
the snapshot files require.
"""

from __future__ import annotations

import datetime as _dt
import time

__all__ = ["from_datetime", "iso_ms", "now_ms", "to_datetime"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def now_ms() -> int:
    """Current wall-clock time in Unix milliseconds."""
    return time.time_ns() // 1_000_000


def from_datetime(value: _dt.datetime) -> int:
    """Convert an aware datetime to Unix milliseconds (naive datetimes are refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    delta = value - _EPOCH
    # Integer arithmetic on the timedelta avoids float rounding of microseconds.
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_datetime(ms: int) -> _dt.datetime:
    """Convert Unix milliseconds to an aware UTC datetime."""
    return _EPOCH + _dt.timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """Render Unix milliseconds as ISO-8601 UTC with milliseconds and ``Z``."""
    dt = to_datetime(ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
