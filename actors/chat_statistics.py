"""What the chats show of themselves in the tree (their `snapshot()`), as typed values:

- `ChatStatistics`: the fields every chat has (Twitch, Kick, Rumble, YouTube): its platform
  row, its message, action and error counters, and the replies it dropped;
- `PolledChatStatistics`: a `ChatStatistics` of a chat read by polling an HTTP API (Rumble,
  YouTube), with its request counters and rate-limit buckets;
- `SocketChatStatistics`: a `ChatStatistics` of a chat on a connection it keeps open (Twitch
  IRC, Kick), with the connection and its reply and moderation queues.

Each platform's subclass adds its own fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from actors._tree import ActorStatistics
from actors.moderation import ModerationStatistics
from actors.ratelimit import BucketStatistics

__all__ = ["ChatStatistics", "PolledChatStatistics", "SocketChatStatistics"]


@attrs.frozen(kw_only=True, slots=True)
class ChatStatistics(ActorStatistics):
    """What every chat shows of itself in the tree: its platform row (the exports' words),
    its counters, and what it dropped. Each platform's subclass adds its own fields."""

    platform: str
    creator_id: str
    #: running | inactive | paused | error | disabled (`ConnectionHealth.status`).
    status: str
    #: The lifecycle's `ConnectionState` value.
    state: str
    enabled: bool
    messages: int = 0
    #: Replies sent (0 for a read-only chat).
    actions: int = 0
    errors: int = 0
    last_event_at: datetime | None = None
    #: The last sign of life of the platform (a good answer, a frame): stops when it is silent.
    last_heartbeat: datetime | None = None
    error: str | None = None
    paused_reason: str | None = None
    #: Messages seen again (after a reconnect, in overlapping answers) and skipped.
    duplicates: int = 0
    parse_errors: int = 0
    #: Replies dropped, in all and by reason.
    dropped: int = 0
    dropped_reasons: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True, slots=True)
class PolledChatStatistics(ChatStatistics):
    """What a chat read by polling an HTTP API shows of itself in the tree: the common rows of
    a chat (`last_heartbeat` is the API's last good answer), its request counters, and its
    rate-limit buckets (rate_limits.json). Each platform's subclass adds its own fields."""

    requests: int = 0
    timeouts: int = 0
    #: Entries of the API's answers that could not be read.
    skipped: int = 0
    #: Its buckets (empty before `on_start` defined them).
    rate_limits: tuple[BucketStatistics, ...] = ()


@attrs.frozen(kw_only=True, slots=True)
class SocketChatStatistics(ChatStatistics):
    """What a chat read over a connection it keeps open (Twitch IRC, Kick's Pusher websocket)
    shows beside the common rows: the connection, and the replies and moderation actions it
    sends from its queues. Each platform's subclass adds its own fields."""

    connected: bool = False
    #: Connections opened, and those after the first.
    connections: int = 0
    reconnects: int = 0
    #: Replies sent: the same count as `actions`, kept under the name every chat that sends
    #: (YouTube too) shows.
    sent: int = 0
    #: Replies waiting to be sent.
    queued: int = 0
    #: Replies cut to the platform's 500 characters.
    truncated: int = 0
    moderation: ModerationStatistics
