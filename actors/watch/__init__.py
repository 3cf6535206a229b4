"""Live-status watching: Helix polling, EventSub webhooks, Kick events -> stream sessions."""

from actors.watch.monitor import (
    WATCH_KINDS,
    EventSubCoverage,
    LiveMonitor,
    PollNow,
    PollResult,
    WatchAdd,
    WatchList,
    WatchRemove,
)
from actors.watch.statistics import (
    EventSubChannels,
    LiveMonitorStatistics,
    PollingResumed,
    WebhookRevocation,
    WebhookStatistics,
)
from actors.watch.webhook import WebhookStats, register_watch_routes

__all__ = [
    "WATCH_KINDS",
    "EventSubChannels",
    "EventSubCoverage",
    "LiveMonitor",
    "LiveMonitorStatistics",
    "PollNow",
    "PollResult",
    "PollingResumed",
    "WatchAdd",
    "WatchList",
    "WatchRemove",
    "WebhookRevocation",
    "WebhookStatistics",
    "WebhookStats",
    "register_watch_routes",
]
