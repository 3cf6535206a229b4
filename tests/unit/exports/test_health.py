"""`exports.health`: health values as /status, snapshot platforms and telemetry rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from actors import TreeRow
from actors.connection import (
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleEventKind,
)
from exports.health import (
    PLATFORMS,
    RateWindow,
    platform_rows,
    status_report,
    telemetry_errors,
    telemetry_events,
)
from exports.views import DiscordView, PlatformStatus

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def row(path: str, health: ConnectionHealth | None = None, **extra: Any) -> TreeRow:
    return TreeRow(
        path=path,
        kind=extra.pop("kind", "actor"),
        state=extra.pop("state", "running"),
        health=health,
        **extra,
    )


def twitch(state: ConnectionState, **fields: Any) -> ConnectionHealth:
    return ConnectionHealth(
        component="twitch",
        creator_id="daniel",
        state=state,
        since=T0,
        target="irc-ws.chat.twitch.tv:443",
        **fields,
    )


TWITCH = "root/creators/creator:daniel/twitch"


def test_every_component_connected_or_running_is_ok() -> None:
    report = status_report(
        [row("root"), row("root/store"), row(TWITCH, twitch(ConnectionState.CONNECTED))]
    )
    assert report.ok and report.status == "ok"
    body = report.body(version="1.2.3")
    assert body["status"] == "ok" and body["degraded"] == []
    assert body["components"][2]["health"]["state"] == "connected"


def test_a_reconnecting_component_is_degraded_with_its_reason() -> None:
    health = twitch(
        ConnectionState.RECONNECTING,
        last_error="DNS lookup failed for irc-ws.chat.twitch.tv",
        attempts=3,
        next_retry_at=T0 + timedelta(seconds=4),
    )
    report = status_report([row("root"), row(TWITCH, health)])
    body = report.body(version="1")
    assert body["status"] == "degraded"
    assert body["degraded"] == [
        {
            "path": TWITCH,
            "state": "reconnecting",
            "reason": "DNS lookup failed for irc-ws.chat.twitch.tv",
        }
    ]
    assert body["components"][1]["health"]["next_retry_at"] == "2026-12-06T07:00:04.000Z"
    assert "DNS lookup failed" in report.summary()


def test_connecting_paused_disabled_and_restarting_actors() -> None:
    connecting = status_report([row(TWITCH, twitch(ConnectionState.CONNECTING))])
    assert connecting.status == "degraded"
    assert connecting.degraded[0].reason == "connecting to irc-ws.chat.twitch.tv:443"
    calm = status_report(
        [
            row(TWITCH, twitch(ConnectionState.PAUSED, paused_reason="quota")),
            row("root/x", twitch(ConnectionState.DISABLED, enabled=False)),
        ]
    )
    assert calm.ok
    crashed = status_report([row("root/clips", state="restarting", last_error="OSError: disk")])
    assert crashed.degraded[0].reason == "OSError: disk"


def test_a_component_still_starting_is_degraded_until_it_runs() -> None:
    report = status_report(
        [
            row("root", kind="supervisor", state="starting"),
            row("root/store"),
            row("root/creators/creator:a/replay", state="starting"),
        ]
    )
    assert report.status == "degraded"
    assert [(c.path, c.reason) for c in report.degraded] == [
        ("root", "starting: its children are still starting"),
        ("root/creators/creator:a/replay", "starting"),
    ]
    assert report.body(version="1")["degraded"][1]["state"] == "starting"
    assert status_report([row("root", kind="supervisor"), row("root/store")]).ok


def test_every_dashboard_platform_has_an_entry() -> None:
    rows = platform_rows(
        [row(TWITCH, twitch(ConnectionState.CONNECTED, messages=5, actions=2))],
        configured={"twitch": True, "kick": True},
        triggers={("daniel", "twitch"): 3},
    )
    by = {r.platform: r for r in rows}
    assert set(PLATFORMS) <= set(by)
    assert (by["twitch"].status, by["twitch"].state) == ("running", "connected")
    assert (by["twitch"].messages, by["twitch"].triggers, by["twitch"].actions) == (5, 3, 2)
    assert (by["youtube"].enabled, by["youtube"].status) == (False, "disabled")
    # Configured, its actor not started yet: never "running".
    assert (by["kick"].enabled, by["kick"].status, by["kick"].state) == (
        True,
        "inactive",
        "connecting",
    )


def test_a_platform_actor_that_is_down_reads_as_an_error() -> None:
    rows = platform_rows(
        [row(TWITCH, None, state="restarting", last_error="KeyError: 'x'")],
        configured={"twitch": True},
    )
    entry = next(r for r in rows if r.platform == "twitch")
    assert (entry.status, entry.error) == ("error", "KeyError: 'x'")
    rows = platform_rows([row(TWITCH, None, state="starting")], configured={"twitch": True})
    entry = next(r for r in rows if r.platform == "twitch")
    assert (entry.status, entry.state, entry.error) == ("inactive", "connecting", None)


def test_discord_without_a_health_value_follows_its_connection() -> None:
    rows = platform_rows([], configured={"discord": True}, discord=DiscordView(running=True))
    entry = next(r for r in rows if r.platform == "discord")
    assert (entry.status, entry.error) == ("error", "not connected to the Discord gateway")


def test_telemetry_rows_from_lifecycle_events_and_errors() -> None:
    events = (
        LifecycleEvent(
            component="twitch",
            kind=LifecycleEventKind.CONNECT_FAILED,
            at=T0,
            state=ConnectionState.RECONNECTING,
            reason="connection refused by 127.0.0.1:9",
        ),
    )
    failing = twitch(
        ConnectionState.RECONNECTING,
        last_error="connection refused by 127.0.0.1:9",
        last_error_at=T0,
        recent=events,
    )
    tree = [row(TWITCH, failing), row("root/store", last_error="ValueError: x")]
    [event] = telemetry_events(tree, root_name="root")
    assert (event.severity, event.source) == ("warning", "creators/creator:daniel/twitch")
    assert event.message == "twitch connect failed: connection refused by 127.0.0.1:9"
    errors = telemetry_errors(tree, root_name="root", now=T0)
    assert [(e.subsystem, e.message, e.active) for e in errors] == [
        ("creators/creator:daniel/twitch", "connection refused by 127.0.0.1:9", True),
        ("store", "ValueError: x", False),
    ]


def test_rates_are_per_minute_over_the_window() -> None:
    window = RateWindow(timedelta(hours=1))

    def at(minutes: int, messages: int, actions: int) -> dict[str, float]:
        rows = [PlatformStatus(platform="twitch", enabled=True, status="running",
                               messages=messages, actions=actions)]  # fmt: skip
        metrics = window.sample(T0 + timedelta(minutes=minutes), rows)
        return {m.key: m.value for m in metrics}

    assert at(0, 100, 10) == {"messages.twitch": 0.0, "actions.twitch": 0.0}
    assert at(10, 700, 30) == {"messages.twitch": 60.0, "actions.twitch": 2.0}
    # An hour later the first sample has left the window.
    assert at(70, 1300, 30) == {"messages.twitch": 10.0, "actions.twitch": 0.0}


def test_alerts_come_once_after_the_delay_and_once_on_recovery() -> None:
    from exports.health import HealthAlerts

    alerts = HealthAlerts(after=300)
    down = status_report(
        [row(TWITCH, twitch(ConnectionState.RECONNECTING, last_error="DNS lookup failed for x"))]
    )
    up = status_report([row(TWITCH, twitch(ConnectionState.CONNECTED))])
    assert alerts.update(down, 0) == []
    assert alerts.update(down, 299) == []
    [alert] = alerts.update(down, 300)
    assert (alert.path, alert.reason, alert.recovered) == (TWITCH, "DNS lookup failed for x", False)
    assert alert.text() == f"Failing for 5 min: {TWITCH}: DNS lookup failed for x"
    assert alerts.update(down, 600) == []  # told once
    alerts.retry(alert)  # the post failed: due again
    assert len(alerts.update(down, 601)) == 1
    [back] = alerts.update(up, 900)
    assert back.recovered and back.text().startswith(f"Recovered: {TWITCH} works again")
    assert not back.removed
    # A short blip is never reported.
    assert alerts.update(down, 1000) == [] and alerts.update(up, 1010) == []


def test_a_component_removed_while_failing_is_reported_gone_not_recovered() -> None:
    from exports.health import HealthAlerts

    alerts = HealthAlerts(after=300)
    store = row("root/store")
    down = status_report(
        [store, row(TWITCH, twitch(ConnectionState.FAILED, last_error="HTTP 401 from x"))]
    )
    assert alerts.update(down, 0) == []
    [alert] = alerts.update(down, 300)
    assert not alert.recovered
    # A config reload removed the creator: its row is gone from the report.
    [gone] = alerts.update(status_report([store]), 360)
    assert (gone.path, gone.recovered, gone.removed) == (TWITCH, True, True)
    assert gone.text() == (
        f"No longer running: {TWITCH} was removed while failing (for 6 min); "
        "nothing more will be said about it."
    )
    assert "works again" not in gone.text()
    assert alerts.update(status_report([store]), 400) == []  # said once


async def test_alerts_under_the_mock_clock_never_repeat_and_skip_paused_and_disabled(
    autojump_clock: Any,
) -> None:
    import trio

    from exports.health import HealthAlerts

    alerts = HealthAlerts(after=300)
    quiet = [
        row("root/creators/creator:d/youtube", twitch(ConnectionState.PAUSED)),
        row("root/creators/creator:d/kick", twitch(ConnectionState.DISABLED, enabled=False)),
        row("root/creators/creator:d/rumble", twitch(ConnectionState.FAILED, enabled=False)),
    ]
    down = row(TWITCH, twitch(ConnectionState.FAILED, last_error="HTTP 401 from id.twitch.tv"))
    told = []
    for _ in range(120):  # 20 minutes, looked at every 10 s
        told += alerts.update(status_report([*quiet, down]), trio.current_time())
        await trio.sleep(10)
    [alert] = told  # one alert, for the failing component only, never repeated
    assert alert.path == TWITCH and not alert.recovered and 300 <= alert.seconds < 310
    assert "HTTP 401 from id.twitch.tv" in alert.text()

    # Its actor restarted: connecting again is no recovery; connected is.
    again = row(TWITCH, twitch(ConnectionState.CONNECTING))
    assert alerts.update(status_report([*quiet, again]), trio.current_time()) == []
    await trio.sleep(10)
    up = row(TWITCH, twitch(ConnectionState.CONNECTED))
    [back] = alerts.update(status_report([*quiet, up]), trio.current_time())
    assert back.recovered and back.path == TWITCH
    assert alerts.update(status_report([*quiet, up]), trio.current_time()) == []


def test_reporting_rows_leave_out_only_rows_that_give_nothing() -> None:
    import random

    from exports.health import components, reporting_rows

    rng = random.Random(11)
    states = list(ConnectionState)
    for _ in range(50):
        tree = []
        for n in range(rng.randrange(1, 12)):
            name = rng.choice((*PLATFORMS, "triggers", "replay", "store", "creator:x"))
            health = (
                twitch(rng.choice(states), last_error=rng.choice((None, "boom")), last_error_at=T0)
                if rng.random() < 0.3
                else None
            )
            tree.append(
                row(
                    f"root/creators/creator:c{n}/{name}",
                    health,
                    kind=rng.choice(("actor", "supervisor")),
                    state=rng.choice(("running", "starting", "restarting", "failed")),
                    last_error=rng.choice((None, None, "OSError: disk")),
                )
            )
        kept = reporting_rows(tree)
        assert len(kept) <= len(tree)
        configured = {"twitch": True, "discord": rng.random() < 0.5}
        discord = DiscordView(connected=rng.random() < 0.5)
        assert platform_rows(kept, configured=configured, discord=discord) == platform_rows(
            tree, configured=configured, discord=discord
        )
        assert telemetry_events(components(kept), root_name="root") == telemetry_events(
            tree, root_name="root"
        )
        assert telemetry_errors(kept, root_name="root", now=T0) == telemetry_errors(
            tree, root_name="root", now=T0
        )
    assert reporting_rows([row("root/creators/creator:x/triggers")]) == []
