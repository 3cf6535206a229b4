"""Quotes: numbered per creator, never renumbered (a deleted quote leaves a gap)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import apsw
import attrs

from ._sql import IN_JSON_LIST, json_list, one_row, require_text, require_transaction
from .errors import Refused

__all__ = [
    "Quote",
    "add_quote",
    "delete_quote",
    "find_quote",
    "get_quote",
    "list_quotes",
    "live_counts",
    "quotes_after",
]


@attrs.frozen(slots=True, kw_only=True)
class Quote:
    """One quote; `added_by` is the display name of who added it."""

    creator_id: str
    number: int
    text: str
    added_by: str
    platform: str
    added_at: int


_COLUMNS = "creator_id, number, text, added_by, platform, added_at"


def _quote(row: tuple) -> Quote:
    return Quote(
        creator_id=row[0],
        number=row[1],
        text=row[2],
        added_by=row[3],
        platform=row[4],
        added_at=row[5],
    )


def add_quote(
    conn: apsw.Connection, *, creator_id: str, text: str, added_by: str, platform: str, now: int
) -> Quote:
    """Add a quote under the next number (one past the highest ever used)."""
    require_transaction(conn)
    require_text("text", text)
    (highest,) = one_row(
        conn.execute(
            "SELECT coalesce(max(number), 0) FROM quotes WHERE creator_id = ?", (creator_id,)
        )
    )
    conn.execute(
        "INSERT INTO quotes (creator_id, number, text, added_by, platform, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (creator_id, highest + 1, text, added_by, platform, now),
    )
    return Quote(
        creator_id=creator_id,
        number=highest + 1,
        text=text,
        added_by=added_by,
        platform=platform,
        added_at=now,
    )


def get_quote(conn: apsw.Connection, creator_id: str, number: int) -> Quote | None:
    """Quote `number`, unless it does not exist or was deleted."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM quotes WHERE creator_id = ? AND number = ? AND deleted_at IS NULL",
        (creator_id, number),
    ).fetchone()
    return None if row is None else _quote(row)


def find_quote(conn: apsw.Connection, creator_id: str, word: str, pick: int) -> Quote | None:
    """The quotes containing `word` (case-insensitive), the `pick`-th modulo their count."""
    needle = word.casefold()
    found = [q for q in list_quotes(conn, creator_id) if needle in q.text.casefold()]
    return found[pick % len(found)] if found else None


def delete_quote(conn: apsw.Connection, *, creator_id: str, number: int, now: int) -> Quote:
    """Delete quote `number` (its number is not reused); `Refused` when there is none."""
    require_transaction(conn)
    quote = get_quote(conn, creator_id, number)
    if quote is None:
        raise Refused(f"There is no quote #{number}.")
    conn.execute(
        "UPDATE quotes SET deleted_at = ? WHERE creator_id = ? AND number = ?",
        (now, creator_id, number),
    )
    return quote


def list_quotes(
    conn: apsw.Connection,
    creator_id: str | None = None,
    *,
    creators: Sequence[str] | None = None,
) -> list[Quote]:
    """Every quote not deleted (of `creator_id`, or of `creators`), by creator and number."""
    sql = f"SELECT {_COLUMNS} FROM quotes WHERE deleted_at IS NULL"
    params: tuple = ()
    if creators is not None:
        sql += f" AND creator_id {IN_JSON_LIST}"
        params = (json_list(creators),)
    elif creator_id is not None:
        sql += " AND creator_id = ?"
        params = (creator_id,)
    return [_quote(r) for r in conn.execute(sql + " ORDER BY creator_id, number", params)]


def live_counts(
    conn: apsw.Connection, creators: Sequence[str] | None = None
) -> dict[str, tuple[int, int]]:
    """Per creator with quotes not deleted (of `creators`, or every creator), by creator id:
    how many, and the highest number.

    A quote never changes once added, and a number is never used again, so a reader holding
    a creator's `k` quotes up to number `n` holds all of them but the new ones when this says
    `k` plus the number of quotes above `n` (:func:`quotes_after`); fewer means some of its
    quotes were deleted."""
    sql = "SELECT creator_id, count(*), max(number) FROM quotes WHERE deleted_at IS NULL"
    params: tuple = ()
    if creators is not None:
        sql += f" AND creator_id {IN_JSON_LIST}"
        params = (json_list(creators),)
    return {c: (n, last) for c, n, last in conn.execute(sql + " GROUP BY creator_id", params)}


def quotes_after(conn: apsw.Connection, after: Mapping[str, int]) -> list[Quote]:
    """The quotes not deleted of each creator in `after` numbered above its value, by creator
    and number (read by the key's index from there on)."""
    if not after:
        return []
    rows = conn.execute(
        f"SELECT {', '.join('q.' + c for c in _COLUMNS.split(', '))} FROM json_each(?) AS w "
        "JOIN quotes AS q ON q.creator_id = w.key AND q.number > w.value "
        "WHERE q.deleted_at IS NULL ORDER BY q.creator_id, q.number",
        (json.dumps(dict(after)),),
    )
    return [_quote(r) for r in rows]
