"""Message ids already processed, so a replayed message (a reconnect, a redelivered webhook, a
restart) is applied once.

Ids are kept per ``scope``: a creator id for chat (two creators reading the same chat each
process every message), ``"watch"`` for the live monitor's webhook deliveries. Retention is
bounded by age and by a count per scope (see :func:`prune_seen`).

Two tables (migration 12). ``seen_messages`` is ordered by scope and time seen (migration 9):
the newest or oldest ids of a scope are a range of it. But a new id there goes to the end of
its scope's range, a page of its own per scope: with many creators chatting, a commit wrote
one such page per creator that chatted (two thirds of the pages of a commit at 1,000
creators). So an id is first appended to ``seen_journal``, in the order marked (its rowid:
every scope's new ids share the table's last page or two), and once the journal holds
`FOLD_ROWS` ids, the marking that reached that number moves them all into ``seen_messages``
(`fold_seen`): each scope's page written once per fold, not once per commit.

Readers see both tables as one: the journal is read by a scan (at most `FOLD_ROWS` rows), as
is a scope's range when one id is looked for. Only rare paths read (a start, a platform that
asks the store which ids it delivered); the hot path (`mark_seen_many`, the trigger engine's
ids, which it dedupes in memory) never looks. A prune asked with a marking
(`request_prune`) is applied by the next fold, so a commit does not scan the journal for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apsw

from ._sql import (
    IN_JSON_LIST,
    all_text,
    json_list,
    one_row,
    require_int,
    require_text,
    require_transaction,
)
from .errors import InvalidArgument
from .timeutil import now_ms

__all__ = [
    "FOLD_ROWS",
    "ID_KEY_BYTES",
    "fold_seen",
    "id_key",
    "mark_seen",
    "mark_seen_in_turn",
    "mark_seen_many",
    "prune_seen",
    "recent_seen",
    "recent_seen_keys",
    "request_prune",
    "seen_among",
]

#: Ids the journal takes before the marking that reaches this number folds them into
#: `seen_messages`. Larger: fewer pages written per id (a fold writes two or three per scope
#: it holds: at 1,000 creators 0.28 per id with 8 ids per scope, 0.19 with 16; about 2.6 us
#: per id with the fold's commit), but longer scans for the reads (about 0.5 ms more to read
#: a scope's ids with the journal full) and a longer fold (about 50 ms, every 15 s).
FOLD_ROWS = 16_384

_APPEND = "INSERT INTO seen_journal (scope, platform, message_id, seen_at) VALUES (?, ?, ?, ?)"
# One row per (scope, seen_at, platform, message_id): the same id marked twice in one
# millisecond is one row, as it always was. Sorted: each scope's ids go in one after another.
_FOLD = (
    "INSERT OR IGNORE INTO seen_messages (scope, seen_at, platform, message_id) "
    "SELECT scope, seen_at, platform, message_id FROM seen_journal "
    "ORDER BY scope, seen_at, platform, message_id; "
    "DELETE FROM seen_journal"
)
_FIND = (
    "SELECT 1 FROM seen_messages WHERE scope = ?1 AND platform = ?2 AND message_id = ?3 "
    "UNION ALL "
    "SELECT 1 FROM seen_journal WHERE scope = ?1 AND platform = ?2 AND message_id = ?3 LIMIT 1"
)


def _appended(conn: apsw.Connection) -> None:
    """Fold the journal once it reached `FOLD_ROWS` rows (its rowids count from 1 again after
    each fold empties it: a rowid is one above the largest in the table)."""
    if conn.last_insert_rowid() >= FOLD_ROWS:
        fold_seen(conn)


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
    conn.execute(_APPEND, (scope, platform, message_id, now_ms() if now is None else now))
    _appended(conn)
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
            conn.execute(_APPEND, (scope, platform, message_id, now))
            _appended(conn)
            return
    rows = _journal_rows(scope, keys, now)
    if rows:
        conn.executemany(_APPEND, rows)
        _appended(conn)


def _journal_rows(
    scope: str, keys: Iterable[tuple[str, str]], now: int
) -> list[tuple[str, str, str, int]]:
    """The journal rows of a marking (`mark_seen_many`): one per key, checked."""
    rows: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    for platform, message_id in keys:
        if not all_text(platform, message_id):  # name what is wrong
            require_text("platform", platform)
            require_text("message_id", message_id)
        rows.setdefault((platform, message_id), (scope, platform, message_id, now))
    return list(rows.values())


#: One marking of `mark_seen_in_turn`: scope, keys, time seen, and the bounds of a prune to
#: request after it (`request_prune`'s `older_than` and `keep_last`), or None.
Marking = tuple[str, Iterable[tuple[str, str]], int, tuple[int, int | None] | None]


def mark_seen_in_turn(conn: apsw.Connection, markings: Sequence[Marking]) -> None:
    """`mark_seen_many` of each marking in turn, each followed by its prune request (if any),
    with one statement for all their ids (and one for the requests).

    Everything is checked before anything is written (bad input raises with nothing
    changed), and the tables end as the markings in turn leave them: the journal is folded
    right after the marking whose ids reach `FOLD_ROWS` (its rowids are 1 up to its size),
    with the prunes requested before that marking."""
    require_transaction(conn)
    checked: list[tuple[list[tuple[str, str, str, int]], tuple[Any, ...] | None]] = []
    for scope, keys, now, prune in markings:
        require_text("scope", scope)
        request = None
        if prune is not None:
            _check_bounds(scope, *prune)
            request = (scope, *prune)
        checked.append((_journal_rows(scope, keys, now), request))
    # The rowid the newest id of the journal got (`_appended` folds by it).
    (size,) = one_row(conn.execute("SELECT coalesce(max(rowid), 0) FROM seen_journal"))
    rows: list[tuple[str, str, str, int]] = []
    requests: list[tuple[Any, ...]] = []
    for marked, request in checked:
        if marked:
            rows += marked
            size += len(marked)
            if size >= FOLD_ROWS:
                _journal(conn, rows, requests)
                rows, requests = [], []
                fold_seen(conn)
                size = 0
        if request is not None:
            requests.append(request)
    _journal(conn, rows, requests)


def _journal(
    conn: apsw.Connection, rows: list[tuple[str, str, str, int]], requests: list[tuple[Any, ...]]
) -> None:
    if rows:
        conn.executemany(_APPEND, rows)
    if requests:
        conn.executemany(_REQUEST_PRUNE, requests)


def fold_seen(conn: apsw.Connection) -> int:
    """Move every id of the journal into `seen_messages`, then apply the prunes requested
    since the last fold (`request_prune`); returns how many ids the prunes forgot."""
    require_transaction(conn)
    conn.execute(_FOLD)
    requests: list[tuple[Any, ...]] = conn.execute(
        "SELECT scope, older_than, keep_last FROM seen_prune_requests"
    ).fetchall()
    if not requests:
        return 0
    conn.execute("DELETE FROM seen_prune_requests")
    return sum(_prune_folded(conn, *request) for request in requests)


def seen_among(
    conn: apsw.Connection, *, scope: str, platform: str, message_ids: Iterable[str]
) -> set[str]:
    """The ids among ``message_ids`` that are remembered (one pass over the scope's ids, and
    one over the journal)."""
    wanted = json_list(message_ids)
    if wanted == "[]":
        return set()
    rows = conn.execute(
        f"SELECT message_id FROM seen_messages WHERE scope = ? AND platform = ? "
        f"AND message_id {IN_JSON_LIST} "
        f"UNION SELECT message_id FROM seen_journal WHERE scope = ? AND platform = ? "
        f"AND message_id {IN_JSON_LIST}",
        (scope, platform, wanted) * 2,
    )
    return {str(message_id) for (message_id,) in rows}


def recent_seen(
    conn: apsw.Connection, *, scope: str, limit: int, platform: str | None = None
) -> list[tuple[str, str]]:
    """The newest ``limit`` ``(platform, message_id)`` of the scope (of one ``platform`` when
    given), oldest first."""
    require_int("limit", limit)
    rows = conn.execute(
        "SELECT platform, message_id FROM ("
        "  SELECT seen_at, platform, message_id FROM seen_messages WHERE scope = ?1 "
        "  AND (?2 IS NULL OR platform = ?2) "
        "  UNION SELECT seen_at, platform, message_id FROM seen_journal WHERE scope = ?1 "
        "  AND (?2 IS NULL OR platform = ?2)) "
        "ORDER BY seen_at DESC, platform DESC, message_id DESC LIMIT ?3",
        (scope, platform, max(0, limit)),
    ).fetchall()
    return [(str(platform), str(message_id)) for platform, message_id in reversed(rows)]


#: Bytes of a message id's compact form (`id_key`).
ID_KEY_BYTES = 8


def id_key(message_id: str) -> bytes:
    """A message id's compact form: its 64-bit ``hash``, 8 bytes whatever its length. Only
    within this process: a string's hash is SipHash under a key drawn at each start (so no
    chat line can aim at a collision; two different ids share a key with a probability of
    2**-64 per pair)."""
    return hash(message_id).to_bytes(ID_KEY_BYTES, "little", signed=True)


def recent_seen_keys(
    conn: apsw.Connection, *, scope: str, limit: int, platform: str | None = None
) -> dict[str, bytes]:
    """:func:`recent_seen`'s ids as their keys (`id_key`), oldest first, packed into one
    bytes object per platform. A start reloads a thousand creators' ids at once: as pairs of
    strings they were half a million small objects, all alive until the engines took them,
    and the holes they left fragmented the heap of a restart for good (about 49 MiB of RSS at
    1,000 creators); packed, each creator's ids are made and dropped in the reading thread."""
    packed: dict[str, bytearray] = {}
    for row_platform, message_id in recent_seen(conn, scope=scope, limit=limit, platform=platform):
        keys = packed.get(row_platform)
        if keys is None:
            keys = packed[row_platform] = bytearray()
        keys += id_key(message_id)
    return {p: bytes(keys) for p, keys in packed.items()}


