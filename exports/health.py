"""The one place that reads health values: `/status`, the snapshot's platforms, telemetry.

Network actors report a frozen `actors.connection.ConnectionHealth` (`Actor.health()`), which
`Supervisor.tree()` puts in each row as `health`; the tree itself says whether an actor is
running, restarting or failed. From these rows this module makes:

- `status_report`: `ok` when every enabled component is connected or running, else
  `degraded` with which component and why (the body of `GET /status`, `/readyz`, and the
  Discord `/status`);
- `platform_rows`: one `PlatformStatus` per platform actor, plus an entry for every platform
  of `PLATFORMS` that has none (`enabled: false` when not configured);
- `telemetry_events`, `telemetry_errors` and `RateWindow`: the telemetry files' rows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from actors import TreeRow
from actors.connection import ConnectionHealth, ConnectionState, LifecycleEventKind
from exports.views import DiscordView, ErrorView, PlatformStatus, RateMetric, TelemetryEvent

__all__ = [
    "CHAT_PLATFORMS",
    "OVERLOAD_SECONDS",
    "PLATFORMS",
    "Alert",
    "ComponentHealth",
    "HealthAlerts",
    "RateWindow",
    "StatusReport",
    "components",
    "health_json",
    "platform_rows",
    "reporting_rows",
    "status_report",
    "telemetry_errors",
    "telemetry_events",
]

PLATFORMS: Final = ("discord", "kick", "rumble", "twitch", "youtube")
"""Platforms the dashboard looks up by key: each always has an entry."""

CHAT_PLATFORMS: Final = frozenset({"twitch", "youtube", "kick", "rumble", "replay"})

_BROKEN_TREE_STATES: Final = frozenset({"restarting", "failed"})


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A component whose mailbox refused a message this recently is overloaded (degraded).
OVERLOAD_SECONDS = 60.0


@attrs.frozen(kw_only=True)
class ComponentHealth:
    """One row of the tree with its health value (None for actors that do not connect)."""

    path: str
    kind: str
    tree_state: str
    restarts: int = 0
    last_error: str | None = None
    health: ConnectionHealth | None = None
    handled: int = 0  # messages the actor handled
    mailbox_depth: int = 0  # messages waiting: a backlog shows here first
    mailbox_capacity: int | None = None
    # Messages its full mailbox refused, and seconds since the last (None: never full).
    mailbox_refused: int = 0
    mailbox_refused_ago: float | None = None
    # Senders it kept waiting for room, and seconds since the last began (None: none).
    mailbox_held_back: int = 0
    mailbox_held_back_ago: float | None = None

    @property
    def name(self) -> str:
        """The last path segment (`twitch` of `root/creators/creator:daniel/twitch`)."""
        return self.path.rpartition("/")[2]

    @property
    def failing(self) -> bool:
        """Reconnecting, failed, or its actor is restarting or has failed."""
        if self.tree_state in _BROKEN_TREE_STATES:
            return True
        return self.health is not None and self.health.failing

    @property
    def overloaded(self) -> bool:
        """Its mailbox was full within the last `OVERLOAD_SECONDS`: messages sent to it were
        refused (writes, replies, chat), so what they asked for did not happen."""
        ago = self.mailbox_refused_ago
        return ago is not None and ago < OVERLOAD_SECONDS

    @property
    def backed_up(self) -> bool:
        """A sender waited for room in its mailbox within the last `OVERLOAD_SECONDS`: what
        is sent to it is delayed (chat waits for a store that cannot keep up)."""
        ago = self.mailbox_held_back_ago
        return ago is not None and ago < OVERLOAD_SECONDS

    @property
    def backlog(self) -> str:
        """What its senders' waits for room say, as a sentence."""
        ago = self.mailbox_held_back_ago
        return (
            f"backed up: its mailbox of {self.mailbox_capacity} messages was full; senders"
            f" waited for room {self.mailbox_held_back} times"
            + ("" if ago is None else f", the last {ago:.0f} s ago")
            + " (it cannot keep up: what is sent to it is delayed)"
        )

    @property
    def starting(self) -> bool:
        """Its start has not finished yet (a supervisor: some of its children's)."""
        return self.tree_state == "starting"

    @property
    def connecting(self) -> bool:
        """Enabled and still on its first connection attempt."""
        health = self.health
        return health is not None and health.enabled and health.state is ConnectionState.CONNECTING

    @property
    def reason(self) -> str | None:
        """Why it is not working, as a sentence (None when it is)."""
        health = self.health
        if health is not None and health.failing:
            return health.error or f"{health.state.value}"
        if self.tree_state in _BROKEN_TREE_STATES:
            return self.last_error or f"actor {self.tree_state}"
        if self.overloaded:
            assert self.mailbox_refused_ago is not None
            return (
                f"overloaded: its mailbox of {self.mailbox_capacity} messages is full; "
                f"{self.mailbox_refused} refused so far, the last {self.mailbox_refused_ago:.0f} s"
                " ago (it cannot keep up with what is sent to it)"
            )
        if self.backed_up:
            return self.backlog
        if self.starting:
            return (
                "starting: its children are still starting"
                if self.kind == "supervisor"
                else "starting"
            )
        if self.connecting:
            assert health is not None
            return f"connecting to {health.target}" if health.target else "connecting"
        return None


