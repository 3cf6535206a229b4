"""Tallies (named counters) and scoreboards (labelled scores, ranked).

Tallies and scoreboards are keyed per creator: ``(creator_id, tally_id)`` and
``(creator_id, scoreboard_id)``. Counts and scores are integers and may go negative; a
tally is created on first use, and so is a scoreboard and its entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import attrs

from ._sql import IN_JSON_LIST, json_list, one_row, require_int, require_text, require_transaction
from .errors import RecordNotFound
from .timeutil import now_ms

__all__ = [
    "RankedEntry",
    "Scoreboard",
    "ScoreboardView",
    "Tally",
    "add_points",
    "decrement_tally",
    "get_tally",
    "increment_tally",
    "list_scoreboards",
    "list_scoreboards_ranked",
    "list_tallies",
    "ranked_entries",
    "remove_entry",
    "reset_scoreboard",
    "reset_tally",
    "scoreboard_view",
    "set_score",
    "set_tally",
]


@attrs.frozen(slots=True, kw_only=True)
class Tally:
    """A tally counter."""

    creator_id: str
    tally_id: str
    label: str
    count: int
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class Scoreboard:
    """A scoreboard header row."""

    creator_id: str
    scoreboard_id: str
    title: str
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class RankedEntry:
    """A scoreboard entry with its rank: ties share a position ("1224" ranking)."""

    position: int
    label: str
    score: int
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class ScoreboardView:
    """A scoreboard with its ranked entries (best first, ties by label)."""

    scoreboard: Scoreboard
    entries: tuple[RankedEntry, ...]


# --- tallies ----------------------------------------------------------------------------------

_TALLY_COLUMNS = "creator_id, tally_id, label, count, updated_at"


def _tally(row: tuple) -> Tally:
    return Tally(creator_id=row[0], tally_id=row[1], label=row[2], count=row[3], updated_at=row[4])


def get_tally(conn: apsw.Connection, creator_id: str, tally_id: str) -> Tally | None:
    """Return the tally, or ``None`` when it was never used."""
    row = conn.execute(
        f"SELECT {_TALLY_COLUMNS} FROM tallies WHERE creator_id = ? AND tally_id = ?",
        (creator_id, tally_id),
    ).fetchone()
    return None if row is None else _tally(row)


def _write_tally(
    conn: apsw.Connection,
    *,
    creator_id: str,
    tally_id: str,
    label: str | None,
    delta: int | None,
    value: int | None,
    now: int | None,
) -> Tally:
    require_transaction(conn)
    require_text("creator_id", creator_id)
    require_text("tally_id", tally_id)
    if label is not None:
        require_text("label", label)
    at = now_ms() if now is None else now
    if delta is not None:
        require_int("delta", delta)
        sql, initial = _ADD_TO_TALLY, delta
    else:
        assert value is not None
        require_int("value", value)
        sql, initial = _SET_TALLY, value
    rows = conn.execute(sql, (creator_id, tally_id, label or tally_id, initial, at, label))
    return _tally(rows.fetchall()[0])


def _tally_upsert(update: str) -> str:
    # RETURNING: the tally after the change comes with it, no second query.
    return (
        f"INSERT INTO tallies ({_TALLY_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
        f"ON CONFLICT (creator_id, tally_id) DO UPDATE SET {update}, "
        "label = coalesce(?, label), updated_at = excluded.updated_at "
        f"RETURNING {_TALLY_COLUMNS}"
    )


# Made once: a statement text built per call is a new string to hash for the statement cache.
_ADD_TO_TALLY = _tally_upsert("count = count + excluded.count")
_SET_TALLY = _tally_upsert("count = excluded.count")


def increment_tally(
    conn: apsw.Connection,
    *,
    creator_id: str,
    tally_id: str,
    by: int = 1,
    label: str | None = None,
    now: int | None = None,
) -> Tally:
    """Add ``by`` to the tally (creating it at ``by``); ``label`` renames it when given."""
    return _write_tally(
        conn,
        creator_id=creator_id,
        tally_id=tally_id,
        label=label,
        delta=by,
        value=None,
        now=now,
    )


def decrement_tally(
    conn: apsw.Connection,
    *,
    creator_id: str,
    tally_id: str,
    by: int = 1,
    label: str | None = None,
    now: int | None = None,
) -> Tally:
    """Subtract ``by`` from the tally (counts may go below zero)."""
    require_int("by", by)
    return _write_tally(
        conn,
        creator_id=creator_id,
        tally_id=tally_id,
        label=label,
        delta=-by,
        value=None,
        now=now,
    )


def set_tally(
    conn: apsw.Connection,
    *,
    creator_id: str,
    tally_id: str,
    value: int,
    label: str | None = None,
    now: int | None = None,
) -> Tally:
    """Set the tally to ``value``."""
    return _write_tally(
        conn,
        creator_id=creator_id,
        tally_id=tally_id,
        label=label,
        delta=None,
        value=value,
        now=now,
    )


def reset_tally(
    conn: apsw.Connection, *, creator_id: str, tally_id: str, now: int | None = None
) -> Tally:
    """Set the tally back to zero."""
    return set_tally(conn, creator_id=creator_id, tally_id=tally_id, value=0, now=now)


def list_tallies(
    conn: apsw.Connection,
    *,
    creator_id: str | None = None,
    creators: Sequence[str] | None = None,
) -> list[Tally]:
    """Tallies ordered by ``(creator_id, tally_id)`` (of `creator_id`, or of `creators`)."""
    if creators is not None:
        rows = conn.execute(
            f"SELECT {_TALLY_COLUMNS} FROM tallies WHERE creator_id {IN_JSON_LIST} "
            "ORDER BY creator_id, tally_id",
            (json_list(creators),),
        )
    elif creator_id is None:
        rows = conn.execute(f"SELECT {_TALLY_COLUMNS} FROM tallies ORDER BY creator_id, tally_id")
    else:
        rows = conn.execute(
            f"SELECT {_TALLY_COLUMNS} FROM tallies WHERE creator_id = ? ORDER BY tally_id",
            (creator_id,),
        )
    return [_tally(r) for r in rows]


# --- scoreboards ------------------------------------------------------------------------------


def _ensure_scoreboard(
    conn: apsw.Connection, creator_id: str, scoreboard_id: str, title: str | None, at: int
) -> None:
    conn.execute(
        "INSERT INTO scoreboards (creator_id, scoreboard_id, title, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (creator_id, scoreboard_id) DO UPDATE SET "
        "title = coalesce(?, title), updated_at = excluded.updated_at",
        (creator_id, scoreboard_id, title or scoreboard_id, at, title),
    )


def _entry_score(
    conn: apsw.Connection, creator_id: str, scoreboard_id: str, label: str
) -> RankedEntry:
    # Position = 1 + number of strictly better scores: the same rule as ranked_entries().
    score, updated_at = one_row(
        conn.execute(
            "SELECT score, updated_at FROM scoreboard_entries "
            "WHERE creator_id = ? AND scoreboard_id = ? AND label = ?",
            (creator_id, scoreboard_id, label),
        )
    )
    (better,) = one_row(
        conn.execute(
            "SELECT count(*) FROM scoreboard_entries "
            "WHERE creator_id = ? AND scoreboard_id = ? AND score > ?",
            (creator_id, scoreboard_id, score),
        )
    )
    return RankedEntry(position=better + 1, label=label, score=score, updated_at=updated_at)


def _write_entry(
    conn: apsw.Connection,
    *,
    creator_id: str,
    scoreboard_id: str,
    label: str,
    value: int,
    relative: bool,
    title: str | None,
    now: int | None,
) -> RankedEntry:
    require_transaction(conn)
    require_text("creator_id", creator_id)
    require_text("scoreboard_id", scoreboard_id)
    require_text("label", label)
    require_int("points" if relative else "score", value)
    at = now_ms() if now is None else now
    _ensure_scoreboard(conn, creator_id, scoreboard_id, title, at)
    new_score = "score + excluded.score" if relative else "excluded.score"
    conn.execute(
        "INSERT INTO scoreboard_entries (creator_id, scoreboard_id, label, score, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (creator_id, scoreboard_id, label) DO UPDATE SET "
        f"score = {new_score}, updated_at = excluded.updated_at",
        (creator_id, scoreboard_id, label, value, at),
    )
    return _entry_score(conn, creator_id, scoreboard_id, label)


def add_points(
    conn: apsw.Connection,
    *,
    creator_id: str,
    scoreboard_id: str,
    label: str,
    points: int,
    title: str | None = None,
    now: int | None = None,
) -> RankedEntry:
    """Add ``points`` (may be negative) to ``label``; returns the entry with its new rank."""
    return _write_entry(
        conn,
        creator_id=creator_id,
        scoreboard_id=scoreboard_id,
        label=label,
        value=points,
        relative=True,
        title=title,
        now=now,
    )


def set_score(
    conn: apsw.Connection,
    *,
    creator_id: str,
    scoreboard_id: str,
    label: str,
    score: int,
    title: str | None = None,
    now: int | None = None,
) -> RankedEntry:
    """Set ``label``'s score to ``score``; returns the entry with its new rank."""
    return _write_entry(
        conn,
        creator_id=creator_id,
        scoreboard_id=scoreboard_id,
        label=label,
        value=score,
        relative=False,
        title=title,
        now=now,
    )


