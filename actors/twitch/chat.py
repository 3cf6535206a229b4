"""`TwitchChat`: one creator's Twitch chat over IRC-on-WebSocket.

The actor owns the connection; everything about the protocol itself is in the sans-IO module
`actors.twitch.irc`. What this module adds is the I/O policy:

- Login: `CAP REQ`, then `PASS oauth:<token>` + `NICK`, or an anonymous `justinfanNNNNN` nick
  (read-only) when the config has no token. `JOIN #channel` once the welcome (376) arrived.
  Auth attempts and JOINs go through sliding-window limiters (20 per 10 s each, Twitch's
  documented ceiling), so even a server that keeps sending RECONNECT cannot make us spin.
- Liveness: every received frame proves the link. After `ping_interval` seconds of silence we
  send a PING; if nothing at all arrives within `pong_timeout` the connection is declared
  dead, closed and replaced. This is what turns a "silent stall" into a visible reconnect.
- Reconnects: `RECONNECT` from the server reconnects at once; any other loss waits an
  exponential backoff with jitter that resets after a connection stayed up `stable_after`.
  Refused logins (`Login authentication failed`, `Improperly formatted auth`) put the actor in
  status "error" and retry slowly (30 s doubling to 5 min), `max_auth_failures` times in
  all; then it stays in "error" until it is restarted (a bad token does not heal itself).
- Incoming PRIVMSG/USERNOTICE/CLEARCHAT/CLEARMSG become normalized events sent to the
  creator's trigger engine with `send` (backpressure: a slow engine slows our reading, it
  never makes us buffer without bound). Message ids are remembered in a bounded set so a
  line seen again after a reconnect is not processed twice. Unparseable lines are counted and
  logged, never fatal.
- Outgoing `SendChat`: queued (bounded; a full queue drops with a counted reason), sent only
  while joined, through a sliding-window rate limiter of 20 messages per 30 s, or 100 per 30 s
  while our USERSTATE in the channel says moderator or broadcaster. The window outlives
  connections because Twitch counts per account, not per connection.
- Duplicates: Twitch silently drops a message identical to the previous one sent less than
  30 s before. We *vary* such a message instead of dropping it (the trigger engine already
  decided it should be said, e.g. the same answer to two different viewers): an invisible
  suffix (a space and U+E0000, the convention Chatterino and other clients use) is appended,
  and the next repetition goes out plain again, so consecutive lines always differ.
- Anonymous connections cannot send: such replies are dropped with reason "anonymous".

Timing uses `trio.current_time()`/`trio.sleep` only (exact under trio's `MockClock`); the wall
`clock` is only for `sent_at` fallbacks and the snapshot's datetimes.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import trio
import trio_websocket

from actors import Actor, ActorRef
from actors.chat import Moderate, SendChat
from actors.events import PlatformEvent
from actors.recent import RecentKeys
from actors.twitch import irc
from config.models import TwitchConfig
from supervisors import Backoff

__all__ = [
    "AUTH_FAILURE_NOTICES",
    "DEFAULT_URL",
    "DUPLICATE_SUFFIX",
    "SlidingWindow",
    "TwitchChat",
]

DEFAULT_URL: Final = "wss://irc-ws.chat.twitch.tv:443"

AUTH_FAILURE_NOTICES: Final = ("Login authentication failed", "Improperly formatted auth")
"""NOTICE texts with which Twitch refuses a login (then it closes the connection)."""

DUPLICATE_SUFFIX: Final = " \U000e0000"
"""Appended to a message identical to the previous one sent within `DUPLICATE_WINDOW`."""

DUPLICATE_WINDOW: Final = 30.0
SEND_PERIOD: Final = 30.0
SEND_LIMIT: Final = 20
SEND_LIMIT_PRIVILEGED: Final = 100
JOIN_LIMIT: Final = 20
AUTH_LIMIT: Final = 20
JOIN_AUTH_PERIOD: Final = 10.0

# Commands that carry chat content for the trigger engine.
_EVENT_COMMANDS: Final = frozenset({"PRIVMSG", "USERNOTICE", "CLEARCHAT", "CLEARMSG"})

# Errors that mean "this connection is gone" (as opposed to bugs, which crash the actor).
_TRANSPORT_ERRORS: Final = (
    OSError,
    trio_websocket.HandshakeError,
    trio_websocket.ConnectionClosed,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
)


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds (trio time).

    `acquire(limit=...)` may pass a different limit per call (Twitch's 20-vs-100 choice is
    made per message); the remembered times are the same.
    """

    def __init__(self, limit: int, period: float, *, capacity: int | None = None) -> None:
        if limit < 1 or not period > 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque(maxlen=max(limit, capacity or 0))

    def delay(self, now: float, limit: int | None = None) -> float:
        """Seconds to wait from `now` before one more acquisition fits (0 when it does)."""
        limit = limit or self.limit
        times = self._times
        while times and times[0] <= now - self.period:
            times.popleft()
        if len(times) < limit:
            return 0.0
        # The acquisition `limit` places back must leave the window first.
        return times[len(times) - limit] + self.period - now

    async def acquire(self, limit: int | None = None) -> None:
        """Wait until one more acquisition fits, then record it."""
        while True:
            wait = self.delay(trio.current_time(), limit)
            if wait <= 0:
                break
            await trio.sleep(wait)
        self._times.append(trio.current_time())

    def __len__(self) -> int:
        return len(self._times)