#: The tree's rows (`Supervisor.tree()`), or `components` already made of them.
TreeRows = Iterable[TreeRow] | Iterable[ComponentHealth]


def components(tree: TreeRows) -> tuple[ComponentHealth, ...]:
    """The tree's rows as `ComponentHealth` values (a non-health `health` entry is ignored);
    values that already are `ComponentHealth` are kept (a caller reading the tree several
    ways makes them once)."""
    out = []
    for row in tree:
        if isinstance(row, ComponentHealth):
            out.append(row)
            continue
        box = row.mailbox
        out.append(
            ComponentHealth(
                path=row.path,
                kind=row.kind,
                tree_state=row.state,
                restarts=row.restarts,
                last_error=row.last_error,
                health=row.health if isinstance(row.health, ConnectionHealth) else None,
                handled=row.handled,
                mailbox_depth=box.depth,
                mailbox_capacity=box.capacity,
                mailbox_refused=box.refused,
                mailbox_refused_ago=box.refused_ago,
                mailbox_held_back=box.held_back,
                mailbox_held_back_ago=box.held_back_ago,
            )
        )
    return tuple(out)


def reporting_rows(tree: Iterable[TreeRow]) -> list[TreeRow]:
    """The rows `platform_rows`, `telemetry_events` and `telemetry_errors` can make anything
    of: those with a health value or a last error, whose mailbox refused or held back a
    message, or named after a platform. The others (a thousand creators' trigger engines and
    chat replays are most of the tree) give nothing, and a caller reading a big tree at
    every heartbeat skips them."""
    return [
        row
        for row in tree
        if row.health is not None
        or row.last_error
        or row.name in PLATFORMS
        or row.mailbox.refused_ago is not None
        or row.mailbox.held_back_ago is not None
    ]


@attrs.frozen(kw_only=True)
class StatusReport:
    """The runtime's health as one value."""

    components: tuple[ComponentHealth, ...]

    @property
    def degraded(self) -> tuple[ComponentHealth, ...]:
        """Components that are failing, overloaded, backed up, still starting or not
        connected yet (in tree order)."""
        return tuple(
            c
            for c in self.components
            if c.failing or c.overloaded or c.backed_up or c.connecting or c.starting
        )

    @property
    def ok(self) -> bool:
        """Every enabled component is connected or running."""
        return not self.degraded

    @property
    def status(self) -> str:
        """`ok` or `degraded`."""
        return "ok" if self.ok else "degraded"

    def body(self, *, version: str) -> dict[str, Any]:
        """The JSON body of `GET /status`."""
        return {
            "status": self.status,
            "version": version,
            "degraded": [
                {
                    "path": c.path,
                    "state": c.health.state.value if c.health is not None else c.tree_state,
                    "reason": c.reason,
                }
                for c in self.degraded
            ],
            "components": [_component_json(c) for c in self.components],
        }

    def summary(self) -> str:
        """One line per degraded component (the Discord `/status` and logs)."""
        if self.ok:
            return "ok: every component is connected or running"
        lines = [f"degraded: {len(self.degraded)} component(s) not working"]
        for c in self.degraded:
            state = c.health.state.value if c.health is not None else c.tree_state
            lines.append(f"- {c.path}: {state}: {c.reason}")
        return "\n".join(lines)


