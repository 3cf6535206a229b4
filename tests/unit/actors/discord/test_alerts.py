"""`AlertTracker` (pure, under trio's MockClock) and `AdminAlerts` against `FakeDiscord`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import trio
import trio.testing
from fakes.discord import FakeDiscord

from actors.connection import ConnectionHealth, ConnectionState
from actors.discord.admin_alerts import AdminAlerts, health_components
from actors.discord.alerts import AlertKind, AlertTracker
from actors.discord.restclient import DiscordRest
from supervisors import ChildSpec, Supervisor

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
PATH = "root/creators/creator:daniel/twitch"
CHANNEL = "123456789012345678"


def health(state: ConnectionState, *, since: datetime = T0, **kw: Any) -> ConnectionHealth:
    return ConnectionHealth(component="twitch", state=state, since=since, **kw)


def down(**kw: Any) -> ConnectionHealth:
    return health(
        ConnectionState.RECONNECTING,
        last_error="DNS lookup failed for irc-ws.chat.twitch.tv",
        **kw,
    )


def wall(start: datetime = T0) -> Any:
    """A wall clock that follows trio's (mock) clock."""
    base = trio.current_time()
    return lambda: start + timedelta(seconds=trio.current_time() - base)


async def test_alert_goes_out_once_after_the_threshold_and_once_on_recovery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tracker = AlertTracker(alert_after=timedelta(seconds=300))
    now = wall()
    seen = []
    for _ in range(40):  # 400 s of one outage, looked at every 10 s
        seen += tracker.observe([(PATH, down())], now=now())
        await trio.sleep(10)
    [alert] = seen
    assert alert.kind is AlertKind.DOWN
    assert alert.at - T0 >= timedelta(seconds=300)
    assert alert.path == PATH and alert.state == "reconnecting"
    assert "DNS lookup failed for irc-ws.chat.twitch.tv" in alert.text()
    assert tracker.alerted == {PATH}

    back = health(ConnectionState.CONNECTED, since=now())
    [recovered] = tracker.observe([(PATH, back)], now=now())
    assert recovered.kind is AlertKind.RECOVERED and "works again" in recovered.text()
    assert tracker.observe([(PATH, back)], now=now()) == []
    assert tracker.alerted == frozenset()


async def test_short_outage_is_not_alerted_nor_its_recovery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tracker = AlertTracker(alert_after=timedelta(seconds=300))
    now = wall()
    assert tracker.observe([(PATH, down())], now=now()) == []
    await trio.sleep(299)
    assert tracker.observe([(PATH, down())], now=now()) == []
    assert tracker.observe([(PATH, health(ConnectionState.CONNECTED))], now=now()) == []
    await trio.sleep(600)
    assert tracker.observe([(PATH, health(ConnectionState.CONNECTED))], now=now()) == []


def test_failed_counts_from_the_health_since_when_first_seen_late() -> None:
    tracker = AlertTracker(alert_after=timedelta(seconds=300))
    gone = health(ConnectionState.FAILED, last_error="HTTP 401 from discord.com")
    [alert] = tracker.observe([(PATH, gone)], now=T0 + timedelta(seconds=301))
    assert alert.state == "failed" and "HTTP 401 from discord.com" in alert.text()


def test_paused_and_disabled_are_never_alerted() -> None:
    tracker = AlertTracker(alert_after=timedelta(seconds=0))
    quiet = [
        ("root/a", health(ConnectionState.PAUSED, paused_reason="quota exhausted")),
        ("root/b", health(ConnectionState.DISABLED, enabled=False)),
        ("root/c", health(ConnectionState.RECONNECTING, enabled=False)),
    ]
    for minutes in range(0, 60, 5):
        assert tracker.observe(quiet, now=T0 + timedelta(minutes=minutes)) == []


def test_a_restarted_actor_connecting_again_is_no_recovery() -> None:
    tracker = AlertTracker(alert_after=timedelta(seconds=60))
    [first] = tracker.observe([(PATH, down())], now=T0 + timedelta(seconds=61))
    assert first.kind is AlertKind.DOWN
    connecting = health(ConnectionState.CONNECTING, since=T0 + timedelta(seconds=70))
    assert tracker.observe([(PATH, connecting)], now=T0 + timedelta(seconds=70)) == []
    assert tracker.observe([], now=T0 + timedelta(seconds=80)) == []  # actor restarting
    assert tracker.observe([(PATH, down())], now=T0 + timedelta(seconds=90)) == []
    [back] = tracker.observe(
        [(PATH, health(ConnectionState.CONNECTED))], now=T0 + timedelta(seconds=99)
    )
    assert back.kind is AlertKind.RECOVERED


def test_health_components_reads_only_rows_with_a_health_value() -> None:
    rows = [
        {"path": "root", "state": "running"},
        {"path": PATH, "state": "running", "health": down()},
        {"path": "root/x", "state": "running", "health": {"state": "reconnecting"}},
    ]
    assert [p for p, _ in health_components(rows)] == [PATH]


async def test_admin_alerts_posts_to_the_admin_channel_and_retries_after_a_5xx(
    nursery: trio.Nursery,
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    rows: list[dict[str, Any]] = [{"path": PATH, "state": "running", "health": down()}]
    clock = [T0]
    actor = AdminAlerts(
        tree=lambda: rows,
        rest=DiscordRest(token="bot-token", base_url=fake.api_base),
        channel_id=CHANNEL,
        alert_after_seconds=300,
        clock=lambda: clock[0],
        check_seconds=3600,
    )
    sup = Supervisor("root", [ChildSpec("alerts", lambda: actor)])
    await nursery.start(sup.run)
    await actor.check()
    assert fake.calls("POST") == []

    clock[0] = T0 + timedelta(seconds=301)
    fake.fail_next("/messages", status=502)
    await actor.check()
    assert actor.post_failures == 1 and actor.snapshot()["pending"] == 1
    assert actor.last_error is not None and "HTTP 502 from discord.com" in actor.last_error

    await actor.check()  # posted now, and only once
    await actor.check()
    [post] = [c for c in fake.calls("POST", f"/channels/{CHANNEL}/messages") if c.status == 200]
    assert "DNS lookup failed" in post.body["content"] and PATH in post.body["content"]
    assert post.headers.get("authorization") == "Bot bot-token"

    rows[0]["health"] = health(ConnectionState.CONNECTED)
    await actor.check()
    assert "works again" in fake.calls("POST")[-1].body["content"]
    assert actor.posted == 2
    await sup.stop()


async def test_admin_alert_refused_by_discord_is_counted_not_retried(
    nursery: trio.Nursery,
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/messages", status=403, count=10)
    rows = [{"path": PATH, "state": "running", "health": down()}]
    actor = AdminAlerts(
        tree=lambda: rows,
        rest=DiscordRest(token="bot-token", base_url=fake.api_base),
        channel_id=CHANNEL,
        alert_after_seconds=300,
        clock=lambda: T0 + timedelta(seconds=600),
        check_seconds=3600,
    )
    sup = Supervisor("root", [ChildSpec("alerts", lambda: actor)])
    await nursery.start(sup.run)
    await actor.check()
    await actor.check()
    assert len(fake.calls("POST", "/messages")) == 1  # refused once, never retried
    snap = actor.snapshot()
    assert snap["refused"] == 1 and snap["pending"] == 0 and snap["posted"] == 0
    assert snap["last_error"] == "HTTP 403 from discord.com: fake failure"
    assert "bot-token" not in repr(snap)
    await sup.stop()
