"""The bounded ring of recent normalized signals behind the dashboard's signal files.

Each kind (``chat``, ``poll_vote``, ``tally``, ``score``) keeps only its newest rows, by
insertion order (the id: above every id given before, since the newest row of a kind is never
pruned), so the table size is bounded whatever the chat rate.
Pruning walks ``keep`` rows per kind, so it runs once per ``PRUNE_EVERY`` appends
(whenever the ids cross a multiple of it), not per append: a kind holds at most ``keep +
PRUNE_EVERY`` rows (plus the rows of one ``append_signals`` call), and readers ask for the
newest ``keep`` with ``limit``. User identities must already be pseudonymized by the caller.

Chat signals (one per chat message, most of the ring) have no index by kind (migration 10): a
chat row is one B-tree change to append and one to prune. Their newest rows are the newest of
the table, read from its end by id. The rarer kinds have a partial index, which SQLite uses only
for a statement that names the kind as a literal: hence a statement text per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

import apsw
import attrs
import orjson

from ._sql import all_text, require_int, require_text, require_transaction
from .errors import InvalidArgument

__all__ = [
    "DEFAULT_KEEP",
    "PRUNE_EVERY",
    "SIGNAL_KINDS",
    "Signal",
    "SignalValues",
    "append_signal",
    "append_signal_groups",
    "append_signal_values",
    "append_signals",
    "prune_signals",
    "recent_signal_ids",
    "recent_signals",
    "signals_after",
]

SignalKind = Literal["chat", "poll_vote", "tally", "score"]
SIGNAL_KINDS: tuple[SignalKind, ...] = get_args(SignalKind)
DEFAULT_KEEP = 200
#: Every kind is pruned to its newest ``keep`` rows once per this many appended rows.
PRUNE_EVERY = 256


@attrs.frozen(slots=True, kw_only=True)
class Signal:
    """One normalized signal (the shape of a row of ``chat_events.json`` and friends)."""

    id: int
    kind: SignalKind
    creator_id: str
    timestamp: int
    entity_id: str
    type: str
    source: str
    summary: str


_COLUMNS = "id, kind, creator_id, timestamp, entity_id, type, source, summary"


def _check_kind(kind: str) -> None:
    if kind not in SIGNAL_KINDS:
        raise InvalidArgument(f"signal kind must be one of {SIGNAL_KINDS}, got {kind!r}")


def append_signal(
    conn: apsw.Connection,
    *,
    kind: SignalKind,
    creator_id: str,
    timestamp: int,
    entity_id: str,
    type: str,  # shadows the builtin on purpose: the export field is "type"
    source: str,
    summary: str,
    keep: int = DEFAULT_KEEP,
) -> Signal:
    """Append a signal; every ``PRUNE_EVERY`` appends, prune each kind to its newest ``keep``."""
    require_transaction(conn)
    _check_kind(kind)
    _check_keep(keep)
    require_text("creator_id", creator_id)
    require_int("timestamp", timestamp)
    for name, value in (("entity_id", entity_id), ("type", type), ("source", source)):
        require_text(name, value)
    require_text("summary", summary, allow_empty=True)
    append_signal_groups(
        conn, (((kind, creator_id, timestamp, entity_id, type, source, summary),),), keep=keep
    )
    new_id = conn.last_insert_rowid()  # (a prune deletes: it leaves the insert's id)
    return Signal(
        id=new_id,
        kind=kind,
        creator_id=creator_id,
        timestamp=timestamp,
        entity_id=entity_id,
        type=type,
        source=source,
        summary=summary,
    )


def append_signals(
    conn: apsw.Connection, rows: Iterable[Mapping[str, Any]], *, keep: int = DEFAULT_KEEP
) -> int:
    """Append many signals (dicts with `append_signal`'s keyword fields) with one statement
    per row, pruning like `append_signal`."""
    return append_signal_values(
        conn,
        (
            (
                row["kind"],
                row["creator_id"],
                row["timestamp"],
                row["entity_id"],
                row["type"],
                row["source"],
                row["summary"],
            )
            for row in rows
        ),
        keep=keep,
    )


#: One signal as `append_signal_values` takes it: the columns in the order of
#: `(kind, creator_id, timestamp, entity_id, type, source, summary)`.
SignalValues = tuple[str, str, int, str, str, str, str]

_INSERT = (
    "INSERT INTO signals (kind, creator_id, timestamp, entity_id, type, source, summary) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def append_signal_values(
    conn: apsw.Connection, rows: Iterable[SignalValues], *, keep: int = DEFAULT_KEEP
) -> int:
    """`append_signals` for rows given as `SignalValues` (no mapping built per row: the store's
    hot path, a chat signal per message)."""
    (appended,) = append_signal_groups(conn, (rows,), keep=keep)
    return appended


def append_signal_groups(
    conn: apsw.Connection, groups: Iterable[Iterable[SignalValues]], *, keep: int = DEFAULT_KEEP
) -> list[int]:
    """`append_signal_values` of each group of rows in turn, with ONE statement for them all;
    returns how many rows each group appended.

    Every row is checked before any is written (a bad row raises with nothing changed), and
    the ring ends as the appends in turn leave it: each prune runs where the group whose ids
    reach a multiple of ``PRUNE_EVERY`` would have run it, on the rows up to that group's
    last (the rows appended after it are above its cut, which they would not have moved)."""
    require_transaction(conn)
    _check_keep(keep)
    batch: list[SignalValues] = []
    counts: list[int] = []
    for rows in groups:
        first = len(batch)
        for row in rows:
            kind, creator_id, timestamp, entity_id, type_, source, summary = row
            if not (
                kind in SIGNAL_KINDS
                and type(timestamp) is int
                and type(summary) is str
                and all_text(creator_id, entity_id, type_, source)
            ):  # name what is wrong
                _check_kind(kind)
                require_text("creator_id", creator_id)
                require_int("timestamp", timestamp)
                require_text("entity_id", entity_id)
                require_text("type", type_)
                require_text("source", source)
                require_text("summary", summary, allow_empty=True)
            batch.append(row)
        counts.append(len(batch) - first)
    if not batch:
        return counts
    conn.executemany(_INSERT, batch)
    # One writer, and the newest row is never pruned: the ids just given are consecutive.
    newest = conn.last_insert_rowid() - len(batch)
    for appended in counts:
        newest += appended
        if appended and newest // PRUNE_EVERY != (newest - appended) // PRUNE_EVERY:
            for kind in SIGNAL_KINDS:
                _prune_kind(conn, kind, keep, newest)
    return counts


def _check_keep(keep: int) -> None:
    require_int("keep", keep)
    if keep < 1:
        raise InvalidArgument("keep must be at least 1")


def _per_kind(template: str) -> dict[str, str]:
    """`template` with `{kind}` replaced by each kind as an SQL literal (the kinds are fixed
    identifiers, never input): a literal kind lets SQLite use the partial index of the rarer
    kinds, and reads the chat rows from the table's end."""
    return {kind: template.replace("{kind}", f"'{kind}'") for kind in SIGNAL_KINDS}


# The id of the keep-th newest row up to an id is the cut: everything older goes.
_PRUNE = _per_kind(
    "DELETE FROM signals WHERE kind = {kind} AND id < ("
    "  SELECT id FROM signals WHERE kind = {kind} AND id <= ? ORDER BY id DESC LIMIT 1 OFFSET ?)"
)

#: Above every id (an SQLite integer is at most this).
_ANY_ID = 2**63 - 1


def _prune_kind(conn: apsw.Connection, kind: str, keep: int, newest: int = _ANY_ID) -> int:
    """Prune `kind` to its newest ``keep`` rows among those with an id up to ``newest``."""
    conn.execute(_PRUNE[kind], (newest, keep - 1))
    return conn.changes()


def prune_signals(conn: apsw.Connection, *, keep: int = DEFAULT_KEEP) -> int:
    """Prune every kind to its newest ``keep`` rows; returns the number deleted."""
    require_transaction(conn)
    _check_keep(keep)
    return sum(_prune_kind(conn, kind, keep) for kind in SIGNAL_KINDS)


def recent_signals(
    conn: apsw.Connection,
    kind: SignalKind,
    *,
    limit: int | None = None,
    creator_id: str | None = None,
) -> list[Signal]:
    """The newest ``limit`` signals of ``kind``, returned oldest first (newest last)."""
    _check_kind(kind)
    sql = _RECENT[kind]
    params: list[object] = []
    if creator_id is not None:
        sql += " AND creator_id = ?"
        params.append(creator_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(-1 if limit is None else limit)
    rows = conn.execute(sql, params).fetchall()
    rows.reverse()
    return [_signal(r) for r in rows]


_RECENT = _per_kind(f"SELECT {_COLUMNS} FROM signals WHERE kind = {{kind}}")


def recent_signal_ids(conn: apsw.Connection, kind: SignalKind, *, limit: int) -> list[int]:
    """The ids of :func:`recent_signals` (``limit`` of them at most), newest first: for a
    reader that keeps the signals it read before (a signal never changes once written).

    One row (a JSON array built by SQLite): a row per id would hand the GIL over per id,
    and a reader in a busy process waits to take it back each time."""
    _check_kind(kind)
    row = conn.execute(_RECENT_IDS[kind], (limit,)).fetchone()
    assert row is not None  # an aggregate always gives a row
    ids: list[int] = orjson.loads(row[0])
    return ids


_RECENT_IDS = _per_kind(
    "SELECT json_group_array(id ORDER BY id DESC) FROM "
    "(SELECT id FROM signals WHERE kind = {kind} ORDER BY id DESC LIMIT ?)"
)


def signals_after(
    conn: apsw.Connection, kind: SignalKind, after_id: int, *, limit: int
) -> list[Signal]:
    """The newest ``limit`` signals of ``kind`` with an id above ``after_id``, oldest first
    (in one row, like :func:`recent_signal_ids`)."""
    _check_kind(kind)
    row = conn.execute(_AFTER[kind], (after_id, limit)).fetchone()
    assert row is not None  # an aggregate always gives a row
    return [_signal(r) for r in orjson.loads(row[0])]


_AFTER = _per_kind(
    f"SELECT json_group_array(json_array({_COLUMNS}) ORDER BY id) FROM "
    f"(SELECT {_COLUMNS} FROM signals WHERE kind = {{kind}} AND id > ? ORDER BY id DESC LIMIT ?)"
)


def _signal(row: tuple) -> Signal:
    return Signal(
        id=row[0],
        kind=row[1],
        creator_id=row[2],
        timestamp=row[3],
        entity_id=row[4],
        type=row[5],
        source=row[6],
        summary=row[7],
    )
