"""Clips: a rolling capture per creator, clip jobs encoded by ffmpeg, and their destinations.

See `supervisor.ClipSupervisor` for the tree and `jobs.ClipJobs` for the job lifecycle.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): importing one small module of this package (the export
# views) must not cost the whole clip machinery, and a runtime without clips never loads it.
_EXPORTS = {
    "ClipAccepted": "actors.clips.messages",
    "ClipCapture": "actors.clips.capture",
    "ClipCaptureStatistics": "actors.clips.statistics",
    "ClipDestinationStatus": "actors.clips.statistics",
    "ClipJobs": "actors.clips.jobs",
    "ClipJobsStatistics": "actors.clips.statistics",
    "ClipRejected": "actors.clips.messages",
    "ClipSupervisor": "actors.clips.supervisor",
    "CreatorClips": "actors.clips.jobs",
    "DiscordWebhookDestination": "actors.clips.destinations",
    "FolderDestination": "actors.clips.destinations",
    "HttpUploadDestination": "actors.clips.destinations",
    "PublishError": "actors.clips.destinations",
    "PublishItem": "actors.clips.destinations",
    "RequestClip": "actors.clips.messages",
    "Rescan": "actors.clips.messages",
    "RumbleDestination": "actors.clips.destinations",
    "Snapshot": "actors.clips.messages",
    "SnapshotFailed": "actors.clips.messages",
    "TakeSnapshot": "actors.clips.messages",
    "build_destinations": "actors.clips.supervisor",
    "clip_view": "actors.clips.views",
    "clip_views": "actors.clips.views",
    "job_view": "actors.clips.views",
    "job_views": "actors.clips.views",
    "register_clip_routes": "actors.clips.routes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'actors.clips' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
