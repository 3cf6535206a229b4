"""`describe_failure`: real transport errors (loopback only) become sentences a person reads."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
import trio
import trio.testing
import trio_websocket

from actors.connection import (
    HttpStatusError,
    SessionEnded,
    WebSocketTarget,
    describe_failure,
    open_websocket,
)


async def closed_port() -> int:
    """A loopback port with nobody listening (bound, then closed)."""
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def failure_of(target: WebSocketTarget, **kwargs) -> BaseException:
    try:
        async with open_websocket(target, connect_timeout=5, **kwargs):
            pass
    except BaseException as exc:  # the point is to look at it
        return exc
    raise AssertionError("the connection opened")


async def test_a_refused_port_names_the_address():
    port = await closed_port()
    exc = await failure_of(WebSocketTarget.parse(f"ws://127.0.0.1:{port}/"))
    failure = describe_failure(exc, target=f"127.0.0.1:{port}")
    assert failure is not None
    assert failure.reason == f"connection refused by 127.0.0.1:{port}"
    assert not failure.needs_person


async def test_a_dns_failure_names_the_host_without_its_port():
    async def connector(_target: WebSocketTarget) -> trio.abc.Stream:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    exc = await failure_of(
        WebSocketTarget.parse("wss://irc-ws.chat.twitch.tv:443"), connector=connector
    )
    failure = describe_failure(exc, target="irc-ws.chat.twitch.tv:443")
    assert failure is not None
    assert failure.reason == "DNS lookup failed for irc-ws.chat.twitch.tv"


async def test_a_dns_failure_wrapped_by_trio_websocket_is_found_through_its_cause():
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except OSError as inner:
            raise trio_websocket.HandshakeError from inner
    except trio_websocket.HandshakeError as exc:
        failure = describe_failure(exc, target="irc-ws.chat.twitch.tv:443")
    assert failure is not None
    assert failure.reason == "DNS lookup failed for irc-ws.chat.twitch.tv"


async def test_a_tls_handshake_with_a_plain_server_says_tls_failed(nursery):
    async def plain(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\nnot tls at all\r\n")
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, plain, 0)
    port = listeners[0].socket.getsockname()[1]
    exc = await failure_of(WebSocketTarget.parse(f"wss://127.0.0.1:{port}/"))
    failure = describe_failure(exc, target=f"127.0.0.1:{port}")
    assert failure is not None
    assert failure.reason.startswith("TLS handshake failed: ")
    assert len(failure.reason) > len("TLS handshake failed: ")


async def test_a_rejected_handshake_is_an_http_status_that_needs_a_person(nursery):
    async def connector(_target: WebSocketTarget) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()

        async def serve() -> None:
            request = await trio_websocket.wrap_server_stream(nursery, server)
            await request.reject(401, body=b"bad token")

        nursery.start_soon(serve)
        return client

    exc = await failure_of(
        WebSocketTarget.parse("wss://eventsub.wss.twitch.tv/ws"), connector=connector
    )
    failure = describe_failure(exc, target="eventsub.wss.twitch.tv:443")
    assert failure is not None
    assert failure.reason == "HTTP 401 from eventsub.wss.twitch.tv"
    assert failure.needs_person


async def test_a_reset_connection_says_rst():
    failure = describe_failure(
        trio.BrokenResourceError("socket connection broken"), target="127.0.0.1:9"
    )
    assert failure is not None and failure.reason == "the connection to 127.0.0.1:9 broke"
    broken = trio.BrokenResourceError()
    broken.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    failure = describe_failure(broken, target="127.0.0.1:9")
    assert failure is not None and failure.reason == "connection reset by 127.0.0.1:9 (RST)"


async def test_an_http_client_failure_names_the_host_of_the_request():
    port = await closed_port()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(f"http://127.0.0.1:{port}/secret-key-in-path")
    failure = describe_failure(info.value)
    assert failure is not None
    assert failure.reason == "connection refused by 127.0.0.1"
    assert "secret" not in failure.reason


async def test_an_http_status_names_the_host_and_401_needs_a_person():
    failure = describe_failure(HttpStatusError(401, "id.twitch.tv"))
    assert failure is not None
    assert failure.reason == "HTTP 401 from id.twitch.tv"
    assert failure.needs_person
    failure = describe_failure(HttpStatusError(503, "www.googleapis.com"))
    assert failure is not None and not failure.needs_person


async def test_timeouts_say_no_answer_in_time():
    failure = describe_failure(trio.TooSlowError(), target="irc-ws.chat.twitch.tv:443")
    assert failure is not None
    assert failure.reason == "no answer from irc-ws.chat.twitch.tv:443 in time"


async def test_our_own_reason_wins_over_what_closing_raised_afterwards():
    group = BaseExceptionGroup(
        "nursery",
        [trio.BrokenResourceError(), SessionEnded("no traffic for 70 s")],
    )
    failure = describe_failure(group, target="127.0.0.1:9")
    assert failure is not None and failure.reason == "no traffic for 70 s"


async def test_bugs_and_cancellation_are_not_transport_failures():
    assert describe_failure(ValueError("bug")) is None
    assert describe_failure(ExceptionGroup("g", [KeyError("bug")])) is None
    assert describe_failure(httpx.DecodingError("garbled")) is None


async def test_a_closed_websocket_names_its_close_code():
    reason = trio_websocket.CloseReason(4001, "app key invalid")
    failure = describe_failure(trio_websocket.ConnectionClosed(reason), target="ws.kick:443")
    assert failure is not None
    assert failure.reason == "connection closed by ws.kick:443 (code 4001: app key invalid)"


async def test_an_untrusted_certificate_says_why():
    err = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err.verify_message = "self-signed certificate"
    broken = trio.BrokenResourceError()
    broken.__cause__ = err
    failure = describe_failure(broken, target="127.0.0.1:443")
    assert failure is not None
    assert failure.reason == "TLS handshake failed: self-signed certificate"
