"""`AlertTracker`: which components admins must hear about, as pure code (no I/O, no clock).

Feed it the health values seen at one moment (`observe(components, now=...)`) and it answers
with the alerts to post: `down` once a component has been reconnecting or failed for longer
than `alert_after`, and `recovered` once such a component works again. Each outage gives at
most one `down` and one `recovered`; components that are paused or disabled are never
failing; a component missing from one observation, or connecting again after its actor was
restarted, keeps its place (neither failing longer nor recovered).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from actors.connection import ConnectionHealth, ConnectionState

__all__ = ["Alert", "AlertKind", "AlertTracker"]


class AlertKind(enum.Enum):
    """What an alert says."""

    DOWN = "down"
    RECOVERED = "recovered"


@attrs.frozen(kw_only=True)
class Alert:
    """One message for the admins about one component (`path` in the supervision tree)."""

    path: str
    kind: AlertKind
    state: str  # the component's lifecycle state when the alert was made
    reason: str | None
    failing_since: datetime
    at: datetime

    def text(self) -> str:
        """The message as posted (plain text; no secrets: reasons are masked sentences)."""
        minutes = max((self.at - self.failing_since).total_seconds(), 0.0) / 60
        if self.kind is AlertKind.DOWN:
            why = f": {self.reason}" if self.reason else ""
            return f"⚠️ `{self.path}` has been {self.state} for {minutes:.0f} min{why}"
        return f"✅ `{self.path}` works again ({self.state}) after {minutes:.0f} min"


@attrs.define
class _Outage:
    since: datetime
    alerted: bool = False


class AlertTracker:
    """Decides when to tell the admins (see the module docs)."""

    def __init__(self, *, alert_after: timedelta) -> None:
        self.alert_after = alert_after
        self._outages: dict[str, _Outage] = {}

    @property
    def alerted(self) -> frozenset[str]:
        """Paths whose `down` alert went out and whose recovery has not been seen yet."""
        return frozenset(path for path, o in self._outages.items() if o.alerted)

    def observe(
        self, components: Iterable[tuple[str, ConnectionHealth]], *, now: datetime
    ) -> list[Alert]:
        """The alerts due after seeing `components` (path, health) at `now`, in input order."""
        alerts: list[Alert] = []
        for path, health in components:
            outage = self._outages.get(path)
            if health.failing:
                if outage is None:
                    # `since` may predate our first look (a component failing from the start).
                    outage = self._outages[path] = _Outage(since=min(now, health.since))
                if not outage.alerted and now - outage.since >= self.alert_after:
                    outage.alerted = True
                    alerts.append(self._alert(path, AlertKind.DOWN, health, outage, now))
            elif outage is not None and health.state is not ConnectionState.CONNECTING:
                # Still connecting (a restarted actor's first attempt) is no recovery yet.
                del self._outages[path]
                if outage.alerted:
                    alerts.append(self._alert(path, AlertKind.RECOVERED, health, outage, now))
        return alerts

    @staticmethod
    def _alert(
        path: str, kind: AlertKind, health: ConnectionHealth, outage: _Outage, now: datetime
    ) -> Alert:
        return Alert(
            path=path,
            kind=kind,
            state=health.state.value,
            reason=health.error if kind is AlertKind.DOWN else None,
            failing_since=outage.since,
            at=now,
        )
