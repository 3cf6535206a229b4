"""Clip jobs: the clip record, what the encoder needs to (re)run it, and a state history.

State machine (every transition writes a ``clip_state_history`` row)::

    queued ──> encoding ──> encoded ──> uploading ──> published
       │          │            │            │
       └──────────┴────────────┴────────────┴──> failed ──> queued (manual retry)

plus ``encoding -> queued`` (requeue an interrupted encode on resume) and
``uploading -> encoded`` (retry an upload without re-encoding), and ``encoded -> published``
when there is nothing to upload. ``published`` is final. Entering ``encoding`` counts an
attempt. Progress updates within a state do not write history.
"""

from __future__ import annotations

import json
import secrets
import types
from collections.abc import Mapping
from typing import Any, Literal

import apsw
import attrs

from ._sql import canonical_json, require_text, require_transaction
from .errors import InvalidArgument, InvalidTransition, RecordExists, RecordNotFound
from .timeutil import now_ms

__all__ = [
    "CLIP_ID_ALPHABET",
    "CLIP_STATES",
    "TRANSITIONS",
    "UNFINISHED_STATES",
    "Clip",
    "ClipStateChange",
    "clip_history",
    "create_clip",
    "get_clip",
    "list_clips",
    "list_unfinished_clips",
    "new_clip_id",
    "transition_clip",
    "update_clip_progress",
]

ClipState = Literal["queued", "encoding", "encoded", "uploading", "published", "failed"]
CLIP_STATES: tuple[str, ...] = ("queued", "encoding", "encoded", "uploading", "published", "failed")
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "queued": frozenset({"encoding", "failed"}),
    "encoding": frozenset({"encoded", "failed", "queued"}),
    "encoded": frozenset({"uploading", "published", "failed"}),
    "uploading": frozenset({"published", "failed", "encoded"}),
    "published": frozenset(),
    "failed": frozenset({"queued"}),
}
UNFINISHED_STATES: tuple[str, ...] = ("queued", "encoding", "encoded", "uploading")
# No 0/o/1/l/i: clip ids get read aloud and typed from chat.
CLIP_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CLIP_ID_LENGTH = 6


@attrs.frozen(slots=True, kw_only=True)
class Clip:
    """A clip with its job data (one row of ``clips`` joined with ``clip_jobs``)."""

    clip_id: str
    creator_id: str
    title: str
    platform: str
    state: ClipState
    duration_seconds: float
    requested_by: str
    progress: float
    destination_platform: str | None
    destination_channel_url: str | None
    output_path: str | None
    url: str | None
    thumbnail_url: str | None
    last_error: str | None
    created_at: int
    updated_at: int
    source: str
    offset_seconds: float
    params: Mapping[str, Any]
    attempts: int


@attrs.frozen(slots=True, kw_only=True)
class ClipStateChange:
    """One history row: the clip moved from ``from_state`` (``None`` at creation)."""

    clip_id: str
    from_state: ClipState | None
    to_state: ClipState
    at: int
    detail: str | None


_SELECT = (
    "SELECT c.clip_id, c.creator_id, c.title, c.platform, c.state, c.duration_seconds, "
    "c.requested_by, c.progress, c.destination_platform, c.destination_channel_url, "
    "c.output_path, c.url, c.thumbnail_url, c.last_error, c.created_at, c.updated_at, "
    "j.source, j.offset_seconds, j.params, j.attempts "
    "FROM clips c JOIN clip_jobs j ON j.clip_id = c.clip_id"
)


def _clip(row: tuple) -> Clip:
    return Clip(
        clip_id=row[0],
        creator_id=row[1],
        title=row[2],
        platform=row[3],
        state=row[4],
        duration_seconds=row[5],
        requested_by=row[6],
        progress=row[7],
        destination_platform=row[8],
        destination_channel_url=row[9],
        output_path=row[10],
        url=row[11],
        thumbnail_url=row[12],
        last_error=row[13],
        created_at=row[14],
        updated_at=row[15],
        source=row[16],
        offset_seconds=row[17],
        params=types.MappingProxyType(json.loads(row[18])),  # read-only view
        attempts=row[19],
    )


