"""Clips: a rolling capture per creator, clip jobs encoded by ffmpeg, and their destinations.

See `supervisor.ClipSupervisor` for the tree and `jobs.ClipJobs` for the job lifecycle.
"""

from actors.clips.capture import ClipCapture
from actors.clips.destinations import (
    DiscordWebhookDestination,
    FolderDestination,
    HttpUploadDestination,
    PublishError,
    PublishItem,
    RumbleDestination,
)
from actors.clips.jobs import ClipJobs, CreatorClips
from actors.clips.messages import (
    ClipAccepted,
    ClipRejected,
    RequestClip,
    Rescan,
    Snapshot,
    SnapshotFailed,
    TakeSnapshot,
)
from actors.clips.routes import register_clip_routes
from actors.clips.supervisor import ClipSupervisor, build_destinations
from actors.clips.views import clip_view, clip_views, job_view, job_views

__all__ = [
    "ClipAccepted",
    "ClipCapture",
    "ClipJobs",
    "ClipRejected",
    "ClipSupervisor",
    "CreatorClips",
    "DiscordWebhookDestination",
    "FolderDestination",
    "HttpUploadDestination",
    "PublishError",
    "PublishItem",
    "RequestClip",
    "Rescan",
    "RumbleDestination",
    "Snapshot",
    "SnapshotFailed",
    "TakeSnapshot",
    "build_destinations",
    "clip_view",
    "clip_views",
    "job_view",
    "job_views",
    "register_clip_routes",
]
