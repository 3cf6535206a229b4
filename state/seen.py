"""Message ids already processed, so a replayed message (a reconnect, a redelivered webhook, a
restart) is applied once.

Ids are kept per ``scope``: a creator id for chat (two creators reading the same chat each
process every message), ``"watch"`` for the live monitor's webhook deliveries. Retention is
bounded by age and by a count per scope (see :func:`prune_seen`).

The table is ordered by scope and time seen (migration 9): marking appends to the end of the
scope's range, and the newest or oldest ids of a scope are a range. Asking whether one id is
there scans its scope (a few thousand rows at most): `mark_seen` and `seen_among` do that, for
callers that mark now and then; the hot path (`mark_seen_many`, the trigger engine's ids, which
it dedupes in memory) never looks.
"""

from __future__ import annotations

from collections.abc import Iterable

import apsw

from ._sql import IN_JSON_LIST, all_text, json_list, require_int, require_text, require_transaction
from .errors import InvalidArgument
from .timeutil import now_ms

__all__ = ["mark_seen", "mark_seen_many", "prune_seen", "recent_seen", "seen_among"]

# OR IGNORE: the same id marked twice in one millisecond is one row.
_INSERT = (
    "INSERT OR IGNORE INTO seen_messages (scope, platform, message_id, seen_at) VALUES (?, ?, ?, ?)"
)
_FIND = "SELECT 1 FROM seen_messages WHERE scope = ? AND platform = ? AND message_id = ? LIMIT 1"


def mark_seen(
    conn: apsw.Connection,
    *,
    scope: str,
    platform: str,
    message_id: str,
    now: int | None = None,
) -> bool:
    """Remember a message id; True when it is new, False for one already seen (unchanged)."""
    require_transaction(conn)
    require_text("scope", scope)
    require_text("platform", platform)
    require_text("message_id", message_id)
    if conn.execute(_FIND, (scope, platform, message_id)).fetchone() is not None:
        return False
    conn.execute(_INSERT, (scope, platform, message_id, now_ms() if now is None else now))
    return True


def mark_seen_many(
    conn: apsw.Connection, *, scope: str, keys: Iterable[tuple[str, str]], now: int
) -> None:
    """Remember each `(platform, message_id)` of `keys` (a key repeated in `keys` once), in one
    pass and without looking for them first: the caller passes ids it has not marked before
    (it dedupes them in memory, like `actors.recent.SeenMessages`). An id marked again is
    remembered again, at its new time, which only keeps it longer."""
    require_transaction(conn)
    require_text("scope", scope)
    if type(keys) is tuple and len(keys) == 1:  # most often: an id marked with its write
        ((platform, message_id),) = keys
        if all_text(platform, message_id):
            conn.execute(_INSERT, (scope, platform, message_id, now))
            return
    rows: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for platform, message_id in keys:
        if not all_text(platform, message_id):  # name what is wrong
            require_text("platform", platform)
            require_text("message_id", message_id)
        rows.setdefault((platform, message_id), (scope, platform, message_id, now))
    conn.executemany(_INSERT, rows.values())


def seen_among(
    conn: apsw.Connection, *, scope: str, platform: str, message_ids: Iterable[str]
) -> set[str]:
    """The ids among ``message_ids`` that are remembered (one pass over the scope's ids)."""
    wanted = json_list(message_ids)
    if wanted == "[]":
        return set()
    rows = conn.execute(
        "SELECT DISTINCT message_id FROM seen_messages WHERE scope = ? AND platform = ? "
        f"AND message_id {IN_JSON_LIST}",
        (scope, platform, wanted),
    )
    return {str(message_id) for (message_id,) in rows}


def recent_seen(
    conn: apsw.Connection, *, scope: str, limit: int, platform: str | None = None
) -> list[tuple[str, str]]:
    """The newest ``limit`` ``(platform, message_id)`` of the scope (of one ``platform`` when
    given), oldest first."""
    require_int("limit", limit)
    rows = conn.execute(
        "SELECT platform, message_id FROM seen_messages WHERE scope = ?1 "
        "AND (?2 IS NULL OR platform = ?2) "
        "ORDER BY seen_at DESC, platform DESC, message_id DESC LIMIT ?3",
        (scope, platform, max(0, limit)),
    ).fetchall()
    return [(str(platform), str(message_id)) for platform, message_id in reversed(rows)]


def prune_seen(
    conn: apsw.Connection, *, scope: str, older_than: int, keep_last: int | None = None
) -> int:
    """Forget the scope's ids seen before ``older_than``, and beyond its newest ``keep_last``
    (ids seen in the same millisecond as the last one kept are kept too); returns how many."""
    require_transaction(conn)
    require_text("scope", scope)
    require_int("older_than", older_than)
    if older_than < 0:
        raise InvalidArgument("older_than must not be negative")
    cutoff = older_than
    if keep_last is not None:
        require_int("keep_last", keep_last)
        if keep_last < 1:
            raise InvalidArgument("keep_last must be at least 1")
        row = conn.execute(
            "SELECT seen_at FROM seen_messages WHERE scope = ? "
            "ORDER BY seen_at DESC LIMIT 1 OFFSET ?",
            (scope, keep_last - 1),
        ).fetchone()
        if row is not None:
            cutoff = max(cutoff, int(row[0]))
    conn.execute("DELETE FROM seen_messages WHERE scope = ? AND seen_at < ?", (scope, cutoff))
    return conn.changes()