def new_clip_id() -> str:
    """A random 6-character clip id (about 887 million possibilities)."""
    return "".join(secrets.choice(CLIP_ID_ALPHABET) for _ in range(CLIP_ID_LENGTH))


def get_clip(conn: apsw.Connection, clip_id: str) -> Clip:
    """Return the clip or raise :class:`RecordNotFound`."""
    row = conn.execute(_SELECT + " WHERE c.clip_id = ?", (clip_id,)).fetchone()
    if row is None:
        raise RecordNotFound(f"clip {clip_id!r} does not exist")
    return _clip(row)


def create_clip(
    conn: apsw.Connection,
    *,
    creator_id: str,
    title: str,
    platform: str,
    duration_seconds: float,
    requested_by: str,
    source: str,
    offset_seconds: float = 0.0,
    params: Mapping[str, Any] | None = None,
    destination_platform: str | None = None,
    destination_channel_url: str | None = None,
    clip_id: str | None = None,
    now: int | None = None,
) -> Clip:
    """Create a ``queued`` clip job; a unique id is generated unless ``clip_id`` is given.

    ``source`` is what the encoder cuts from (a recording path or stream URL); it is stored
    so unfinished jobs can be resumed after a restart.
    """
    require_transaction(conn)
    for name, value in (
        ("creator_id", creator_id),
        ("title", title),
        ("platform", platform),
        ("requested_by", requested_by),
        ("source", source),
    ):
        require_text(name, value)
    if not duration_seconds > 0:
        raise InvalidArgument("duration_seconds must be positive")
    if offset_seconds < 0:
        raise InvalidArgument("offset_seconds must not be negative")
    params_json = canonical_json(params or {})
    if clip_id is None:
        # Retry on the (rare) collision inside the same transaction.
        for _ in range(20):
            candidate = new_clip_id()
            if not conn.execute("SELECT 1 FROM clips WHERE clip_id = ?", (candidate,)).fetchone():
                clip_id = candidate
                break
        else:
            raise RecordExists("could not find a free clip id")
    else:
        if len(clip_id) != CLIP_ID_LENGTH:
            raise InvalidArgument(f"clip_id must be {CLIP_ID_LENGTH} characters")
        if conn.execute("SELECT 1 FROM clips WHERE clip_id = ?", (clip_id,)).fetchone():
            raise RecordExists(f"clip {clip_id!r} already exists")
    at = now_ms() if now is None else now
    conn.execute(
        "INSERT INTO clips (clip_id, creator_id, title, platform, state, duration_seconds, "
        "requested_by, progress, destination_platform, destination_channel_url, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0, ?, ?, ?, ?)",
        (
            clip_id,
            creator_id,
            title,
            platform,
            float(duration_seconds),
            requested_by,
            destination_platform,
            destination_channel_url,
            at,
            at,
        ),
    )
    conn.execute(
        "INSERT INTO clip_jobs (clip_id, source, offset_seconds, params, attempts) "
        "VALUES (?, ?, ?, ?, 0)",
        (clip_id, source, float(offset_seconds), params_json),
    )
    _history(conn, clip_id, None, "queued", at, None)
    return get_clip(conn, clip_id)


def _history(
    conn: apsw.Connection,
    clip_id: str,
    from_state: str | None,
    to_state: str,
    at: int,
    detail: str | None,
) -> None:
    conn.execute(
        "INSERT INTO clip_state_history (clip_id, from_state, to_state, at, detail) "
        "VALUES (?, ?, ?, ?, ?)",
        (clip_id, from_state, to_state, at, detail),
    )