def remove_entry(
    conn: apsw.Connection,
    *,
    creator_id: str,
    scoreboard_id: str,
    label: str,
    now: int | None = None,
) -> bool:
    """Remove one entry; returns whether it existed."""
    require_transaction(conn)
    conn.execute(
        "DELETE FROM scoreboard_entries WHERE creator_id = ? AND scoreboard_id = ? AND label = ?",
        (creator_id, scoreboard_id, label),
    )
    removed = conn.changes() > 0
    if removed:
        conn.execute(
            "UPDATE scoreboards SET updated_at = ? WHERE creator_id = ? AND scoreboard_id = ?",
            (now_ms() if now is None else now, creator_id, scoreboard_id),
        )
    return removed


def reset_scoreboard(
    conn: apsw.Connection, *, creator_id: str, scoreboard_id: str, now: int | None = None
) -> None:
    """Delete every entry of the scoreboard (the scoreboard itself stays)."""
    require_transaction(conn)
    conn.execute(
        "DELETE FROM scoreboard_entries WHERE creator_id = ? AND scoreboard_id = ?",
        (creator_id, scoreboard_id),
    )
    conn.execute(
        "UPDATE scoreboards SET updated_at = ? WHERE creator_id = ? AND scoreboard_id = ?",
        (now_ms() if now is None else now, creator_id, scoreboard_id),
    )
    if conn.changes() == 0:
        raise RecordNotFound(f"scoreboard {creator_id!r}/{scoreboard_id!r} does not exist")


