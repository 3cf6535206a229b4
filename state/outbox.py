"""The notification outbox: durable, deduplicated, retried deliveries.

Lifecycle::

    pending ──claim──> sending ──> delivered
       ^                  │
       └──retry (backoff)─┤
                          └──> dead (reason)

Delivery is at-least-once: an entry left ``sending`` by a crash is put back to ``pending``
by :func:`recover_sending` at start-up, so the dispatcher may deliver it twice; the
``dedupe_key`` makes *enqueueing* idempotent (a repeated live notification is one entry).
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import apsw
import attrs

from ._sql import canonical_json, one_row, require_int, require_text, require_transaction
from .errors import InvalidArgument, InvalidTransition, RecordNotFound
from .timeutil import now_ms

__all__ = [
    "OUTBOX_STATES",
    "EnqueueResult",
    "OutboxEntry",
    "backoff_ms",
    "claim_next_due",
    "enqueue",
    "get_entry",
    "list_outbox",
    "mark_dead",
    "mark_delivered",
    "mark_retry",
    "next_due_at",
    "prune_finished",
    "record_failure",
    "recover_sending",
]

OutboxState = Literal["pending", "sending", "delivered", "dead"]
OUTBOX_STATES: tuple[str, ...] = ("pending", "sending", "delivered", "dead")


@attrs.frozen(slots=True, kw_only=True)
class OutboxEntry:
    """One notification to deliver."""

    id: int
    dedupe_key: str
    destination: str
    payload: Mapping[str, Any]
    state: OutboxState
    attempts: int
    next_attempt_at: int
    last_error: str | None
    created_at: int
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class EnqueueResult:
    """The entry for the dedupe key, and whether this call created it."""

    entry: OutboxEntry
    created: bool


_SELECT = (
    "SELECT id, dedupe_key, destination, payload, state, attempts, next_attempt_at, "
    "last_error, created_at, updated_at FROM outbox"
)


def _entry(row: tuple) -> OutboxEntry:
    return OutboxEntry(
        id=row[0],
        dedupe_key=row[1],
        destination=row[2],
        payload=types.MappingProxyType(json.loads(row[3])),
        state=row[4],
        attempts=row[5],
        next_attempt_at=row[6],
        last_error=row[7],
        created_at=row[8],
        updated_at=row[9],
    )


def get_entry(conn: apsw.Connection, entry_id: int) -> OutboxEntry:
    """Return the entry or raise :class:`RecordNotFound`."""
    row = conn.execute(_SELECT + " WHERE id = ?", (entry_id,)).fetchone()
    if row is None:
        raise RecordNotFound(f"outbox entry {entry_id} does not exist")
    return _entry(row)


def enqueue(
    conn: apsw.Connection,
    *,
    dedupe_key: str,
    destination: str,
    payload: Mapping[str, Any],
    now: int | None = None,
    not_before: int | None = None,
) -> EnqueueResult:
    """Add a notification unless one with ``dedupe_key`` exists (in any state).

    Idempotent: a second call with the same key returns the existing entry with
    ``created=False`` and changes nothing.
    """
    require_transaction(conn)
    require_text("dedupe_key", dedupe_key)
    require_text("destination", destination)
    body = canonical_json(payload)
    at = now_ms() if now is None else now
    conn.execute(
        "INSERT INTO outbox (dedupe_key, destination, payload, state, attempts, "
        "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        (dedupe_key, destination, body, at if not_before is None else not_before, at, at),
    )
    created = conn.changes() > 0
    row = one_row(conn.execute(_SELECT + " WHERE dedupe_key = ?", (dedupe_key,)))
    return EnqueueResult(entry=_entry(row), created=created)


def claim_next_due(
    conn: apsw.Connection, *, now: int, destinations: Sequence[str] | None = None
) -> OutboxEntry | None:
    """Move the oldest due ``pending`` entry to ``sending`` (counting an attempt)."""
    require_transaction(conn)
    sql = "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
    params: list[object] = [now]
    if destinations is not None:
        if not destinations:
            return None
        sql += f" AND destination IN ({', '.join('?' for _ in destinations)})"
        params += list(destinations)
    row = conn.execute(sql + " ORDER BY next_attempt_at, id LIMIT 1", params).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
        (now, row[0]),
    )
    return get_entry(conn, row[0])


def next_due_at(conn: apsw.Connection) -> int | None:
    """When the next pending entry becomes due (so the dispatcher can sleep until then)."""
    row = conn.execute("SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'").fetchone()
    return None if row is None else row[0]


def _move(
    conn: apsw.Connection,
    entry_id: int,
    to_state: OutboxState,
    allowed_from: tuple[str, ...],
    sets: str,
    params: tuple,
    now: int | None,
) -> OutboxEntry:
    require_transaction(conn)
    entry = get_entry(conn, entry_id)
    if entry.state not in allowed_from:
        raise InvalidTransition("outbox entry", str(entry_id), entry.state, to_state)
    at = now_ms() if now is None else now
    conn.execute(
        f"UPDATE outbox SET state = ?, updated_at = ?{sets} WHERE id = ?",
        (to_state, at, *params, entry_id),
    )
    return get_entry(conn, entry_id)


def mark_delivered(conn: apsw.Connection, *, entry_id: int, now: int | None = None) -> OutboxEntry:
    """``sending -> delivered``."""
    return _move(conn, entry_id, "delivered", ("sending",), ", last_error = NULL", (), now)


def mark_retry(
    conn: apsw.Connection,
    *,
    entry_id: int,
    error: str,
    next_attempt_at: int,
    now: int | None = None,
) -> OutboxEntry:
    """``sending -> pending``, due again at ``next_attempt_at``, remembering ``error``."""
    require_text("error", error)
    require_int("next_attempt_at", next_attempt_at)
    return _move(
        conn,
        entry_id,
        "pending",
        ("sending",),
        ", last_error = ?, next_attempt_at = ?",
        (error, next_attempt_at),
        now,
    )


def mark_dead(
    conn: apsw.Connection, *, entry_id: int, reason: str, now: int | None = None
) -> OutboxEntry:
    """``pending|sending -> dead``: give up, keeping ``reason`` as ``last_error``."""
    require_text("reason", reason)
    return _move(conn, entry_id, "dead", ("pending", "sending"), ", last_error = ?", (reason,), now)


def backoff_ms(
    attempts: int, *, initial_ms: int = 5_000, maximum_ms: int = 3_600_000, multiplier: float = 2.0
) -> int:
    """Delay before the next attempt after ``attempts`` failed ones (exponential, capped)."""
    if attempts < 1:
        raise InvalidArgument("attempts must be at least 1")
    return int(min(maximum_ms, initial_ms * multiplier ** (attempts - 1)))


def record_failure(
    conn: apsw.Connection,
    *,
    entry_id: int,
    error: str,
    now: int,
    max_attempts: int = 8,
    initial_ms: int = 5_000,
    maximum_ms: int = 3_600_000,
) -> OutboxEntry:
    """After a failed delivery: retry with backoff, or ``dead`` once ``max_attempts`` ran."""
    entry = get_entry(conn, entry_id)
    if entry.attempts >= max_attempts:
        return mark_dead(
            conn,
            entry_id=entry_id,
            reason=f"gave up after {entry.attempts} attempts: {error}",
            now=now,
        )
    delay = backoff_ms(entry.attempts, initial_ms=initial_ms, maximum_ms=maximum_ms)
    return mark_retry(conn, entry_id=entry_id, error=error, next_attempt_at=now + delay, now=now)


def recover_sending(conn: apsw.Connection, *, now: int) -> int:
    """At start-up: put entries a crash left in ``sending`` back to ``pending``, due now."""
    require_transaction(conn)
    conn.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?, updated_at = ?, "
        "last_error = coalesce(last_error, 'interrupted by restart') WHERE state = 'sending'",
        (now, now),
    )
    return conn.changes()


def list_outbox(
    conn: apsw.Connection,
    *,
    states: Sequence[OutboxState] | None = None,
    limit: int | None = None,
) -> list[OutboxEntry]:
    """Entries newest first (ties by id), optionally filtered by state, for exports."""
    sql = _SELECT
    params: list[object] = []
    if states is not None:
        for s in states:
            if s not in OUTBOX_STATES:
                raise InvalidArgument(f"unknown outbox state {s!r}")
        sql += f" WHERE state IN ({', '.join('?' for _ in states) or 'NULL'})"
        params += list(states)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    params.append(-1 if limit is None else limit)
    return [_entry(r) for r in conn.execute(sql, params)]


def prune_finished(conn: apsw.Connection, *, older_than: int) -> int:
    """Delete delivered and dead entries last updated before ``older_than``.

    Their dedupe keys are forgotten with them, so keep them longer than any duplicate can
    arrive (e.g. a day for live notifications).
    """
    require_transaction(conn)
    conn.execute(
        "DELETE FROM outbox WHERE state IN ('delivered', 'dead') AND updated_at < ?",
        (older_than,),
    )
    return conn.changes()
