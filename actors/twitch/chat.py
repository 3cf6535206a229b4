"""`TwitchChat`: one creator's Twitch chat over IRC-on-WebSocket.

The actor owns the connection; everything about the protocol itself is in the sans-IO module
`actors.twitch.irc`. What this module adds is the I/O policy:

- Login: `CAP REQ`, then `PASS oauth:<token>` + `NICK`, or an anonymous `justinfanNNNNN` nick
  (read-only) when the config has no token. `JOIN #channel` once the welcome (376) arrived.
  Auth attempts and JOINs go through sliding-window limiters (20 per 10 s each, Twitch's
  documented ceiling), so even a server that keeps sending RECONNECT cannot make us spin.
- The connection lifecycle (states, backoff, liveness, health) is `actors.connection.Lifecycle`;
  this module supplies the protocol mapping: `_connect_once` (connect, log in, join, serve),
  the PING the watchdog sends after `keepalive_seconds` of silence, and which endings are
  immediate (`RECONNECT`) or need a person (refused logins: `Login authentication failed`,
  `Improperly formatted auth`, retried slowly `max_auth_failures` times, then `failed` until
  restarted: a bad token does not heal itself).
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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import trio
import trio_websocket

from actors import Actor, ActorRef
from actors._errors import unwrap_failure
from actors.accounts import AccessToken, NeedsLogin, TokenSource, TokenUnavailable
from actors.chat import Moderate, SendChat
from actors.connection import (
    ConnectionHealth,
    Connector,
    Lifecycle,
    Outbox,
    SessionEnded,
    WebSocketTarget,
    open_websocket,
)
from actors.events import PlatformEvent
from actors.moderation import ModerationQueue
from actors.ratelimit import SlidingWindow
from actors.recent import RecentKeys
from actors.twitch import irc
from actors.twitch.moderation import TwitchModerator
from actors.twitch.statistics import TwitchChatStatistics
from config.models import TwitchConfig
from supervisors import Backoff

__all__ = [
    "AUTH_FAILURE_NOTICES",
    "DEFAULT_URL",
    "DUPLICATE_SUFFIX",
    "SlidingWindow",  # re-exported: it lives in actors.ratelimit (EventSub chat uses it too)
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


class _Session:
    """Per-connection state: the socket and login progress."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, nick: str) -> None:
        self.ws = ws
        self.nick = nick
        self.welcomed = False
        self.joined = trio.Event()
        self._send_lock = trio.Lock()

    async def send(self, line: str) -> None:
        # One IRC line per WebSocket text frame (Twitch's framing); the lock keeps the
        # reader's PONGs and the writer's PRIVMSGs from interleaving mid-frame.
        async with self._send_lock:
            await self.ws.send_message(line)


