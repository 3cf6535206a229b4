"""`DiscordGateway` against `FakeDiscord`: the gateway lifecycle and slash commands.

Real sockets on loopback and the real clock, with a 100 ms heartbeat so a whole sequence
(identify, heartbeats, zombie -> resume, op 7, op 9, 4004) takes well under a second.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import structlog
import trio
import trio_websocket

from actors.connection import ConnectionState, WebSocketTarget
from actors.discord.bot import DiscordGateway
from actors.discord.commands import COMMAND_NAMES
from actors.discord.http_client import DiscordRest
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.discord import APPLICATION_ID, GUILD_ID, NO_PERMISSIONS, FakeDiscord

ADMIN_USER = "80351110224678912"


class FakeControl:
    """A `ControlPlane` recording its calls; `slow` makes commands take that long."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.slow = 0.0

    async def _record(self, name: str, *args: Any) -> str:
        self.calls.append((name, args))
        if self.slow:
            await trio.sleep(self.slow)
        return f"{name} ok {' '.join(str(a) for a in args)}".strip()

    async def status(self) -> str:
        return await self._record("status")

    async def actors(self) -> str:
        return await self._record("actors")

    async def restart(self, path: str) -> str:
        return await self._record("restart", path)

    async def creators(self) -> str:
        return await self._record("creators")

    async def quotas(self) -> str:
        return await self._record("quotas")

    async def clip(self, creator: str, seconds: int | None) -> str:
        return await self._record("clip", creator, seconds)

    async def poll(
        self, creator: str, action: str, question: str | None, options: tuple[str, ...]
    ) -> str:
        return await self._record("poll", creator, action, question, options)

    async def watch_add(self, kind: str, value: str) -> str:
        return await self._record("watch_add", kind, value)

    async def watch_remove(self, kind: str, value: str) -> str:
        return await self._record("watch_remove", kind, value)

    async def watch_list(self) -> str:
        return await self._record("watch_list")

    async def set_notify_channel(self, guild_id: str, channel_id: str) -> str:
        return await self._record("notify", guild_id, channel_id)


async def until(predicate: Any, give_up_after: float = 10.0) -> None:
    """Poll `predicate` (state of the actor under test) until it holds."""
    with trio.fail_after(give_up_after):
        while not predicate():  # noqa: ASYNC110 - actor state has no event to wait on
            await trio.sleep(0.01)


async def start(
    nursery: trio.Nursery,
    fake: FakeDiscord,
    control: FakeControl,
    *,
    token: str = "bot-token",
    **kwargs: Any,
) -> tuple[Supervisor, DiscordGateway]:
    made: list[DiscordGateway] = []

    def factory() -> DiscordGateway:
        actor = DiscordGateway(
            token=token,
            control=control,
            guild_ids=[GUILD_ID],
            admin_user_ids=[ADMIN_USER],
            gateway_url=fake.gateway_url,
            rest=DiscordRest(token=token, base_url=fake.api_base),
            random=lambda: 0.0,  # first heartbeat at once; op 9 waits the minimum 1 s
            backoff_initial=0.05,
            **kwargs,
        )
        made.append(actor)
        return actor

    sup = Supervisor("root", [ChildSpec("discord", factory)], backoff=Backoff(initial=0))
    await nursery.start(sup.run)
    return sup, made[0]