def status_report(tree: TreeRows) -> StatusReport:
    """The status of every component of the tree."""
    return StatusReport(components=components(tree))


def _component_json(c: ComponentHealth) -> dict[str, Any]:
    row: dict[str, Any] = {
        "path": c.path,
        "kind": c.kind,
        "state": c.tree_state,
        "restarts": c.restarts,
        "last_error": c.last_error,
        "handled": c.handled,
        "mailbox_depth": c.mailbox_depth,
    }
    if c.mailbox_refused:
        row["mailbox_refused"] = c.mailbox_refused
    if c.health is not None:
        row["health"] = health_json(c.health)
    return row


def health_json(h: ConnectionHealth) -> dict[str, Any]:
    """A health value as JSON-able data (times ISO-8601 UTC)."""
    return {
        "component": h.component,
        "creator_id": h.creator_id,
        "enabled": h.enabled,
        "state": h.state.value,
        "status": h.status,
        "since": _iso(h.since),
        "target": h.target,
        "attempts": h.attempts,
        "next_retry_at": _iso(h.next_retry_at),
        "error": h.error,
        "last_error": h.last_error,
        "last_error_at": _iso(h.last_error_at),
        "paused_reason": h.paused_reason,
        "detail": h.detail,
        "connects": h.connects,
        "disconnects": h.disconnects,
        "connect_failures": h.connect_failures,
        "give_ups": h.give_ups,
        "connected_at": _iso(h.connected_at),
        "last_traffic_at": _iso(h.last_traffic_at),
        "messages": h.messages,
        "actions": h.actions,
        "errors": h.errors,
        "dropped": h.dropped,
        "last_event_at": _iso(h.last_event_at),
    }


# --- runtime_snapshot.json platforms ------------------------------------------------------------


def _platform_row(c: ComponentHealth, h: ConnectionHealth, triggers: int) -> PlatformStatus:
    broken = c.tree_state in _BROKEN_TREE_STATES
    return PlatformStatus(
        platform=h.component,
        creator_id=h.creator_id,
        enabled=h.enabled,
        status="error" if broken else h.status,
        state=h.state.value,
        last_heartbeat=h.last_traffic_at or h.connected_at,
        last_event_at=h.last_event_at,
        error=h.error or (c.reason if broken else None),
        paused_reason=h.paused_reason,
        next_retry_at=h.next_retry_at,
        attempts=h.attempts,
        messages=h.messages,
        triggers=triggers,
        actions=h.actions,
        errors=h.errors,
        connects=h.connects,
        disconnects=h.disconnects,
    )


def platform_rows(
    tree: TreeRows,
    *,
    configured: Mapping[str, bool],
    discord: DiscordView | None = None,
    extra: Sequence[PlatformStatus] = (),
    triggers: Mapping[tuple[str | None, str], int] | None = None,
) -> tuple[PlatformStatus, ...]:
    """Platform entries: one per platform actor's health, `extra` rows (the replay), and one
    for every platform of `PLATFORMS` still missing: `enabled` as `configured` says, status
    `disabled` when not enabled, else `inactive` (configured, its actor not started yet).
    `triggers` gives the triggers fired per (creator id, platform)."""
    fired = triggers or {}
    rows: list[PlatformStatus] = list(extra)
    for c in components(tree):
        h = c.health
        if h is not None and h.component in PLATFORMS:
            rows.append(_platform_row(c, h, fired.get((h.creator_id, h.component), 0)))
        elif h is None and c.kind == "actor" and c.name in PLATFORMS and c.name != "discord":
            if c.tree_state == "starting":
                rows.append(
                    PlatformStatus(
                        platform=c.name, enabled=True, status="inactive", state="connecting"
                    )
                )
            elif c.tree_state != "running":  # its actor is down: no health value to read
                rows.append(
                    PlatformStatus(
                        platform=c.name,
                        enabled=True,
                        status="error",
                        state="failed",
                        error=c.reason or f"actor {c.tree_state}",
                    )
                )
    present = {r.platform for r in rows}
    if "discord" not in present and discord is not None and configured.get("discord"):
        rows.append(
            PlatformStatus(
                platform="discord",
                enabled=True,
                status="running" if discord.connected else "error",
                last_heartbeat=discord.last_heartbeat,
                error=None if discord.connected else "not connected to the Discord gateway",
            )
        )
        present.add("discord")
    for platform in PLATFORMS:
        if platform not in present:
            # Configured but not in the tree (yet): its actor has not started.
            enabled = bool(configured.get(platform))
            rows.append(
                PlatformStatus(
                    platform=platform,
                    enabled=enabled,
                    status="inactive" if enabled else "disabled",
                    state="connecting" if enabled else "disabled",
                )
            )
    return tuple(rows)