def ranked_entries(
    conn: apsw.Connection, creator_id: str, scoreboard_id: str, *, limit: int | None = None
) -> tuple[RankedEntry, ...]:
    """Entries best first; equal scores share a position and the next one skips (1, 2, 2, 4).

    Ties are listed by label so the order is deterministic.
    """
    rows = conn.execute(
        "SELECT rank() OVER (ORDER BY score DESC), label, score, updated_at "
        "FROM scoreboard_entries WHERE creator_id = ? AND scoreboard_id = ? "
        "ORDER BY score DESC, label LIMIT ?",
        (creator_id, scoreboard_id, -1 if limit is None else limit),
    )
    return tuple(RankedEntry(position=r[0], label=r[1], score=r[2], updated_at=r[3]) for r in rows)


def _scoreboard(row: tuple) -> Scoreboard:
    return Scoreboard(creator_id=row[0], scoreboard_id=row[1], title=row[2], updated_at=row[3])


def scoreboard_view(conn: apsw.Connection, creator_id: str, scoreboard_id: str) -> ScoreboardView:
    """One scoreboard with ranked entries (:class:`RecordNotFound` when absent)."""
    row = conn.execute(
        "SELECT creator_id, scoreboard_id, title, updated_at FROM scoreboards "
        "WHERE creator_id = ? AND scoreboard_id = ?",
        (creator_id, scoreboard_id),
    ).fetchone()
    if row is None:
        raise RecordNotFound(f"scoreboard {creator_id!r}/{scoreboard_id!r} does not exist")
    return ScoreboardView(
        scoreboard=_scoreboard(row), entries=ranked_entries(conn, creator_id, scoreboard_id)
    )


def list_scoreboards(
    conn: apsw.Connection, *, creator_id: str | None = None
) -> list[ScoreboardView]:
    """Scoreboards with ranked entries, ordered by ``(creator_id, scoreboard_id)``."""
    sql = "SELECT creator_id, scoreboard_id, title, updated_at FROM scoreboards"
    params: tuple = ()
    if creator_id is not None:
        sql += " WHERE creator_id = ?"
        params = (creator_id,)
    boards = [_scoreboard(r) for r in conn.execute(sql + " ORDER BY 1, 2", params).fetchall()]
    return [
        ScoreboardView(scoreboard=b, entries=ranked_entries(conn, b.creator_id, b.scoreboard_id))
        for b in boards
    ]


def list_scoreboards_ranked(
    conn: apsw.Connection,
    *,
    creator_id: str | None = None,
    creators: Sequence[str] | None = None,
) -> list[ScoreboardView]:
    """Exactly what :func:`list_scoreboards` returns, in two queries instead of one per board.

    Ranks use the same rule as :func:`ranked_entries` (``rank()`` over score, descending),
    computed per scoreboard with a window partition. With `creators`, theirs only.
    """
    sql = "SELECT creator_id, scoreboard_id, title, updated_at FROM scoreboards"
    params: tuple = ()
    where = ""
    if creators is not None:
        where = f" WHERE creator_id {IN_JSON_LIST}"
        params = (json_list(creators),)
    elif creator_id is not None:
        where = " WHERE creator_id = ?"
        params = (creator_id,)
    sql += where
    boards = [_scoreboard(r) for r in conn.execute(sql + " ORDER BY 1, 2", params).fetchall()]
    if not boards:
        return []
    entries: dict[tuple[str, str], list[RankedEntry]] = {
        (b.creator_id, b.scoreboard_id): [] for b in boards
    }
    rows = conn.execute(
        "SELECT creator_id, scoreboard_id, "
        "  rank() OVER (PARTITION BY creator_id, scoreboard_id ORDER BY score DESC), "
        "  label, score, updated_at "
        "FROM scoreboard_entries"
        + where
        + " ORDER BY creator_id, scoreboard_id, score DESC, label",
        params,
    )
    for cid, sid, position, label, score, updated_at in rows:
        bucket = entries.get((cid, sid))
        if bucket is not None:
            bucket.append(
                RankedEntry(position=position, label=label, score=score, updated_at=updated_at)
            )
    return [
        ScoreboardView(scoreboard=b, entries=tuple(entries[(b.creator_id, b.scoreboard_id)]))
        for b in boards
    ]
