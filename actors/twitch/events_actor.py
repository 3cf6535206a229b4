"""`TwitchEvents`: one creator's Twitch EventSub WebSocket session (`twitch-events`), and
chat over EventSub (`twitch` when `transport = "eventsub"`).

The protocol is the sans-IO `eventsub_ws.SocketSession`; this actor owns the sockets, the Helix
calls (`UserHelix`, with a `TokenSource`) and the bookkeeping:

- A *link* is a chain of sockets joined by ``session_reconnect`` handovers. Its first socket's
  welcome leads to subscribing (within the keepalive window); a handover socket's welcome makes
  it the active one and the old socket is closed (frames it still delivers are processed).
  Silence past the deadline, a close code, or no usable subscription ends the link; the next
  link starts after a backoff and, since Twitch does not replay what happened meanwhile, is
  reconciled through Helix (unfulfilled redemptions of our rewards, every page; stream status).
- Each notification is applied once: message ids (and redemption ids, which reconciliation
  finds too) are remembered in memory and in the store's `chat_seen` table (`SeenMessages`), so
  a restart within the replay window drops what was already applied.
- Channel events go to the creator's `TriggerEngine` as `ChannelEvent` with a `call`; its
  `ChannelEventOutcome` decides whether a redemption is fulfilled or refunded. Chat messages
  (role ``chat``) go to the engine like IRC chat; `SendChat` replies go out through Helix
  ``POST /chat/messages`` and a `drop_reason` is logged and counted.
- Rewards (role ``events``): created or updated at start to match `[[creators.twitch.rewards]]`,
  recognised by the reward ids kept in the store; see `actors.twitch.rewards`.

Everything that goes wrong is visible in `snapshot()`, a typed `EventSubStatistics` (status,
error sentence, close codes, revocations, subscription failures, reconciliations), and in its
`telemetry_events`.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import apsw
import attrs
import httpx
import trio
import trio_websocket

from actors import Actor, ActorFailed, ActorRef, CallTimeout, MailboxFull
from actors.accounts import TokenSource, TokenUnavailable
from actors.chat import Moderate, SendChat
from actors.connection import (
    DEFAULT_BACKOFF,
    ConnectionHealth,
    ConnectionState,
    Lifecycle,
    Outbox,
    Outgoing,
    SessionEnded,
    display_url,
)
from actors.events import ChatEvent, PlatformEvent, RedemptionEvent, StreamEnded, StreamStarted
from actors.moderation import ModerationQueue
from actors.ratelimit import SlidingWindow
from actors.recent import RecentKeys, SeenMessages
from actors.store import Read, write
from actors.telemetry import Severity, TelemetryNote
from actors.triggers.channel_events import ChannelEvent, ChannelEventOutcome, events_used
from actors.twitch import helix
from actors.twitch.chat import SEND_LIMIT, SEND_LIMIT_PRIVILEGED, SEND_PERIOD
from actors.twitch.eventsub import shared_chat_source, to_channel_event
from actors.twitch.eventsub_ws import (
    DEFAULT_URL,
    KEEPALIVE_GRACE,
    LinkDead,
    Notified,
    ReconnectRequested,
    Rejected,
    Revoked,
    SocketSession,
    SubscribeOutcome,
    SubscriptionSpec,
    Welcomed,
    channel_subscriptions,
    chat_subscription,
    classify_subscribe,
    describe_close,
    session_url,
)
from actors.twitch.moderation import TwitchModerator
from actors.twitch.rewards import plan_rewards, reward_settings
from actors.twitch.statistics import EventSubStatistics, RevocationNote
from actors.twitch.user_helix import MAX_RATE_LIMIT_WAIT, UserHelix
from actors.watch.monitor import EventSubCoverage
from config.models import CreatorConfig
from supervisors import Backoff

#: The export's platform status for each lifecycle state.
_PLATFORM_STATUS = {
    ConnectionState.CONNECTING: "inactive",
    ConnectionState.CONNECTED: "running",
    ConnectionState.RECONNECTING: "error",
    ConnectionState.FAILED: "error",
    ConnectionState.PAUSED: "paused",
    ConnectionState.DISABLED: "disabled",
}

__all__ = ["EVENTS_PLATFORM", "TwitchEvents"]

#: `chat_seen` platform key of EventSub message and redemption ids.
EVENTS_PLATFORM = "twitch-eventsub"
#: Seen ids are kept longer than Twitch's 10-minute replay window.
SEEN_KEEP_SECONDS = 3600.0
#: Ids kept in memory (beyond it, each check asks the store again).
SEEN_MEMORY_SIZE = 50_000
#: After a limit (429) or nothing subscribable, wait this long before a new session: the
#: limit will not lift in seconds, and reconnecting sooner would only loop.
LIMIT_RETRY_SECONDS = 300.0
#: A handed-over socket is closed once silent this long (frames in flight are read first),
#: and at the latest after RETIRE_MAX_SECONDS (Twitch's grace is 30 s).
RETIRE_QUIET_SECONDS = 0.25
RETIRE_MAX_SECONDS = 10.0
#: Tries of one reply Twitch keeps answering 429 before it is dropped (counted).
MAX_SEND_ATTEMPTS = 3
#: How long the live monitor leaves a channel unpolled on our word (renewed at a third).
COVERAGE_LEASE_SECONDS = 300.0
#: Pages of unfulfilled redemptions read per reward and reconciliation (50 each): a bound
#: against a server whose cursor never ends.
MAX_RECONCILE_PAGES = 100
_TRANSPORT_ERRORS = (
    OSError,
    trio.BrokenResourceError,
    trio_websocket.HandshakeError,
    trio_websocket.ConnectionClosed,
    httpx.HTTPError,
)


@attrs.define
class _Socket:
    ws: trio_websocket.WebSocketConnection
    session: SocketSession
    url: str
    superseded: bool = False
    busy: bool = False  # the reader is applying a frame (a retiring socket waits for it)
    idle_since: float = 0.0  # trio time the reader last finished a frame


def _reward_meta_key(creator_id: str, reward_key: str) -> str:
    return f"twitch.reward/{creator_id}/{reward_key}"


class TwitchEvents(Actor):
    """See the module docs. `role` is ``events`` (channel events, broadcaster token) or
    ``chat`` (``channel.chat.message`` with the chat account's token, and replies)."""

    mailbox_size = 1000

    def __init__(
        self,
        *,
        creator: CreatorConfig,
        role: str = "events",
        client_id: str,
        tokens: TokenSource,
        triggers: Callable[[], ActorRef],
        store: Callable[[], ActorRef] | None = None,
        monitor: Callable[[], ActorRef] | None = None,
        broadcaster_id: str | None = None,
        url: str | None = None,
        helix_base: str = helix.HELIX_BASE,
        http_transport: httpx.AsyncBaseTransport | None = None,
        grace: float = KEEPALIVE_GRACE,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        limit_retry_seconds: float = LIMIT_RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        send_queue_size: int = 100,
        max_queue_age: float = 60.0,
        send_limit: int = SEND_LIMIT,
        send_limit_privileged: int = SEND_LIMIT_PRIVILEGED,
        send_period: float = SEND_PERIOD,
        moderator: TwitchModerator | None = None,
    ) -> None:
        if role not in ("events", "chat"):
            raise ValueError(f"role must be 'events' or 'chat', got {role!r}")
        twitch = creator.twitch
        if twitch is None:
            raise ValueError(f"creator {creator.id!r} has no [creators.twitch] table")
        self.creator = creator
        self.twitch = twitch
        self.role: Literal["events", "chat"] = "events" if role == "events" else "chat"
        self.channel = twitch.channel.lower()
        self._triggers = triggers
        self._store = store
        self._monitor = monitor
        self._broadcaster_id = broadcaster_id
        self.keepalive_seconds = twitch.eventsub_keepalive_seconds
        self.url = session_url(url or twitch.eventsub_url or DEFAULT_URL, self.keepalive_seconds)
        self.helix = UserHelix(
            client_id=client_id, tokens=tokens, helix_base=helix_base, transport=http_transport
        )
        self.grace = grace
        self.connect_timeout = connect_timeout
        self.lifecycle = Lifecycle(
            # Chat over EventSub is the creator's `twitch` platform; channel events are apart.
            "twitch-events" if role == "events" else "twitch",
            enabled=twitch.enabled,
            creator_id=creator.id,
            target=display_url(self.url),
            backoff=backoff or DEFAULT_BACKOFF,
            max_person_failures=None,  # a token fixed by a login later must be picked up
            clock=lambda: datetime.fromtimestamp(clock(), UTC),
            rng=rng,
        )
        self.limit_retry_seconds = limit_retry_seconds
        # Filter moderation through Helix (the `twitch` chat role); None: not configured.
        self._moderator = moderator
        self.moderation = ModerationQueue(platform="twitch")
        self._clock = clock
        self.events = events_used(creator) if role == "events" else ()
        self._seen: SeenMessages | None = None
        self._inflight: set[str] = set()
        self._sockets: list[_Socket] = []
        self._active: _Socket | None = None
        self._link_done: trio.Event | None = None
        self._link_end: SessionEnded | None = None
        self._links = 0
        self._sender_id: str | None = None
        self._rewards: dict[str, str] = {}  # config id -> reward id (ours)
        self._rewards_synced = False
        self._live: bool | None = None
        self._covering = False  # the live monitor leaves this channel to us
        self._coverage_renew_at = math.inf

        self.session_id: str | None = None
        self.connections = 0
        self.handovers = 0
        self.notifications = 0
        self.applied = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.close_codes: Counter[str] = Counter()
        self.revocations: deque[RevocationNote] = deque(maxlen=20)
        self.subscriptions: dict[str, str] = {}
        self.subscription_errors: dict[str, str] = {}
        self.reconciliations = 0
        self.reconciled = 0
        self.redemptions: Counter[str] = Counter()
        self.reward_errors: list[str] = []
        self.reward_warnings: list[str] = []
        self.sent = 0
        self.own_messages = 0
        self.shared_chat_skipped = 0
        self._sent_ids = RecentKeys(1000)
        # Replies (role ``chat``): the shared bounded queue with counted drops, and Twitch's
        # per-account chat limit, as IRC chat has them.
        self.outbox = Outbox(platform="twitch", capacity=send_queue_size, max_age=max_queue_age)
        self.send_limit = send_limit
        self.send_limit_privileged = send_limit_privileged
        self._send_window = SlidingWindow(
            send_limit, send_period, capacity=max(send_limit, send_limit_privileged)
        )
        self.privileged = False  # our own echoed messages carry moderator/broadcaster badges
        self.rate_limited = 0
        self.last_event_at: datetime | None = None
        self.last_frame_at: datetime | None = None
        self.telemetry: deque[TelemetryNote] = deque(maxlen=50)

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self.outbox.log = self.log  # drops are logged with the actor's path
        self._seen = SeenMessages(
            platform=EVENTS_PLATFORM,
            creator_id=f"{self.creator.id}/{self.role}",
            store=self._store,
            size=SEEN_MEMORY_SIZE,
            keep_seconds=SEEN_KEEP_SECONDS,
            log=self.log,
        )
        # What was applied before a restart, once: then each notification is checked in memory.
        await self._seen.preload(self._now())
        self.moderation.log = self.log
        if self._moderator is not None:
            self.nursery.start_soon(self.moderation.serve, self._moderator)

    async def on_stop(self) -> None:
        self._cover(False, "its EventSub actor stopped")
        with trio.CancelScope(shield=True):
            await self.helix.aclose()
            if self._moderator is not None:
                await self._moderator.aclose()

    async def run(self) -> None:
        if self.role == "chat":
            self.nursery.start_soon(self._writer)
        if self.role == "events" and not self.events:
            # Rewards may still be managed (created, updated, disabled) without events.
            if self.twitch.enabled and self.twitch.rewards:
                try:
                    await self._sync_rewards()
                except (TokenUnavailable, httpx.HTTPError) as exc:
                    self.reward_errors = [f"rewards not synchronised with Twitch: {exc}"]
            self.lifecycle.pause("no events configured or used by triggers")
            await trio.sleep_forever()
        await self.lifecycle.run(self._link, log=self.log)

    # ------------------------------------------------------------------ one link

    async def _link(self) -> None:
        """Serve one link (first socket plus its handovers) until it ends: always raises
        `SessionEnded` with the reason (the lifecycle backs off and calls again)."""
        try:
            if self.role == "events" and not self._rewards_synced:
                await self._sync_rewards()
            self._links += 1
            self._link_done = trio.Event()
            self._link_end = None
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._socket_task, self.url, False)
                nursery.start_soon(self._watchdog)
                await self._link_done.wait()
                nursery.cancel_scope.cancel()
        except TokenUnavailable as exc:
            raise SessionEnded(
                f"no usable token for {self.role}: {exc}", needs_person=True
            ) from None
        finally:
            self._active = None
            self.session_id = None
            self._cover(False, "its EventSub link ended")  # said once (no-op after _end_link)
        raise self._link_end or SessionEnded("the EventSub link ended")

    def _end_link(self, reason: str, *, min_delay: float = 0.0, needs_person: bool = False) -> None:
        if self._link_done is not None and not self._link_done.is_set():
            self._telemetry("error", reason)
            self._cover(False, f"its EventSub link ended: {reason}")
            self._link_end = SessionEnded(reason, min_delay=min_delay, needs_person=needs_person)
            self._link_done.set()

    async def _socket_task(self, url: str, handover: bool) -> None:
        try:
            async with trio_websocket.open_websocket_url(
                url, connect_timeout=self.connect_timeout, disconnect_timeout=2.0
            ) as ws:
                sock = _Socket(
                    ws=ws,
                    session=SocketSession(
                        now=trio.current_time(), handover=handover, grace=self.grace
                    ),
                    url=url,
                )
                self.connections += 1
                self._sockets.append(sock)
                try:
                    await self._read(sock)
                finally:
                    self._sockets.remove(sock)
        except trio_websocket.ConnectionClosed as exc:
            if handover:
                return
            reason = exc.reason
            if reason is not None and reason.code is not None:
                self.close_codes[str(reason.code)] += 1
            self._end_link(describe_close(reason.code if reason else None, None))
        except _TRANSPORT_ERRORS as exc:
            if handover:
                # The old socket is still serving: Twitch closes it (4004) if we never move.
                self._telemetry("warning", f"handover socket failed: {type(exc).__name__}")
                return
            self._end_link(f"cannot reach EventSub ({type(exc).__name__}: {exc})")

    async def _read(self, sock: _Socket) -> None:
        while True:
            try:
                text = await sock.ws.get_message()
            except trio_websocket.ConnectionClosed as exc:
                if sock.superseded:
                    return  # closed by us after the handover; everything it sent was read
                code = exc.reason.code if exc.reason else None
                if code is not None:
                    self.close_codes[str(code)] += 1
                self._end_link(describe_close(code, exc.reason.reason if exc.reason else None))
                return
            self.last_frame_at = self._now()
            self.lifecycle.saw_traffic()
            sock.busy = True
            try:
                result = sock.session.receive(text, now=trio.current_time())
                await self._on_frame(sock, result)
            finally:
                sock.busy = False
                sock.idle_since = trio.current_time()

    async def _watchdog(self) -> None:
        while True:
            now = trio.current_time()
            if self._covering and now >= self._coverage_renew_at:
                self._cover(True)
            deadline = math.inf
            for sock in list(self._sockets):
                if sock.superseded:
                    continue
                dead = sock.session.check(now)
                if dead is not None:
                    await self._dead(sock, dead)
                    continue
                deadline = min(deadline, sock.session.deadline())
            await trio.sleep_until(min(deadline, now + 1.0) + 0.01)

    async def _dead(self, sock: _Socket, dead: LinkDead) -> None:
        if sock is self._active or self._active is None:
            self.rejected["dead_link"] += 1
            self._telemetry("error", dead.reason)
            self._end_link(dead.reason)
        else:  # a handover target that never welcomed us: drop it, the old one still serves
            sock.superseded = True
            self._nursery.start_soon(sock.ws.aclose)

    # ------------------------------------------------------------------ frames

    async def _on_frame(self, sock: _Socket, result: Any) -> None:
        if result is None:
            return
        if isinstance(result, Welcomed):
            await self._welcomed(sock, result)
        elif isinstance(result, Notified):
            self.notifications += 1
            await self._notification(result)
        elif isinstance(result, ReconnectRequested):
            self._telemetry("info", "Twitch asked for a reconnect: handing over to a new socket")
            self._nursery.start_soon(self._socket_task, result.url, True)
        elif isinstance(result, Revoked):
            await self._revoked(result)
        elif isinstance(result, Rejected):
            self.rejected[result.reason.split(":")[0][:40]] += 1
            self.log.warning("eventsub frame rejected", reason=result.reason)

    async def _retire(self, old: _Socket) -> None:
        """Close a handed-over socket once it has gone quiet: what Twitch still sends on it
        is read and applied first (closing at once would discard frames in flight)."""
        give_up_at = trio.current_time() + RETIRE_MAX_SECONDS
        while trio.current_time() < give_up_at:
            # Quiet since the last frame arrived and since the reader last finished one: a
            # frame waiting in the socket's buffer is picked up at once after the previous.
            last = max(old.session.last_frame_at, old.idle_since)
            quiet_at = last + RETIRE_QUIET_SECONDS
            if not old.busy and trio.current_time() >= quiet_at:
                break
            await trio.sleep(0.01 if old.busy else max(0.01, quiet_at - trio.current_time()))
        await old.ws.aclose()

    async def _welcomed(self, sock: _Socket, welcome: Welcomed) -> None:
        self.session_id = welcome.session_id
        if welcome.handover:
            old, self._active = self._active, sock
            self.handovers += 1
            if old is not None:
                old.superseded = True
                self._nursery.start_soon(self._retire, old)
            self._telemetry("info", "EventSub handover complete (subscriptions carried over)")
            return
        self._active = sock
        first_link = self._links == 1
        # Subscribing runs beside the reader: notifications may arrive meanwhile.
        self._nursery.start_soon(self._subscribe_and_reconcile, welcome.session_id, first_link)

    async def _subscribe_and_reconcile(self, session_id: str, first_link: bool) -> None:
        try:
            await self._subscribe(session_id, first_link)
        except TokenUnavailable as exc:
            self._end_link(f"no usable token for {self.role}: {exc}", needs_person=True)
        except httpx.HTTPError as exc:
            self._end_link(f"Helix unreachable while subscribing ({type(exc).__name__})")

    async def _subscribe(self, session_id: str, first_link: bool) -> None:
        try:
            specs = await self._specs()
        except (helix.HelixApiError, helix.HelixParseError, ValueError) as exc:
            self._end_link(f"cannot plan subscriptions: {exc}", min_delay=self.limit_retry_seconds)
            return
        outcomes: list[SubscribeOutcome] = []
        for spec in specs:
            answer = await self.helix.call(
                # Called before the loop moves on, so it sees this `spec` (B023 does not apply).
                lambda token: helix.create_eventsub_subscription_request(
                    spec.body(session_id),  # noqa: B023
                    client_id=self.helix.client_id,
                    token=token,
                ),
                retry_429=False,  # a limit is an answer: retrying would only loop
            )
            outcome = classify_subscribe(spec, answer.status, answer.body)
            outcomes.append(outcome)
            self.subscriptions[spec.type] = outcome.kind
            if outcome.active:
                self.subscription_errors.pop(spec.type, None)
            else:
                self.subscription_errors[spec.type] = outcome.sentence
                self._telemetry("error", outcome.sentence)
                self.log.error("eventsub subscription failed", type=spec.type, kind=outcome.kind)
        active = [o for o in outcomes if o.active]
        if not active:
            failure = outcomes[0].sentence if outcomes else "nothing to subscribe to"
            self._end_link(
                f"no EventSub subscription could be made: {failure}",
                min_delay=self.limit_retry_seconds,
                needs_person=any(o.kind in ("unauthorized", "forbidden") for o in outcomes),
            )
            return
        problems = [o.sentence for o in outcomes if not o.active]
        self.lifecycle.mark_connected("; ".join(problems) if problems else None)
        live_types = {o.spec.type for o in active}
        if {"stream.online", "stream.offline"} <= live_types:
            self._cover(True)
        self._telemetry("info", f"EventSub connected: {len(active)} subscriptions")
        if not first_link:
            await self._reconcile()

    async def _specs(self) -> tuple[SubscriptionSpec, ...]:
        broadcaster_id = await self._broadcaster()
        if self.role == "chat":
            token = await self.helix.token()
            if not token.user_id:
                raise ValueError("the chat account's token names no user")
            self._sender_id = token.user_id
            return (chat_subscription(broadcaster_id, token.user_id),)
        return channel_subscriptions(self.events, broadcaster_id)

    async def _broadcaster(self) -> str:
        if self._broadcaster_id is not None:
            return self._broadcaster_id
        token = await self.helix.token()
        if (
            self.role == "events"
            and token.user_id
            and (token.login or "").lower()
            in (
                "",
                self.channel,
            )
        ):
            self._broadcaster_id = token.user_id
            return token.user_id
        answer = await self.helix.call(
            lambda t: helix.users_request([self.channel], client_id=self.helix.client_id, token=t)
        )
        ids = helix.parse_user_ids(answer.status, answer.headers, answer.content)
        if self.channel not in ids:
            raise ValueError(f"Twitch has no user {self.channel!r}")
        self._broadcaster_id = ids[self.channel]
        return self._broadcaster_id

    async def _revoked(self, revoked: Revoked) -> None:
        rev = revoked.revocation
        self.revocations.append(
            RevocationNote(
                subscription_type=rev.subscription_type,
                status=rev.status,
                action=rev.action,
                at=self._now(),
            )
        )
        if rev.subscription_type:
            self.subscriptions[rev.subscription_type] = "revoked"
            self.subscription_errors[rev.subscription_type] = (
                f"Twitch revoked {rev.subscription_type} ({rev.status}): "
                + {
                    "reauthorize": "the account took its authorization back; log in again",
                    "drop": "the user no longer exists",
                    "upgrade": "this subscription version was removed; update the runtime",
                }.get(rev.action, "reconnect to subscribe again")
            )
        self.lifecycle.detail = "; ".join(self.subscription_errors.values())
        self._telemetry("error", self.subscription_errors.get(rev.subscription_type or "", ""))
        if rev.subscription_type in ("stream.online", "stream.offline"):
            self._cover(False, self.subscription_errors[rev.subscription_type])
        self.log.error(
            "eventsub subscription revoked", type=rev.subscription_type, status=rev.status
        )

    def _cover(self, covered: bool, reason: str | None = None) -> None:
        """Tell the live monitor whether this session reports the channel's stream.online and
        stream.offline (then it stops polling Helix for it), renewing the lease; a loss is
        said once, with the reason, and polling resumes."""
        if self._monitor is None or self.role != "events" or (not covered and not self._covering):
            return
        self._covering = covered
        self._coverage_renew_at = (
            trio.current_time() + COVERAGE_LEASE_SECONDS / 3 if covered else math.inf
        )
        if not covered:
            self._telemetry("warning", f"the live monitor polls Helix again: {reason}")
        message = EventSubCoverage(
            channel=self.channel,
            user_id=self._broadcaster_id,
            covered=covered,
            reason=reason,
            lease=COVERAGE_LEASE_SECONDS,
        )
        try:
            self._monitor().cast(message)
        except (MailboxFull, KeyError, ActorFailed) as exc:
            # Unrenewed coverage lapses by itself; a lost grant only means polling goes on.
            self.log.warning("live monitor not told about EventSub", error=type(exc).__name__)

    # ------------------------------------------------------------------ applying events

    async def _notification(self, notified: Notified) -> None:
        frame = notified.frame
        if shared_chat_source(frame) is not None:
            # Another channel's chat in a Shared Chat session: not this channel's to act on.
            self.shared_chat_skipped += 1
            return
        try:
            event = to_channel_event(frame)
        except ValueError as exc:
            self.rejected["unusable_event"] += 1
            self.log.warning("eventsub notification unusable", error=str(exc)[:200])
            return
        if event is None:
            self.rejected["unhandled_type"] += 1
            return
        await self._apply(event, keys=[frame.message_id])

    async def _apply(self, event: PlatformEvent, *, keys: Sequence[str]) -> bool:
        """Apply `event` unless one of `keys` was already applied; True when applied."""
        assert self._seen is not None
        if isinstance(event, RedemptionEvent):
            keys = [*keys, f"redemption:{event.redemption_id}"]
        if any(k in self._inflight for k in keys):
            self.duplicates += 1
            return False
        self._inflight.update(keys)
        try:
            unseen = await self._seen.unseen(keys)
            if len(unseen) < len(keys):
                self.duplicates += 1
                return False
            await self._deliver(event)
            await self._seen.mark(keys, self._now())
            self.applied += 1
            self.last_event_at = event.sent_at
            return True
        finally:
            self._inflight.difference_update(keys)

    def _own(self, event: ChatEvent) -> bool:
        """Whether a chat message is one the runtime sent: EventSub echoes our own messages
        (IRC does not). A separate bot account's messages are all ours; a bot logged in as the
        broadcaster is recognised by the ids Helix gave its messages."""
        if event.message_id is not None and event.message_id in self._sent_ids:
            return True
        sender = self._sender_id
        return sender is not None and event.user_id == sender != self._broadcaster_id

    async def _deliver(self, event: PlatformEvent) -> None:
        if isinstance(event, ChatEvent):
            if self._own(event):
                self.own_messages += 1
                # Our own line's badges say which chat limit applies (USERSTATE's job on IRC).
                self.privileged = bool(event.roles & {"moderator", "broadcaster"})
                return
            await self._triggers().send(event)  # backpressure, never a lost message
            return
        if isinstance(event, StreamStarted | StreamEnded):
            self._live = isinstance(event, StreamStarted)
            if self._monitor is not None:
                try:
                    self._monitor().cast(event)
                except (MailboxFull, KeyError, ActorFailed) as exc:
                    self.log.warning("live monitor not told", error=type(exc).__name__)
        reward_key = None
        manageable = False
        if isinstance(event, RedemptionEvent):
            reward_key = next((k for k, v in self._rewards.items() if v == event.reward_id), None)
            manageable = reward_key is not None
        # Channel events carry no badges: the broadcaster is the one role known (their own
        # redemptions, and the stream going on or off), for triggers' `permission`.
        user_id = getattr(event, "user_id", None)
        by_broadcaster = isinstance(event, StreamStarted | StreamEnded) or (
            user_id is not None and user_id == self._broadcaster_id
        )
        try:
            outcome = await self._triggers().call(
                ChannelEvent(
                    event=event,
                    reward_key=reward_key,
                    manageable=manageable,
                    roles=frozenset({"broadcaster"}) if by_broadcaster else frozenset(),
                ),
                timeout=30.0,
            )
        except (CallTimeout, ActorFailed) as exc:
            # Not applied: the caller does not mark it seen, so reconciliation may retry it.
            self._telemetry("error", f"trigger engine did not take a channel event: {exc!r}")
            raise SessionEnded("the trigger engine is not answering") from exc
        self._telemetry(
            "info",
            f"{outcome.event or event.raw_type}: fired {len(outcome.fired)} trigger(s)"
            + (f", {len(outcome.failed)} failed" if outcome.failed else "")
            + (f", {len(outcome.blocked)} held by cooldown/permission" if outcome.blocked else ""),
        )
        if isinstance(event, RedemptionEvent) and isinstance(outcome, ChannelEventOutcome):
            if outcome.redemption is not None:
                await self._settle(event, outcome.redemption)

    async def _settle(self, event: RedemptionEvent, decision: str) -> None:
        status = "FULFILLED" if decision == "fulfil" else "CANCELED"
        broadcaster_id = await self._broadcaster()
        try:
            answer = await self.helix.call(
                lambda t: helix.update_redemption_request(
                    broadcaster_id,
                    event.reward_id,
                    [event.redemption_id],
                    status,
                    client_id=self.helix.client_id,
                    token=t,
                )
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        else:
            error = "" if answer.ok else f"HTTP {answer.status}"
        if error:
            self.redemptions["settle_failed"] += 1
            self._telemetry(
                "error",
                f"could not {decision} redemption of {event.reward_title!r} ({error}); it stays "
                "in the reward queue on Twitch",
            )
            return
        self.redemptions["fulfilled" if decision == "fulfil" else "refunded"] += 1

    # ------------------------------------------------------------------ reconciliation

    async def _reconcile(self) -> None:
        """After a gap: apply unfulfilled redemptions of our rewards and the stream status."""
        if self.role != "events":
            return
        self.reconciliations += 1
        found = 0
        try:
            broadcaster_id = await self._broadcaster()
            if "redemption" in self.events:
                for reward_id in list(self._rewards.values()):
                    found += await self._reconcile_reward(broadcaster_id, reward_id)
            if "online" in self.events or "offline" in self.events:
                found += await self._reconcile_stream(broadcaster_id)
        except (helix.HelixApiError, helix.HelixParseError, httpx.HTTPError) as exc:
            self._telemetry("error", f"reconciliation through Helix failed: {exc}")
            return
        self.reconciled += found
        self._telemetry("info", f"reconciled after a gap: {found} event(s) recovered")

    async def _reconcile_reward(self, broadcaster_id: str, reward_id: str) -> int:
        # Every page first, then apply: settling redemptions while paging would shift the
        # pages under the cursor and skip some.
        pending: list[helix.Redemption] = []
        cursor: str | None = None
        for _page in range(MAX_RECONCILE_PAGES):

            def build(token: str, cursor: str | None = cursor) -> helix.HelixRequest:
                request = helix.redemptions_request(
                    broadcaster_id, reward_id, client_id=self.helix.client_id, token=token
                )
                return request.with_params(after=cursor) if cursor else request

            answer = await self.helix.call(build)
            page = helix.parse_redemptions(answer.status, answer.headers, answer.content)
            pending.extend(page.redemptions)
            if page.cursor is None or page.cursor == cursor:
                break
            cursor = page.cursor
        else:
            self._telemetry("warning", f"reconciliation stopped after {MAX_RECONCILE_PAGES} pages")
        applied = 0
        for r in {r.id: r for r in pending}.values():
            event = RedemptionEvent(
                platform="twitch",
                channel=self.channel,
                message_id=f"reconciled:{r.id}",
                sent_at=r.redeemed_at or self._now(),
                raw_type="channel.channel_points_custom_reward_redemption.add",
                user_id=r.user_id,
                login=r.user_login,
                display_name=r.user_name,
                redemption_id=r.id,
                reward_id=r.reward_id,
                reward_title=r.reward_title,
                cost=r.reward_cost,
                input=r.user_input,
                status=r.status.lower() or None,
            )
            if await self._apply(event, keys=[]):
                applied += 1
        return applied

    async def _reconcile_stream(self, broadcaster_id: str) -> int:
        answer = await self.helix.call(
            lambda t: helix.streams_requests(
                client_id=self.helix.client_id, token=t, user_ids=[broadcaster_id]
            )[0]
        )
        page = helix.parse_streams_page(answer.status, answer.headers, answer.content)
        live = bool(page.streams)
        if self._live is None or live == self._live:
            self._live = live
            return 0
        now = self._now()
        common = {"platform": "twitch", "channel": self.channel, "raw_type": "reconciled"}
        if live:
            stream = page.streams[0]
            event: PlatformEvent = StreamStarted(
                **common,
                message_id=f"reconciled:online:{stream.id}",
                sent_at=stream.started_at or now,
                title=stream.title,
                game=stream.game_name,
                viewer_count=stream.viewer_count,
            )
        else:
            event = StreamEnded(
                **common, message_id=f"reconciled:offline:{int(now.timestamp())}", sent_at=now
            )
        return 1 if await self._apply(event, keys=[event.message_id or "-"]) else 0

    # ------------------------------------------------------------------ rewards

    async def _sync_rewards(self) -> None:
        """Create/update/disable our rewards to match the configuration (once per start)."""
        configured = self.twitch.rewards
        ours_keys = {r.id for r in configured}
        warnings = []
        for trigger in self.creator.triggers:
            if (
                trigger.kind == "event"
                and trigger.event == "redemption"
                and trigger.redemption not in (None, "none")
                and trigger.reward is not None
                and trigger.reward not in ours_keys
            ):
                warnings.append(
                    f"trigger {trigger.id!r} asks to {trigger.redemption} redemptions of a reward "
                    "the runtime did not create; Twitch allows that only for the runtime's own "
                    "rewards ([[creators.twitch.rewards]])"
                )
                self.log.warning("reward trigger cannot settle", trigger=trigger.id)
        self.reward_warnings = warnings
        try:
            known = await self._known_rewards()
            if not configured and not known:
                self._rewards_synced = True
                return
            broadcaster_id = await self._broadcaster()
            existing = await self._list_rewards(broadcaster_id, only_manageable=False)
            manageable = await self._list_rewards(broadcaster_id, only_manageable=True)
            plan = plan_rewards(
                configured,
                known=known,
                existing=existing,
                manageable={r.id for r in manageable},
            )
            mapping = dict(plan.keep)
            # Each `build` is called before its loop moves on: B023 (late binding) does not apply.
            for reward in plan.create:
                created = await self._reward_call(
                    lambda t: helix.create_reward_request(
                        broadcaster_id,
                        reward_settings(reward),  # noqa: B023
                        client_id=self.helix.client_id,
                        token=t,
                    )
                )
                mapping[reward.id] = created.id
            for _key, reward_id, changes in plan.update:
                await self._reward_call(
                    lambda t: helix.update_reward_request(
                        broadcaster_id,
                        reward_id,  # noqa: B023
                        changes,  # noqa: B023
                        client_id=self.helix.client_id,
                        token=t,
                    )
                )
            for key, reward_id in plan.disable:
                await self._reward_call(
                    lambda t: helix.update_reward_request(
                        broadcaster_id,
                        reward_id,  # noqa: B023
                        {"is_enabled": False},
                        client_id=self.helix.client_id,
                        token=t,
                    )
                )
                mapping.setdefault(key, reward_id)  # still ours, remembered, just disabled
            await self._remember_rewards(mapping)
        except (helix.HelixApiError, helix.HelixParseError, httpx.HTTPError, ValueError) as exc:
            sentence = f"rewards not synchronised with Twitch: {exc}"
            self.reward_errors = [sentence]
            self._telemetry("error", sentence)
            self.log.error("rewards not synchronised", error=str(exc)[:200])
            return  # events still flow; retried with the next link
        self._rewards = {k: v for k, v in mapping.items() if k in ours_keys}
        self.reward_errors = list(plan.conflicts)
        for conflict in plan.conflicts:
            self._telemetry("error", conflict)
            self.log.error("reward conflict", detail=conflict)
        self._rewards_synced = True

    async def _list_rewards(
        self, broadcaster_id: str, *, only_manageable: bool
    ) -> tuple[helix.CustomReward, ...]:
        answer = await self.helix.call(
            lambda t: helix.custom_rewards_request(
                broadcaster_id,
                client_id=self.helix.client_id,
                token=t,
                only_manageable=only_manageable,
            )
        )
        return helix.parse_custom_rewards(answer.status, answer.headers, answer.content)

    async def _reward_call(self, build: Callable[[str], helix.HelixRequest]) -> helix.CustomReward:
        answer = await self.helix.call(build)
        rewards = helix.parse_custom_rewards(answer.status, answer.headers, answer.content)
        if not rewards:
            raise helix.HelixParseError("reward answer without a reward")
        return rewards[0]

    async def _known_rewards(self) -> dict[str, str]:
        if self._store is None:
            return dict(self._rewards)
        prefix = _reward_meta_key(self.creator.id, "")

        def read(conn: apsw.Connection) -> dict[str, str]:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
                (prefix, prefix + "\uffff"),
            )
            return {key[len(prefix) :]: value for key, value in rows}

        try:
            return await self._store().call(Read(fn=read), timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            raise ValueError(f"the store did not answer ({type(exc).__name__})") from exc

    async def _remember_rewards(self, mapping: dict[str, str]) -> None:
        self._rewards = dict(mapping)
        if self._store is None:
            return
        creator_id = self.creator.id

        def save(conn: apsw.Connection) -> None:
            for key, reward_id in mapping.items():
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (_reward_meta_key(creator_id, key), reward_id),
                )

        await write(self._store(), save, topic="state")

    # ------------------------------------------------------------------ chat replies

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            if self.role != "chat":
                self.outbox.drop("not_chat", message.trigger_id)
            else:
                self.outbox.offer(message)  # sent by `_writer`, in order, within the limits
            return None
        if isinstance(message, Moderate):
            if self._moderator is None:
                self.moderation.unsupported(
                    message,
                    "Twitch moderation needs [creators.twitch] broadcaster_account (or an "
                    "account that moderates the channel) naming an [[accounts]] entry",
                )
            else:
                self.moderation.offer(message)
            return None
        raise TypeError(f"TwitchEvents takes SendChat or Moderate, got {type(message).__name__}")

    async def _writer(self) -> None:
        """Send queued replies through Helix, within Twitch's chat limit (20 per 30 s, 100
        while the bot is the broadcaster or a moderator, as over IRC). A 429 waits until the
        bucket's ``Ratelimit-Reset`` and sends the same reply again (at most
        `MAX_SEND_ATTEMPTS` times, then it is dropped, counted)."""
        outbox = self.outbox
        attempts: tuple[Any, int] = (None, 0)
        while True:
            item = await outbox.peek()
            tries = attempts[1] + 1 if attempts[0] is item else 1
            attempts = (item, tries)
            await self._send_window.acquire(
                self.send_limit_privileged if self._privileged() else self.send_limit
            )
            wait = await self._send_one(item)
            if wait is None:
                continue
            self.rate_limited += 1
            if tries >= MAX_SEND_ATTEMPTS:
                outbox.done()
                outbox.drop("rate_limited", item.trigger_id, attempts=tries)
                continue
            self.log.info("chat send rate limited by Twitch", wait=round(wait, 2))
            await trio.sleep(wait)

    def _privileged(self) -> bool:
        sender = self._sender_id
        return self.privileged or (sender is not None and sender == self._broadcaster_id)

    async def _send_one(self, item: Outgoing) -> float | None:
        """Send one queued reply (it leaves the queue unless Twitch answered 429); None, or
        the seconds to wait before trying it again."""
        outbox = self.outbox
        try:
            broadcaster_id = await self._broadcaster()
            if self._sender_id is None:
                token = await self.helix.token()
                self._sender_id = token.user_id
            if not self._sender_id:
                raise ValueError("the chat account's token names no user")
            answer = await self.helix.call(
                lambda t: helix.send_chat_message_request(
                    broadcaster_id,
                    self._sender_id or "",
                    item.text[:500],
                    client_id=self.helix.client_id,
                    token=t,
                    reply_parent_message_id=item.reply_to,
                ),
                retry_429=False,  # waited for here, with the reply kept at the queue's head
            )
            if answer.status == 429:
                limit = helix.parse_rate_limit(answer.headers)
                wait = limit.reset - self._clock() if limit is not None else 1.0
                return min(MAX_RATE_LIMIT_WAIT, max(wait, 0.05))
            result = helix.parse_send_chat_message(answer.status, answer.headers, answer.content)
        except (helix.HelixApiError, helix.HelixParseError, httpx.HTTPError, ValueError) as exc:
            outbox.done()
            outbox.drop(type(exc).__name__, item.trigger_id, error=str(exc)[:200])
            return None
        except TokenUnavailable:
            outbox.done()
            outbox.drop("no_token", item.trigger_id)
            return None
        outbox.done()
        if not result.is_sent:
            outbox.drop(result.drop_code or "dropped", item.trigger_id, detail=result.drop_message)
            return None
        self.sent += 1
        if result.message_id:
            self._sent_ids.add(result.message_id)
        return None

    # ------------------------------------------------------------------ status

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _telemetry(self, severity: Severity, message: str) -> None:
        if not message:
            return
        self.telemetry.append(
            TelemetryNote(
                timestamp=self._now(),
                severity=severity,
                source=f"twitch-events:{self.creator.id}:{self.role}",
                message=message[:300],
            )
        )

    def health(self) -> ConnectionHealth:
        """The typed health of this connection (the shared lifecycle's value)."""
        return self.lifecycle.health(
            messages=self.applied,
            actions=self.sent,
            errors=sum(self.rejected.values()) + len(self.subscription_errors),
            dropped=self.outbox.dropped,
            last_event_at=self.last_event_at,
        )

    def snapshot(self) -> EventSubStatistics:
        """Status for the exports and `/status` (no tokens, no raw user ids)."""
        health = self.health()
        return EventSubStatistics(
            role=self.role,
            creator_id=self.creator.id,
            channel=self.channel,
            status=_PLATFORM_STATUS[health.state],
            state=health.state,
            since=health.since,
            attempts=health.attempts,
            next_retry_at=health.next_retry_at,
            error=health.error,
            detail=health.detail,
            connected=health.state is ConnectionState.CONNECTED,
            events=tuple(self.events),
            # Copies, sorted: the value stays as it was while the actor goes on counting.
            subscriptions=dict(sorted(self.subscriptions.items())),
            subscription_errors=dict(sorted(self.subscription_errors.items())),
            connections=self.connections,
            handovers=self.handovers,
            notifications=self.notifications,
            messages=self.applied,
            duplicates=self.duplicates,
            rejected=dict(sorted(self.rejected.items())),
            close_codes=dict(sorted(self.close_codes.items())),
            revocations=tuple(self.revocations),
            reconciliations=self.reconciliations,
            reconciled=self.reconciled,
            redemptions=dict(sorted(self.redemptions.items())),
            reward_errors=tuple(self.reward_errors),
            reward_warnings=tuple(self.reward_warnings),
            sent=self.sent,
            own_messages=self.own_messages,
            shared_chat_skipped=self.shared_chat_skipped,
            live_monitor=None
            if self._monitor is None
            else ("eventsub" if self._covering else "polling"),
            queued=len(self.outbox),
            dropped=self.outbox.dropped,
            dropped_reasons=self.outbox.statistics().reasons(),
            privileged=self._privileged(),
            rate_limited=self.rate_limited,
            last_event_at=self.last_event_at,
            last_heartbeat=self.last_frame_at,
            telemetry_events=tuple(self.telemetry),
        )
