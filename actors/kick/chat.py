"""`KickChat`: one creator's Kick chat, read over Pusher and written through Kick's public API.

Reading: Kick's web client reads chat from a Pusher websocket; so do we. Everything about the
protocol is in the sans-IO module `actors.kick.pusher` (`PusherConnection`); this module adds
the I/O policy around it:

- One websocket per actor, to `config.ws_url` when set (a local soketi in tests) or to the
  Pusher URL computed from `app_key`/`cluster`. After `pusher:connection_established` the state
  machine subscribes `chatrooms.<chatroom_id>.v2` and `channel.<channel_id>` (whichever ids
  the config has), and again after every reconnect.
- Liveness: the reader sleeps until `PusherConnection.next_deadline()`; a silent link gets a
  `pusher:ping` after the server's `activity_timeout`, and a reconnect when nothing at all
  answers within `pong_timeout`. A handshake that never comes is a reconnect too.
- Close and `pusher:error` codes decide what happens next (`pusher.classify_close`):
  4000-4099 (and 4300-4399): refused, no reconnect, status "error" until restarted with a
  better configuration; 4100-4199 and anything unknown: reconnect after an exponential
  backoff with jitter (at least `backoff_initial`); 4200-4299: reconnect at once, unless the
  previous immediate reconnect was less than `stable_after` ago (then it backs off, so a
  server that keeps closing cannot make us spin). The backoff starts over once a connection
  has stayed up `stable_after` seconds.
- Chat, deletions, bans, subscriptions, gifts, StreamerIsLive and StopStreamBroadcast frames
  become normalized events (`pusher.to_event`) sent to the creator's trigger engine with
  `send` (backpressure: a slow engine slows our reading; it never makes us buffer without
  bound). Events are remembered by (kind, message id) in a bounded set so a frame replayed
  after a reconnect is delivered once. Unparseable frames are counted and logged.

Writing: `SendChat` goes to `POST {send_api}/chat` with the OAuth bearer token,
`{"type": "user", "broadcaster_user_id": ..., "content": ...}` when the broadcaster's user id
is known, else `{"type": "bot", "content": ...}` (posts to the token owner's channel). The
outgoing queue is bounded; without a token, replies are dropped with a counted reason; 429
and 5xx answers (and transport errors) are retried with backoff, honouring `Retry-After`;
401/403 put the actor in status "error" and stop sending (a refused token does not heal).

Timing uses `trio.current_time()`/`trio.sleep` only (exact under trio's `MockClock`); the wall
`clock` is only for `sent_at` fallbacks and the snapshot's datetimes.
"""

from __future__ import annotations

import math
import random
import ssl
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import httpx
import trio
import trio_websocket

from actors import Actor, ActorRef
from actors.chat import SendChat
from actors.events import PlatformEvent
from actors.kick import pusher
from actors.kick.pusher import (
    CloseAction,
    Connected,
    ConnectionState,
    Deliver,
    PusherConnection,
    PusherFrame,
    Reconnect,
    Send,
    ServerError,
    Subscribed,
    SubscriptionFailed,
)
from actors.recent import RecentKeys
from config.models import KickConfig
from config.secrets import Secret
from config.untrusted_json import loads_untrusted
from supervisors import Backoff

__all__ = ["DEFAULT_SEND_API", "MAX_MESSAGE_LENGTH", "KickChat"]

DEFAULT_SEND_API: Final = "https://api.kick.com/public/v1"
"""Kick's public API base; chat is `POST /chat` below it."""

MAX_MESSAGE_LENGTH: Final = 500
"""Longest chat message Kick accepts (observed by client authors)."""

# When a deadline is already overdue, wait this long for a frame that may be buffered before
# acting on the deadline: a delivery that waited on a busy trigger engine must not make a live
# link look dead.
_DRAIN_GRACE: Final = 0.001

_PING: Final = pusher.ping()

# Pusher's 4100-4199 range ("over capacity" and the like) asks clients to wait at least 1 s.
_MIN_CAPACITY_BACKOFF: Final = 1.0

# Errors that mean "this connection is gone" (as opposed to bugs, which crash the actor).
_TRANSPORT_ERRORS: Final = (
    OSError,
    trio_websocket.HandshakeError,
    trio_websocket.ConnectionClosed,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
)