def transition_clip(
    conn: apsw.Connection,
    *,
    clip_id: str,
    to_state: ClipState,
    expected_state: ClipState | None = None,
    error: str | None = None,
    output_path: str | None = None,
    url: str | None = None,
    thumbnail_url: str | None = None,
    detail: str | None = None,
    now: int | None = None,
) -> Clip:
    """Move a clip to ``to_state`` and record the change in its history.

    ``expected_state`` guards against acting on a stale view (compare-and-set). ``error`` is
    required to enter ``failed`` and stored as ``last_error``; leaving ``failed`` clears it.
    Raises :class:`InvalidTransition` for a move the state machine does not allow.
    """
    require_transaction(conn)
    if to_state not in TRANSITIONS:
        raise InvalidArgument(f"unknown clip state {to_state!r}")
    clip = get_clip(conn, clip_id)
    if expected_state is not None and clip.state != expected_state:
        raise InvalidTransition("clip", clip_id, clip.state, to_state)
    if to_state not in TRANSITIONS[clip.state]:
        raise InvalidTransition("clip", clip_id, clip.state, to_state)
    if to_state == "failed" and not error:
        raise InvalidArgument("entering 'failed' needs an error message")
    if to_state == "published" and not (url or clip.url):
        raise InvalidArgument("entering 'published' needs a url")
    at = max(now_ms() if now is None else now, clip.updated_at)  # updated_at never goes back
    progress = {"queued": 0.0, "encoding": 0.0, "encoded": 1.0, "published": 1.0}.get(
        to_state, clip.progress
    )
    if to_state == "uploading":
        progress = 0.0
    conn.execute(
        "UPDATE clips SET state = ?, progress = ?, updated_at = ?, "
        "last_error = CASE WHEN ? = 'failed' THEN ? ELSE NULL END, "
        "output_path = coalesce(?, output_path), url = coalesce(?, url), "
        "thumbnail_url = coalesce(?, thumbnail_url) WHERE clip_id = ?",
        (to_state, progress, at, to_state, error, output_path, url, thumbnail_url, clip_id),
    )
    if to_state == "encoding":
        conn.execute("UPDATE clip_jobs SET attempts = attempts + 1 WHERE clip_id = ?", (clip_id,))
    _history(conn, clip_id, clip.state, to_state, at, error if to_state == "failed" else detail)
    return get_clip(conn, clip_id)


def update_clip_progress(
    conn: apsw.Connection, *, clip_id: str, progress: float, now: int | None = None
) -> Clip:
    """Set progress (0..1) of an ``encoding`` or ``uploading`` clip; writes no history."""
    require_transaction(conn)
    if not 0.0 <= progress <= 1.0:
        raise InvalidArgument("progress must be within 0..1")
    clip = get_clip(conn, clip_id)
    if clip.state not in ("encoding", "uploading"):
        raise InvalidTransition("clip", clip_id, clip.state, "progress update")
    at = max(now_ms() if now is None else now, clip.updated_at)
    conn.execute(
        "UPDATE clips SET progress = ?, updated_at = ? WHERE clip_id = ?",
        (float(progress), at, clip_id),
    )
    return get_clip(conn, clip_id)


def clip_history(conn: apsw.Connection, clip_id: str) -> list[ClipStateChange]:
    """The clip's state changes, oldest first."""
    rows = conn.execute(
        "SELECT clip_id, from_state, to_state, at, detail FROM clip_state_history "
        "WHERE clip_id = ? ORDER BY id",
        (clip_id,),
    )
    return [
        ClipStateChange(clip_id=r[0], from_state=r[1], to_state=r[2], at=r[3], detail=r[4])
        for r in rows
    ]


def list_unfinished_clips(conn: apsw.Connection) -> list[Clip]:
    """Clips to resume after a restart (not published, not failed), oldest first."""
    marks = ", ".join("?" for _ in UNFINISHED_STATES)
    rows = conn.execute(
        _SELECT + f" WHERE c.state IN ({marks}) ORDER BY c.created_at, c.clip_id",
        UNFINISHED_STATES,
    )
    return [_clip(r) for r in rows]


def list_clips(
    conn: apsw.Connection, *, creator_id: str | None = None, limit: int | None = None
) -> list[Clip]:
    """Clips newest first (ties by ``clip_id``), for exports."""
    sql = _SELECT
    params: list[object] = []
    if creator_id is not None:
        sql += " WHERE c.creator_id = ?"
        params.append(creator_id)
    sql += " ORDER BY c.created_at DESC, c.clip_id LIMIT ?"
    params.append(-1 if limit is None else limit)
    return [_clip(r) for r in conn.execute(sql, params)]
