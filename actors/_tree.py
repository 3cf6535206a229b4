"""The typed rows of a supervision tree (`Supervisor.tree`), read by /status, the exports and
the telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # (`actors.connection` imports this package; the exports import it)
    from actors.connection import ConnectionHealth
    from exports.views import ErrorView


class ActorStatistics:
    """Base of the typed values an actor's `snapshot()` gives (frozen attrs subclasses), so
    their readers (the exports, the runtime, the control API) take attributes, not keys."""

    __slots__ = ()


@attrs.frozen(kw_only=True, slots=True)
class ErrorsReported(ActorStatistics):
    """Statistics of an actor that reports failures of its own beside its lifecycle (requests
    it refused, say): rows the publisher adds to `telemetry/errors.json`."""

    telemetry_errors: tuple[ErrorView, ...] = ()


@attrs.frozen(kw_only=True, slots=True)
class SnapshotFailed(ActorStatistics):
    """The detail of a running actor whose `snapshot()` raised: the walk goes on (a broken
    snapshot must not break the exports), and the row says what went wrong."""

    error: str


#: What `Actor.snapshot()` gives: a typed value, or None for an actor with nothing to show.
Detail = ActorStatistics | None

#: The detail of a row that has none (a supervisor, an actor not running, a walk without).
NO_DETAIL: Detail = None


@attrs.frozen(kw_only=True, slots=True)
class MailboxFigures:
    """A mailbox's figures at the time of the walk: depth, peak, capacity (None: no mailbox
    of its own, e.g. a supervisor), the messages it refused because it was full and the
    senders it kept waiting for room, each with how long ago the last one was (None:
    never)."""

    depth: int = 0
    peak: int = 0
    capacity: int | None = None
    refused: int = 0
    refused_ago: float | None = None
    #: Times a sender waited for room, and how long ago the last began (None: never).
    held_back: int = 0
    held_back_ago: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The figures as /status shows them (the refusals and waits only once there were
        some)."""
        row: dict[str, Any] = {"depth": self.depth, "peak": self.peak}
        if self.capacity is not None:
            row["capacity"] = self.capacity
        if self.refused_ago is not None:
            row["refused"] = self.refused
            row["refused_ago"] = self.refused_ago
        if self.held_back_ago is not None:
            row["held_back"] = self.held_back
            row["held_back_ago"] = self.held_back_ago
        return row


NO_MAILBOX = MailboxFigures()


@attrs.frozen(kw_only=True, slots=True)
class TreeRow:
    """One actor or supervisor of the tree, depth first.

    `detail` is the actor's own `snapshot()`, a typed `ActorStatistics` (None for a
    supervisor, an actor not running or with nothing to show, or a walk without details).
    `health` is its `health()` value (network actors; None for the others)."""

    path: str
    kind: str
    state: str
    restarts: int = 0
    last_error: str | None = None
    started_at: datetime | None = None
    mailbox: MailboxFigures = NO_MAILBOX
    handled: int = 0
    detail: Detail = NO_DETAIL
    health: ConnectionHealth | None = None

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rpartition("/")[2]

    def as_json(self) -> dict[str, Any]:
        """The row as /status shows it: its own figures, without the detail and health (both
        have their own places there)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "started_at": (
                None
                if self.started_at is None
                else self.started_at.isoformat().replace("+00:00", "Z")
            ),
            "mailbox": self.mailbox.as_json(),
            "handled": self.handled,
        }