@attrs.frozen(kw_only=True)
class _Ended:
    """Why one connection ended, and what to do about it."""

    action: CloseAction
    reason: str
    code: int | None = None


@attrs.frozen(kw_only=True)
class _WsTarget:
    """Where a ws:// or wss:// URL points."""

    host: str
    port: int
    tls: bool
    resource: str  # path and query
    host_header: str

    @classmethod
    def parse(cls, url: str) -> _WsTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {_host(url)}")
        tls = parts.scheme == "wss"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = shown if port == (443 if tls else 80) else f"{shown}:{port}"
        return cls(host=host, port=port, tls=tls, resource=resource, host_header=host_header)


@attrs.frozen(kw_only=True)
class _Queued:
    """One outgoing message waiting to be posted."""

    text: str
    reply_to: str | None
    trigger_id: str | None
    queued_at: float


class KickChat(Actor):
    """Reads and writes one Kick channel's chat for one creator (see the module docs).

    `token` is a Kick OAuth access token with `chat:write` (a `Secret` or its value); without
    it the actor only reads. `broadcaster_user_id` is the Kick *user* id of the channel owner
    (the public API's `broadcaster_user_id`); without it messages are sent as `type: "bot"`,
    which Kick posts in the token owner's channel. `transport` replaces httpx's network
    transport (tests).
    """

    mailbox_size = 1000

    def __init__(
        self,
        *,
        creator_id: str,
        config: KickConfig,
        triggers: Callable[[], ActorRef],
        send_api: str = DEFAULT_SEND_API,
        token: str | Secret | None = None,
        broadcaster_user_id: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        connect_timeout: float = 10.0,
        handshake_timeout: float = pusher.DEFAULT_HANDSHAKE_TIMEOUT,
        pong_timeout: float = pusher.DEFAULT_PONG_TIMEOUT,
        max_activity_timeout: float = pusher.DEFAULT_ACTIVITY_TIMEOUT,
        backoff_initial: float = 1.0,
        backoff_maximum: float = 60.0,
        backoff_jitter: float = 0.2,
        stable_after: float = 60.0,
        send_queue_size: int = 100,
        max_queue_age: float = 60.0,
        send_timeout: float = 10.0,
        send_retries: int = 5,
        send_retry_initial: float = 1.0,
        send_retry_maximum: float = 60.0,
        dedupe_size: int = 4096,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self._triggers = triggers
        self.send_api = send_api.rstrip("/")
        self._token = token.reveal() if isinstance(token, Secret) else token
        self.broadcaster_user_id = broadcaster_user_id
        self._transport = transport
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_maximum = backoff_maximum
        self.backoff_jitter = backoff_jitter
        self.stable_after = stable_after
        self.send_queue_size = send_queue_size
        self.max_queue_age = max_queue_age
        self.send_timeout = send_timeout
        self.send_retries = send_retries
        self.send_retry_initial = send_retry_initial
        self.send_retry_maximum = send_retry_maximum

        self.url = config.ws_url or pusher.connection_url(config.app_key, config.cluster)
        try:
            self._target: _WsTarget | None = _WsTarget.parse(self.url)
        except ValueError:
            self._target = None
        channels: list[str] = []
        if config.chatroom_id is not None:
            channels.append(pusher.chatroom_channel(config.chatroom_id))
        if config.channel_id is not None:
            channels.append(pusher.channel_channel(config.channel_id))
        self.channels: tuple[str, ...] = tuple(channels)
        # One state machine for the actor's life: the wanted channels survive reconnects.
        self._pusher = PusherConnection(
            pong_timeout=pong_timeout,
            handshake_timeout=handshake_timeout,
            max_activity_timeout=max_activity_timeout,
        )
        for channel in self.channels:
            self._pusher.subscribe(channel, now=0.0)

        self._recent = RecentKeys(dedupe_size)
        self._queue: deque[_Queued] = deque()
        self._queue_changed: trio.Event | None = None
        self._connected_at: float | None = None  # trio time of the current handshake

        self.error: str | None = None  # the reading side is refused or cannot start
        self.send_error: str | None = None  # the API refused the token: sending stopped
        self.connected = False
        self.socket_id: str | None = None
        self.activity_timeout: float | None = None
        self.connections = 0
        self.reconnects = 0
        self.frames = 0
        self.messages = 0
        self.ignored = 0
        self.duplicates = 0
        self.parse_errors = 0
        self.server_errors = 0
        self.subscription_failures = 0
        self.pings = 0
        self.sent = 0
        self.send_retried = 0
        self.send_failures = 0
        self.truncated = 0
        self.dropped = 0
        self.dropped_reasons: dict[str, int] = {}
        self.last_close_code: int | None = None
        self.last_event_at: datetime | None = None
        self.last_traffic_at: datetime | None = None
        self.last_sent_message_id: str | None = None
        self.last_sent_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self._queue_changed = trio.Event()

    async def run(self) -> None:
        if not self.config.enabled:
            self.log.info("kick chat disabled", channel=self.config.channel)
            await trio.sleep_forever()
        if self._token is not None:
            self.nursery.start_soon(self._writer)
        if self._target is None:
            self.error = f"not a usable websocket URL: {_host(self.url)}"
            self.log.error("kick chat cannot start", channel=self.config.channel, error=self.error)
            await trio.sleep_forever()
        if not self.channels:
            # Looking the ids up by slug needs kick.com's Cloudflare-protected API: the
            # configuration must carry them.
            self.error = "no chatroom_id or channel_id configured: nothing to subscribe"
            self.log.error("kick chat cannot start", channel=self.config.channel, error=self.error)
            await trio.sleep_forever()
        await self._read_forever()

    async def _read_forever(self) -> None:
        failures = 0
        last_immediate = -math.inf
        while True:
            ended = await self._session()
            now = trio.current_time()
            if self._connected_at is not None and now - self._connected_at >= self.stable_after:
                failures = 0  # a stable connection: start the backoff over
            self.last_close_code = ended.code
            if ended.action is CloseAction.REFUSED:
                self.error = f"connection refused by the server (code {ended.code}): {ended.reason}"
                self.log.error(
                    "kick connection refused; not reconnecting",
                    code=ended.code,
                    reason=ended.reason,
                )
                await trio.sleep_forever()
            if ended.action is CloseAction.RETRY and now - last_immediate >= self.stable_after:
                last_immediate = now
                self.log.info("kick reconnecting now", code=ended.code, reason=ended.reason)
                continue
            failures += 1
            delay = self._backoff(failures)
            if ended.code is not None and 4100 <= ended.code <= 4199:
                delay = max(delay, _MIN_CAPACITY_BACKOFF)  # the protocol asks for >= 1 s
            self.log.warning(
                "kick connection lost",
                code=ended.code,
                reason=ended.reason,
                retry_in=round(delay, 3),
                attempt=failures,
            )
            await trio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        policy = Backoff(
            initial=self.backoff_initial, maximum=self.backoff_maximum, jitter=self.backoff_jitter
        )
        return policy.delay(failures, self._rng)

    # ---------------------------------------------------------------- one session

    async def _session(self) -> _Ended:
        """Open one connection and serve it until it ends; says why it ended."""
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
        self._connected_at = None
        ended: list[_Ended] = []  # set by `_connect_and_serve` before it closes the socket
        try:
            await self._connect_and_serve(ended)
        except _TRANSPORT_ERRORS as exc:
            if not ended:
                ended.append(_transport_ended(exc))
        except BaseExceptionGroup as group:  # a transport error wrapped by a nursery
            transport, rest = group.split(_TRANSPORT_ERRORS)
            if rest is not None:
                raise
            if not ended:
                assert transport is not None
                ended.append(_transport_ended(_first_leaf(transport)))
        finally:
            self.connected = False
            self.socket_id = None
            if self._pusher.state is not ConnectionState.CLOSED:
                self._pusher.connection_lost(None, now=trio.current_time())
        return ended[0] if ended else _Ended(action=CloseAction.BACKOFF, reason="connection ended")

    async def _connect_and_serve(self, ended: list[_Ended]) -> None:
        # The TCP/TLS stream is ours (not `open_websocket_url`'s): trio-websocket leaves a
        # client's stream open when the server closed first, so we close it ourselves.
        target = self._target
        assert target is not None  # checked in `run`
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] | None = None
        async with trio.open_nursery() as nursery:
            try:
                # One deadline for TCP connect, TLS and the websocket handshake.
                with trio.fail_after(self.connect_timeout):
                    stream = await trio.open_tcp_stream(target.host, target.port)
                    if target.tls:
                        stream = trio.SSLStream(
                            stream,
                            _ssl_context(),
                            server_hostname=target.host,
                            https_compatible=True,
                        )
                        await stream.do_handshake()
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, stream, target.host_header, target.resource
                    )
                ended.append(await self._serve(ws))
                # A stalled peer never answers the close handshake: do not wait long. (When
                # the actor is stopped instead, the socket is just closed below: the reader
                # task that would see the server's answer is being cancelled too.)
                with trio.move_on_after(min(self.connect_timeout, 2.0)):
                    await ws.aclose()
            finally:
                if stream is not None:
                    await trio.aclose_forcefully(stream)
                nursery.cancel_scope.cancel()

    async def _serve(self, ws: trio_websocket.WebSocketConnection) -> _Ended:
        conn = self._pusher
        conn.connection_made(now=trio.current_time())
        while True:
            deadline = conn.next_deadline()
            if deadline is None:
                deadline = math.inf
            deadline = max(deadline, trio.current_time() + _DRAIN_GRACE)
            with trio.move_on_at(deadline):
                try:
                    message = await ws.get_message()
                except trio_websocket.ConnectionClosed as exc:
                    code = exc.reason.code if exc.reason is not None else None
                    text = (exc.reason.reason if exc.reason is not None else None) or "closed"
                    out = conn.connection_lost(code, now=trio.current_time())
                    for item in out:
                        if isinstance(item, Reconnect):
                            return _Ended(action=item.action, reason=text, code=code)
                    return _Ended(action=pusher.classify_close(code), reason=text, code=code)
                ended = await self._on_message(ws, message)
                if ended is not None:
                    return ended
                continue
            # The deadline passed with nothing received: ping, or give the link up.
            ended = await self._act(ws, conn.tick(now=trio.current_time()))
            if ended is not None:
                return ended

    async def _on_message(
        self, ws: trio_websocket.WebSocketConnection, message: str | bytes
    ) -> _Ended | None:
        self.frames += 1
        self.last_traffic_at = self._now()
        if isinstance(message, bytes):
            message = message.decode("utf-8", errors="replace")
        try:
            outputs = self._pusher.receive_text(message, now=trio.current_time())
        except pusher.PusherParseError as exc:
            self._parse_error(message, exc)
            return None
        return await self._act(ws, outputs)

    async def _act(
        self, ws: trio_websocket.WebSocketConnection, outputs: list[pusher.Output]
    ) -> _Ended | None:
        for out in outputs:
            if isinstance(out, Send):
                if out.text == _PING:
                    self.pings += 1
                await ws.send_message(out.text)
            elif isinstance(out, Deliver):
                await self._deliver(out.frame)
            elif isinstance(out, Connected):
                self.connected = True
                self.error = None
                self.socket_id = out.socket_id
                self.activity_timeout = out.activity_timeout
                self._connected_at = trio.current_time()
                self.log.info(
                    "kick connected", socket_id=out.socket_id, activity_timeout=out.activity_timeout
                )
            elif isinstance(out, Subscribed):
                self.log.info("kick subscribed", channel=out.channel)
            elif isinstance(out, SubscriptionFailed):
                self.subscription_failures += 1
                self.log.warning("kick subscription refused", channel=out.channel)
            elif isinstance(out, ServerError):
                self.server_errors += 1
                self.log.warning("kick server error", code=out.code, message=out.message)
            elif isinstance(out, Reconnect):
                return _Ended(action=out.action, reason=out.reason, code=out.code)
        return None

    # ------------------------------------------------------------------ events in

    async def _deliver(self, frame: PusherFrame) -> None:
        try:
            event = pusher.to_event(frame, now=self._now())
        except ValueError as exc:  # PusherParseError, or a value the event types refuse
            self._parse_error(f"{frame.event} on {frame.channel}", exc)
            return
        if event is None:
            self.ignored += 1
            return
        key = (type(event).__name__, event.message_id) if event.message_id is not None else None
        if key is not None and key in self._recent:
            self.duplicates += 1
            return
        await self._send_event(event)
        # Remembered only once delivered: a send cut short by a reconnect is not "seen".
        if key is not None:
            self._recent.add(key)

    async def _send_event(self, event: PlatformEvent) -> None:
        # `send`, not `cast`: a busy engine slows our reading rather than losing events.
        await self._triggers().send(event)
        self.messages += 1
        self.last_event_at = event.sent_at

    def _parse_error(self, what: str, exc: Exception) -> None:
        self.parse_errors += 1
        self.log.warning("kick frame rejected", error=str(exc), frame=what[:200])

    # ------------------------------------------------------------------ messages

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self._enqueue(message)
            return None
        raise TypeError(f"KickChat takes SendChat, got {type(message).__name__}")

    def _enqueue(self, message: SendChat) -> None:
        if not self.config.enabled:
            self._drop("disabled", message.trigger_id)
        elif self._token is None:
            self._drop("no_token", message.trigger_id)
        elif self.send_error is not None:
            self._drop("unauthorized", message.trigger_id)
        elif not message.text.strip():
            self._drop("invalid", message.trigger_id, error="empty message")
        elif len(self._queue) >= self.send_queue_size:
            self._drop("queue_full", message.trigger_id)
        else:
            self._queue.append(
                _Queued(
                    text=message.text,
                    reply_to=message.reply_to,
                    trigger_id=message.trigger_id,
                    queued_at=trio.current_time(),
                )
            )
            if self._queue_changed is not None:
                self._queue_changed.set()

    def _drop(self, reason: str, trigger_id: str | None, **extra: Any) -> None:
        self.dropped += 1
        self.dropped_reasons[reason] = self.dropped_reasons.get(reason, 0) + 1
        self.log.warning("kick reply dropped", reason=reason, trigger=trigger_id, **extra)

    # ------------------------------------------------------------------ sending

    async def _writer(self) -> None:
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.send_timeout
        ) as client:
            while True:
                while not self._queue:
                    self._queue_changed = trio.Event()
                    await self._queue_changed.wait()
                item = self._queue[0]
                if self.send_error is not None:
                    self._queue.popleft()
                    self._drop("unauthorized", item.trigger_id)
                    continue
                if trio.current_time() - item.queued_at > self.max_queue_age:
                    self._queue.popleft()
                    self._drop("stale", item.trigger_id)
                    continue
                await self._post(client, item)
                self._queue.popleft()

    def _body(self, item: _Queued) -> dict[str, Any]:
        text = item.text
        if len(text) > MAX_MESSAGE_LENGTH:
            text = text[:MAX_MESSAGE_LENGTH]
            self.truncated += 1
            self.log.warning("kick reply truncated to 500 characters", trigger=item.trigger_id)
        body: dict[str, Any] = {"content": text}
        if self.broadcaster_user_id is not None:
            body["type"] = "user"
            body["broadcaster_user_id"] = self.broadcaster_user_id
        else:
            body["type"] = "bot"
        if item.reply_to:
            body["reply_to_message_id"] = item.reply_to
        return body

    async def _post(self, client: httpx.AsyncClient, item: _Queued) -> None:
        """Post one message, retrying 429/5xx/transport errors; never raises for the API."""
        body = self._body(item)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        url = f"{self.send_api}/chat"
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:  # timeouts, refused connections, broken streams
                problem = f"{type(exc).__name__}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    self._sent(response, item)
                    return
                if status in (401, 403):
                    self.send_error = (
                        f"Kick API refused the token (HTTP {status}); sending stopped until "
                        "restarted with a valid token"
                    )
                    self.log.error("kick api refused the token", status=status)
                    self._drop("unauthorized", item.trigger_id, status=status)
                    return
                if status != 429 and status < 500:
                    self.send_failures += 1
                    self._drop("rejected", item.trigger_id, status=status)
                    return
                problem = f"HTTP {status}"
                retry_after = _retry_after(response)
            if attempt > self.send_retries:
                self.send_failures += 1
                self._drop("send_failed", item.trigger_id, error=problem, attempts=attempt)
                return
            self.send_retried += 1
            delay = self._send_delay(attempt, retry_after)
            self.log.warning(
                "kick send retried", error=problem, retry_in=round(delay, 3), attempt=attempt
            )
            await trio.sleep(delay)

    def _send_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.send_retry_maximum)
        base = min(self.send_retry_maximum, self.send_retry_initial * 2 ** min(attempt - 1, 32))
        return base * self._rng.uniform(1 - self.backoff_jitter, 1 + self.backoff_jitter)

    def _sent(self, response: httpx.Response, item: _Queued) -> None:
        try:
            payload = loads_untrusted(response.content)
        except ValueError:
            payload = None
        data = payload.get("data") if isinstance(payload, dict) else None
        data = data if isinstance(data, dict) else {}
        if data.get("is_sent") is False:
            # Accepted over HTTP, not posted (slow mode, followers-only...): nothing to retry.
            self.send_failures += 1
            self._drop("not_sent", item.trigger_id)
            return
        self.sent += 1
        self.last_sent_at = self._now()
        message_id = data.get("message_id")
        if isinstance(message_id, str):
            self.last_sent_message_id = message_id

    # ------------------------------------------------------------------ snapshot

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    @property
    def status(self) -> str:
        """running | inactive | error | disabled (see `snapshot`)."""
        if not self.config.enabled:
            return "disabled"
        if self.error is not None or self.send_error is not None:
            return "error"
        if self.connected and any(
            state is pusher.SubscriptionState.SUBSCRIBED
            for state in self._pusher.subscriptions.values()
        ):
            return "running"
        return "inactive"

    def subscription_states(self) -> dict[str, str]:
        """Each wanted channel and its state on the current connection."""
        states = self._pusher.subscriptions
        return {
            channel: states[channel].value if self.connected else "pending"
            for channel in self.channels
        }

    def snapshot(self) -> dict[str, Any]:
        """Status for the exports. `last_heartbeat` is the wall time of the last frame the
        server sent (pongs included): it stops moving when the link goes silent. Never holds
        the token."""
        return {
            "platform": "kick",
            "creator_id": self.creator_id,
            "channel": self.config.channel,
            "chatroom_id": self.config.chatroom_id,
            "channel_id": self.config.channel_id,
            "status": self.status,
            "enabled": self.config.enabled,
            "connected": self.connected,
            "server": _host(self.url),
            "can_send": self._token is not None and self.send_error is None,
            "subscriptions": self.subscription_states(),
            "messages": self.messages,
            "actions": self.sent,
            "sent": self.sent,
            "queued": len(self._queue),
            "dropped": self.dropped,
            "actions_failed": self.dropped,
            "dropped_reasons": dict(sorted(self.dropped_reasons.items())),
            "truncated": self.truncated,
            "send_retried": self.send_retried,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "errors": self.parse_errors
            + self.server_errors
            + self.subscription_failures
            + self.send_failures,
            "parse_errors": self.parse_errors,
            "server_errors": self.server_errors,
            "subscription_failures": self.subscription_failures,
            "send_failures": self.send_failures,
            "connections": self.connections,
            "reconnects": self.reconnects,
            "pings": self.pings,
            "last_close_code": self.last_close_code,
            "last_event_at": self.last_event_at,
            "last_sent_at": self.last_sent_at,
            "last_heartbeat": self.last_traffic_at,
            "error": self.error or self.send_error,
            "paused_reason": None,
        }


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the HTTP-date form is ignored: backoff applies then)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One default TLS context for every connection (loading the CA store is not free)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


def _transport_ended(exc: BaseException) -> _Ended:
    if isinstance(exc, trio_websocket.ConnectionClosed) and exc.reason is not None:
        code = exc.reason.code
        return _Ended(action=pusher.classify_close(code), reason=str(exc.reason.reason), code=code)
    return _Ended(action=CloseAction.BACKOFF, reason=f"{type(exc).__name__}: {exc}")


def _host(url: str) -> str:
    """The URL's scheme and host:port only (no path or query in snapshots or logs)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