async def test_full_gateway_sequence(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    sup, bot = await start(nursery, fake, FakeControl())

    # IDENTIFY (GUILDS intent only) -> READY -> heartbeats, commands registered per guild.
    await fake.wait_for(lambda f: len(f.ops(1)) >= 3 and len(f.calls("PUT")) == 1)
    [identify] = fake.ops(2)
    assert identify.payload["d"]["intents"] == 1
    assert bot.connected and bot.snapshot().connected is True
    put = fake.calls("PUT")[0]
    assert put.path == f"/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    assert {c["name"] for c in put.body} == COMMAND_NAMES
    assert put.headers["authorization"] == "Bot bot-token"
    # The heartbeat carries the last sequence number seen.
    assert fake.ops(1)[-1].payload["d"] == 1 + len(fake.guild_names)

    # Missed ACK -> zombie -> a new connection that RESUMEs.
    fake.stop_acks()
    await fake.wait_for(lambda f: len(f.ops(6)) == 1)
    assert fake.connections == 2 and len(fake.ops(2)) == 1
    assert fake.ops(6)[0].connection == 2
    await until(lambda: bot.connected)

    # Op 7 -> reconnect and resume.
    await fake.send_reconnect()
    await fake.wait_for(lambda f: len(f.ops(6)) == 2)
    assert fake.connections == 3 and len(fake.ops(2)) == 1

    # Op 9 resumable=false -> a fresh IDENTIFY.
    await until(lambda: bot.connected)
    await fake.send_invalid_session(False)
    await fake.wait_for(lambda f: len(f.ops(2)) == 2, give_up_after=10)
    assert fake.connections == 4

    # 4004: a clear error, and no more connection attempts.
    await until(lambda: bot.connected)
    with structlog.testing.capture_logs() as logs:
        await fake.close_all(4004, "Authentication failed.")
        await until(lambda: bot.status == "error")
    # The connection loop has ended for good (not waiting out a backoff): no retry can follow.
    assert bot.running is False and fake.connections == 4
    # The lifecycle gave up (it waits for a restart, not a backoff): no retry can follow.
    assert bot.lifecycle.give_ups == 1
    assert [e for e in logs if "giving up until restarted" in e["event"]]
    assert not [e for e in logs if "reconnecting" in e["event"]]
    snap = bot.snapshot()
    assert snap.status == "error" and "authentication failed" in (snap.error or "")
    assert snap.connected is False and snap.running is False
    assert "bot-token" not in repr(snap)
    guild = snap.guilds[0]
    assert guild.guild_id == GUILD_ID and guild.guild_name == "Test Guild"
    assert guild.bot_present is True and guild.commands_registered is True
    await sup.stop()


async def test_bad_token_is_fatal_at_once(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    with structlog.testing.capture_logs() as logs:
        sup, bot = await start(nursery, fake, FakeControl(), token="wrong")
        await until(lambda: bot.status == "error")
    # The connection loop has ended for good (not waiting out a backoff): no retry can follow.
    assert bot.running is False and fake.connections == 1
    assert not [e for e in logs if e["event"] == "discord gateway reconnecting"]
    assert fake.close_codes == [4004] or fake.close_codes == []
    await sup.stop()


async def test_abrupt_drop_resumes(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    sup, bot = await start(nursery, fake, FakeControl())
    await until(lambda: bot.connected)
    await fake.drop()
    await fake.wait_for(lambda f: len(f.ops(6)) == 1)
    await until(lambda: bot.connected)
    assert len(fake.ops(2)) == 1
    await sup.stop()


async def test_admin_command_answered_and_non_admin_refused(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=1000).serve)
    control = FakeControl()
    sup, bot = await start(nursery, fake, control)
    await until(lambda: bot.connected)

    d = await fake.send_interaction(
        name="restart",
        options=[{"type": 3, "name": "path", "value": "creators/creator:daniel/twitch"}],
    )
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) == 1)
    [answer] = fake.calls("POST", "/callback")
    assert answer.path == f"/api/v10/interactions/{d['id']}/{d['token']}/callback"
    assert answer.body["type"] == 4
    assert answer.body["data"]["content"] == "restart ok creators/creator:daniel/twitch"
    assert answer.body["data"]["flags"] == 64
    assert control.calls == [("restart", ("creators/creator:daniel/twitch",))]

    # A member without Administrator/Manage Server is refused; the runtime is not touched.
    await fake.send_interaction(name="status", permissions=NO_PERMISSIONS)
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) == 2)
    refusal = fake.calls("POST", "/callback")[1]
    assert refusal.body["type"] == 4 and "permission" in refusal.body["data"]["content"]
    assert len(control.calls) == 1

    # ... unless their user id is listed as an admin.
    await fake.send_interaction(name="status", permissions=NO_PERMISSIONS, user_id=ADMIN_USER)
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) == 3)
    assert fake.calls("POST", "/callback")[2].body["data"]["content"] == "status ok"
    await until(lambda: bot.answered == 2)
    snap = bot.snapshot()
    assert snap.interactions == 3 and snap.refused == 1
    await sup.stop()


