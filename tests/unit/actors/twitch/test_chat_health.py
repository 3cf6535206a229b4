"""What `/status`, the snapshot's platforms and the telemetry say while `TwitchChat` fails,
and after it recovers: refused port, DNS failure, TLS failure, HTTP 401 on the handshake, a
refused login, a silent server, and a reset. Time is trio's MockClock (autojump)."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import trio
import trio.testing
import trio_websocket

from actors import Actor
from actors.connection import WebSocketTarget
from actors.twitch.chat import TwitchChat
from config.models import TwitchConfig
from config.secrets import Secret, SecretRef
from exports.health import platform_rows, status_report, telemetry_errors, telemetry_events
from supervisors import ChildSpec, Supervisor
from tests.fakes.twitch_irc import FakeTwitchIrc

START = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def wall() -> float:
    return (START + timedelta(seconds=trio.current_time())).timestamp()


class Sink(Actor):
    async def handle(self, message: Any) -> Any:
        return None


async def start_chat(nursery: trio.Nursery, url: str, **kwargs: Any) -> Supervisor:
    token = kwargs.pop("token", None)
    secret = Secret(SecretRef(env="TWITCH_TOKEN"), value=token) if token else None
    config = TwitchConfig(
        channel="pajlada",
        nick="bot" if token else None,
        token=secret,
        keepalive_seconds=kwargs.pop("keepalive_seconds", 60.0),
        keepalive_timeout_seconds=kwargs.pop("keepalive_timeout_seconds", 10.0),
    )
    root = Supervisor(
        "root",
        [
            ChildSpec("triggers", Sink),
            ChildSpec(
                "twitch",
                lambda: TwitchChat(
                    creator_id="daniel",
                    config=config,
                    triggers=lambda: root.lookup("triggers"),
                    url=url,
                    clock=wall,
                    rng=random.Random(3),
                    **kwargs,
                ),
            ),
        ],
    )
    await nursery.start(root.run)
    return root


async def until(predicate: Any, limit: float = 600) -> None:
    """Poll `predicate`: health changes have no event to wait on."""
    with trio.fail_after(limit):
        while True:
            if predicate():
                return
            await trio.sleep(0.05)


def twitch_entry(root: Supervisor) -> Any:
    rows = platform_rows(root.tree(), configured={"twitch": True})
    return next(r for r in rows if r.platform == "twitch")


def assert_failing(root: Supervisor, reason: str) -> None:
    """/status degraded naming twitch and `reason`; the snapshot's entry; errors.json."""
    report = status_report(root.tree())
    assert report.status == "degraded"
    [bad] = [c for c in report.degraded if c.path == "root/twitch"]
    assert bad.reason == reason
    body = report.body(version="test")
    assert body["degraded"] == [
        {"path": "root/twitch", "state": bad.health.state.value, "reason": reason}
    ]
    entry = twitch_entry(root)
    assert (entry.status, entry.error) == ("error", reason)
    assert entry.state in ("reconnecting", "failed")
    [error] = [e for e in telemetry_errors(root.tree(), root_name="root", now=START)]
    assert (error.subsystem, error.message, error.active) == ("twitch", reason, True)


async def closed_port() -> int:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_a_refused_port_is_degraded_with_the_reason(autojump_clock, nursery):
    port = await closed_port()
    root = await start_chat(nursery, f"ws://127.0.0.1:{port}")
    chat = root.lookup  # noqa: F841 - the tree is what is asserted
    await until(
        lambda: status_report(root.tree()).status == "degraded" and twitch_entry(root).error
    )
    assert_failing(root, f"connection refused by 127.0.0.1:{port}")
    events = telemetry_events(root.tree(), root_name="root")
    assert any(e.message.startswith("twitch connect failed: connection refused") for e in events)
    assert twitch_entry(root).next_retry_at is not None
    await root.stop()


