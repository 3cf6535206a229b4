"""`register_watch_routes`: an unprocessed notification is not acknowledged (Twitch retries)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import trio

from actors.events import StreamStarted
from actors.twitch.eventsub import compute_signature
from actors.watch import register_watch_routes
from runtime.http import HttpApp, serve_http

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
