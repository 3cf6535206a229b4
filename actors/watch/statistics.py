"""What the live monitor (`actors.watch.monitor.LiveMonitor`) shows of itself in the tree:
`LiveMonitorStatistics`, with its `EventSubChannels` and the EventSub webhook's
`WebhookStatistics` (`actors.watch.webhook.WebhookStats.statistics`).

Apart from the actor so that their readers (the exports, /status) import them without the
actor's Helix client and HTTP routes. None of them holds a secret or a request body."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from actors._tree import ActorStatistics

__all__ = [
    "EventSubChannels",
    "LiveMonitorStatistics",
    "PollingResumed",
    "WebhookRevocation",
    "WebhookStatistics",
]


@attrs.frozen(kw_only=True, slots=True)
class WebhookRevocation:
    """A subscription Twitch revoked, as the webhook endpoint noted it: the subscription's id
    and type and the revocation's status (any may be missing from Twitch's message), what to
    do about it (`actors.twitch.eventsub.Revocation.action`), and when it came."""

    subscription_id: str | None
    subscription_type: str | None
    status: str | None
    action: str
    at: datetime


@attrs.frozen(kw_only=True, slots=True)
class WebhookStatistics:
    """The counters of the EventSub webhook endpoint (`register_watch_routes`), shown in the
    live monitor's statistics (`LiveMonitorStatistics.webhook`): no secrets, no bodies."""

    #: Requests verified and new (challenges, revocations and notifications).
    accepted: int = 0
    #: stream.online/offline notifications the live monitor committed.
    notifications: int = 0
    #: Redeliveries of a message id already accepted (acknowledged, not processed again).
    duplicates: int = 0
    challenges: int = 0
    #: The latest revocations, oldest first (a bounded number).
    revocations: tuple[WebhookRevocation, ...] = ()
    #: Refused requests by reason (sorted by reason), and their sum.
    rejected: Mapping[str, int] = attrs.field(factory=dict)
    rejected_total: int = 0
    #: Notifications the live monitor could not take (answered 503: Twitch redelivers).
    failures: int = 0
    #: When the last request was accepted.
    last_at: datetime | None = None


@attrs.frozen(kw_only=True, slots=True)
class PollingResumed:
    """A channel handed back to Helix polling because EventSub no longer reports it: which,
    why (a sentence), and when."""

    channel: str
    reason: str
    at: datetime


@attrs.frozen(kw_only=True, slots=True)
class EventSubChannels:
    """The channels whose stream status EventSub reports (so they are not polled), and the
    latest channels handed back to polling (oldest first, a bounded number)."""

    #: Twitch logins, sorted.
    channels: tuple[str, ...] = ()
    resumed: tuple[PollingResumed, ...] = ()


@attrs.frozen(kw_only=True, slots=True)
class LiveMonitorStatistics(ActorStatistics):
    """What a `LiveMonitor` shows of itself in the tree (`LiveMonitor.snapshot`): its status,
    what it watches and sees live, its Helix polling and transition counters, the EventSub
    webhook's counters and the channels EventSub reports (no secrets, no bodies)."""

    platform: str = "watch"
    #: running | error | disabled (the dashboard's words).
    status: str
    enabled: bool
    #: How many entries are watched, per kind (`WATCH_KINDS`).
    watches: Mapping[str, int] = attrs.field(factory=dict)
    #: The channels live now, as ``platform:channel``, sorted.
    live: tuple[str, ...] = ()
    #: Helix scans done, the requests they took (all, and the last scan's), and the scans
    #: that failed.
    polls: int = 0
    poll_requests: int = 0
    last_poll_requests: int = 0
    poll_failures: int = 0
    last_poll_at: datetime | None = None
    #: Stream sessions started and ended (committed transitions).
    started: int = 0
    ended: int = 0
    #: Invalid watch values and reports of channels not watched.
    ignored: int = 0
    #: Reported transitions whose message id was applied before.
    duplicates: int = 0
    errors: int = 0
    #: Why polling fails, as a sentence (None while it works).
    error: str | None = None
    #: When the last transition was reported from outside (webhook, chat connection).
    last_event_at: datetime | None = None
    #: Helix requests left in the current rate-limit window (None: not known yet).
    rate_limit_remaining: int | None = None
    #: The EventSub webhook endpoint's counters (None: no webhook).
    webhook: WebhookStatistics | None = None
    eventsub: EventSubChannels = EventSubChannels()
