"""The runtime's own tree with `[discord]`, `[watch]` and `[[notifications]]` configured.

A signed EventSub `stream.online` posted to the runtime's HTTP server ends as a Discord
webhook POST; the Discord bot connects to the fake gateway and answers `/status` and
`/poll` from the live tree. Built by `runtime.tree.build_tree` as the process builds it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.publisher import PublishNow
from actors.store import Read
from actors.watch import LiveMonitorStatistics
from config.loading import loads_config
from exports.schemas import validate
from runtime.app import check_database, http_port
from runtime.tree import RuntimePaths, build_tree
from state import polls
from tests.fakes.discord import GUILD_ID, FakeDiscord
from tests.fakes.helix import FakeHelix

pytestmark = pytest.mark.integration

SECRET = "eventsub-secret-0123456789"

CONFIG = """
[runtime]
data_dir = "data"
[http]
port = 0

[discord]
token = {{ env = "DISCORD_TOKEN" }}
application_id = "123456789012345678"
guild_ids = ["{guild}"]
gateway_url = "{gateway}"
api_base = "{api}"

[watch]
eventsub_secret = {{ env = "EVENTSUB_SECRET" }}
client_id = "fake-client"
client_secret = {{ env = "TWITCH_CLIENT_SECRET" }}
helix_url = "{helix}"
oauth_url = "{oauth}"
streamers = ["daniel"]

[[notifications]]
id = "golive"
platform = "twitch"
webhook_url = {{ env = "GOLIVE_WEBHOOK" }}

[[creators]]
id = "daniel"
"""


def signed_online() -> tuple[dict[str, str], bytes]:
    from actors.twitch.eventsub import compute_signature

    body = json.dumps(
        {
            "subscription": {
                "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
                "status": "enabled",
                "type": "stream.online",
                "version": "1",
                "cost": 0,
                "condition": {"broadcaster_user_id": "1337"},
                "transport": {"method": "webhook", "callback": "https://example.com/x"},
                "created_at": "2026-11-21T19:00:00.000000Z",
            },
            "event": {
                "id": "9001",
                "broadcaster_user_id": "1337",
                "broadcaster_user_login": "daniel",
                "broadcaster_user_name": "Daniel",
                "type": "live",
                "started_at": "2026-11-21T20:00:00.123456789Z",
            },
        }
    ).encode()
    now = datetime.now(UTC)
    ts = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}123Z"
    message_id = "a5b0d2a0-0000-4000-8000-000000000001"
    headers = {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": "notification",
        "Twitch-Eventsub-Message-Signature": compute_signature(
            SECRET.encode(), message_id, ts, body
        ),
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Subscription-Type": "stream.online",
        "Twitch-Eventsub-Subscription-Version": "1",
        "Content-Type": "application/json",
    }
    return headers, body


async def test_eventsub_to_discord_and_slash_commands_through_the_runtime(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    helix: FakeHelix = await nursery.start(
        FakeHelix(client_id="fake-client", client_secret="client-secret-0123456789").serve
    )
    config = loads_config(
        CONFIG.format(
            guild=GUILD_ID,
            gateway=fake.gateway_url,
            api=fake.api_base,
            helix=helix.helix_base,
            oauth=helix.oauth_base,
        ),
        source=tmp_path / "runtime.toml",
        environ={
            "DISCORD_TOKEN": fake.token,
            "EVENTSUB_SECRET": SECRET,
            "TWITCH_CLIENT_SECRET": "client-secret-0123456789",
            "GOLIVE_WEBHOOK": fake.webhook_url(),
        },
    )
    paths = RuntimePaths.from_config(config)
    paths.database.parent.mkdir(parents=True)
    paths.exports.mkdir(parents=True)
    root = build_tree(
        config,
        paths,
        started_at=datetime.now(UTC),
        pseudonym_key=check_database(paths.database, config),
        secrets=frozenset(),
        version="test",
    )
    await nursery.start(root.run)
    children = [c.id for c in root.which_children()]
    assert children[-4:] == ["watch", "notify", "discord", "creators"]

    port = http_port(root)
    headers, body = signed_online()
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/webhooks/twitch", headers=headers, content=body
        )
    assert response.status_code in (200, 204)
    await fake.wait_for(lambda f: len(f.calls("POST", "/webhooks/")) >= 1, give_up_after=20)
    (post,) = fake.calls("POST", "/webhooks/")
    assert "daniel" in json.dumps(post.body)
    # The monitor shows the webhook's counts (the ones /status counts rejections with).
    (watch,) = [r.detail for r in root.tree() if r.path == "root/watch"]
    assert isinstance(watch, LiveMonitorStatistics)
    assert watch.webhook is not None
    assert (watch.webhook.accepted, watch.webhook.notifications) == (1, 1)

    # The bot is connected; /status and /poll act on the live tree.
    await fake.wait_for(lambda f: len(f.ops(2)) >= 1, give_up_after=20)
    await fake.send_interaction(name="status")
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) >= 1, give_up_after=20)
    status = fake.calls("POST", "/callback")[-1].body["data"]["content"]
    assert "running" in status
    options: list[dict[str, Any]] = [
        {"type": 3, "name": "creator", "value": "daniel"},
        {"type": 3, "name": "question", "value": "Best map?"},
        {"type": 3, "name": "options", "value": "Dust | Inferno"},
    ]
    await fake.send_interaction(
        name="poll", options=[{"type": 1, "name": "open", "options": options}]
    )
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) >= 2, give_up_after=20)
    opened = await root.lookup("store").call(Read(fn=lambda c: polls.list_polls(c)))
    assert [p.poll.question for p in opened] == ["Best map?"]

    # The exports show the delivery and the bot.
    await root.lookup("publisher").call(PublishNow(), timeout=20)
    jobs = json.loads((paths.exports / "jobs.json").read_text(encoding="utf-8"))
    validate("jobs.json", jobs)
    assert [(j["type"], j["status"]) for j in jobs["jobs"]] == [("notification", "completed")]
    bot = json.loads((paths.exports / "discord/runtime.json").read_text(encoding="utf-8"))
    validate("discord/runtime.json", bot)
    assert bot["connected"] is True
    assert [g["guild_id"] for g in bot["guilds"]] == [GUILD_ID]
    await root.stop()