async def test_slow_command_is_deferred_then_edited(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=1000).serve)
    control = FakeControl()
    control.slow = 0.3
    sup, bot = await start(nursery, fake, control, defer_after=0.05)
    await until(lambda: bot.connected)
    d = await fake.send_interaction(
        name="clip",
        options=[
            {"type": 3, "name": "creator", "value": "daniel"},
            {"type": 4, "name": "seconds", "value": 30},
        ],
    )
    await fake.wait_for(lambda f: len(f.calls("PATCH")) == 1)
    [deferral] = fake.calls("POST", "/callback")
    assert deferral.body["type"] == 5
    [edit] = fake.calls("PATCH")
    assert edit.path == f"/api/v10/webhooks/{APPLICATION_ID}/{d['token']}/messages/@original"
    assert edit.body["content"] == "clip ok daniel 30"
    assert edit.at > deferral.at
    await until(lambda: bot.answered == 1)
    assert bot.snapshot().deferred == 1
    await sup.stop()


async def test_subcommands_and_bad_arguments(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=1000).serve)
    control = FakeControl()
    sup, bot = await start(nursery, fake, control)
    await until(lambda: bot.connected)
    sub = {
        "type": 1,
        "name": "add",
        "options": [
            {"type": 3, "name": "kind", "value": "twitch"},
            {"type": 3, "name": "value", "value": "Daniel"},
        ],
    }
    await fake.send_interaction(name="watch", options=[sub])
    await fake.send_interaction(
        name="notify", options=[{"type": 1, "name": "channel", "options": []}]
    )
    bad_poll = {
        "type": 1,
        "name": "open",
        "options": [
            {"type": 3, "name": "creator", "value": "daniel"},
            {"type": 3, "name": "question", "value": "Best?"},
            {"type": 3, "name": "options", "value": "only one"},
        ],
    }
    await fake.send_interaction(name="poll", options=[bad_poll])
    await fake.wait_for(lambda f: len(f.calls("POST", "/callback")) == 3)
    contents = sorted(c.body["data"]["content"] for c in fake.calls("POST", "/callback"))
    assert any("2 to 10 options" in c for c in contents)
    assert ("watch_add", ("twitch", "Daniel")) in control.calls
    assert ("notify", (GUILD_ID, "645027906669510667")) in control.calls
    guild = bot.snapshot().guilds[0]
    assert guild.notifications_enabled and guild.notifications_channel_id == "645027906669510667"
    await sup.stop()


@pytest.mark.parametrize("retry_after", [0.05])
async def test_rest_waits_out_a_429(nursery: trio.Nursery, retry_after: float) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    rest = DiscordRest(token="bot-token", base_url=fake.api_base)
    fake.fail_next("/channels/", retry_after=retry_after)
    result = await rest.request(
        "POST", "/channels/645027906669510667/messages", json={"content": "hi"}
    )
    assert result.status == 200 and result.body["content"] == "hi"
    first, second = fake.calls("POST", "/channels/")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= retry_after
    assert rest.rate_limited == 1
    await rest.aclose()


# ------------------------------------------------------------------------- admins are told


