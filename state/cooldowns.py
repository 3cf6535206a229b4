"""Durable trigger cooldowns: a scope key and the instant its cooldown ends.

Scopes are opaque strings chosen by the trigger engine. Only cooldowns that must survive a
restart belong here; short per-message ones can stay in memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import apsw
import attrs

from ._sql import require_int, require_text, require_transaction
from .errors import InvalidArgument

__all__ = [
    "Cooldown",
    "active_cooldowns",
    "clear_cooldown",
    "get_cooldown",
    "prune_expired_cooldowns",
    "set_cooldown",
    "set_cooldowns",
    "try_start_cooldown",
]


@attrs.frozen(slots=True, kw_only=True)
class Cooldown:
    """A cooldown that ends at ``expires_at`` (Unix ms)."""

    scope: str
    expires_at: int


_SET = (
    "INSERT INTO cooldowns (scope, expires_at) VALUES (?, ?) "
    "ON CONFLICT (scope) DO UPDATE SET expires_at = excluded.expires_at"
)


def set_cooldown(conn: apsw.Connection, *, scope: str, expires_at: int) -> Cooldown:
    """Start or replace the cooldown of ``scope``."""
    set_cooldowns(conn, ((scope, expires_at),))
    return Cooldown(scope=scope, expires_at=expires_at)


def set_cooldowns(conn: apsw.Connection, expiries: Iterable[tuple[str, int]]) -> None:
    """`set_cooldown` each `(scope, expires_at)` of `expiries`, in order, in one pass."""
    require_transaction(conn)
    rows = [
        (require_text("scope", scope), require_int("expires_at", expires_at))
        for scope, expires_at in expiries
    ]
    conn.executemany(_SET, rows)


def get_cooldown(conn: apsw.Connection, scope: str, *, now: int) -> Cooldown | None:
    """The cooldown of ``scope`` if it is still running at ``now``, else ``None``."""
    row = conn.execute(
        "SELECT expires_at FROM cooldowns WHERE scope = ? AND expires_at > ?", (scope, now)
    ).fetchone()
    return None if row is None else Cooldown(scope=scope, expires_at=row[0])


def try_start_cooldown(
    conn: apsw.Connection, *, scope: str, now: int, duration_ms: int
) -> Cooldown | None:
    """Atomically check and start a cooldown.

    Returns the new :class:`Cooldown` when ``scope`` was free (the trigger may fire), or
    ``None`` when a cooldown is still running (the trigger must not fire).
    """
    require_int("duration_ms", duration_ms)
    if duration_ms <= 0:
        raise InvalidArgument("duration_ms must be positive")
    if get_cooldown(conn, scope, now=now) is not None:
        return None
    return set_cooldown(conn, scope=scope, expires_at=now + duration_ms)


def clear_cooldown(conn: apsw.Connection, *, scope: str) -> bool:
    """End the cooldown of ``scope`` now; returns whether one was stored."""
    require_transaction(conn)
    conn.execute("DELETE FROM cooldowns WHERE scope = ?", (scope,))
    return conn.changes() > 0


def active_cooldowns(
    conn: apsw.Connection, *, now: int, prefix: str | None = None
) -> list[Cooldown]:
    """Cooldowns still running at ``now`` (optionally under a scope prefix), by scope."""
    where, params = _under(prefix)
    rows = conn.execute(
        f"SELECT scope, expires_at FROM cooldowns WHERE expires_at > ?{where} ORDER BY scope",
        [now, *params],
    )
    return [Cooldown(scope=r[0], expires_at=r[1]) for r in rows]


def _under(prefix: str | None) -> tuple[str, list[object]]:
    """The condition (to add with AND) and parameters of the scopes under ``prefix`` (every
    scope for none): the key range of those scopes, so only they are read."""
    if not prefix:
        return "", []
    # substr comparison instead of LIKE: scopes may contain % or _.
    where = " AND substr(scope, 1, ?) = ?"
    params: list[object] = [len(prefix), prefix]
    above = _above_every_extension(prefix)
    if above is not None:
        where += " AND scope >= ? AND scope < ?"
        params += [prefix, above]
    return where, params


def _above_every_extension(prefix: str) -> str | None:
    """A text above every text that starts with `prefix` and below every other text above
    them: `prefix` with its last character raised by one (SQLite compares text as UTF-8
    bytes, which is code point order); None when that character is the last code point."""
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return None
    following = 0xE000 if last + 1 == 0xD800 else last + 1  # surrogates are not UTF-8
    return prefix[:-1] + chr(following)


def prune_expired_cooldowns(conn: apsw.Connection, *, now: int, prefix: str | None = None) -> int:
    """Delete cooldowns that ended at or before ``now`` (under ``prefix`` only, when given:
    a range of the key); returns how many."""
    require_transaction(conn)
    where, params = _under(prefix)
    conn.execute(f"DELETE FROM cooldowns WHERE expires_at <= ?{where}", [now, *params])
    return conn.changes()