# --- telemetry -----------------------------------------------------------------------------------

_EVENT_TEXT: Final = {
    LifecycleEventKind.CONNECTED: "connected",
    LifecycleEventKind.CONNECT_FAILED: "connect failed",
    LifecycleEventKind.DISCONNECTED: "connection lost",
    LifecycleEventKind.NEEDS_PERSON: "refused; needs a person",
    LifecycleEventKind.GAVE_UP: "gave up until restarted",
    LifecycleEventKind.PAUSED: "paused",
    LifecycleEventKind.RESUMED: "resumed",
}


def _source(c: ComponentHealth, root_name: str) -> str:
    prefix = root_name + "/"
    return c.path[len(prefix) :] if c.path.startswith(prefix) else c.path


def telemetry_events(
    tree: TreeRows,
    *,
    root_name: str,
    extra: Iterable[TelemetryEvent] = (),
) -> tuple[TelemetryEvent, ...]:
    """Connects, disconnects, failed connects, give-ups and pauses of every component (the
    last few each keeps), plus `extra` (restarts, quota exhaustion, logins...)."""
    out = list(extra)
    for c in components(tree):
        if c.health is None:
            continue
        for e in c.health.recent:
            text = _EVENT_TEXT[e.kind]
            out.append(
                TelemetryEvent(
                    timestamp=e.at,
                    severity=e.severity,
                    source=_source(c, root_name),
                    message=f"{e.component} {text}" + (f": {e.reason}" if e.reason else ""),
                )
            )
    return tuple(out)


def telemetry_errors(tree: TreeRows, *, root_name: str, now: datetime) -> tuple[ErrorView, ...]:
    """Every component's last failure: active while it is failing, else cleared; actors that
    crashed (the tree's `last_error`) too."""
    out = []
    for c in components(tree):
        h = c.health
        if h is not None and h.last_error is not None:
            out.append(
                ErrorView(
                    subsystem=_source(c, root_name),
                    message=h.last_error,
                    last_seen=h.last_error_at or now,
                    active=h.failing,
                )
            )
        elif c.last_error:
            out.append(
                ErrorView(
                    subsystem=_source(c, root_name),
                    message=c.last_error,
                    last_seen=now,  # the tree keeps no time of the crash
                    active=c.tree_state in _BROKEN_TREE_STATES,
                )
            )
        if c.mailbox_refused_ago is not None:
            out.append(
                ErrorView(
                    subsystem=_source(c, root_name),
                    message=(c.reason if c.overloaded else None)
                    or "overloaded: its mailbox was full",
                    last_seen=now - timedelta(seconds=c.mailbox_refused_ago),
                    active=c.overloaded,
                )
            )
        if c.mailbox_held_back_ago is not None:
            out.append(
                ErrorView(
                    subsystem=_source(c, root_name),
                    message=c.backlog,
                    last_seen=now - timedelta(seconds=c.mailbox_held_back_ago),
                    active=c.backed_up,
                )
            )
    return tuple(out)