async def test_admins_are_told_once_when_a_component_stays_failing_and_on_recovery(
    nursery: trio.Nursery,
) -> None:
    from datetime import UTC, datetime

    from actors import TreeRow
    from actors.connection import ConnectionHealth, ConnectionState
    from exports.health import status_report

    failing = {"on": True}

    def health() -> Any:
        state = ConnectionState.RECONNECTING if failing["on"] else ConnectionState.CONNECTED
        twitch = ConnectionHealth(
            component="twitch",
            state=state,
            since=datetime.now(UTC),
            last_error="connection refused by 127.0.0.1:9",
        )
        row = TreeRow(
            path="root/creators/creator:d/twitch", kind="actor", state="running", health=twitch
        )
        return status_report([row])

    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    channel = "123456789012345678"
    sup, bot = await start(
        nursery,
        fake,
        FakeControl(),
        health=health,
        admin_channel_id=channel,
        alert_after=0.3,
        alert_check_seconds=0.05,
    )

    def posts() -> list[Any]:
        return [c for c in fake.requests if c.path.endswith(f"/channels/{channel}/messages")]

    await until(lambda: len(posts()) == 1)
    assert posts()[0].body["content"].startswith("Failing for 0 min: root/creators/creator:d/")
    assert "connection refused by 127.0.0.1:9" in posts()[0].body["content"]
    await trio.sleep(0.3)
    assert len(posts()) == 1  # once, not at every check
    failing["on"] = False
    await until(lambda: len(posts()) == 2)
    assert posts()[1].body["content"].startswith("Recovered: root/creators/creator:d/twitch")
    # The fake saw the post; the bot counts it once Discord's answer is back.
    await until(lambda: bot.snapshot().alerts_posted == 2)
    await sup.stop()


