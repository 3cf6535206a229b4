"""Refused requests are counted and shown: `GET /status` and `telemetry/errors.json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import trio

from actors.publisher import PublishNow, SnapshotPublisher
from exports.schemas import validate
from runtime.http_api import HttpServer, RequestCounters, build_app
from state import open_database
from supervisors import ChildSpec, Supervisor

TOKEN = "control-token-0123456789abcdef"
WATCH_SECRET = "eventsub-secret-0123456789"


async def test_rejected_webhooks_and_unauthorized_requests_show_in_status_and_telemetry(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    database = tmp_path / "runtime.sqlite3"
    open_database(str(database)).close()
    exports = tmp_path / "exports"
    counters = RequestCounters()
    made: list[HttpServer] = []

    def http() -> HttpServer:
        app = lambda: build_app(  # noqa: E731
            sup, token=TOKEN, version="test", watch_secret=WATCH_SECRET, counters=counters
        )
        made.append(HttpServer(app, host="127.0.0.1", port=0, counters=counters))
        return made[-1]

    def publisher() -> SnapshotPublisher:
        return SnapshotPublisher(
            database=database,
            root=exports,
            mirrors=[],
            creators=[],
            tree=sup.tree,
            root_name="root",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            pseudonym_key=b"k" * 32,
        )

    sup = Supervisor("root", [ChildSpec("http", http), ChildSpec("publisher", publisher)])
    await nursery.start(sup.run)
    base = f"http://127.0.0.1:{made[-1].port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/actors")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await client.get("/actors", headers=wrong)).status_code == 401
        for _ in range(3):
            forged = {
                "Twitch-Eventsub-Message-Id": "m1",
                "Twitch-Eventsub-Message-Timestamp": datetime.now(UTC).isoformat(),
                "Twitch-Eventsub-Message-Signature": "sha256=" + "0" * 64,
                "Twitch-Eventsub-Message-Type": "notification",
            }
            assert (
                await client.post("/webhooks/twitch", content=b"{}", headers=forged)
            ).status_code == 403
        status = (await client.get("/status")).json()
    assert status["rejected_requests"] == {
        "webhook": {"total": 3, "by_reason": {"bad_signature": 3}},
        "unauthorized": {"total": 2, "by_reason": {"missing bearer token": 1, "wrong token": 1}},
    }
    await sup.lookup("publisher").call(PublishNow())
    errors: dict[str, Any] = json.loads((exports / "telemetry" / "errors.json").read_text())
    validate("telemetry/errors.json", errors)
    rows = {row["subsystem"]: row["message"] for row in errors["errors"]}
    assert rows.keys() == {"http/webhooks/twitch", "http/control"}
    assert rows["http/webhooks/twitch"].startswith("3 EventSub webhook requests rejected")
    assert rows["http/control"].startswith("2 control API requests refused")
    await sup.stop()


def test_counters_outlive_the_app_they_count_for() -> None:
    counters = RequestCounters()
    counters.count_unauthorized("wrong token")
    build_app(Supervisor("root", []), token=TOKEN, version="test", counters=counters)
    assert counters.statistics().unauthorized == 1
