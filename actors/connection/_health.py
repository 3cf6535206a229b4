"""The typed health value every network actor reports (like trio's `statistics()`)."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["ConnectionHealth", "ConnectionState", "LifecycleEvent", "LifecycleEventKind"]


class ConnectionState(enum.Enum):
    """Where one connection (or polling loop) stands."""

    CONNECTING = "connecting"  # the first attempt since start is under way
    CONNECTED = "connected"  # logged in and serving (a poller: the last request succeeded)
    RECONNECTING = "reconnecting"  # lost or never opened: waiting out the backoff, or retrying
    FAILED = "failed"  # needs a person (bad credentials, banned, revoked) or gave up
    PAUSED = "paused"  # deliberately idle (configuration, quota exhausted until a reset)
    DISABLED = "disabled"  # not enabled in the configuration

    @property
    def healthy(self) -> bool:
        """True when this state is no reason to call the runtime degraded."""
        return self in _HEALTHY

    @property
    def failing(self) -> bool:
        """True when the component is not doing its job and should be named in /status."""
        return self in _FAILING


_HEALTHY = frozenset({ConnectionState.CONNECTED, ConnectionState.PAUSED, ConnectionState.DISABLED})
_FAILING = frozenset({ConnectionState.RECONNECTING, ConnectionState.FAILED})


_STATUS = {
    ConnectionState.CONNECTING: "inactive",
    ConnectionState.RECONNECTING: "error",
    ConnectionState.FAILED: "error",
    ConnectionState.PAUSED: "paused",
    ConnectionState.DISABLED: "disabled",
}


class LifecycleEventKind(enum.Enum):
    """What happened at a transition (the telemetry's event types)."""

    CONNECTED = "connected"
    CONNECT_FAILED = "connect_failed"  # an attempt that never opened
    DISCONNECTED = "disconnected"  # an open connection was lost
    NEEDS_PERSON = "needs_person"  # refused in a way retrying soon cannot fix
    GAVE_UP = "gave_up"  # no more retries until restarted
    PAUSED = "paused"
    RESUMED = "resumed"


@attrs.frozen(kw_only=True)
class LifecycleEvent:
    """One transition of one component, for telemetry and the log."""

    component: str
    kind: LifecycleEventKind
    at: datetime
    state: ConnectionState
    reason: str | None = None
    attempt: int = 0

    @property
    def severity(self) -> str:
        """`info`, `warning` or `error` (the dashboard's severities)."""
        if self.kind in (LifecycleEventKind.NEEDS_PERSON, LifecycleEventKind.GAVE_UP):
            return "error"
        if self.kind in (LifecycleEventKind.CONNECT_FAILED, LifecycleEventKind.DISCONNECTED):
            return "warning"
        return "info"


@attrs.frozen(kw_only=True)
class ConnectionHealth:
    """How one network component is doing, as a value (no secrets anywhere in it).

    `component` is the platform or subsystem (`"twitch"`, `"discord"`); `creator_id` says whose
    it is when it belongs to a creator. `attempts` counts consecutive failed attempts (0 while
    connected); `next_retry_at` is set while waiting to retry. `last_error` is a sentence a
    person can act on and stays set after recovery (with `last_error_at`) so the telemetry can
    show it as cleared. `messages`, `actions` and `errors` are the actor's own counters;
    `recent` holds the last few transitions, oldest first.
    """

    component: str
    state: ConnectionState
    since: datetime
    enabled: bool = True
    creator_id: str | None = None
    target: str | None = None  # where it connects (host:port; never a URL with a key in it)
    attempts: int = 0
    next_retry_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    paused_reason: str | None = None
    detail: str | None = None  # e.g. "no live stream"
    idle: bool = False  # connected, but nothing to serve (no live stream): "inactive"
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    give_ups: int = 0
    connected_at: datetime | None = None
    last_traffic_at: datetime | None = None
    messages: int = 0
    actions: int = 0
    errors: int = 0
    dropped: int = 0
    last_event_at: datetime | None = None
    recent: tuple[LifecycleEvent, ...] = ()

    @property
    def failing(self) -> bool:
        """True when this component should make the runtime read as degraded."""
        return self.enabled and self.state.failing

    @property
    def status(self) -> str:
        """The dashboard's status word: running, inactive, paused, disabled or error."""
        if self.state is ConnectionState.CONNECTED:
            return "inactive" if self.idle else "running"
        return _STATUS[self.state]

    @property
    def error(self) -> str | None:
        """The error to show now: the last error while failing, else None."""
        if self.state in (ConnectionState.RECONNECTING, ConnectionState.FAILED):
            return self.last_error
        return None