async def test_a_429_on_a_webhook_url_as_discord_shows_it_logs_no_token(
    nursery: trio.Nursery,
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    token = "wh-Secret-token-0123456789abcdefghijklmnop"
    url = fake.webhook_url(token=token, versioned=False)  # https://discord.com/api/webhooks/...
    rest = DiscordRest(base_url=fake.api_base)
    fake.fail_next("/webhooks/", retry_after=0.01)
    with structlog.testing.capture_logs() as logs:
        result = await rest.request("POST", url, json={"content": "live"}, auth=False)
    assert result.status == 200
    (limited,) = [entry for entry in logs if entry["event"] == "discord rate limited"]
    assert limited["route"].startswith("POST /webhooks/223704706495545344/<token:")
    assert token not in repr(logs)
    await rest.aclose()


async def test_wrong_types_in_dispatches_are_no_crash(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    sup, bot = await start(nursery, fake, FakeControl())
    await until(lambda: bot.connected)
    await fake.dispatch("READY", {"guilds": 5, "application": "x"})
    await fake.dispatch("INTERACTION_CREATE", {"type": "²", "id": "1", "token": "t"})
    await until(lambda: bot.bad_frames == 1)  # the interaction, refused and counted
    await fake.dispatch("GUILD_CREATE", {"id": "42", "name": "After"})
    await until(lambda: "42" in bot.guilds)
    (child,) = sup.which_children()
    assert child.restarts == 0 and bot.connected


# --- health on the shared lifecycle: refused, DNS, HTTP 401/5xx, silent server, person ---


async def start_bot(
    nursery: trio.Nursery, gateway_url: str, api_base: str = "http://127.0.0.1:9", **kw: Any
) -> tuple[Supervisor, DiscordGateway]:
    made: list[DiscordGateway] = []

    def factory() -> DiscordGateway:
        bot = DiscordGateway(
            token="bot-token",
            control=FakeControl(),
            guild_ids=[GUILD_ID],
            gateway_url=gateway_url,
            rest=DiscordRest(token="bot-token", base_url=api_base),
            random=lambda: 0.0,
            backoff_initial=0.05,
            backoff_max=0.2,
            **kw,
        )
        made.append(bot)
        return bot

    sup = Supervisor("root", [ChildSpec("discord", factory)], backoff=Backoff(initial=0))
    await nursery.start(sup.run)
    return sup, made[0]


async def rejecting_server(nursery: trio.Nursery, status: int) -> str:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        await request.reject(status)

    server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    return f"ws://127.0.0.1:{server.port}"


async def test_refused_port_reads_reconnecting_with_the_peer(nursery: trio.Nursery) -> None:
    sup, bot = await start_bot(nursery, "ws://127.0.0.1:9")
    await until(lambda: bot.health().connect_failures >= 2)
    health = bot.health()
    assert health.state is ConnectionState.RECONNECTING and health.failing
    assert health.last_error == "connection refused by 127.0.0.1:9"
    snap = bot.snapshot()
    assert snap.running is False and snap.connected is False
    assert snap.status == "error" and snap.error == "connection refused by 127.0.0.1:9"
    await sup.stop()


async def test_dns_failure_names_the_gateway_host(nursery: trio.Nursery) -> None:
    async def no_dns(target: WebSocketTarget) -> trio.abc.Stream:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    sup, bot = await start_bot(nursery, "wss://gateway.discord.gg", connector=no_dns)
    await until(lambda: bot.health().connect_failures >= 1)
    health = bot.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "DNS lookup failed for gateway.discord.gg"
    assert health.target == "gateway.discord.gg:443"
    await sup.stop()


async def test_http_401_on_the_handshake_needs_a_person(nursery: trio.Nursery) -> None:
    url = await rejecting_server(nursery, 401)
    sup, bot = await start_bot(nursery, url)
    await until(lambda: bot.health().state is ConnectionState.FAILED)
    await trio.sleep(0.3)  # would be several attempts if it retried
    health = bot.health()
    assert health.connect_failures == 1 and health.give_ups == 1
    assert health.last_error is not None and health.last_error.startswith("HTTP 401 from 127.0.0.1")
    assert bot.snapshot().running is False
    await sup.stop()


async def test_http_5xx_on_the_handshake_is_retried(nursery: trio.Nursery) -> None:
    url = await rejecting_server(nursery, 503)
    sup, bot = await start_bot(nursery, url)
    await until(lambda: bot.health().connect_failures >= 3)
    health = bot.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "HTTP 503 from 127.0.0.1"
    await sup.stop()


async def test_server_without_hello_is_dropped_after_the_hello_timeout(
    nursery: trio.Nursery,
) -> None:
    async def silent(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await trio.sleep(5)
        await ws.aclose()

    server = await nursery.start(trio_websocket.serve_websocket, silent, "127.0.0.1", 0, None)
    sup, bot = await start_bot(nursery, f"ws://127.0.0.1:{server.port}", hello_timeout=0.2)
    await until(lambda: bot.health().connect_failures >= 1)
    health = bot.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "no HELLO within 0.2 s"
    await sup.stop()


async def test_missing_heartbeat_ack_is_a_stall_then_resumed(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    sup, bot = await start_bot(nursery, fake.gateway_url, fake.api_base)
    await until(lambda: bot.connected)
    assert bot.health().state is ConnectionState.CONNECTED and bot.snapshot().running
    fake.stop_acks()
    await fake.wait_for(lambda f: len(f.ops(6)) == 1)  # RESUME on the new connection
    await until(lambda: bot.connected)
    health = bot.health()
    assert health.state is ConnectionState.CONNECTED and health.disconnects == 1
    assert health.last_error == "no heartbeat ACK within 0.1 s (zombie connection)"
    assert health.error is None and health.connects == 2
    await sup.stop()


async def test_disallowed_intents_fail_for_good_with_the_reason(nursery: trio.Nursery) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord(heartbeat_interval_ms=100).serve)
    sup, bot = await start_bot(nursery, fake.gateway_url, fake.api_base)
    await until(lambda: bot.connected)
    await fake.close_all(4014, "Disallowed intent(s).")
    await until(lambda: bot.health().state is ConnectionState.FAILED)
    await trio.sleep(0.3)
    assert fake.connections == 1
    health = bot.health()
    assert health.error is not None and health.error.startswith(
        "discord gateway: disallowed intents (privileged intent not enabled) (close code 4014)"
    )
    snap = bot.snapshot()
    assert snap.running is False and snap.connected is False
    assert snap.status == "error" and "bot-token" not in repr(snap)
    await sup.stop()
