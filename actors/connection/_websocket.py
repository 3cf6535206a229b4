"""Opening a WebSocket over a stream we own, with an injectable connector.

trio-websocket's `open_websocket_url` opens (and hides) its own TCP/TLS stream; we open the
stream ourselves, through a `Connector`, so tests can hand in one end of a trio memory stream
pair instead of running a loopback server, and so the stream is closed even when the server
closed first (trio-websocket leaves a client's stream open then).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from actors._errors import leaves, unwrap_failure

__all__ = ["Connector", "WebSocketTarget", "open_websocket", "tcp_connector"]


@attrs.frozen(kw_only=True)
class WebSocketTarget:
    """Where a ws:// or wss:// URL points."""

    host: str
    port: int
    tls: bool
    resource: str  # path and query
    host_header: str

    @classmethod
    def parse(cls, url: str) -> WebSocketTarget:
        """Parse a ws:// or wss:// URL (`ValueError` naming only scheme and host otherwise)."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {display_url(url)}")
        tls = parts.scheme == "wss"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = shown if port == (443 if tls else 80) else f"{shown}:{port}"
        return cls(host=host, port=port, tls=tls, resource=resource, host_header=host_header)

    @property
    def address(self) -> str:
        """`host:port`, as failure sentences name the peer."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.port}"


def display_url(url: str) -> str:
    """The URL's scheme and host:port only (no path or query in snapshots or logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


Connector = Callable[[WebSocketTarget], Awaitable[trio.abc.Stream]]
"""Opens the byte stream (TCP, TLS) a WebSocket runs over."""

_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One default TLS context for every connection (loading the CA store is not free)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


async def tcp_connector(target: WebSocketTarget) -> trio.abc.Stream:
    """The real network: TCP, then TLS for wss://."""
    stream: trio.abc.Stream = await trio.open_tcp_stream(target.host, target.port)
    if target.tls:
        tls = trio.SSLStream(
            stream, _ssl_context(), server_hostname=target.host, https_compatible=True
        )
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        stream = tls
    return stream


@asynccontextmanager
async def open_websocket(
    target: WebSocketTarget,
    *,
    connector: Connector | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
    max_message_size: int = 2**20,  # trio-websocket's own default, 1 MiB
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A client WebSocket to `target`, over the stream `connector` opens (the network by
    default). One deadline covers the stream and the handshake (`trio.TooSlowError`). On a
    normal exit the close handshake gets `close_timeout` seconds (a stalled peer never answers
    it); the stream is then closed (at once when the body raised). A message larger than
    `max_message_size` closes the connection (1009)."""
    connect = connector or tcp_connector
    stream: trio.abc.Stream | None = None
    single: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(connect_timeout):
                    stream = await connect(target)
                    ws = await trio_websocket.wrap_client_stream(
                        nursery,
                        # Annotated as a socket or TLS stream, but any trio Stream works (the
                        # library only sends, receives and closes it; tests pass in-memory ones).
                        stream,  # type: ignore[arg-type]
                        target.host_header,
                        target.resource,
                    )
                yield ws
                # A normal exit says goodbye; after a failure (a dead link, our own reason
                # to leave, a cancellation) the stream is just closed below, at once.
                with trio.move_on_after(close_timeout) as scope:
                    scope.shield = True
                    await ws.aclose()
            finally:
                if stream is not None:
                    await trio.aclose_forcefully(stream)
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The nursery wraps even a single failure (ours or the caller's): hand it out bare
        # when it is alone beside cancellations, like a plain `async with` would.
        single = _alone(group)
        if single is None:
            raise
    if single is not None:
        raise single


def _alone(group: BaseExceptionGroup) -> BaseException | None:
    picked = unwrap_failure(group)
    if picked is None:
        return None
    others = [leaf for leaf in leaves(group) if leaf is not picked]
    return picked if all(isinstance(leaf, trio.Cancelled) for leaf in others) else None