class TwitchChat(Actor):
    """Reads and writes one Twitch channel's chat for one creator (see the module docs).

    `ping_interval`/`pong_timeout` override the config's `keepalive_seconds`/
    `keepalive_timeout_seconds`; `connector` replaces the network (tests: a memory stream).
    """

    mailbox_size = 1000

    def __init__(
        self,
        *,
        creator_id: str,
        config: TwitchConfig,
        triggers: Callable[[], ActorRef],
        url: str = DEFAULT_URL,
        connector: Connector | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
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
        token_source: TokenSource | None = None,
        moderator: TwitchModerator | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self.channel = config.channel.lower()
        self._triggers = triggers
        # A configured `server` (tests, self-hosted relays) wins over the default URL.
        self.url = config.server or url
        self._target = WebSocketTarget.parse(self.url)
        self._connector = connector
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.connect_timeout = connect_timeout
        self.lifecycle = Lifecycle(
            "twitch",
            enabled=config.enabled,
            creator_id=creator_id,
            target=self._target.address,
            backoff=Backoff(
                initial=backoff_initial, maximum=backoff_maximum, jitter=backoff_jitter
            ),
            person_backoff=Backoff(
                initial=auth_retry_initial, maximum=auth_retry_maximum, jitter=backoff_jitter
            ),
            max_person_failures=max_auth_failures,
            stable_after=stable_after,
            keepalive_seconds=ping_interval or config.keepalive_seconds,
            keepalive_timeout_seconds=pong_timeout or config.keepalive_timeout_seconds,
            clock=self._now,
            rng=self._rng,
        )
        self.outbox = Outbox(platform="twitch", capacity=send_queue_size, max_age=max_queue_age)
        # Filter moderation (delete, timeout) through Helix; None: not configured.
        self._moderator = moderator
        self.moderation = ModerationQueue(platform="twitch")

        token = config.token.reveal() if config.token is not None else None
        self._token = token
        # An account's token source (actors/accounts) is asked at every connect.
        self._token_source = token_source
        self._presented: AccessToken | None = None
        self.anonymous = token is None and token_source is None
        if self.anonymous:
            self.nick = f"justinfan{self._rng.randint(10000, 99999)}"
        else:
            # With a token Twitch logs in as the token's user; the broadcaster's own token is
            # the common case, so the channel is the fallback nick.
            self.nick = (config.nick or config.channel).lower()

        self._recent = RecentKeys(dedupe_size)
        self._send_window = SlidingWindow(SEND_LIMIT, SEND_PERIOD, capacity=SEND_LIMIT_PRIVILEGED)
        self._join_window = SlidingWindow(JOIN_LIMIT, JOIN_AUTH_PERIOD)
        self._auth_window = SlidingWindow(AUTH_LIMIT, JOIN_AUTH_PERIOD)
        self._last_sent_text: str | None = None
        self._last_sent_at = -math.inf
        self._session: _Session | None = None

        self.privileged = False
        self.connections = 0
        self.messages = 0
        self.duplicates = 0
        self.sent = 0
        self.varied = 0
        self.truncated = 0
        self.parse_errors = 0
        self.server_rejections = 0
        self.last_event_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self.outbox.log = self.log  # drops are logged with the actor's path
        self.moderation.log = self.log
        if self._moderator is not None:
            self.nursery.start_soon(self.moderation.serve, self._moderator)

    async def on_stop(self) -> None:
        if self._moderator is not None:
            await self._moderator.aclose()

    async def run(self) -> None:
        if self.config.enabled and self._token is not None:
            try:
                irc.pass_(self._token)
            except ValueError:
                # A token that cannot even be written as a PASS line will never log in.
                await self.lifecycle.give_up(
                    "the configured token is not usable (empty, or holds spaces)"
                )
        await self.lifecycle.run(self._connect_once, ping=self._ping, log=self.log)

    async def _ping(self) -> None:
        if self._session is not None:
            await self._session.send(irc.ping())

    # ---------------------------------------------------------------- one session

    async def _connect_once(self) -> None:
        """Open one connection, log in, join, and serve it until it ends."""
        await self._auth_window.acquire()
        if self._token_source is not None:
            try:
                self._presented = await self._token_source.token()
            except TokenUnavailable as exc:
                # The account says why (a login to run, a refresh failing): shown as is.
                raise SessionEnded(
                    f"no token: {exc}", needs_person=isinstance(exc, NeedsLogin)
                ) from None
            self._token = self._presented.value
        self.connections += 1
        try:
            async with open_websocket(
                self._target,
                connector=self._connector,
                connect_timeout=self.connect_timeout,
                # A stalled peer never answers the close handshake: do not wait long for it.
                close_timeout=min(self.connect_timeout, 2.0),
            ) as ws:
                session = self._session = _Session(ws, self.nick)
                await session.send(irc.cap_req())
                if self._token is not None:
                    await session.send(irc.pass_(self._token))  # never logged
                await session.send(irc.nick(self.nick))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._reader, session, nursery)
                    nursery.start_soon(self._writer, session)
        except BaseException as exc:
            ended = unwrap_failure(exc)
            presented = self._presented
            if (
                isinstance(ended, SessionEnded)
                and ended.needs_person
                and self._token_source is not None
                and presented is not None
            ):
                # A refused login with an account's token: the account refreshes it once, or
                # turns needs_login (visible in /status); the next attempt asks it again.
                await self._token_source.unauthorized(presented)
            raise
        finally:
            self._session = None

    async def _reader(self, session: _Session, nursery: trio.Nursery) -> None:
        while True:
            frame = await session.ws.get_message()
            self.lifecycle.saw_traffic()
            if isinstance(frame, bytes):
                frame = frame.decode("utf-8", errors="replace")
            for line in irc.split_frame(frame):
                await self._on_line(session, nursery, line)

    async def _writer(self, session: _Session) -> None:
        await session.joined.wait()
        outbox = self.outbox
        while True:
            item = await outbox.peek()
            try:
                irc.privmsg(self.channel, item.text, reply_to=item.reply_to)
            except ValueError as exc:  # empty text, CR/LF, a bad reply id: never sendable
                outbox.done()
                outbox.drop("invalid", item.trigger_id, error=str(exc))
                continue
            limit = SEND_LIMIT_PRIVILEGED if self.privileged else SEND_LIMIT
            await self._send_window.acquire(limit)
            # Built after the wait: whether it repeats the previous line depends on send time.
            out = self._build(item.text, item.reply_to)
            await session.send(out.line)
            outbox.done()
            self.sent += 1
            self._last_sent_text = out.text
            self._last_sent_at = trio.current_time()
            if out.truncated:
                self.truncated += 1
                self.log.warning("reply truncated to 500 characters", trigger=item.trigger_id)

    def _build(self, text: str, reply_to: str | None) -> irc.OutgoingPrivmsg:
        out = irc.privmsg(self.channel, text, reply_to=reply_to)
        recent = trio.current_time() - self._last_sent_at < DUPLICATE_WINDOW
        if recent and out.text == self._last_sent_text:
            base = out.text[: irc.MAX_MESSAGE_LENGTH - len(DUPLICATE_SUFFIX)]
            out = irc.privmsg(self.channel, base + DUPLICATE_SUFFIX, reply_to=reply_to)
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
            raise SessionEnded("server asked to reconnect (RECONNECT)", immediate=True)

    def _on_welcome(self, session: _Session, nursery: trio.Nursery) -> None:
        if session.welcomed:
            return
        session.welcomed = True
        self.log.info("twitch logged in", nick=self.nick, anonymous=self.anonymous)
        nursery.start_soon(self._join, session)

    async def _join(self, session: _Session) -> None:
        await self._join_window.acquire()
        await session.send(irc.join(self.channel))

    def _on_join(self, session: _Session, msg: irc.IrcMessage) -> None:
        fields = irc.twitch_fields(msg)
        if fields.get("login") == session.nick and fields.get("channel") == self.channel:
            session.joined.set()
            self.lifecycle.mark_connected(f"joined #{self.channel}")
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
            raise SessionEnded(text, needs_person=True)
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
            if not self.config.enabled:
                self.outbox.drop("disabled", message.trigger_id)
            elif self.anonymous:
                self.outbox.drop("anonymous", message.trigger_id)
            else:
                self.outbox.offer(message)
            return None
        if isinstance(message, Moderate):
            # Carried out through Helix in the actor's nursery: never holds up reading chat.
            if self._moderator is None:
                self.moderation.unsupported(
                    message,
                    "Twitch moderation needs [creators.twitch] broadcaster_account (or an "
                    "account that moderates the channel) naming an [[accounts]] entry",
                )
            else:
                self.moderation.offer(message)
            return None
        raise TypeError(f"TwitchChat takes SendChat, got {type(message).__name__}")

    # ------------------------------------------------------------------ status

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def health(self) -> ConnectionHealth:
        """The connection's health with this actor's counters."""
        return self.lifecycle.health(
            messages=self.messages,
            actions=self.sent,
            errors=self.parse_errors + self.server_rejections,
            dropped=self.outbox.dropped,
            last_event_at=self.last_event_at,
        )

    @property
    def reconnects(self) -> int:
        """Connections opened after the first."""
        return max(self.connections - 1, 0)

    @property
    def status(self) -> str:
        """running | inactive | error | paused | disabled (the dashboard's words)."""
        return self.health().status

    def snapshot(self) -> TwitchChatStatistics:
        """Status for the exports. `last_heartbeat` is the wall time of the last frame the
        server sent (PINGs included): it stops moving when the link goes silent."""
        health = self.health()
        outbox = self.outbox.statistics()
        return TwitchChatStatistics(
            creator_id=self.creator_id,
            channel=self.channel,
            status=health.status,
            state=health.state.value,
            enabled=self.config.enabled,
            anonymous=self.anonymous,
            connected=self.lifecycle.is_connected,
            privileged=self.privileged,
            messages=self.messages,
            actions=self.sent,
            sent=self.sent,
            queued=outbox.queued,
            dropped=outbox.dropped,
            dropped_reasons=outbox.reasons(),
            moderation=self.moderation.statistics(),
            varied=self.varied,
            truncated=self.truncated,
            duplicates=self.duplicates,
            errors=health.errors,
            parse_errors=self.parse_errors,
            server_rejections=self.server_rejections,
            connections=self.connections,
            reconnects=self.reconnects,
            auth_failures=self.lifecycle.person_failures,
            last_event_at=self.last_event_at,
            last_heartbeat=health.last_traffic_at,
            error=health.error,
            paused_reason=None,
        )
