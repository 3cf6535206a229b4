"""The ``meta`` key/value table and the ``creators`` table."""

from __future__ import annotations

import apsw
import attrs

from ._sql import one_row, require_text, require_transaction
from .timeutil import now_ms

__all__ = ["Creator", "get_meta", "list_creators", "set_meta", "upsert_creator"]


@attrs.frozen(slots=True, kw_only=True)
class Creator:
    """A creator as the runtime last applied it from the configuration."""

    creator_id: str
    display_name: str
    created_at: int
    updated_at: int


def get_meta(conn: apsw.Connection, key: str) -> str | None:
    """Return the value stored under ``key`` in ``meta``, or ``None``."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: apsw.Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` in ``meta`` (replacing any previous value)."""
    require_transaction(conn)
    require_text("key", key)
    require_text("value", value, allow_empty=True)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def upsert_creator(
    conn: apsw.Connection, *, creator_id: str, display_name: str, now: int | None = None
) -> Creator:
    """Insert a creator or update its display name; ``created_at`` is kept on update."""
    require_transaction(conn)
    require_text("creator_id", creator_id)
    require_text("display_name", display_name)
    at = now_ms() if now is None else now
    conn.execute(
        "INSERT INTO creators (creator_id, display_name, created_at, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (creator_id) DO UPDATE SET "
        "display_name = excluded.display_name, updated_at = excluded.updated_at "
        "WHERE display_name IS NOT excluded.display_name",
        (creator_id, display_name, at, at),
    )
    row = one_row(
        conn.execute(
            "SELECT creator_id, display_name, created_at, updated_at FROM creators "
            "WHERE creator_id = ?",
            (creator_id,),
        )
    )
    return _creator(row)


def list_creators(conn: apsw.Connection) -> list[Creator]:
    """All creators ordered by ``creator_id``."""
    rows = conn.execute(
        "SELECT creator_id, display_name, created_at, updated_at FROM creators ORDER BY creator_id"
    )
    return [_creator(r) for r in rows]


def _creator(row: tuple) -> Creator:
    return Creator(creator_id=row[0], display_name=row[1], created_at=row[2], updated_at=row[3])