@attrs.frozen(kw_only=True)
class _Queued:
    """One outgoing message waiting for the rate limiter."""

    text: str
    reply_to: str | None
    trigger_id: str | None
    queued_at: float


class _SessionEnded(Exception):
    """Internal: why one connection ended (caught by the reconnect loop)."""

    def __init__(self, reason: str, *, immediate: bool = False, auth: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate
        self.auth = auth


class _Session:
    """Per-connection state: the socket, login progress, traffic counter."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, nick: str) -> None:
        self.ws = ws
        self.nick = nick
        self.welcomed = False
        self.joined = trio.Event()
        self.received = 0  # frames received: any traffic proves the link is alive
        self.last_received = trio.current_time()
        self.welcomed_at: float | None = None
        self._send_lock = trio.Lock()

    async def send(self, line: str) -> None:
        # One IRC line per WebSocket text frame (Twitch's framing); the lock keeps the
        # reader's PONGs and the writer's PRIVMSGs from interleaving mid-frame.
        async with self._send_lock:
            await self.ws.send_message(line)


class TwitchChat(Actor):
    """Reads and writes one Twitch channel's chat for one creator (see the module docs)."""

    #: Filter moderation requests this platform could not carry out yet (counted, logged).
    moderation_unsupported = 0

    mailbox_size = 1000

    def __init__(
        self,
        *,
        creator_id: str,
        config: TwitchConfig,
        triggers: Callable[[], ActorRef],
        url: str = DEFAULT_URL,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        ping_interval: float = 60.0,
        pong_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_maximum: float = 60.0,
        backoff_jitter: float = 0.2,
        stable_after: float = 60.0,
        auth_retry_initial: float = 30.0,
        auth_retry_maximum: float = 300.0,
        max_auth_failures: int = 5,
        send_queue_size: int = 100,
        max_queue_age: float = 60.0,
        dedupe_size: int = 4096,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self.channel = config.channel.lower()
        self._triggers = triggers
        # A configured `server` (tests, self-hosted relays) wins over the default URL.
        self.url = config.server or url
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_maximum = backoff_maximum
        self.backoff_jitter = backoff_jitter
        self.stable_after = stable_after
        self.auth_retry_initial = auth_retry_initial
        self.auth_retry_maximum = auth_retry_maximum
        self.max_auth_failures = max_auth_failures
        self.send_queue_size = send_queue_size
        self.max_queue_age = max_queue_age

        token = config.token.reveal() if config.token is not None else None
        self._token = token
        self.anonymous = token is None
        if token is None:
            self.nick = f"justinfan{self._rng.randint(10000, 99999)}"
        else:
            # With a token Twitch logs in as the token's user; the broadcaster's own token is
            # the common case, so the channel is the fallback nick.
            self.nick = (config.nick or config.channel).lower()

        self._recent = RecentKeys(dedupe_size)
        self._queue: deque[_Queued] = deque()
        self._queue_changed: trio.Event | None = None
        self._send_window = SlidingWindow(SEND_LIMIT, SEND_PERIOD, capacity=SEND_LIMIT_PRIVILEGED)
        self._join_window = SlidingWindow(JOIN_LIMIT, JOIN_AUTH_PERIOD)
        self._auth_window = SlidingWindow(AUTH_LIMIT, JOIN_AUTH_PERIOD)
        self._last_sent_text: str | None = None
        self._last_sent_at = -math.inf
        self._session: _Session | None = None
        self._last_auth_error = ""
        self._welcomed_at: float | None = None  # trio time the current connection logged in
        self._last_immediate = -math.inf  # trio time of the last RECONNECT-driven reconnect

        self.status = "disabled" if not config.enabled else "inactive"
        self.error: str | None = None
        self.connected = False
        self.privileged = False
        self.connections = 0
        self.reconnects = 0
        self.messages = 0
        self.duplicates = 0
        self.sent = 0
        self.varied = 0
        self.truncated = 0
        self.dropped = 0
        self.dropped_reasons: dict[str, int] = {}
        self.parse_errors = 0
        self.server_rejections = 0
        self.auth_failures = 0
        self.last_event_at: datetime | None = None
        self.last_traffic_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self._queue_changed = trio.Event()

    async def run(self) -> None:
        if not self.config.enabled:
            self.log.info("twitch chat disabled", channel=self.channel)
            await trio.sleep_forever()
        if self._token is not None:
            try:
                irc.pass_(self._token)
            except ValueError:
                # A token that cannot even be written as a PASS line will never log in:
                # an error state, not a crash loop the supervisor would escalate.
                self.status = "error"
                self.error = "the configured token is not usable (empty, or holds spaces)"
                self.log.error("twitch token unusable")
                await trio.sleep_forever()
        failures = 0
        while True:
            if self.auth_failures >= self.max_auth_failures:
                self.error = (
                    f"login refused {self.auth_failures} times; giving up until restarted "
                    f"(last: {self._last_auth_error})"
                )
                self.log.error("twitch login refused for good", attempts=self.auth_failures)
                await trio.sleep_forever()
            self._welcomed_at = None
            immediate = auth_refused = False
            try:
                await self._connect_once()
                reason = "closed by server"
            except _SessionEnded as ended:
                reason, immediate, auth_refused = ended.reason, ended.immediate, ended.auth
            except _TRANSPORT_ERRORS as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except BaseExceptionGroup as group:  # a transport error wrapped by a nursery
                transport, rest = group.split(_TRANSPORT_ERRORS)
                if rest is not None:
                    raise
                assert transport is not None
                leaf = _first_leaf(transport)
                reason = f"{type(leaf).__name__}: {leaf}"
            finally:
                self.connected = False
                self._session = None
                if self.status == "running":
                    self.status = "inactive"  # until the next connection has joined
            if auth_refused:
                self._record_auth_failure(reason)
                if self.auth_failures < self.max_auth_failures:
                    await trio.sleep(self._auth_delay())
                continue
            now = trio.current_time()
            if self._welcomed_at is not None and now - self._welcomed_at >= self.stable_after:
                failures = 0  # a stable connection: start the backoff over
            if immediate and now - self._last_immediate < self.stable_after:
                # RECONNECT again soon after the last one: back off like any failure, so a
                # server that keeps saying RECONNECT cannot keep us reconnecting flat out.
                immediate = False
            if immediate:
                self._last_immediate = now
                self.log.info("twitch reconnecting now", reason=reason)
                continue
            failures += 1
            delay = self._backoff(failures)
            self.log.warning(
                "twitch connection lost", reason=reason, retry_in=round(delay, 3), attempt=failures
            )
            await trio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        policy = Backoff(
            initial=self.backoff_initial, maximum=self.backoff_maximum, jitter=self.backoff_jitter
        )
        return policy.delay(failures, self._rng)

    def _auth_delay(self) -> float:
        n = self.auth_failures
        base = min(self.auth_retry_maximum, self.auth_retry_initial * 2 ** min(n - 1, 32))
        return base * self._rng.uniform(1 - self.backoff_jitter, 1 + self.backoff_jitter)

    def _record_auth_failure(self, reason: str) -> None:
        self.auth_failures += 1
        self._last_auth_error = reason
        self.status = "error"
        remaining = self.max_auth_failures - self.auth_failures
        self.error = f"{reason} (attempt {self.auth_failures} of {self.max_auth_failures})"
        self.log.error(
            "twitch login refused", reason=reason, attempt=self.auth_failures, remaining=remaining
        )

    # ---------------------------------------------------------------- one session

    async def _connect_once(self) -> None:
        """Open one connection, log in, join, and serve it until it ends (always raises or
        returns when the server closed it)."""
        await self._auth_window.acquire()
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
        ended: _SessionEnded | None = None
        try:
            async with trio_websocket.open_websocket_url(
                self.url,
                connect_timeout=self.connect_timeout,
                # A stalled peer never answers the close handshake: do not wait long for it.
                disconnect_timeout=min(self.connect_timeout, 2.0),
            ) as ws:
                session = self._session = _Session(ws, self.nick)
                try:
                    await session.send(irc.cap_req())
                    if self._token is not None:
                        await session.send(irc.pass_(self._token))  # never logged
                    await session.send(irc.nick(self.nick))
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._reader, session, nursery)
                        nursery.start_soon(self._watchdog, session)
                        nursery.start_soon(self._writer, session)
                except BaseException as exc:
                    # Keep our own reason (auth refused, RECONNECT, dead link) even when
                    # closing the socket fails afterwards and replaces the exception.
                    ended = _find_ended(exc)
                    if ended is None:
                        raise
        except _TRANSPORT_ERRORS:
            if ended is None:
                raise
        except BaseExceptionGroup as group:
            if ended is None or group.split(_TRANSPORT_ERRORS)[1] is not None:
                raise
        if ended is not None:
            raise ended

    async def _reader(self, session: _Session, nursery: trio.Nursery) -> None:
        while True:
            frame = await session.ws.get_message()
            session.received += 1
            session.last_received = trio.current_time()
            self.last_traffic_at = self._now()
            if isinstance(frame, bytes):
                frame = frame.decode("utf-8", errors="replace")
            for line in irc.split_frame(frame):
                await self._on_line(session, nursery, line)

    async def _watchdog(self, session: _Session) -> None:
        while True:
            idle_until = session.last_received + self.ping_interval
            if trio.current_time() < idle_until:
                await trio.sleep_until(idle_until)
                continue  # traffic may have moved the deadline meanwhile
            seen = session.received
            await session.send(irc.ping())
            await trio.sleep(self.pong_timeout)
            if session.received == seen:
                raise _SessionEnded(
                    f"no traffic for {self.ping_interval + self.pong_timeout:g} s (PING unanswered)"
                )

    async def _writer(self, session: _Session) -> None:
        await session.joined.wait()
        while True:
            while not self._queue:
                self._queue_changed = trio.Event()
                await self._queue_changed.wait()
            item = self._queue[0]
            if trio.current_time() - item.queued_at > self.max_queue_age:
                self._queue.popleft()
                self._drop("stale", item.trigger_id)
                continue
            try:
                irc.privmsg(self.channel, item.text, reply_to=item.reply_to)
            except ValueError as exc:  # empty text, CR/LF, a bad reply id: never sendable
                self._queue.popleft()
                self._drop("invalid", item.trigger_id, error=str(exc))
                continue
            limit = SEND_LIMIT_PRIVILEGED if self.privileged else SEND_LIMIT
            await self._send_window.acquire(limit)
            # Built after the wait: whether it repeats the previous line depends on send time.
            out = self._build(item)
            await session.send(out.line)
            self._queue.popleft()
            self.sent += 1
            self._last_sent_text = out.text
            self._last_sent_at = trio.current_time()
            if out.truncated:
                self.truncated += 1
                self.log.warning("reply truncated to 500 characters", trigger=item.trigger_id)

    def _build(self, item: _Queued) -> irc.OutgoingPrivmsg:
        out = irc.privmsg(self.channel, item.text, reply_to=item.reply_to)
        recent = trio.current_time() - self._last_sent_at < DUPLICATE_WINDOW
        if recent and out.text == self._last_sent_text:
            base = out.text[: irc.MAX_MESSAGE_LENGTH - len(DUPLICATE_SUFFIX)]
            out = irc.privmsg(self.channel, base + DUPLICATE_SUFFIX, reply_to=item.reply_to)
            self.varied += 1
        return out

    # ------------------------------------------------------------------- lines in

    async def _on_line(self, session: _Session, nursery: trio.Nursery, line: str) -> None:
        try:
            msg = irc.parse_irc_line(line)
        except irc.IrcParseError as exc:
            self._parse_error(line, exc)
            return
        command = msg.command.upper()
        if command == "PING":
            await session.send(irc.pong_for(msg))  # at once: Twitch drops silent clients
        elif command in _EVENT_COMMANDS:
            await self._deliver(msg, line)
        elif command == "376":
            self._on_welcome(session, nursery)
        elif command == "NOTICE":
            self._on_notice(session, msg)
        elif command == "JOIN":
            self._on_join(session, msg)
        elif command == "USERSTATE":
            self._on_userstate(msg)
        elif command == "RECONNECT":
            raise _SessionEnded("server asked to reconnect (RECONNECT)", immediate=True)

    def _on_welcome(self, session: _Session, nursery: trio.Nursery) -> None:
        if session.welcomed:
            return
        session.welcomed = True
        session.welcomed_at = self._welcomed_at = trio.current_time()
        self.connected = True
        self.auth_failures = 0
        self.error = None
        self.status = "inactive"  # logged in; "running" once the channel is joined
        self.log.info("twitch logged in", nick=self.nick, anonymous=self.anonymous)
        nursery.start_soon(self._join, session)

    async def _join(self, session: _Session) -> None:
        await self._join_window.acquire()
        await session.send(irc.join(self.channel))

    def _on_join(self, session: _Session, msg: irc.IrcMessage) -> None:
        fields = irc.twitch_fields(msg)
        if fields.get("login") == session.nick and fields.get("channel") == self.channel:
            session.joined.set()
            self.status = "running"
            self.log.info("twitch channel joined", channel=self.channel)

    def _on_userstate(self, msg: irc.IrcMessage) -> None:
        fields = irc.twitch_fields(msg)
        if fields.get("channel") != self.channel:
            return
        badges = fields.get("badges") or {}
        privileged = "broadcaster" in badges or "moderator" in badges or msg.tags.get("mod") == "1"
        if privileged != self.privileged:
            self.log.info("twitch send limit changed", privileged=privileged)
        self.privileged = privileged

    def _on_notice(self, session: _Session, msg: irc.IrcMessage) -> None:
        text = msg.params[-1] if msg.params else ""
        if not session.welcomed and any(text.startswith(t) for t in AUTH_FAILURE_NOTICES):
            raise _SessionEnded(text, auth=True)
        msg_id = msg.tags.get("msg-id")
        if msg_id and msg_id.startswith("msg_"):
            # The server refused something we sent (rate limit, slow mode, banned...).
            self.server_rejections += 1
            self.log.warning("twitch refused a message", msg_id=msg_id, notice=text)
        else:
            self.log.info("twitch notice", msg_id=msg_id, notice=text)

    async def _deliver(self, msg: irc.IrcMessage, line: str) -> None:
        try:
            event = irc.to_chat_event(msg, now=self._now())
        except ValueError as exc:  # TwitchMessageError: valid IRC, not a valid Twitch message
            self._parse_error(line, exc)
            return
        if event is None:
            return
        if event.message_id is not None and event.message_id in self._recent:
            self.duplicates += 1
            return
        await self._send_event(event)
        # Remembered only once delivered: a send cut short by a reconnect is not "seen".
        if event.message_id is not None:
            self._recent.add(event.message_id)

    async def _send_event(self, event: PlatformEvent) -> None:
        # `send`, not `cast`: a busy engine slows our reading rather than losing messages.
        await self._triggers().send(event)
        self.messages += 1
        self.last_event_at = event.sent_at

    def _parse_error(self, line: str, exc: Exception) -> None:
        self.parse_errors += 1
        self.log.warning("twitch line rejected", error=str(exc), line=line[:200])

    # ------------------------------------------------------------------ messages

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self._enqueue(message)
            return None
        if isinstance(message, Moderate):
            # Deleting and timing out through the platform's moderation API needs the
            # accounts work (issue #14): until then the request is counted and logged.
            self.moderation_unsupported += 1
            self.log.warning(
                "moderation not supported on this platform yet",
                action=message.action,
                filter=message.filter_id,
            )
            return None
        raise TypeError(f"TwitchChat takes SendChat, got {type(message).__name__}")

    def _enqueue(self, message: SendChat) -> None:
        if not self.config.enabled:
            self._drop("disabled", message.trigger_id)
        elif self.anonymous:
            self._drop("anonymous", message.trigger_id)
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
        self.log.warning("twitch reply dropped", reason=reason, trigger=trigger_id, **extra)

    # ------------------------------------------------------------------ snapshot

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def snapshot(self) -> dict[str, Any]:
        """Status for the exports. `last_heartbeat` is the wall time of the last frame the
        server sent (PINGs included): it stops moving when the link goes silent."""
        return {
            "platform": "twitch",
            "creator_id": self.creator_id,
            "channel": self.channel,
            "status": self.status,
            "enabled": self.config.enabled,
            "anonymous": self.anonymous,
            "connected": self.connected,
            "privileged": self.privileged,
            "messages": self.messages,
            "actions": self.sent,
            "sent": self.sent,
            "queued": len(self._queue),
            "dropped": self.dropped,
            "dropped_reasons": dict(sorted(self.dropped_reasons.items())),
            "varied": self.varied,
            "truncated": self.truncated,
            "duplicates": self.duplicates,
            "errors": self.parse_errors + self.server_rejections,
            "parse_errors": self.parse_errors,
            "server_rejections": self.server_rejections,
            "connections": self.connections,
            "reconnects": self.reconnects,
            "auth_failures": self.auth_failures,
            "last_event_at": self.last_event_at,
            "last_heartbeat": self.last_traffic_at,
            "error": self.error,
            "paused_reason": None,
        }


def _find_ended(exc: BaseException) -> _SessionEnded | None:
    """Our `_SessionEnded`, bare or alone in (nested) exception groups, else None."""
    if isinstance(exc, _SessionEnded):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        ended, rest = exc.split(_SessionEnded)
        if ended is not None and (rest is None or rest.split(trio.Cancelled)[1] is None):
            leaf = _first_leaf(ended)
            assert isinstance(leaf, _SessionEnded)
            return leaf
    return None


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
