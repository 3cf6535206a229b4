"""`LiveMonitor`: who of the watched channels is live, kept as stream sessions.

Sources: Twitch Helix polling (`HelixClient`, every `poll_seconds`), Twitch EventSub webhooks
(`actors.watch.webhook` calls this actor with `StreamStarted`/`StreamEnded`), and Kick (its
chat actor sends `StreamStarted`/`StreamEnded` from Pusher events). Every transition is one
transaction: the stream session (`state.streams`) AND the notifications it causes
(`actors.notify.rules.outbox_ops` into the outbox), so a crash can neither lose nor double a
go-live notification. After the commit the event is sent to the `notifier` (which wakes the
dispatcher) and to any `listeners`.

A channel whose creator runs a `twitch-events` actor subscribed to stream.online AND
stream.offline is not polled: that actor sends `EventSubCoverage` once both subscriptions are
active (renewed within its lease), and the transitions arrive from it, so a stream start is
reported once, not once per source (Helix lags EventSub: a poll could end a session EventSub
just opened, then open it again). When the link fails, a subscription is revoked or the actor
stops, it says so (or its lease lapses) and polling resumes at once, logged and shown in the
snapshot (`LiveMonitorStatistics.eventsub`).

A failed or partial Helix scan changes nothing: "absent from the answer" only means offline
when the whole watchlist was answered.

A transition reported from outside (webhook, chat connection) is applied once per message id:
the id is remembered in the store (`state.seen`, scope "watch") in the same transaction as the
transition, and kept a little longer than EventSub's freshness window, so a delivery replayed
after a restart (Twitch retries, or a captured request sent again within the 10 minutes
`verify_webhook` accepts) changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import apsw
import attrs
import httpx
import trio

from actors import Actor, ActorRef
from actors._errors import unwrap_failure
from actors.connection import ConnectionHealth, HttpStatusError, Lifecycle, SessionEnded
from actors.events import StreamEnded, StreamStarted
from actors.notify.rules import NotifyRule, outbox_ops
from actors.store import Read, write
from actors.twitch.app_helix import HelixClient, HelixTokenRefused
from actors.twitch.eventsub import MAX_MESSAGE_AGE
from actors.twitch.helix import HelixApiError, HelixParseError, Stream
from actors.watch.statistics import EventSubChannels, LiveMonitorStatistics, PollingResumed
from actors.watch.webhook import WebhookStats
from config.models import KICK_SLUG, TWITCH_ID, TWITCH_LOGIN
from state import seen
from state import streams as sessions
from state.timeutil import now_ms
from supervisors import Backoff

__all__ = [
    "WATCH_KINDS",
    "EventSubCoverage",
    "LiveMonitor",
    "PollNow",
    "PollResult",
    "WatchAdd",
    "WatchList",
    "WatchRemove",
]

#: What can be watched: Twitch logins, Twitch user ids, Twitch game ids, Kick channel slugs.
WATCH_KINDS = ("twitch", "twitch_id", "twitch_game", "kick")
_VALID = {
    "twitch": TWITCH_LOGIN,
    "twitch_id": TWITCH_ID,
    "twitch_game": TWITCH_ID,
    "kick": KICK_SLUG,
}
_MAX_BACKOFF = 600.0
#: How many polling resumptions the snapshot keeps (the latest).
_MAX_RESUMED = 10
#: The `state.seen` scope of reported transitions' message ids.
SEEN_SCOPE = "watch"
#: How long their ids are kept: beyond the age at which `verify_webhook` refuses a delivery.
SEEN_KEEP_MS = int(MAX_MESSAGE_AGE.total_seconds() * 1000) + 5 * 60 * 1000
#: What a transition's operation gives when its message id was applied before.
_APPLIED_ALREADY = object()
_HELIX = "the Twitch API"  # the target; HTTP refusals name the host that answered
_CREDENTIALS_REFUSED = frozenset({400, 401, 403})  # the OAuth server's "bad client"


# What a poll can fail with and still be only a failed poll (backoff, not a crash).
_POLL_FAILURES = (HelixApiError, HelixParseError, httpx.HTTPError, OSError, ValueError)


@attrs.frozen(kw_only=True)
class WatchAdd:
    """Watch `value` (a login, id, game id or Kick slug, per `kind`).

    Reply: True if new, False if already watched, None if `value` is not valid for `kind`.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(WATCH_KINDS))
    value: str


