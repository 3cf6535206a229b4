"""`register_watch_routes`: an unprocessed notification is not acknowledged (Twitch retries);
a processed one is not applied again, also after a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from actors.events import StreamStarted
from actors.store import StateStore
from actors.twitch.eventsub import compute_signature
from actors.watch import (
    LiveMonitor,
    LiveMonitorStatistics,
    WebhookRevocation,
    WebhookStatistics,
    WebhookStats,
    register_watch_routes,
)
from runtime.http import HttpApp, serve_http
from state import open_database
from state import streams as sessions
from supervisors import Backoff, ChildSpec, Supervisor

SECRET = "0123456789abcdef"
BODY = json.dumps(
    {
        "subscription": {"id": "s", "type": "stream.online", "version": "1", "status": "enabled"},
        "event": {"broadcaster_user_id": "1", "broadcaster_user_login": "daniel"},
    }
).encode()


class FlakyMonitor:
    """A ref-like stand-in: the first call fails (the monitor is restarting), then works."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.fail = True

    async def call(self, message: Any, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        if self.fail:
            self.fail = False
            raise RuntimeError("no actor at this path any more")
        self.events.append(message)
        return True


async def test_unprocessed_notification_gets_503_and_its_retry_is_processed(
    nursery: trio.Nursery,
) -> None:
    monitor = FlakyMonitor()
    app = HttpApp(token=None)
    stats = register_watch_routes(app, lambda: monitor, SECRET)  # type: ignore[arg-type,return-value]
    port = await nursery.start(
        lambda task_status: serve_http(app, host="127.0.0.1", port=0, task_status=task_status)
    )
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers = {
        "Twitch-Eventsub-Message-Id": "m-1",
        "Twitch-Eventsub-Message-Type": "notification",
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Message-Signature": compute_signature(SECRET.encode(), "m-1", ts, BODY),
        "Twitch-Eventsub-Subscription-Type": "stream.online",
    }
    url = f"http://127.0.0.1:{port}/webhooks/twitch"
    async with httpx.AsyncClient() as http:
        first = await http.post(url, headers=headers, content=BODY)
        assert first.status_code == 503 and stats.failures == 1
        retry = await http.post(url, headers=headers, content=BODY)  # same id: Twitch's retry
        assert retry.status_code == 204
        again = await http.post(url, headers=headers, content=BODY)
        assert again.status_code == 204 and stats.duplicates == 1
    assert len(monitor.events) == 1 and isinstance(monitor.events[0], StreamStarted)
    assert monitor.events[0].channel == "daniel"


def delivery(message_id: str, kind: str, at: datetime) -> tuple[dict[str, str], bytes]:
    """A signed EventSub `stream.<kind>` notification for channel daniel."""
    body = json.dumps(
        {
            "subscription": {
                "id": "s",
                "type": f"stream.{kind}",
                "version": "1",
                "status": "enabled",
            },
            "event": {"broadcaster_user_id": "1", "broadcaster_user_login": "daniel"},
        }
    ).encode()
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers = {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Type": "notification",
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Message-Signature": compute_signature(
            SECRET.encode(), message_id, ts, body
        ),
        "Twitch-Eventsub-Subscription-Type": f"stream.{kind}",
    }
    return headers, body


