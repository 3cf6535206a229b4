"""`open_websocket` over an injected memory stream: no loopback server needed."""

from __future__ import annotations

import pytest
import trio
import trio.testing
import trio_websocket

from actors.connection import WebSocketTarget, display_url, open_websocket


async def test_a_websocket_runs_over_an_injected_memory_stream(nursery):
    targets: list[WebSocketTarget] = []

    async def connector(target: WebSocketTarget) -> trio.abc.Stream:
        targets.append(target)
        client, server = trio.testing.memory_stream_pair()

        async def echo() -> None:
            request = await trio_websocket.wrap_server_stream(nursery, server)
            ws = await request.accept()
            message = await ws.get_message()
            assert isinstance(message, str)
            await ws.send_message(f"echo {message}")

        nursery.start_soon(echo)
        return client

    target = WebSocketTarget.parse("wss://irc-ws.chat.twitch.tv:443/path?q=1")
    async with open_websocket(target, connector=connector) as ws:
        await ws.send_message("PING")
        assert await ws.get_message() == "echo PING"
    assert targets[0].resource == "/path?q=1"
    assert targets[0].address == "irc-ws.chat.twitch.tv:443"


async def test_a_connector_that_never_answers_times_out(autojump_clock):
    async def connector(_target: WebSocketTarget) -> trio.abc.Stream:
        await trio.sleep_forever()
        raise AssertionError

    with pytest.raises(trio.TooSlowError):
        async with open_websocket(
            WebSocketTarget.parse("ws://127.0.0.1:1/"), connector=connector, connect_timeout=10
        ):
            pass


def test_targets_and_shown_urls_never_carry_paths_or_queries():
    with pytest.raises(ValueError) as info:
        WebSocketTarget.parse("https://example.com/key=secret")
    assert str(info.value) == "not a ws:// or wss:// URL: https://example.com"
    assert (
        display_url("wss://user:pw@ws.example.com:8443/app/KEY?x=1") == "wss://ws.example.com:8443"
    )
