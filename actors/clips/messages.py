"""Messages of the clip actors (frozen, slotted, keyword-only values)."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen(slots=True, kw_only=True)
class TakeSnapshot:
    """To a `ClipCapture`: copy the footage of `[end - length, end]` (wall-clock seconds) into
    `folder` as `source.ts` + `snapshot.json`. Waits up to `wait_seconds` for `end` to be
    buffered. Reply: `Snapshot`; raises `NotBuffered` when the footage is not held."""

    clip_id: str
    end: float
    length: float
    folder: Path
    wait_seconds: float = 10.0


@attrs.frozen(slots=True, kw_only=True)
class Snapshot:
    """Footage copied for one clip: cut `duration` seconds from `offset` of `source`."""

    source: Path
    offset: float
    duration: float


@attrs.frozen(slots=True, kw_only=True)
class RequestClip:
    """To `ClipJobs`: make a local clip of the last `duration_seconds` (None: the creator's
    default). Reply: `ClipAccepted` or `ClipRejected` (never raises for a bad request)."""

    creator_id: str
    duration_seconds: float | None = None
    title: str | None = None
    requested_by: str = "api"
    #: Where the footage comes from (a local capture unless said otherwise).
    platform: str = "local"


@attrs.frozen(slots=True, kw_only=True)
class ClipAccepted:
    """The clip job exists (state `queued`)."""

    clip_id: str
    title: str


@attrs.frozen(slots=True, kw_only=True)
class ClipRejected:
    """Why a request was refused; `status` is the HTTP status that fits, `retry_after` is set
    for cooldowns."""

    reason: str
    status: int = 400
    retry_after: float | None = None


@attrs.frozen(slots=True, kw_only=True)
class Rescan:
    """To `ClipJobs`: look for new queued clips now (instead of at the next poll)."""


@attrs.frozen(slots=True, kw_only=True)
class SnapshotFailed:
    """Reply to `TakeSnapshot` when the footage is not there (the reason says why)."""

    reason: str
