"""EventSub webhooks through the real `HttpApp` served by hypercorn, with httpx as Twitch.

Signed stream.online -> a stream session in a real `StateStore` -> the outbox -> the Discord
webhook POST at `FakeDiscord`. Forged, stale and replayed requests get 403 and are counted; a
redelivered message id gets 2xx without being processed twice; the challenge is echoed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.notify import NotificationDispatcher, NotifyRule
from actors.store import Read, StateStore
from actors.twitch.eventsub import compute_signature
from actors.watch import (
    LiveMonitor,
    LiveMonitorStatistics,
    WebhookRevocation,
    WebhookStats,
    register_watch_routes,
)
from runtime.http import HttpApp, serve_http
from state import outbox
from state import streams as sessions
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-eventsub-0123456789"


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}123Z"


def signed(
    message_type: str,
    body: dict[str, Any],
    *,
    message_id: str | None = None,
    when: datetime | None = None,
    secret: str = SECRET,
    sub_type: str = "stream.online",
) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    message_id = message_id or str(uuid.uuid4())
    ts = _ts(when or datetime.now(UTC))
    headers = {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": message_type,
        "Twitch-Eventsub-Message-Signature": compute_signature(
            secret.encode(), message_id, ts, raw
        ),
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Subscription-Type": sub_type,
        "Twitch-Eventsub-Subscription-Version": "1",
        "Content-Type": "application/json",
    }
    return headers, raw


def subscription(sub_type: str = "stream.online", status: str = "enabled") -> dict[str, Any]:
    return {
        "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
        "status": status,
        "type": sub_type,
        "version": "1",
        "cost": 0,
        "condition": {"broadcaster_user_id": "1337"},
        "transport": {"method": "webhook", "callback": "https://example.com/webhooks/twitch"},
        "created_at": "2026-11-21T19:00:00.000000Z",
    }


def online(login: str = "daniel") -> dict[str, Any]:
    return {
        "subscription": subscription(),
        "event": {
            "id": "9001",
            "broadcaster_user_id": "1337",
            "broadcaster_user_login": login,
            "broadcaster_user_name": login.title(),
            "type": "live",
            "started_at": "2026-11-21T20:00:00.123456789Z",
        },
    }


async def runtime(
    nursery: trio.Nursery, tmp_path: Path, fake: FakeDiscord
) -> tuple[Supervisor, WebhookStats, str, list[NotificationDispatcher]]:
    rule = NotifyRule(id="golive", webhook_url=fake.webhook_url())
    made: list[NotificationDispatcher] = []
    stats = WebhookStats()

    def dispatcher() -> NotificationDispatcher:
        made.append(NotificationDispatcher(store=lambda: sup.ref("store"), rules=[rule]))
        return made[-1]

    sup = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "state.sqlite3")),
            ChildSpec("notify", dispatcher),
            ChildSpec(
                "watch",
                lambda: LiveMonitor(
                    store=lambda: sup.ref("store"),
                    notifier=lambda: sup.ref("notify"),
                    rules=[rule],
                    webhook_stats=stats,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(sup.run)
    app = HttpApp(token="control-token")
    register_watch_routes(app, lambda: sup.ref("watch"), SECRET, stats=stats)
    port = await nursery.start(
        lambda task_status: serve_http(app, host="127.0.0.1", port=0, task_status=task_status)
    )
    return sup, stats, f"http://127.0.0.1:{port}/webhooks/twitch", made


async def test_eventsub_webhook_end_to_end(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    sup, stats, url, made = await runtime(nursery, tmp_path, fake)
    async with httpx.AsyncClient() as http:
        # The subscription's verification challenge: echoed raw, as text/plain.
        headers, body = signed(
            "webhook_callback_verification",
            {"challenge": "pogchamp-kappa-360noscope-vohiyo", "subscription": subscription()},
        )
        r = await http.post(url, headers=headers, content=body)
        assert r.status_code == 200 and r.text == "pogchamp-kappa-360noscope-vohiyo"
        assert r.headers["content-type"].startswith("text/plain")

        # A signed stream.online: accepted, committed, notified.
        headers, body = signed("notification", online())
        r = await http.post(url, headers=headers, content=body)
        assert r.status_code == 204
        rows = await sup.ref("store").call(Read(fn=sessions.list_sessions))
        assert [(s.platform, s.channel, s.ended_at) for s in rows] == [("twitch", "daniel", None)]

        # Twitch redelivers the same message id: 2xx, not processed again.
        r = await http.post(url, headers=headers, content=body)
        assert r.status_code == 204 and stats.duplicates == 1 and stats.notifications == 1

        # Forged (wrong secret), tampered body, stale (replayed after 10 minutes): 403.
        forged_h, forged_b = signed("notification", online("evil"), secret="not-the-secret-xx")
        assert (await http.post(url, headers=forged_h, content=forged_b)).status_code == 403
        tampered = body.replace(b"daniel", b"mallory")
        fresh = dict(headers, **{"Twitch-Eventsub-Message-Id": str(uuid.uuid4())})
        assert (await http.post(url, headers=fresh, content=tampered)).status_code == 403
        old = datetime.now(UTC) - timedelta(minutes=11)
        stale_h, stale_b = signed("notification", online("late"), when=old)
        assert (await http.post(url, headers=stale_h, content=stale_b)).status_code == 403
        unsigned = {k: v for k, v in headers.items() if "Signature" not in k}
        assert (await http.post(url, headers=unsigned, content=body)).status_code == 403
        assert stats.rejected == {"bad_signature": 2, "stale": 1, "missing_header": 1}

        # A revocation: acknowledged, logged and kept in the stats.
        headers, body = signed(
            "revocation", {"subscription": subscription(status="authorization_revoked")}
        )
        assert (await http.post(url, headers=headers, content=body)).status_code == 204
        revoked = stats.revocations[-1]
        assert isinstance(revoked, WebhookRevocation) and revoked.action == "reauthorize"

        # stream.offline ends the session.
        offline = {
            "subscription": subscription("stream.offline"),
            "event": {
                "broadcaster_user_id": "1337",
                "broadcaster_user_login": "daniel",
                "broadcaster_user_name": "Daniel",
            },
        }
        headers, body = signed("notification", offline, sub_type="stream.offline")
        assert (await http.post(url, headers=headers, content=body)).status_code == 204

    rows = await sup.ref("store").call(Read(fn=sessions.list_sessions))
    assert len(rows) == 1 and rows[0].ended_at is not None
    with trio.fail_after(10):
        while not (made and made[-1].delivered == 1):  # noqa: ASYNC110 - actor state
            await trio.sleep(0.01)
    [post] = fake.calls("POST", "/webhooks/")
    assert "daniel is live on twitch" in post.body["content"]
    [entry] = await sup.ref("store").call(Read(fn=outbox.list_outbox))
    assert entry.state == "delivered"
    assert stats.statistics().rejected_total == 4
    # The monitor shows the endpoint's counters in its own statistics.
    watch = {r.path: r for r in sup.tree()}["root/watch"].detail
    assert isinstance(watch, LiveMonitorStatistics)
    assert watch.webhook == stats.statistics()
    await sup.stop()