@attrs.frozen(kw_only=True)
class EventSubCoverage:
    """From a creator's `twitch-events`: whether its EventSub session now reports `channel`'s
    stream.online and stream.offline (`covered`), or no longer does (`reason` says why).

    Coverage lapses after `lease` seconds unless sent again (an actor that crashed or whose
    message was lost cannot keep a channel unpolled). No reply.
    """

    channel: str  # the Twitch login
    user_id: str | None = None
    covered: bool
    reason: str | None = None
    lease: float = 300.0


@attrs.frozen(kw_only=True)
class WatchRemove:
    """Stop watching `value`. Reply: True if it was watched."""

    kind: str = attrs.field(validator=attrs.validators.in_(WATCH_KINDS))
    value: str


@attrs.frozen(kw_only=True)
class WatchList:
    """Reply: ``{kind: [values...]}`` for every kind."""


@attrs.frozen(kw_only=True)
class PollNow:
    """Run a Helix scan now; reply with its `PollResult`."""


@attrs.frozen(kw_only=True)
class PollResult:
    """What one scan did."""

    requests: int
    live: int
    started: tuple[str, ...]
    ended: tuple[str, ...]


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class LiveMonitor(Actor):
    """Watches streams; see the module docs.

    `helix` may be None (no Twitch polling: webhooks and Kick only). `notifier` receives each
    committed `StreamStarted`/`StreamEnded` (the `NotificationDispatcher`); `listeners` too.
    `webhook_stats` (from `register_watch_routes`) is shown in the snapshot. `autopoll` False
    leaves polling to `PollNow` messages (tests, benchmarks).
    """

    def __init__(
        self,
        *,
        store: Callable[[], ActorRef],
        helix: HelixClient | Callable[[], HelixClient | None] | None = None,
        notifier: Callable[[], ActorRef] | None = None,
        listeners: Sequence[Callable[[], ActorRef]] = (),
        rules: Sequence[NotifyRule] = (),
        streamers: Sequence[str] = (),
        streamer_ids: Sequence[str] = (),
        games: Sequence[str] = (),
        kick_channels: Sequence[str] = (),
        poll_seconds: float = 60.0,
        webhook_stats: WebhookStats | None = None,
        enabled: bool = True,
        autopoll: bool = True,
        clock_ms: Callable[[], int] = now_ms,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._helix_source = helix
        self._helix: HelixClient | None = None
        self._notifier = notifier
        self._listeners = tuple(listeners)
        self._rules = tuple(rules)
        self.watches: dict[str, dict[str, None]] = {kind: {} for kind in WATCH_KINDS}
        for kind, values in (
            ("twitch", streamers),
            ("twitch_id", streamer_ids),
            ("twitch_game", games),
            ("kick", kick_channels),
        ):
            for value in values:
                self.watches[kind][self._norm(kind, value)] = None
        self.poll_seconds = poll_seconds
        self.webhook_stats = webhook_stats
        self.enabled = enabled
        self.autopoll = autopoll
        self._clock_ms = clock_ms
        self._rng = rng
        # (platform, channel) -> (Twitch user id if known, whether Helix polling is
        # authoritative for it: absent from a complete scan = offline)
        self._live: dict[tuple[str, str], tuple[str | None, bool]] = {}
        self._poll_wake = trio.Event()
        # login -> (user id, trio time the coverage lapses): reported through EventSub.
        self._eventsub: dict[str, tuple[str | None, float]] = {}
        self.eventsub_resumed: list[PollingResumed] = []  # the latest polling resumptions
        self.lifecycle = Lifecycle(
            "watch",
            enabled=enabled,
            target=_HELIX,
            backoff=Backoff(
                initial=2 * poll_seconds, maximum=max(poll_seconds, _MAX_BACKOFF), jitter=0.1
            ),
            max_person_failures=None,  # a fixed client secret is picked up on the slow retry
            stable_after=0.0,  # one good scan starts the backoff over
        )
        self.polls = 0
        self.poll_requests = 0
        self.last_poll_requests = 0
        self.poll_failures = 0
        self.started = 0
        self.ended = 0
        self.ignored = 0
        self.duplicates = 0
        self.errors = 0
        self.last_poll_at: datetime | None = None
        self.last_event_at: datetime | None = None

    @staticmethod
    def _norm(kind: str, value: str) -> str:
        value = value.strip()
        return value.lower() if kind in ("twitch", "kick") else value

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        source = self._helix_source
        self._helix = source() if callable(source) else source
        open_sessions = await self._store().call(Read(fn=_open_sessions), timeout=30.0)
        polled_any = bool(self.watches["twitch_id"] or self.watches["twitch_game"])
        for session in open_sessions:
            polled = session.channel in self.watches["twitch"] or polled_any
            self._live[(session.platform, session.channel)] = (None, polled)

    async def on_stop(self) -> None:
        if (
            self._helix is not None
            and callable(self._helix_source)
            and not isinstance(self._helix_source, HelixClient)
        ):
            helix, self._helix = self._helix, None
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await helix.aclose()

    @property
    def polling(self) -> bool:
        """Whether this monitor polls Helix itself (else webhooks, Kick and `PollNow` only)."""
        return self.enabled and self.autopoll and self._helix is not None

    async def run(self) -> None:
        if not self.polling:
            await trio.sleep_forever()  # webhooks, Kick and `PollNow` still work
        await self.lifecycle.run(self._poll_forever, log=self.log)

    async def _poll_forever(self) -> None:
        """The lifecycle's session: scan, wait, scan...; a failed scan ends it (backoff)."""
        while True:
            through_eventsub = len(self._covered_logins())
            via = f" ({through_eventsub} through EventSub)" if through_eventsub else ""
            if self._polled_watches():
                failure = await self._scan()
                if failure is not None:
                    raise failure
                watched = sum(len(self.watches[k]) for k in ("twitch", "twitch_id", "twitch_game"))
                self.lifecycle.mark_connected(f"watching {watched} Twitch entries{via}")
            else:
                self.lifecycle.mark_connected(f"nothing to poll{via}", idle=True)
            wait = self.poll_seconds * (0.9 + 0.2 * self._rng())
            with trio.move_on_after(wait):
                await self._poll_wake.wait()
            self._poll_wake = trio.Event()

    async def _scan(self) -> BaseException | None:
        """One scan; the exception that explains a failed one (raised by the caller, outside
        this handler, so its own cause chain is what the lifecycle describes)."""
        try:
            await self.poll_once()
        except Exception as exc:
            # Requests run concurrently, so a failure may arrive wrapped in a group.
            cause = unwrap_failure(exc)
            if not isinstance(cause, _POLL_FAILURES):
                raise
            self.poll_failures += 1
            self.errors += 1
            assert self._helix is not None
            if isinstance(cause, HelixTokenRefused):
                # The app credentials themselves are refused: retrying soon cannot help.
                return HttpStatusError(
                    cause.status,
                    self._helix.oauth_host,
                    detail=cause.error.message or None,
                    needs_person=cause.status in _CREDENTIALS_REFUSED,
                )
            if isinstance(cause, HelixApiError):
                detail = cause.error.message or None
                return HttpStatusError(cause.status, self._helix.helix_host, detail=detail)
            if isinstance(cause, HelixParseError | ValueError):
                return SessionEnded(f"unreadable answer from {_HELIX}: {cause}"[:300])
            return cause
        return None

    def _polled_watches(self) -> bool:
        logins, ids = self._polled_logins_and_ids()
        return bool(logins or ids or self.watches["twitch_game"])

    # ------------------------------------------------------------------ EventSub coverage

    def _covered_logins(self) -> dict[str, str | None]:
        """Channels EventSub reports now (login -> user id); lapsed leases are dropped here."""
        now = trio.current_time()
        for login, (_user_id, until) in list(self._eventsub.items()):
            if until <= now:
                self._uncover(login, "its EventSub actor stopped renewing the coverage")
        return {login: user_id for login, (user_id, _until) in self._eventsub.items()}

    def _polled_logins_and_ids(self) -> tuple[list[str], list[str]]:
        covered = self._covered_logins()
        ids = {user_id for user_id in covered.values() if user_id}
        return (
            [login for login in self.watches["twitch"] if login not in covered],
            [user_id for user_id in self.watches["twitch_id"] if user_id not in ids],
        )

    def _coverage(self, message: EventSubCoverage) -> None:
        login = message.channel.strip().lower()
        if message.covered:
            if login not in self._eventsub:
                self.log.info("channel reported through EventSub: not polled", channel=login)
            self._eventsub[login] = (message.user_id, trio.current_time() + message.lease)
        elif login in self._eventsub:
            self._uncover(login, message.reason or "its EventSub session ended")

    def _uncover(self, login: str, reason: str) -> None:
        del self._eventsub[login]
        entry = PollingResumed(channel=login, reason=reason, at=datetime.now(UTC))
        self.eventsub_resumed = [*self.eventsub_resumed[-(_MAX_RESUMED - 1) :], entry]
        self.log.warning(
            "polling Helix again for a channel EventSub no longer reports",
            channel=login,
            reason=reason,
            at=entry.at.isoformat(),
        )
        self._poll_wake.set()  # catch up at once: EventSub does not replay the gap

    # ------------------------------------------------------------------ messages

    async def handle(self, message: Any) -> Any:
        if isinstance(message, StreamStarted | StreamEnded):
            return await self._external(message)
        if isinstance(message, EventSubCoverage):
            self._coverage(message)
            return None
        if isinstance(message, WatchAdd):
            value = self._norm(message.kind, message.value)
            if not _VALID[message.kind].fullmatch(value):
                self.ignored += 1
                self.log.info("invalid watch value", kind=message.kind)
                return None
            new = value not in self.watches[message.kind]
            self.watches[message.kind][value] = None
            if new and message.kind != "kick":
                self._poll_wake.set()
            return new
        if isinstance(message, WatchRemove):
            value = self._norm(message.kind, message.value)
            return self.watches[message.kind].pop(value, False) is None
        if isinstance(message, WatchList):
            return {kind: list(values) for kind, values in self.watches.items()}
        if isinstance(message, PollNow):
            return await self.poll_once()
        self.errors += 1
        self.log.warning("unexpected message", type=type(message).__name__)
        return None

    async def _external(self, event: StreamStarted | StreamEnded) -> bool:
        """A transition reported by a webhook or a chat connection. Reply: whether it changed."""
        channel = event.channel.lower()
        if (
            event.platform == "kick"
            and self.watches["kick"]
            and channel not in self.watches["kick"]
        ):
            self.ignored += 1
            return False
        self.last_event_at = datetime.now(UTC)
        if isinstance(event, StreamStarted):
            polled = event.platform == "twitch" and channel in self.watches["twitch"]
            changed = await self._commit(
                started=[(event, _ms(event.sent_at), None, polled)], ended=[], once=True
            )
        else:
            changed = await self._commit(started=[], ended=[(event, None)], once=True)
        return bool(changed)

    # ------------------------------------------------------------------ polling

    async def poll_once(self) -> PollResult:
        """Scan Helix for the whole watchlist and commit the transitions."""
        assert self._helix is not None, "no Helix client configured"
        before = self._helix.requests
        covered = self._covered_logins()
        polled_logins, polled_ids = self._polled_logins_and_ids()
        try:
            scan = await self._helix.live_streams(
                logins=polled_logins,
                user_ids=polled_ids,
                game_ids=list(self.watches["twitch_game"]),
            )
        finally:
            spent = self._helix.requests - before
            self.poll_requests += spent
            self.last_poll_requests = spent
        self.polls += 1
        self.last_poll_at = datetime.now(UTC)
        logins, ids = self.watches["twitch"], self.watches["twitch_id"]
        found: dict[str, tuple[Stream, bool]] = {}
        for stream in scan.streams:
            if stream.user_login.lower() in covered:
                continue  # a game watch found it: EventSub reports its transitions
            found[stream.user_login.lower()] = (stream, True)
        started = []
        now = datetime.now(UTC)
        for login, (stream, polled) in found.items():
            event = StreamStarted(
                platform="twitch",
                channel=login,
                message_id=f"helix:{stream.id}",
                sent_at=stream.started_at or now,
                raw_type="helix.streams",
                title=stream.title or None,
                game=stream.game_name or None,
                viewer_count=stream.viewer_count,
            )
            started.append((event, _ms(event.sent_at), stream.user_id, polled))
        ended = []
        for (platform, channel), (user_id, polled) in list(self._live.items()):
            if platform != "twitch" or channel in found or channel in covered:
                continue
            if polled or channel in logins or (user_id is not None and user_id in ids):
                event_end = StreamEnded(
                    platform="twitch",
                    channel=channel,
                    message_id=None,
                    sent_at=now,
                    raw_type="helix.streams",
                )
                ended.append((event_end, user_id))
        changes = await self._commit(started=started, ended=ended)
        return PollResult(
            requests=scan.requests,
            live=len(found),
            started=tuple(e.channel for e in changes if isinstance(e, StreamStarted)),
            ended=tuple(e.channel for e in changes if isinstance(e, StreamEnded)),
        )

    async def _commit(
        self,
        *,
        started: Sequence[tuple[StreamStarted, int, str | None, bool]],
        ended: Sequence[tuple[StreamEnded, str | None]],
        once: bool = False,
    ) -> list[StreamStarted | StreamEnded]:
        """One transaction for all transitions; then notify. Returns the real changes.
        `once`: each event's message id is applied at most once (see the module docs)."""
        rules, clock = self._rules, self._clock_ms
        ops: list[Callable[[apsw.Connection], Any]] = []
        for event, started_ms, _user_id, _by_game in started:
            ops.append(_start_op(event, started_ms, rules, clock))
        for event_end, _user_id in ended:
            ops.append(_end_op(event_end, rules, clock))
        if once:
            events = [e for e, *_ in started] + [e for e, _ in ended]
            ops = [_once(op, event, clock) for op, event in zip(ops, events, strict=True)]
        if not ops:
            return []
        results = await write(self._store(), *ops, topic="streams")
        changes: list[StreamStarted | StreamEnded] = []
        for (event, _start, user_id, polled), result in zip(started, results, strict=False):
            if result is _APPLIED_ALREADY:
                self.duplicates += 1
                continue
            key = (event.platform, event.channel.lower())
            known = self._live.get(key)
            if known is None or user_id is not None:
                self._live[key] = (user_id, polled or (known is not None and known[1]))
            if result is not None:
                changes.append(result)
        for (event_end, _user_id), result in zip(ended, results[len(started) :], strict=False):
            if result is _APPLIED_ALREADY:
                self.duplicates += 1
                continue
            self._live.pop((event_end.platform, event_end.channel.lower()), None)
            if result is not None:
                changes.append(result)
        for change in changes:
            if isinstance(change, StreamStarted):
                self.started += 1
            else:
                self.ended += 1
            self._tell(change)
        return changes

    def _tell(self, event: StreamStarted | StreamEnded) -> None:
        targets = ([self._notifier] if self._notifier is not None else []) + list(self._listeners)
        for target in targets:
            try:
                target().cast(event)
            except Exception as exc:  # MailboxFull, ActorFailed (no actor there), ...
                # The outbox already holds the notification; the dispatcher finds it anyway.
                self.log.info("could not tell a listener", error=type(exc).__name__)

    def health(self) -> ConnectionHealth | None:
        """The Helix polling's health (None when this monitor does not poll)."""
        if not self.polling:
            return None
        return self.lifecycle.health(errors=self.errors, last_event_at=self.last_event_at)

    @property
    def status(self) -> str:
        """running | error | disabled (the dashboard's words)."""
        if not self.enabled:
            return "disabled"
        health = self.health()
        return "running" if health is None or health.state.healthy else "error"

    @property
    def error(self) -> str | None:
        """Why polling fails, as a sentence (None while it works)."""
        health = self.health()
        return health.error if health is not None else None

    def snapshot(self) -> LiveMonitorStatistics:
        """What this monitor shows of itself in the tree (no secrets, no bodies)."""
        helix = self._helix
        return LiveMonitorStatistics(
            status=self.status,
            enabled=self.enabled,
            watches={kind: len(values) for kind, values in self.watches.items()},
            live=tuple(sorted(f"{p}:{c}" for p, c in self._live)),
            polls=self.polls,
            poll_requests=self.poll_requests,
            last_poll_requests=self.last_poll_requests,
            poll_failures=self.poll_failures,
            last_poll_at=self.last_poll_at,
            started=self.started,
            ended=self.ended,
            ignored=self.ignored,
            duplicates=self.duplicates,
            errors=self.errors,
            error=self.error,
            last_event_at=self.last_event_at,
            rate_limit_remaining=(
                helix.rate_limit.remaining
                if helix is not None and helix.rate_limit is not None
                else None
            ),
            webhook=self.webhook_stats.statistics() if self.webhook_stats is not None else None,
            eventsub=EventSubChannels(
                channels=tuple(sorted(self._eventsub)), resumed=tuple(self.eventsub_resumed)
            ),
        )


def _open_sessions(conn: apsw.Connection) -> list[sessions.StreamSession]:
    return [s for s in sessions.list_sessions(conn) if s.ended_at is None]


def _once(
    op: Callable[[apsw.Connection], Any],
    event: StreamStarted | StreamEnded,
    clock: Callable[[], int],
) -> Callable[[apsw.Connection], Any]:
    """`op`, unless `event`'s message id was applied already (then `_APPLIED_ALREADY`)."""
    if event.message_id is None:
        return op
    # Kick names both transitions of a stream by the stream's id: the kind tells them apart.
    kind = "online" if isinstance(event, StreamStarted) else "offline"
    message_id = f"{kind}:{event.message_id}"

    def once(conn: apsw.Connection) -> Any:
        now = clock()
        seen.prune_seen(conn, scope=SEEN_SCOPE, older_than=max(0, now - SEEN_KEEP_MS))
        if not seen.mark_seen(
            conn, scope=SEEN_SCOPE, platform=event.platform, message_id=message_id, now=now
        ):
            return _APPLIED_ALREADY
        return op(conn)

    return once


def _start_op(
    event: StreamStarted,
    started_ms: int,
    rules: Sequence[NotifyRule],
    clock: Callable[[], int],
) -> Callable[[apsw.Connection], StreamStarted | None]:
    def op(conn: apsw.Connection) -> StreamStarted | None:
        channel = event.channel.lower()
        result = sessions.start_session(
            conn,
            platform=event.platform,
            channel=channel,
            started_at=started_ms,
            title=event.title,
            game=event.game,
            viewers=event.viewer_count or 0,
        )
        if not result.created:
            sessions.update_session(
                conn,
                platform=event.platform,
                channel=channel,
                viewers=event.viewer_count,
                title=event.title,
                game=event.game,
                now=clock(),
            )
            return None
        start = result.session.started_at
        for enqueue in outbox_ops(rules, event, start, now_ms=clock):
            enqueue(conn)
        return attrs.evolve(event, channel=channel)

    return op


def _end_op(
    event: StreamEnded, rules: Sequence[NotifyRule], clock: Callable[[], int]
) -> Callable[[apsw.Connection], StreamEnded | None]:
    def op(conn: apsw.Connection) -> StreamEnded | None:
        channel = event.channel.lower()
        ended = sessions.end_session(
            conn, platform=event.platform, channel=channel, ended_at=_ms(event.sent_at)
        )
        if ended is None:
            return None
        for enqueue in outbox_ops(rules, event, ended.started_at, now_ms=clock):
            enqueue(conn)
        return attrs.evolve(event, channel=channel)

    return op
