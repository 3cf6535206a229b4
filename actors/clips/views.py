"""Export views of clip jobs, read from the database (`state.clips.list_clips`)."""

from __future__ import annotations

from collections.abc import Iterable

from exports.views import ClipView, JobView
from state.clips import Clip
from state.timeutil import to_datetime

#: Clip state -> `jobs.json` status.
JOB_STATUS = {
    "queued": "pending",
    "encoding": "running",
    "encoded": "running",
    "uploading": "running",
    "published": "completed",
    "failed": "failed",
}


def clip_view(clip: Clip, *, creator_name: str | None = None) -> ClipView:
    """A `ClipView` (clips.json) of a clip row."""
    return ClipView(
        clip_id=clip.clip_id,
        creator_id=clip.creator_id,
        title=clip.title,
        platform=clip.platform,
        state=clip.state,
        created_at=to_datetime(clip.created_at),
        updated_at=to_datetime(clip.updated_at),
        requested_by=clip.requested_by,
        creator_name=creator_name,
        duration_seconds=clip.duration_seconds,
        progress=min(max(clip.progress, 0.0), 1.0),
        destination_platform=clip.destination_platform,
        destination_channel_url=clip.destination_channel_url,
        url=clip.url if clip.state == "published" else None,
        thumbnail_url=clip.thumbnail_url,
        published_at=to_datetime(clip.updated_at) if clip.state == "published" else None,
        last_error=clip.last_error,
    )


def job_view(clip: Clip) -> JobView:
    """A `JobView` (jobs.json, type "clip") of a clip row."""
    return JobView(
        id=clip.clip_id,
        type="clip",
        status=JOB_STATUS[clip.state],
        created_at=to_datetime(clip.created_at),
        updated_at=to_datetime(clip.updated_at),
        creator_id=clip.creator_id,
        reason=clip.last_error,
    )


def clip_views(clips: Iterable[Clip]) -> list[ClipView]:
    """Views of `state.clips.list_clips(conn, limit=...)` rows, in the same order."""
    return [clip_view(c) for c in clips]


def job_views(clips: Iterable[Clip]) -> list[JobView]:
    """Job views of the same rows."""
    return [job_view(c) for c in clips]