class RateWindow:
    """Messages and actions per minute per platform over the last `window` (default an hour),
    from the counters' totals sampled at each publish (counters only grow; a restarted actor's
    counters start over, which reads as no traffic, never as a negative rate)."""

    def __init__(self, window: timedelta = timedelta(hours=1)) -> None:
        self.window = window
        self._samples: deque[tuple[datetime, dict[str, tuple[int, int]]]] = deque()

    def sample(self, now: datetime, rows: Iterable[PlatformStatus]) -> tuple[RateMetric, ...]:
        """Record the totals at `now` and return the rates over the window."""
        totals: dict[str, tuple[int, int]] = {}
        for r in rows:
            if r.platform in PLATFORMS or r.platform == "replay":
                m, a = totals.get(r.platform, (0, 0))
                totals[r.platform] = (m + r.messages, a + r.actions)
        samples = self._samples
        samples.append((now, totals))
        while len(samples) > 1 and samples[1][0] <= now - self.window:
            samples.popleft()
        then, old = samples[0]
        minutes = max((now - then).total_seconds() / 60.0, 1.0)
        metrics = []
        for platform in sorted(totals):
            m, a = totals[platform]
            m0, a0 = old.get(platform, (0, 0))
            metrics.append(
                RateMetric(
                    key=f"messages.{platform}",
                    label=f"{platform} messages",
                    value=round(max(m - m0, 0) / minutes, 3),
                    unit="msg/min",
                )
            )
            metrics.append(
                RateMetric(
                    key=f"actions.{platform}",
                    label=f"{platform} actions",
                    value=round(max(a - a0, 0) / minutes, 3),
                    unit="actions/min",
                )
            )
        return tuple(metrics)


# --- admins are told ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Alert:
    """A component that stayed failing for `after` seconds (`recovered` False), or that ended
    its failure: it came back, or it left the tree while failing (`removed`: a config reload
    removed its creator or platform, so nothing will come back)."""

    path: str
    reason: str | None
    recovered: bool
    seconds: float  # how long it was (or has been) failing
    removed: bool = False

    def text(self) -> str:
        """The message posted to the admin channel."""
        minutes = self.seconds / 60
        if self.removed:
            return (
                f"No longer running: {self.path} was removed while failing "
                f"(for {minutes:.0f} min); nothing more will be said about it."
            )
        if self.recovered:
            return f"Recovered: {self.path} works again (it failed for {minutes:.0f} min)."
        return f"Failing for {minutes:.0f} min: {self.path}: {self.reason or 'unknown reason'}"


class HealthAlerts:
    """Sans-IO: which components to tell admins about. A component failing (reconnecting,
    failed, or its actor restarting) for `after` seconds gives one alert; its recovery, or its
    removal from the tree, gives one more. Times are a monotonic clock (trio's)."""

    def __init__(self, *, after: float = 300.0) -> None:
        self.after = after
        self._failing_since: dict[str, float] = {}
        self._alerted: set[str] = set()

    def update(self, report: StatusReport, now: float) -> list[Alert]:
        """The alerts due now (each is due once; `retry` puts one back after a failed post)."""
        failing = {c.path: c for c in report.components if c.failing}
        # A restarted actor on its first attempt again is not back yet (no recovery post).
        connecting = {c.path for c in report.components if c.connecting}
        present = {c.path for c in report.components}
        out = []
        for path, c in failing.items():
            since = self._failing_since.setdefault(path, now)
            if path not in self._alerted and now - since >= self.after:
                self._alerted.add(path)
                out.append(Alert(path=path, reason=c.reason, recovered=False, seconds=now - since))
        for path in list(self._failing_since):
            if path not in failing and path not in connecting:
                since = self._failing_since.pop(path)
                if path in self._alerted:
                    self._alerted.discard(path)
                    out.append(
                        Alert(
                            path=path,
                            reason=None,
                            recovered=True,
                            seconds=now - since,
                            removed=path not in present,
                        )
                    )
        return out

    def retry(self, alert: Alert) -> None:
        """A post failed: make a failure alert due again at the next update."""
        if not alert.recovered:
            self._alerted.discard(alert.path)
