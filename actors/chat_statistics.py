"""`PolledChatStatistics`: what the chats read by polling an HTTP API (Rumble, YouTube) have in
common in their `snapshot()`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from actors._tree import ActorStatistics
from actors.ratelimit import BucketStatistics

__all__ = ["PolledChatStatistics"]


@attrs.frozen(kw_only=True, slots=True)
class PolledChatStatistics(ActorStatistics):
    """What a chat read by polling an HTTP API shows of itself in the tree: its platform row,
    its request counters, what it dropped, and its rate-limit buckets (rate_limits.json).
    Each platform's subclass adds its own fields."""

    platform: str
    creator_id: str
    #: running | inactive | paused | error | disabled (`ConnectionHealth.status`).
    status: str
    #: The lifecycle's `ConnectionState` value.
    state: str
    enabled: bool
    messages: int = 0
    actions: int = 0
    errors: int = 0
    last_event_at: datetime | None = None
    #: The last good answer of the API.
    last_heartbeat: datetime | None = None
    error: str | None = None
    paused_reason: str | None = None
    requests: int = 0
    timeouts: int = 0
    duplicates: int = 0
    #: Entries of the API's answers that could not be read.
    skipped: int = 0
    parse_errors: int = 0
    dropped: int = 0
    dropped_reasons: Mapping[str, int] = attrs.field(factory=dict)
    #: Its buckets (empty before `on_start` defined them).
    rate_limits: tuple[BucketStatistics, ...] = ()