async def serve_lifetime(
    database: Path, deliveries: list[tuple[dict[str, str], bytes]]
) -> tuple[list[int], int]:
    """One process lifetime: store, live monitor and webhook endpoint on `database`; posts
    the deliveries in order. Returns their status codes and the monitor's duplicates."""
    async with trio.open_nursery() as nursery:
        root = Supervisor(
            "root",
            [
                ChildSpec("store", lambda: StateStore(database)),
                ChildSpec(
                    "watch",
                    lambda: LiveMonitor(store=lambda: root.ref("store"), autopoll=False),
                ),
            ],
            backoff=Backoff(initial=0),
        )
        await nursery.start(root.run)
        app = HttpApp(token=None)
        register_watch_routes(app, lambda: root.ref("watch"), SECRET)
        with trio.CancelScope() as server:
            port = await nursery.start(
                lambda task_status: serve_http(
                    app, host="127.0.0.1", port=0, task_status=task_status
                )
            )
            url = f"http://127.0.0.1:{port}/webhooks/twitch"
            async with httpx.AsyncClient() as http:
                codes = [
                    (await http.post(url, headers=headers, content=body)).status_code
                    for headers, body in deliveries
                ]
            server.cancel()
        watch = {r.path: r for r in root.tree()}["root/watch"].detail
        assert isinstance(watch, LiveMonitorStatistics)
        duplicates = watch.duplicates
        await root.stop()
        nursery.cancel_scope.cancel()
    return codes, duplicates


async def test_a_delivery_replayed_after_a_restart_is_acknowledged_and_not_applied(
    tmp_path: Path,
) -> None:
    database = tmp_path / "runtime.sqlite3"
    now = datetime.now(UTC)
    online = delivery("m-online", "online", now)
    offline = delivery("m-offline", "offline", now)
    assert await serve_lifetime(database, [online, offline]) == ([204, 204], 0)
    # A new process on the same database gets the captured deliveries (still fresh).
    assert await serve_lifetime(database, [online, offline]) == ([204, 204], 2)
    with open_database(database) as db:
        stored = sessions.list_sessions(db.connection, platform="twitch")
    assert len(stored) == 1 and stored[0].ended_at is not None  # no second live session


def revocation(message_id: str, at: datetime) -> tuple[dict[str, str], bytes]:
    """A signed EventSub revocation of subscription `message_id`'s stream.online."""
    body = json.dumps(
        {
            "subscription": {
                "id": f"sub-{message_id}",
                "type": "stream.online",
                "version": "1",
                "status": "authorization_revoked",
            }
        }
    ).encode()
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers = {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Type": "revocation",
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Message-Signature": compute_signature(
            SECRET.encode(), message_id, ts, body
        ),
        "Twitch-Eventsub-Subscription-Type": "stream.online",
    }
    return headers, body


async def test_statistics_are_a_frozen_value_keeping_the_latest_revocations(
    nursery: trio.Nursery,
) -> None:
    at = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    app = HttpApp(token=None)
    stats = register_watch_routes(
        app,
        lambda: FlakyMonitor(),  # type: ignore[arg-type,return-value]
        SECRET,
        clock=lambda: at,
    )
    port = await nursery.start(
        lambda task_status: serve_http(app, host="127.0.0.1", port=0, task_status=task_status)
    )
    url = f"http://127.0.0.1:{port}/webhooks/twitch"
    count = WebhookStats.MAX_REVOCATIONS + 5
    async with httpx.AsyncClient() as http:
        for i in range(count):
            headers, body = revocation(f"r-{i}", at)
            assert (await http.post(url, headers=headers, content=body)).status_code == 204
        forged = dict(headers, **{"Twitch-Eventsub-Message-Id": "forged"})
        assert (await http.post(url, headers=forged, content=body)).status_code == 403

    snap = stats.statistics()
    assert isinstance(snap, WebhookStatistics)
    assert snap.accepted == count and snap.notifications == 0 and snap.last_at == at
    assert snap.rejected == {"bad_signature": 1} and snap.rejected_total == 1
    # Only the latest are kept, oldest first, each a typed value (no body).
    assert len(snap.revocations) == WebhookStats.MAX_REVOCATIONS
    assert snap.revocations[-1] == WebhookRevocation(
        subscription_id=f"sub-r-{count - 1}",
        subscription_type="stream.online",
        status="authorization_revoked",
        action="reauthorize",
        at=at,
    )
    assert snap.revocations[0].subscription_id == "sub-r-5"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.accepted = 0  # type: ignore[misc]
    # A value taken before is not changed by what comes after.
    stats.rejected["stale"] += 1
    assert snap.rejected_total == 1 and stats.statistics().rejected_total == 2