async def test_a_dns_failure_names_the_host(autojump_clock, nursery):
    async def no_dns(_target: WebSocketTarget) -> trio.abc.Stream:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    root = await start_chat(nursery, "wss://irc-ws.chat.twitch.tv:443", connector=no_dns)
    await until(lambda: twitch_entry(root).error is not None)
    assert_failing(root, "DNS lookup failed for irc-ws.chat.twitch.tv")
    await root.stop()


async def test_a_tls_failure_says_tls(autojump_clock, nursery):
    async def plain(stream: trio.SocketStream) -> None:
        await stream.send_all(b"SSH-2.0-not-tls\r\n")
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, plain, 0)
    port = listeners[0].socket.getsockname()[1]
    root = await start_chat(nursery, f"wss://127.0.0.1:{port}")
    await until(lambda: twitch_entry(root).error is not None)
    reason = twitch_entry(root).error
    assert reason.startswith("TLS handshake failed: ")
    assert_failing(root, reason)
    await root.stop()


async def test_http_401_on_the_handshake_fails_and_needs_a_person(autojump_clock, nursery):
    async def rejecting(_target: WebSocketTarget) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()

        async def reject() -> None:
            request = await trio_websocket.wrap_server_stream(nursery, server)
            await request.reject(401)

        nursery.start_soon(reject)
        return client

    root = await start_chat(nursery, "wss://irc-ws.chat.twitch.tv:443", connector=rejecting)
    await until(lambda: twitch_entry(root).error is not None)
    assert_failing(root, "HTTP 401 from irc-ws.chat.twitch.tv")
    assert twitch_entry(root).state == "failed"
    await root.stop()


async def test_a_refused_login_is_failed_and_shows_the_notice(autojump_clock, nursery):
    fake = await nursery.start(FakeTwitchIrc(refused_tokens={"revoked"}).serve)
    root = await start_chat(nursery, fake.url, token="revoked")
    await until(lambda: twitch_entry(root).error is not None)
    assert_failing(root, "Login authentication failed")
    assert twitch_entry(root).state == "failed"
    await root.stop()


async def test_a_silent_server_is_degraded_after_keepalive_and_ok_once_back(
    autojump_clock, nursery
):
    fake = await nursery.start(FakeTwitchIrc().serve)
    root = await start_chat(nursery, fake.url, keepalive_seconds=30, keepalive_timeout_seconds=5)
    await fake.wait_lines("JOIN")
    await until(lambda: status_report(root.tree()).ok)
    entry = twitch_entry(root)
    assert (entry.status, entry.state, entry.connects) == ("running", "connected", 1)
    went_silent = trio.current_time()
    fake.stall()
    await until(lambda: status_report(root.tree()).status == "degraded")
    # Detected within keepalive_seconds + keepalive_timeout_seconds of the last frame.
    assert trio.current_time() - went_silent <= 35 + 0.1  # the poll's step
    assert_failing(root, "no traffic for 35 s")
    events = telemetry_events(root.tree(), root_name="root")
    assert any(e.message == "twitch connection lost: no traffic for 35 s" for e in events)
    fake.stall(False)
    await until(lambda: status_report(root.tree()).ok)
    entry = twitch_entry(root)
    assert (entry.status, entry.error, entry.disconnects) == ("running", None, 1)
    [error] = telemetry_errors(root.tree(), root_name="root", now=START)
    assert (error.message, error.active) == ("no traffic for 35 s", False)  # cleared
    await root.stop()


async def test_a_dropped_connection_reads_as_lost_then_recovers(autojump_clock, nursery):
    fake = await nursery.start(FakeTwitchIrc().serve)
    root = await start_chat(nursery, fake.url)
    await fake.wait_lines("JOIN")
    await until(lambda: status_report(root.tree()).ok)
    await fake.drop()
    await fake.wait_lines("JOIN", 2)
    await until(lambda: status_report(root.tree()).ok)
    entry = twitch_entry(root)
    assert (entry.connects, entry.disconnects) == (2, 1)
    kinds = [e.message for e in telemetry_events(root.tree(), root_name="root")]
    assert kinds[0] == "twitch connected"
    assert kinds[1].startswith("twitch connection lost")
    assert kinds[2] == "twitch connected"
    await root.stop()
