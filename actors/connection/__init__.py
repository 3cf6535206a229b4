"""The connection lifecycle every network actor shares.

- `ConnectionState`, `ConnectionHealth`, `LifecycleEvent`: the typed health an actor reports.
- `describe_failure`: a transport exception as a sentence a person understands, and whether
  retrying can help (`Failure`); `SessionEnded` and `HttpStatusError` let a session say why
  it ended.
- `Lifecycle`: the reconnect loop (states, attempts, backoff, liveness deadline, events).
- `Outbox`: the bounded send queue with counted drops.
- `open_websocket`, `WebSocketTarget`, `Connector`: a WebSocket over an injectable stream.
"""

from actors.connection._failures import (
    Failure,
    HttpStatusError,
    SessionEnded,
    describe_failure,
    host_of,
)
from actors.connection._health import (
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleEventKind,
)
from actors.connection._lifecycle import DEFAULT_BACKOFF, DEFAULT_PERSON_BACKOFF, Lifecycle
from actors.connection._outbox import Outbox, OutboxStatistics, Outgoing
from actors.connection._websocket import (
    Connector,
    WebSocketTarget,
    display_url,
    open_websocket,
    tcp_connector,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_PERSON_BACKOFF",
    "ConnectionHealth",
    "ConnectionState",
    "Connector",
    "Failure",
    "HttpStatusError",
    "Lifecycle",
    "LifecycleEvent",
    "LifecycleEventKind",
    "Outbox",
    "OutboxStatistics",
    "Outgoing",
    "SessionEnded",
    "WebSocketTarget",
    "describe_failure",
    "display_url",
    "host_of",
    "open_websocket",
    "tcp_connector",
]
