"""Small helpers shared by the query modules (not public API)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import apsw

from .errors import InvalidArgument, StoreError

#: ``column IN`` these values, given as one parameter made by :func:`json_list`: the statement
#: text is the same for any number of values (prepared once), and SQLite looks each value up in
#: the column's index.
IN_JSON_LIST = "IN (SELECT value FROM json_each(?))"


def json_list(values: Iterable[str]) -> str:
    """The parameter of :data:`IN_JSON_LIST` for ``values``."""
    return json.dumps(list(values))


def require_transaction(conn: apsw.Connection) -> None:
    """Refuse a multi-statement write outside a transaction.

    Why: every write goes through ``Database.transaction()`` / ``Database.batch()`` so a
    request is atomic and the store commits once per batch; an autocommit write would commit
    (and fsync) per statement and could leave half a request behind after a crash.
    """
    if conn.get_autocommit():
        raise StoreError("write outside a transaction: use Database.transaction() or batch()")


def one_row(cursor: apsw.Cursor) -> tuple[Any, ...]:
    """The row of a statement that always returns one (an aggregate, a PRAGMA, a row just written).

    A missing row means the database is not what the schema says: a clear error, not a
    `TypeError` from indexing `None`.
    """
    row = cursor.fetchone()
    if row is None:
        raise StoreError("the database returned no row where the schema guarantees one")
    return row


def require_text(name: str, value: object, *, allow_empty: bool = False) -> str:
    """Validate an id or label argument."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value:
        raise InvalidArgument(f"{name} must not be empty")
    return value


def all_text(*values: object) -> bool:
    """Whether every value passes `require_text` (a non-empty string): one call for a row's
    fields on a hot path, which calls `require_text` per field only to name the bad one."""
    for value in values:
        if type(value) is not str or not value:
            return False
    return True


def require_int(name: str, value: object) -> int:
    """Validate an integer argument (``bool`` is refused: it is almost always a mistake)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {type(value).__name__}")
    return value


def canonical_json(value: Mapping[str, Any]) -> str:
    """Serialize a JSON object deterministically (sorted keys, compact, UTF-8 text)."""
    if not isinstance(value, Mapping):
        raise InvalidArgument("payload must be a JSON object (a mapping)")
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"payload is not JSON-serializable: {exc}") from exc


def wanted_creators(table: str, creators: Iterable[str] | None) -> tuple[str, tuple[Any, ...]]:
    """A ``WITH`` clause naming ``wanted(creator_id)``: ``creators``, or every creator with a
    row in ``table`` (and one NULL), with its parameters (to come first).

    Every creator is found by stepping from one creator id to the next in an index of
    ``table`` that starts with ``creator_id`` (a few steps per creator), not by reading every
    row: its cost follows the number of creators, not the length of their history."""
    if creators is not None:
        return "WITH wanted(creator_id) AS (SELECT value FROM json_each(?))", (json_list(creators),)
    return (
        f"WITH RECURSIVE wanted(creator_id) AS (SELECT min(creator_id) FROM {table} "
        f"UNION ALL SELECT (SELECT min(creator_id) FROM {table} "
        "WHERE creator_id > wanted.creator_id) FROM wanted WHERE creator_id IS NOT NULL)",
        (),
    )


def newest_of_wanted(table: str, columns: str, order: str) -> str:
    """A ``SELECT`` (after :func:`wanted_creators`; one parameter: how many) of the first rows
    of each wanted creator in ``table`` by ``order``, as ``columns``: an index range read per
    creator that stops after that many rows, given an index on ``(creator_id, <order>)``."""
    return (
        f"SELECT {columns} FROM wanted JOIN {table} ON {table}.rowid IN (SELECT rowid FROM "
        f"{table} WHERE creator_id = wanted.creator_id ORDER BY {order} LIMIT ?)"
    )
