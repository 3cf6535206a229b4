"""What the clip actors show of themselves in the tree: `ClipJobsStatistics` (with a
`ClipDestinationStatus` per destination) and `ClipCaptureStatistics`.

Apart from the actors so that their readers (/actors, the publisher) import them without the
clip machinery (ffmpeg, trio processes, the destinations' HTTP clients)."""

from __future__ import annotations

from datetime import datetime

import attrs

from actors import ActorStatistics

__all__ = ["ClipCaptureStatistics", "ClipDestinationStatus", "ClipJobsStatistics"]


@attrs.frozen(kw_only=True, slots=True)
class ClipDestinationStatus:
    """One creator's clip destination as the jobs actor shows it: whether it takes clips, or
    why it is paused."""

    creator_id: str
    name: str
    #: The destination's kind ("folder", "discord", "http", "rumble").
    kind: str
    #: "active", or "paused" (skipped when publishing; `paused_reason` says why).
    status: str
    paused_reason: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ClipJobsStatistics(ActorStatistics):
    """What the clip job runner shows of itself in the tree (`ClipJobs.snapshot`): its
    workers and the jobs they hold, what came of the jobs since the start, the encoder it
    found, and its destinations."""

    #: "starting", "running", or "error" (no ffmpeg: `ffmpeg_error` says why).
    status: str
    enabled: bool = True
    workers: int
    #: The clip ids being worked on now, sorted.
    running: tuple[str, ...] = ()
    #: The clip ids put back after a transient failure, waiting for their next try, sorted.
    waiting_retry: tuple[str, ...] = ()
    published: int = 0
    failed: int = 0
    retries: int = 0
    #: Clip requests refused (unknown creator, clips disabled, duration, cooldown).
    rejected: int = 0
    #: Jobs a crash had left encoding or uploading, put back a step at the start.
    recovered: int = 0
    #: The video encoder ffmpeg is run with (None: no ffmpeg found).
    video_codec: str | None = None
    ffmpeg_error: str | None = None
    last_error: str | None = None
    destinations: tuple[ClipDestinationStatus, ...] = ()


@attrs.frozen(kw_only=True, slots=True)
class ClipCaptureStatistics(ActorStatistics):
    """What a creator's capture shows of itself in the tree (`ClipCapture.snapshot`): the
    footage it buffers, its ffmpeg runs, and the snapshots it cut for clip jobs."""

    creator_id: str
    #: "connecting", "running", "reconnecting", or "failed" (`error` says why).
    status: str
    enabled: bool = True
    buffered_seconds: float = 0.0
    #: Segments in the buffer.
    segments: int = 0
    #: Segments completed since the start (whether still buffered or not).
    segments_seen: int = 0
    #: ffmpeg runs that ended (each one is restarted).
    restarts: int = 0
    snapshots: int = 0
    snapshot_failures: int = 0
    #: When the last segment completed (None: none yet).
    last_segment_at: datetime | None = None
    #: The running ffmpeg's process id (None between runs).
    ffmpeg_pid: int | None = None
    #: Why the last ffmpeg run ended (kept after recovery; the health says if it is current).
    error: str | None = None
