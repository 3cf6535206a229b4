"""Stream sessions (who was live when, peak viewers)."""

from __future__ import annotations

import apsw
import attrs

from ._sql import one_row, require_int, require_text, require_transaction
from .timeutil import now_ms

__all__ = [
    "SessionStart",
    "StreamSession",
    "current_session",
    "end_session",
    "list_sessions",
    "start_session",
    "update_session",
]


@attrs.frozen(slots=True, kw_only=True)
class StreamSession:
    """One live session of a channel; ``ended_at`` is ``None`` while live."""

    id: int
    platform: str
    channel: str
    started_at: int
    ended_at: int | None
    title: str | None
    game: str | None
    peak_viewers: int
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class SessionStart:
    """The live session, and whether this call started it (False: it was already live)."""

    session: StreamSession
    created: bool


_SELECT = (
    "SELECT id, platform, channel, started_at, ended_at, title, game, peak_viewers, updated_at "
    "FROM stream_sessions"
)


def _session(row: tuple) -> StreamSession:
    return StreamSession(
        id=row[0],
        platform=row[1],
        channel=row[2],
        started_at=row[3],
        ended_at=row[4],
        title=row[5],
        game=row[6],
        peak_viewers=row[7],
        updated_at=row[8],
    )


def current_session(conn: apsw.Connection, platform: str, channel: str) -> StreamSession | None:
    """The live (not ended) session of the channel, if any."""
    row = conn.execute(
        _SELECT + " WHERE platform = ? AND channel = ? AND ended_at IS NULL",
        (platform, channel),
    ).fetchone()
    return None if row is None else _session(row)


def start_session(
    conn: apsw.Connection,
    *,
    platform: str,
    channel: str,
    started_at: int,
    title: str | None = None,
    game: str | None = None,
    viewers: int = 0,
) -> SessionStart:
    """Record that the channel went live; idempotent while it stays live.

    A repeated "live" event (polling, webhook retries) returns the existing session with
    ``created=False``, so a caller can notify only when ``created`` is true.
    """
    require_transaction(conn)
    require_text("platform", platform)
    require_text("channel", channel)
    require_int("started_at", started_at)
    existing = current_session(conn, platform, channel)
    if existing is not None:
        return SessionStart(session=existing, created=False)
    conn.execute(
        "INSERT INTO stream_sessions (platform, channel, started_at, title, game, "
        "peak_viewers, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (platform, channel, started_at, title, game, max(0, viewers), started_at),
    )
    session = current_session(conn, platform, channel)
    assert session is not None
    return SessionStart(session=session, created=True)


def update_session(
    conn: apsw.Connection,
    *,
    platform: str,
    channel: str,
    viewers: int | None = None,
    title: str | None = None,
    game: str | None = None,
    now: int | None = None,
) -> StreamSession | None:
    """Update the live session: raise the peak to ``viewers`` if higher, set title/game.

    Returns ``None`` when the channel is not live.
    """
    require_transaction(conn)
    session = current_session(conn, platform, channel)
    if session is None:
        return None
    if viewers is not None:
        require_int("viewers", viewers)
    conn.execute(
        "UPDATE stream_sessions SET peak_viewers = max(peak_viewers, ?), "
        "title = coalesce(?, title), game = coalesce(?, game), updated_at = ? WHERE id = ?",
        (viewers or 0, title, game, now_ms() if now is None else now, session.id),
    )
    return current_session(conn, platform, channel)


def end_session(
    conn: apsw.Connection, *, platform: str, channel: str, ended_at: int
) -> StreamSession | None:
    """Record that the channel went offline; returns the ended session, ``None`` if not live."""
    require_transaction(conn)
    session = current_session(conn, platform, channel)
    if session is None:
        return None
    ended = max(ended_at, session.started_at)
    conn.execute(
        "UPDATE stream_sessions SET ended_at = ?, updated_at = ? WHERE id = ?",
        (ended, ended, session.id),
    )
    return _session(one_row(conn.execute(_SELECT + " WHERE id = ?", (session.id,))))


def list_sessions(
    conn: apsw.Connection,
    *,
    platform: str | None = None,
    channel: str | None = None,
    limit: int | None = None,
) -> list[StreamSession]:
    """Sessions newest first (ties by id)."""
    sql = _SELECT + " WHERE 1 = 1"
    params: list[object] = []
    if platform is not None:
        sql += " AND platform = ?"
        params.append(platform)
    if channel is not None:
        sql += " AND channel = ?"
        params.append(channel)
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
    params.append(-1 if limit is None else limit)
    return [_session(r) for r in conn.execute(sql, params)]
