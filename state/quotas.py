"""API quota usage per creator x platform x reset window.

The window key (column ``day``) is computed by the quota tracker, e.g. ``"2026-11-21"`` for
YouTube's daily quota that resets at midnight Pacific time; the store only sums units in it.
"""

from __future__ import annotations

import apsw
import attrs

from ._sql import require_int, require_text, require_transaction
from .errors import InvalidArgument
from .timeutil import now_ms

__all__ = ["QuotaUsage", "add_quota_units", "get_quota_usage", "list_quota_usage", "prune_quota"]


@attrs.frozen(slots=True, kw_only=True)
class QuotaUsage:
    """Units used in one window."""

    creator_id: str
    platform: str
    window: str
    used: int
    updated_at: int


def _usage(row: tuple) -> QuotaUsage:
    return QuotaUsage(
        creator_id=row[0], platform=row[1], window=row[2], used=row[3], updated_at=row[4]
    )


def add_quota_units(
    conn: apsw.Connection,
    *,
    creator_id: str,
    platform: str,
    window: str,
    units: int,
    now: int | None = None,
) -> QuotaUsage:
    """Add ``units`` (>= 0) to the window's usage and return the new total."""
    require_transaction(conn)
    for name, value in (("creator_id", creator_id), ("platform", platform), ("window", window)):
        require_text(name, value)
    require_int("units", units)
    if units < 0:
        raise InvalidArgument("units must not be negative")
    at = now_ms() if now is None else now
    conn.execute(
        "INSERT INTO quota_usage (creator_id, platform, day, used, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (creator_id, platform, day) DO UPDATE SET "
        "used = used + excluded.used, updated_at = excluded.updated_at",
        (creator_id, platform, window, units, at),
    )
    usage = get_quota_usage(conn, creator_id=creator_id, platform=platform, window=window)
    assert usage is not None
    return usage


def get_quota_usage(
    conn: apsw.Connection, *, creator_id: str, platform: str, window: str
) -> QuotaUsage | None:
    """Usage in one window, or ``None`` when nothing was spent in it."""
    row = conn.execute(
        "SELECT creator_id, platform, day, used, updated_at FROM quota_usage "
        "WHERE creator_id = ? AND platform = ? AND day = ?",
        (creator_id, platform, window),
    ).fetchone()
    return None if row is None else _usage(row)


def list_quota_usage(conn: apsw.Connection, *, window: str | None = None) -> list[QuotaUsage]:
    """Usage rows ordered by ``(creator_id, platform, window)``."""
    sql = "SELECT creator_id, platform, day, used, updated_at FROM quota_usage"
    params: tuple = ()
    if window is not None:
        sql += " WHERE day = ?"
        params = (window,)
    return [_usage(r) for r in conn.execute(sql + " ORDER BY 1, 2, 3", params)]


def prune_quota(conn: apsw.Connection, *, older_than: int) -> int:
    """Delete windows last updated before ``older_than`` (Unix ms); returns how many."""
    require_transaction(conn)
    conn.execute("DELETE FROM quota_usage WHERE updated_at < ?", (older_than,))
    return conn.changes()