def _check_bounds(scope: str, older_than: int, keep_last: int | None) -> None:
    require_text("scope", scope)
    require_int("older_than", older_than)
    if older_than < 0:
        raise InvalidArgument("older_than must not be negative")
    if keep_last is not None:
        require_int("keep_last", keep_last)
        if keep_last < 1:
            raise InvalidArgument("keep_last must be at least 1")


def prune_seen(
    conn: apsw.Connection, *, scope: str, older_than: int, keep_last: int | None = None
) -> int:
    """Forget the scope's ids seen before ``older_than``, and beyond its newest ``keep_last``
    (ids seen in the same millisecond as the last one kept are kept too); returns how many.

    Folds the journal first (`fold_seen`): a hot path asks with `request_prune` instead."""
    require_transaction(conn)
    _check_bounds(scope, older_than, keep_last)
    fold_seen(conn)
    return _prune_folded(conn, scope, older_than, keep_last)


def request_prune(
    conn: apsw.Connection, *, scope: str, older_than: int, keep_last: int | None = None
) -> None:
    """`prune_seen` at the next fold (its bounds replace any the scope asked for before): the
    ids marked meanwhile are counted in `keep_last` then."""
    require_transaction(conn)
    _check_bounds(scope, older_than, keep_last)
    conn.execute(_REQUEST_PRUNE, (scope, older_than, keep_last))


_REQUEST_PRUNE = (
    "INSERT INTO seen_prune_requests (scope, older_than, keep_last) VALUES (?, ?, ?) "
    "ON CONFLICT (scope) DO UPDATE SET older_than = excluded.older_than, "
    "keep_last = excluded.keep_last"
)


def _prune_folded(conn: apsw.Connection, scope: str, older_than: int, keep_last: int | None) -> int:
    """`prune_seen` of a scope with no id in the journal."""
    cutoff = older_than
    if keep_last is not None:
        row = conn.execute(
            "SELECT seen_at FROM seen_messages WHERE scope = ? "
            "ORDER BY seen_at DESC LIMIT 1 OFFSET ?",
            (scope, keep_last - 1),
        ).fetchone()
        if row is not None:
            cutoff = max(cutoff, int(row[0]))
    conn.execute("DELETE FROM seen_messages WHERE scope = ? AND seen_at < ?", (scope, cutoff))
    return conn.changes()
