"""`KickChat`: one creator's Kick chat, read over Pusher and written through Kick's public API.

Reading: Kick's web client reads chat from a Pusher websocket; so do we. Everything about the
protocol is in the sans-IO module `actors.kick.pusher` (`PusherConnection`); this module adds
the I/O policy around it:

- One websocket per actor, to `config.ws_url` when set (a local soketi in tests) or to the
  Pusher URL computed from `app_key`/`cluster`. After `pusher:connection_established` the state
  machine subscribes `chatrooms.<chatroom_id>.v2` and `channel.<channel_id>` (whichever ids
  the config has), and again after every reconnect.
- Liveness is Pusher's own (the server names its `activity_timeout`): the reader sleeps until
  `PusherConnection.next_deadline()`; a silent link gets a `pusher:ping` after the server's
  `activity_timeout` (at most `keepalive_seconds`), and a reconnect when nothing at all answers
  within `keepalive_timeout_seconds`. A handshake that never comes is a reconnect too.
- The reconnect loop, backoff and health are `actors.connection.Lifecycle`'s. Close and
  `pusher:error` codes only decide how a session ends (`pusher.classify_close`): 4000-4099
  (and 4300-4399): refused, needs a person, no reconnect until restarted; 4100-4199 and
  anything unknown: reconnect after the backoff (at least 1 s); 4200-4299: reconnect at once
  (the lifecycle allows that once per `stable_after`).
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

Moderating: a filter's `Moderate` goes to Kick's moderation API with the same token
(`actors.kick.moderation`: ``DELETE /chat/<id>``, ``POST /moderation/bans`` with the timeout in
whole minutes, which needs `broadcaster_user_id`) through a `ModerationQueue` beside reading.

Timing uses `trio.current_time()`/`trio.sleep` only (exact under trio's `MockClock`); the wall
`clock` is only for `sent_at` fallbacks and the snapshot's datetimes.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import httpx
import trio
import trio_websocket

from actors import Actor, ActorRef
from actors.accounts import AccessToken, TokenSource, TokenUnavailable
from actors.chat import Moderate, SendChat
from actors.chat_statistics import SocketChatStatistics
from actors.connection import (
    ConnectionHealth,
    ConnectionState,
    Connector,
    Lifecycle,
    Outbox,
    Outgoing,
    SessionEnded,
    WebSocketTarget,
    display_url,
    open_websocket,
)
from actors.events import PlatformEvent
from actors.kick import moderation as kick_moderation
from actors.kick import pusher
from actors.kick.pusher import (
    CloseAction,
    Connected,
    Deliver,
    PusherConnection,
    PusherFrame,
    Reconnect,
    Send,
    ServerError,
    Subscribed,
    SubscriptionFailed,
)
from actors.moderation import (
    ModerationFailed,
    ModerationQueue,
    ModerationRefused,
)
from actors.recent import RecentKeys
from config.models import KickConfig
from config.secrets import Secret
from config.untrusted_json import loads_untrusted
from supervisors import Backoff

__all__ = ["DEFAULT_SEND_API", "MAX_MESSAGE_LENGTH", "KickChat", "KickChatStatistics"]

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


@attrs.frozen(slots=True, kw_only=True)
class KickChatStatistics(SocketChatStatistics):
    """What a Kick chat shows of itself in the tree (`KickChat.snapshot`): the common rows of
    a chat (`last_heartbeat`: the last frame the server sent, pongs included; `errors`:
    unreadable frames, server errors, refused subscriptions and failed sends), its Pusher
    connection and subscriptions, its reply counters and its moderation queue. Never the
    token."""

    platform: str = "kick"
    #: The channel's slug, and the ids its Pusher channels are named after (None: not
    #: configured, that channel is not subscribed).
    channel: str
    chatroom_id: int | None = None
    channel_id: int | None = None
    #: The websocket's scheme and host:port (no path, no query).
    server: str
    #: A token (or a source of one) is configured and the API has not refused it.
    can_send: bool = False
    #: Each wanted Pusher channel and its state on the current connection ("pending" while
    #: not connected).
    subscriptions: Mapping[str, str] = attrs.field(factory=dict)
    #: Sends tried again after a 429, a 5xx or a transport error.
    send_retried: int = 0
    #: Frames read that carry no event we deliver.
    ignored: int = 0
    #: ``pusher:error`` frames that left the connection up.
    server_errors: int = 0
    #: Subscriptions the server refused (``pusher:subscription_error``).
    subscription_failures: int = 0
    #: Replies Kick refused or did not post (after the retries).
    send_failures: int = 0
    #: `pusher:ping`s we sent to a silent link.
    pings: int = 0
    #: The close (or ``pusher:error``) code that ended the last connection (None: none).
    last_close_code: int | None = None
    #: When the last reply was posted.
    last_sent_at: datetime | None = None


@attrs.frozen(kw_only=True)
class _Ended:
    """Why one connection ended, and what to do about it."""

    action: CloseAction
    reason: str
    code: int | None = None

    def as_session_ended(self) -> SessionEnded:
        if self.action is CloseAction.REFUSED:
            return SessionEnded(
                f"connection refused by the server (code {self.code}): {self.reason}",
                needs_person=True,
            )
        capacity = self.code is not None and 4100 <= self.code <= 4199
        text = self.reason if self.code is None else f"{self.reason} (code {self.code})"
        return SessionEnded(
            text,
            immediate=self.action is CloseAction.RETRY,
            min_delay=_MIN_CAPACITY_BACKOFF if capacity else 0.0,
        )


class KickChat(Actor):
    """Reads and writes one Kick channel's chat for one creator (see the module docs).

    `token` is a Kick OAuth access token with `chat:write` (a `Secret` or its value); without
    it the actor only reads. `broadcaster_user_id` is the Kick *user* id of the channel owner
    (the public API's `broadcaster_user_id`); without it messages are sent as `type: "bot"`,
    which Kick posts in the token owner's channel. `transport` replaces httpx's network
    transport and `connector` the websocket's stream (tests). `pong_timeout` and
    `max_activity_timeout` override the config's keepalive timings.
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
        connector: Connector | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        connect_timeout: float = 10.0,
        handshake_timeout: float = pusher.DEFAULT_HANDSHAKE_TIMEOUT,
        pong_timeout: float | None = None,
        max_activity_timeout: float | None = None,
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
        token_source: TokenSource | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self._triggers = triggers
        self.send_api = send_api.rstrip("/")
        self._token = token.reveal() if isinstance(token, Secret) else token
        # An account's token source (actors/accounts) is asked before every send.
        self._token_source = token_source
        self._presented: AccessToken | None = None
        self.broadcaster_user_id = broadcaster_user_id
        self._transport = transport
        self._connector = connector
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.connect_timeout = connect_timeout
        self.backoff_jitter = backoff_jitter
        self.send_timeout = send_timeout
        self.send_retries = send_retries
        self.send_retry_initial = send_retry_initial
        self.send_retry_maximum = send_retry_maximum

        self.url = config.ws_url or pusher.connection_url(config.app_key, config.cluster)
        try:
            self._target: WebSocketTarget | None = WebSocketTarget.parse(self.url)
        except ValueError:
            self._target = None
        self.lifecycle = Lifecycle(
            "kick",
            enabled=config.enabled,
            creator_id=creator_id,
            target=self._target.address if self._target is not None else None,
            backoff=Backoff(
                initial=backoff_initial, maximum=backoff_maximum, jitter=backoff_jitter
            ),
            max_person_failures=1,  # a refused app key or channel does not heal by retrying
            stable_after=stable_after,
            clock=self._now,
            rng=self._rng,
        )
        self.outbox = Outbox(platform="kick", capacity=send_queue_size, max_age=max_queue_age)
        # Filter moderation (delete, timeout) through the public API, beside reading.
        self.moderation = ModerationQueue(platform="kick")
        channels: list[str] = []
        if config.chatroom_id is not None:
            channels.append(pusher.chatroom_channel(config.chatroom_id))
        if config.channel_id is not None:
            channels.append(pusher.channel_channel(config.channel_id))
        self.channels: tuple[str, ...] = tuple(channels)
        # One state machine for the actor's life: the wanted channels survive reconnects.
        self._pusher = PusherConnection(
            pong_timeout=pong_timeout or config.keepalive_timeout_seconds,
            handshake_timeout=handshake_timeout,
            max_activity_timeout=max_activity_timeout or config.keepalive_seconds,
        )
        for channel in self.channels:
            self._pusher.subscribe(channel, now=0.0)

        self._recent = RecentKeys(dedupe_size)

        self.send_error: str | None = None  # the API refused the token: sending stopped
        self.connected = False
        self.socket_id: str | None = None
        self.activity_timeout: float | None = None
        self.connections = 0
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
        self.last_close_code: int | None = None
        self.last_event_at: datetime | None = None
        self.last_sent_message_id: str | None = None
        self.last_sent_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self.outbox.log = self.log  # drops are logged with the actor's path
        self.moderation.log = self.log

    async def run(self) -> None:
        if self.config.enabled and self._can_moderate:  # a static token or an account's
            self.nursery.start_soon(self._writer)
        if self.config.enabled and self._can_moderate:
            self.nursery.start_soon(self._moderation_loop)
        if self.config.enabled and self._target is None:
            await self.lifecycle.give_up(f"not a usable websocket URL: {display_url(self.url)}")
        if self.config.enabled and not self.channels:
            # Looking the ids up by slug needs kick.com's Cloudflare-protected API: the
            # configuration must carry them.
            await self.lifecycle.give_up(
                "no chatroom_id or channel_id configured: nothing to subscribe"
            )
        await self.lifecycle.run(self._session, log=self.log)

    # ---------------------------------------------------------------- one session

    async def _session(self) -> None:
        """Open one connection and serve it until it ends; raises why it ended."""
        target = self._target
        assert target is not None  # checked in `run`
        self.connections += 1
        try:
            async with open_websocket(
                target,
                connector=self._connector,
                connect_timeout=self.connect_timeout,
                # A stalled peer never answers the close handshake: do not wait long.
                close_timeout=min(self.connect_timeout, 2.0),
            ) as ws:
                ended = await self._serve(ws)
        except trio_websocket.ConnectionClosed as exc:  # closed while we were sending
            code = exc.reason.code if exc.reason is not None else None
            text = (exc.reason.reason if exc.reason is not None else None) or "closed"
            ended = _Ended(action=pusher.classify_close(code), reason=text, code=code)
        finally:
            self.connected = False
            self.socket_id = None
            if self._pusher.state is not pusher.ConnectionState.CLOSED:
                self._pusher.connection_lost(None, now=trio.current_time())
        self.last_close_code = ended.code
        raise ended.as_session_ended()

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
        self.lifecycle.saw_traffic()
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
                self.socket_id = out.socket_id
                self.activity_timeout = out.activity_timeout
                self.log.info(
                    "kick connected", socket_id=out.socket_id, activity_timeout=out.activity_timeout
                )
            elif isinstance(out, Subscribed):
                self.log.info("kick subscribed", channel=out.channel)
                self.lifecycle.mark_connected(f"subscribed to {out.channel}")
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
        if isinstance(message, Moderate):
            if not self._can_moderate:
                self.moderation.unsupported(
                    message,
                    "Kick moderation needs a token: set [creators.kick] account (or token) for "
                    "the broadcaster or a moderator, with the scopes "
                    "moderation:chat_message:manage and moderation:ban",
                )
            elif message.action == "timeout" and self.broadcaster_user_id is None:
                self.moderation.unsupported(
                    message, "a Kick timeout needs [creators.kick] broadcaster_user_id"
                )
            else:
                self.moderation.offer(message)
            return None
        raise TypeError(f"KickChat takes SendChat, got {type(message).__name__}")

    def _enqueue(self, message: SendChat) -> None:
        if not self.config.enabled:
            self.outbox.drop("disabled", message.trigger_id)
        elif self._token is None and self._token_source is None:
            self.outbox.drop("no_token", message.trigger_id)
        elif self.send_error is not None:
            self.outbox.drop("unauthorized", message.trigger_id)
        elif not message.text.strip():
            self.outbox.drop("invalid", message.trigger_id, error="empty message")
        else:
            self.outbox.offer(message)

    # ------------------------------------------------------------------ sending

    async def _writer(self) -> None:
        outbox = self.outbox
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.send_timeout
        ) as client:
            while True:
                item = await outbox.peek()
                if self.send_error is not None:
                    outbox.done()
                    outbox.drop("unauthorized", item.trigger_id)
                    continue
                await self._post(client, item)
                outbox.done()

    def _body(self, item: Outgoing) -> dict[str, Any]:
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

    async def _post(self, client: httpx.AsyncClient, item: Outgoing) -> None:
        """Post one message, retrying 429/5xx/transport errors; never raises for the API."""
        body = self._body(item)
        bearer = await self._bearer(item)
        if bearer is None:
            return
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
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
                if status == 401 and self._token_source is not None and self._presented:
                    await self._token_source.unauthorized(self._presented)
                    self.outbox.drop("unauthorized", item.trigger_id, status=status)
                    return
                if status in (401, 403):
                    self.send_error = (
                        f"Kick API refused the token (HTTP {status}); sending stopped until "
                        "restarted with a valid token"
                    )
                    self.log.error("kick api refused the token", status=status)
                    self.outbox.drop("unauthorized", item.trigger_id, status=status)
                    return
                if status != 429 and status < 500:
                    self.send_failures += 1
                    self.outbox.drop("rejected", item.trigger_id, status=status)
                    return
                problem = f"HTTP {status}"
                retry_after = _retry_after(response)
            if attempt > self.send_retries:
                self.send_failures += 1
                self.outbox.drop("send_failed", item.trigger_id, error=problem, attempts=attempt)
                return
            self.send_retried += 1
            delay = self._send_delay(attempt, retry_after)
            self.log.warning(
                "kick send retried", error=problem, retry_in=round(delay, 3), attempt=attempt
            )
            await trio.sleep(delay)

    async def _bearer(self, item: Outgoing) -> str | None:
        """The token to send with: the account's current one, else the configured one."""
        if self._token_source is None:
            return self._token
        try:
            self._presented = await self._token_source.token()
        except TokenUnavailable as exc:
            self.outbox.drop("no_token", item.trigger_id, error=str(exc))
            return None
        return self._presented.value

    def _send_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.send_retry_maximum)
        base = min(self.send_retry_maximum, self.send_retry_initial * 2 ** min(attempt - 1, 32))
        return base * self._rng.uniform(1 - self.backoff_jitter, 1 + self.backoff_jitter)

    def _sent(self, response: httpx.Response, item: Outgoing) -> None:
        try:
            payload = loads_untrusted(response.content)
        except ValueError:
            payload = None
        data = payload.get("data") if isinstance(payload, dict) else None
        data = data if isinstance(data, dict) else {}
        if data.get("is_sent") is False:
            # Accepted over HTTP, not posted (slow mode, followers-only...): nothing to retry.
            self.send_failures += 1
            self.outbox.drop("not_sent", item.trigger_id)
            return
        self.sent += 1
        self.last_sent_at = self._now()
        message_id = data.get("message_id")
        if isinstance(message_id, str):
            self.last_sent_message_id = message_id

    # ------------------------------------------------------------------ moderation

    @property
    def _can_moderate(self) -> bool:
        """A token to act with: the configured one, or the account's (sending and moderating)."""
        return self._token is not None or self._token_source is not None

    async def _moderation_loop(self) -> None:
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.send_timeout
        ) as client:
            await self.moderation.serve(functools.partial(self._moderate, client))

    async def _moderate(self, client: httpx.AsyncClient, moderate: Moderate) -> None:
        """One filter request through the public API (`actors.kick.moderation`): a 401 is
        reported to the token source and tried once more with its token, a 429 waits for
        ``Retry-After`` (at most `send_retry_maximum`) once, a 403 is a refusal naming the
        scope; the `ModerationQueue` counts and logs what this raises."""
        if moderate.action == "delete":
            if not moderate.message_id:
                raise ModerationFailed("the filtered message has no id to delete")
            req = kick_moderation.delete_message_request(moderate.message_id)
        elif moderate.action == "timeout":
            if moderate.seconds is None or self.broadcaster_user_id is None:
                raise ModerationFailed("a timeout needs its length and broadcaster_user_id")
            req = kick_moderation.ban_request(
                self.broadcaster_user_id,
                moderate.user_id,
                seconds=moderate.seconds,
                reason=moderate.reason,
            )
        else:
            raise ModerationFailed(f"unknown moderation action {moderate.action!r}")
        retried_401 = retried_429 = False
        while True:
            token = await self._moderation_token()
            response = await client.request(
                req.method,
                self.send_api + req.path,
                json=req.json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            status = response.status_code
            if 200 <= status < 300:
                return
            if status == 401 and not retried_401 and self._token_source is not None:
                retried_401 = True
                if self._presented is not None:
                    await self._token_source.unauthorized(self._presented)
                continue
            if status == 429 and not retried_429:
                retried_429 = True
                await trio.sleep(min(_retry_after(response) or 1.0, self.send_retry_maximum))
                continue
            scope = kick_moderation.SCOPE_FOR_ACTION[moderate.action]
            if status == 403:
                raise ModerationRefused(
                    f"Kick refused to {moderate.action} (HTTP 403): the account needs the scope "
                    f"{scope} and must be the broadcaster or a moderator of the channel"
                )
            raise ModerationFailed(f"Kick did not {moderate.action} (HTTP {status})")

    async def _moderation_token(self) -> str:
        if self._token_source is None:
            assert self._token is not None
            return self._token
        self._presented = await self._token_source.token()
        return self._presented.value

    # ------------------------------------------------------------------ snapshot

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def health(self) -> ConnectionHealth:
        """The reading connection's health with this actor's counters; a token the send API
        refused needs a person too, so it reads as `failed` with that reason."""
        health = self.lifecycle.health(
            messages=self.messages,
            actions=self.sent,
            errors=self.parse_errors
            + self.server_errors
            + self.subscription_failures
            + self.send_failures,
            dropped=self.outbox.dropped,
            last_event_at=self.last_event_at,
        )
        if self.send_error is not None and health.state is ConnectionState.CONNECTED:
            health = attrs.evolve(health, state=ConnectionState.FAILED, last_error=self.send_error)
        return health

    @property
    def dropped(self) -> int:
        """Replies dropped (all reasons)."""
        return self.outbox.dropped

    @property
    def reconnects(self) -> int:
        """Connections opened after the first."""
        return max(self.connections - 1, 0)

    @property
    def status(self) -> str:
        """running | inactive | error | disabled (the dashboard's words)."""
        return self.health().status

    def subscription_states(self) -> dict[str, str]:
        """Each wanted channel and its state on the current connection."""
        states = self._pusher.subscriptions
        return {
            channel: states[channel].value if self.connected else "pending"
            for channel in self.channels
        }

    def snapshot(self) -> KickChatStatistics:
        """Status for the exports. `last_heartbeat` is the wall time of the last frame the
        server sent (pongs included): it stops moving when the link goes silent. Never holds
        the token."""
        health = self.health()
        outbox = self.outbox.statistics()
        return KickChatStatistics(
            creator_id=self.creator_id,
            channel=self.config.channel,
            chatroom_id=self.config.chatroom_id,
            channel_id=self.config.channel_id,
            status=health.status,
            state=health.state.value,
            enabled=self.config.enabled,
            connected=self.connected,
            server=display_url(self.url),
            can_send=(self._token is not None or self._token_source is not None)
            and self.send_error is None,
            subscriptions=self.subscription_states(),
            messages=self.messages,
            actions=self.sent,
            sent=self.sent,
            queued=outbox.queued,
            dropped=outbox.dropped,
            dropped_reasons=outbox.reasons(),
            moderation=self.moderation.statistics(),
            truncated=self.truncated,
            send_retried=self.send_retried,
            duplicates=self.duplicates,
            ignored=self.ignored,
            errors=health.errors,
            parse_errors=self.parse_errors,
            server_errors=self.server_errors,
            subscription_failures=self.subscription_failures,
            send_failures=self.send_failures,
            connections=self.connections,
            reconnects=self.reconnects,
            pings=self.pings,
            last_close_code=self.last_close_code,
            last_event_at=self.last_event_at,
            last_sent_at=self.last_sent_at,
            last_heartbeat=health.last_traffic_at,
            error=health.error,
            paused_reason=None,
        )


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
