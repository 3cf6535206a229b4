"""What the Twitch actors show of themselves in the tree: an EventSub actor
(`actors.twitch.events_actor.TwitchEvents`) its `EventSubStatistics`, with its
`RevocationNote`s and `TelemetryNote`s; the IRC chat (`actors.twitch.chat.TwitchChat`) its
`TwitchChatStatistics`.

Apart from the actor so that their readers (the publisher, /status) import them without the
actor's sockets and Helix client."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import attrs

from actors import ActorStatistics
from actors.chat_statistics import SocketChatStatistics
from actors.connection import ConnectionState
from actors.telemetry import TelemetryNote

__all__ = ["EventSubStatistics", "RevocationNote", "TwitchChatStatistics"]


@attrs.frozen(slots=True, kw_only=True)
class RevocationNote:
    """A subscription Twitch revoked, as the actor noted it: the subscription's type and the
    revocation's status (either may be missing from Twitch's frame), what to do about it
    (`actors.twitch.eventsub.Revocation.action`), and when it came."""

    subscription_type: str | None
    status: str | None
    action: str
    at: datetime


@attrs.frozen(slots=True, kw_only=True)
class EventSubStatistics(ActorStatistics):
    """What a `TwitchEvents` actor shows of itself in the tree (`TwitchEvents.snapshot`): its
    lifecycle, its subscriptions and what went wrong with them, its counters, and the
    telemetry events it recorded (no tokens, no raw user ids)."""

    platform: str = "twitch"
    #: ``events`` (channel events, broadcaster token) or ``chat`` (chat over EventSub).
    role: Literal["events", "chat"]
    creator_id: str
    channel: str
    #: The exports' platform status of `state` ("running", "error", "paused", ...).
    status: str
    state: ConnectionState
    since: datetime
    #: Consecutive failed attempts (0 while connected).
    attempts: int = 0
    next_retry_at: datetime | None = None
    error: str | None = None
    #: What is wrong while connected (subscriptions that failed or were revoked).
    detail: str | None = None
    connected: bool = False
    #: The channel events this session subscribes to (role ``events``).
    events: tuple[str, ...] = ()
    #: Per subscription type: how subscribing went ("created", "exists", "revoked", ...).
    subscriptions: Mapping[str, str] = attrs.field(factory=dict)
    #: Per subscription type that is not active: the sentence saying why.
    subscription_errors: Mapping[str, str] = attrs.field(factory=dict)
    #: Sockets opened (handovers included), and handovers done.
    connections: int = 0
    handovers: int = 0
    notifications: int = 0
    #: Events applied (each once).
    messages: int = 0
    duplicates: int = 0
    #: Frames and notifications refused, by reason.
    rejected: Mapping[str, int] = attrs.field(factory=dict)
    #: WebSocket close codes seen, by code.
    close_codes: Mapping[str, int] = attrs.field(factory=dict)
    #: The latest revocations, oldest first.
    revocations: tuple[RevocationNote, ...] = ()
    #: Reconciliations through Helix after a gap, and the events they recovered.
    reconciliations: int = 0
    reconciled: int = 0
    #: Redemptions settled, by outcome ("fulfilled", "refunded", "settle_failed").
    redemptions: Mapping[str, int] = attrs.field(factory=dict)
    reward_errors: tuple[str, ...] = ()
    reward_warnings: tuple[str, ...] = ()
    #: Replies sent (role ``chat``), our own messages echoed back, and other channels'
    #: messages of a Shared Chat session left alone.
    sent: int = 0
    own_messages: int = 0
    shared_chat_skipped: int = 0
    #: Whether the live monitor leaves this channel's stream status to us ("eventsub") or
    #: polls it ("polling"); None: no live monitor.
    live_monitor: Literal["eventsub", "polling"] | None = None
    #: Replies waiting, and those dropped (with the count per reason).
    queued: int = 0
    dropped: int = 0
    dropped_reasons: Mapping[str, int] = attrs.field(factory=dict)
    #: The bot's own messages carry moderator/broadcaster badges (the higher chat limit).
    privileged: bool = False
    #: Replies Twitch answered 429.
    rate_limited: int = 0
    last_event_at: datetime | None = None
    #: When the last frame (a keepalive included) arrived.
    last_heartbeat: datetime | None = None
    #: The latest runtime events, oldest first (the publisher's telemetry/events.json rows).
    telemetry_events: tuple[TelemetryNote, ...] = ()


@attrs.frozen(slots=True, kw_only=True)
class TwitchChatStatistics(SocketChatStatistics):
    """What a Twitch IRC chat shows of itself in the tree (`TwitchChat.snapshot`): the common
    rows of a chat (`last_heartbeat`: the last frame the server sent, PINGs included; `errors`:
    unreadable lines and lines the server refused), its connection, its reply counters and its
    moderation queue. Never the token."""

    platform: str = "twitch"
    #: The channel joined (lower case, no "#").
    channel: str
    #: Logged in as a `justinfanNNNNN` nick, without a token: read-only.
    anonymous: bool = False
    #: Our USERSTATE says moderator or broadcaster: the higher send limit applies.
    privileged: bool = False
    #: Replies sent with an invisible suffix so that Twitch does not drop a repetition.
    varied: int = 0
    #: Messages of ours the server refused (``msg_*`` NOTICEs: rate limit, slow mode, ban).
    server_rejections: int = 0
    #: Logins refused in a row (a bad token): after `max_auth_failures`, given up.
    auth_failures: int = 0
