"""Admission rules for clip requests (pure): duration limits and cooldowns.

Cooldowns are derived from the clips table (not from memory), so they survive restarts and
the check can run inside the transaction that creates the clip.
"""

from __future__ import annotations

from collections.abc import Iterable

from config.models import CreatorClipsConfig
from state.clips import Clip


class Refused(Exception):
    """A request is refused; `status` suits an HTTP answer, `retry_after` is in seconds."""

    def __init__(self, reason: str, *, status: int = 400, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def check_duration(duration: float, config: CreatorClipsConfig) -> None:
    """Raise `Refused` unless `duration` is within the creator's limits."""
    low, high = config.min_duration_seconds, config.max_duration_seconds
    if not (low <= duration <= high):
        raise Refused(f"duration must be between {low:g} and {high:g} seconds, got {duration:g}")


def clamp_duration(duration: float, config: CreatorClipsConfig) -> float:
    """Duration of a clip requested elsewhere (chat), brought within the creator's limits."""
    return min(max(duration, config.min_duration_seconds), config.max_duration_seconds)


def check_cooldowns(
    *,
    requested_by: str,
    at_ms: int,
    earlier: Iterable[Clip],
    config: CreatorClipsConfig,
    exclude: str | None = None,
) -> None:
    """Raise `Refused` (429) when a clip of this creator (or by this user) is too recent.

    `earlier` are the creator's clips; failed ones do not count, nor does `exclude` (the
    clip being checked) or any clip requested after `at_ms`.
    """
    for clip in earlier:
        if clip.clip_id == exclude or clip.state == "failed" or clip.created_at > at_ms:
            continue
        if exclude is not None and clip.created_at == at_ms and clip.clip_id > exclude:
            continue  # same millisecond: the smaller id came first
        age = (at_ms - clip.created_at) / 1000
        left_creator = config.cooldown_creator_seconds - age
        if left_creator > 0:
            raise Refused(
                f"clip cooldown: another clip of this creator was requested {age:.0f} s ago",
                status=429,
                retry_after=left_creator,
            )
        left_user = config.cooldown_user_seconds - age
        if left_user > 0 and clip.requested_by == requested_by:
            raise Refused(
                f"clip cooldown: you requested a clip {age:.0f} s ago",
                status=429,
                retry_after=left_user,
            )
