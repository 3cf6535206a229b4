"""`RumbleChat`: one creator's Rumble chat, read by polling the Live Stream API.

- The creator's API URL (`RumbleConfig.api_url`) embeds their key: it is a secret. It is only
  revealed to make the request and never appears in a log line, an error text or a snapshot
  (errors name the HTTP status or the exception type, never the URL).
- Every `poll_seconds` (through the rate governor's ("rumble", creator, "poll") bucket, so no
  path can poll faster), one GET; the newest live stream's recent messages and rants become
  `ChatEvent`/`PaidMessageEvent` (platform "rumble", see `actors.rumble.livestream`) sent to
  the creator's trigger engine. No live stream: status "inactive".
- Messages have no ids: the derived keys are remembered (bounded memory, plus the store's
  `chat_seen` table when a store is given), so the sliding window of recent messages, a
  re-poll or a restart never delivers one twice.
- `paused` in the configuration: status "paused" with `paused_reason`, and no request at all.
- Errors end the lifecycle's session (`actors.connection.Lifecycle`): network errors, 5xx, 429,
  unreadable bodies and stalls (`request_timeout`) back off exponentially with jitter (from
  `poll_seconds`); 401/403/404 (a revoked or wrong key) need a person (`failed`) and retry
  slowly. Never a tight loop.
- `SendChat`: the Live Stream API is read-only, so replies are dropped with the counted reason
  "read_only" (sending needs Rumble's logged-in chat API, which this runtime does not use).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import httpx
import trio

from actors import Actor, ActorRef
from actors.chat import Moderate, SendChat
from actors.chat_statistics import PolledChatStatistics
from actors.connection import ConnectionHealth, HttpStatusError, Lifecycle, Outbox, SessionEnded
from actors.ratelimit import RateGovernor, RateKey, acquire
from actors.recent import SeenMessages
from actors.rumble import livestream
from config.models import RumbleConfig
from supervisors import Backoff

__all__ = ["RumbleChat", "RumbleChatStatistics"]

PLATFORM: Final = "rumble"
DEFAULT_PAUSED_REASON: Final = "paused in configuration"

_TRANSPORT_ERRORS: Final = (httpx.TransportError, OSError, trio.BrokenResourceError)

#: HTTP answers that mean the key in the URL is wrong or revoked: a person must act.
_KEY_REFUSED: Final = frozenset({401, 403, 404})


@attrs.frozen(slots=True, kw_only=True)
class RumbleChatStatistics(PolledChatStatistics):
    """What a Rumble chat shows of itself in the tree (`RumbleChat.snapshot`): the common
    rows of a polled chat, and the live stream it reads. Never the API URL (it holds the
    key). `actions` is always 0: the Live Stream API is read-only, nothing is sent; `errors`
    counts connection failures and disconnects, plus unreadable responses."""

    platform: str = PLATFORM
    stream_id: str | None = None
    stream_title: str | None = None
    watching_now: int | None = None
    poll_seconds: float
    #: Non-200 answers by name ("http401"), sorted.
    http_errors: Mapping[str, int] = attrs.field(factory=dict)
    rants: int = 0


class RumbleChat(Actor):
    """Polls one creator's Rumble Live Stream API; see the module docs."""

    #: Filter moderation requests this platform could not carry out yet (counted, logged).
    moderation_unsupported = 0

    def __init__(
        self,
        *,
        creator_id: str,
        config: RumbleConfig,
        triggers: Callable[[], ActorRef],
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: Callable[[], ActorRef] | None = None,
        governor: RateGovernor | None = None,
        rng: random.Random | None = None,
        request_timeout: float = 10.0,
        backoff_maximum: float = 300.0,
        backoff_jitter: float = 0.2,
        error_retry_initial: float = 60.0,
        error_retry_maximum: float = 1800.0,
        dedupe_size: int = 4096,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self._triggers = triggers
        self._transport = transport
        self._clock = clock
        self._store = store
        self.governor = governor if governor is not None else RateGovernor()
        self._rng = rng if rng is not None else random.Random()
        self.request_timeout = request_timeout
        self._dedupe_size = dedupe_size
        self._poll_key = RateKey(platform=PLATFORM, creator_id=creator_id, action="poll")
        self._seen: SeenMessages | None = None
        try:
            # Only the host is ever shown: the rest of the URL holds the key.
            self._host = httpx.URL(config.api_url.reveal()).host or "the Rumble API"
        except httpx.InvalidURL:
            self._host = "the Rumble API"
        self.lifecycle = Lifecycle(
            PLATFORM,
            enabled=config.enabled,
            creator_id=creator_id,
            target=self._host,
            backoff=Backoff(
                initial=config.poll_seconds, maximum=backoff_maximum, jitter=backoff_jitter
            ),
            person_backoff=Backoff(
                initial=error_retry_initial, maximum=error_retry_maximum, jitter=backoff_jitter
            ),
            max_person_failures=None,  # a key fixed upstream is picked up on the slow retry
            stable_after=0.0,  # one good answer proves the API reachable again
            clock=clock,
            rng=self._rng,
        )
        self.outbox = Outbox(platform=PLATFORM, capacity=0)  # read-only: nothing is queued

        self.stream_id: str | None = None
        self.stream_title: str | None = None
        self.watching_now: int | None = None
        self.requests = 0
        self.timeouts = 0
        self.http_errors: dict[str, int] = {}
        self.parse_errors = 0
        self.skipped = 0
        self.messages = 0
        self.rants = 0
        self.duplicates = 0
        self.last_event_at: datetime | None = None
        self.last_success_at: datetime | None = None

    async def on_start(self) -> None:
        self.outbox.log = self.log  # drops are logged with the actor's path
        self._seen = SeenMessages(
            platform=PLATFORM,
            creator_id=self.creator_id,
            store=self._store,
            size=self._dedupe_size,
            log=self.log,
        )
        self.governor.define(
            self._poll_key,
            capacity=1,
            refill_per_second=1.0 / self.config.poll_seconds,
            now=trio.current_time(),
        )

    async def run(self) -> None:
        if self.config.enabled and self.config.paused:
            self.lifecycle.pause(self.config.paused_reason or DEFAULT_PAUSED_REASON)
            await trio.sleep_forever()
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.request_timeout
        ) as client:

            async def serve() -> None:
                while True:
                    await acquire(self.governor, self._poll_key)
                    await self._poll_once(client)

            await self.lifecycle.run(serve, log=self.log)

    async def _poll_once(self, client: httpx.AsyncClient) -> None:
        """One GET; a failure raises (the lifecycle backs off or, for a refused key, fails)."""
        self.requests += 1
        try:
            with trio.fail_after(self.request_timeout):
                # The URL holds the key: it goes to httpx and nowhere else.
                response = await client.get(
                    self.config.api_url.reveal(), headers={"Accept": "application/json"}
                )
        except httpx.InvalidURL:  # its message would quote the URL: name only the problem
            raise SessionEnded(
                "the configured API URL is not a valid URL", needs_person=True
            ) from None
        except (*_TRANSPORT_ERRORS, trio.TooSlowError) as exc:
            if isinstance(exc, trio.TooSlowError | httpx.TimeoutException):
                self.timeouts += 1
            raise
        status = response.status_code
        if status != 200:
            name = f"http{status}"
            self.http_errors[name] = self.http_errors.get(name, 0) + 1
            raise HttpStatusError(status, self._host, needs_person=status in _KEY_REFUSED)
        try:
            data = livestream.parse_livestream_data(response.content)
        except (ValueError, livestream.RumbleParseError) as exc:
            self.parse_errors += 1
            raise SessionEnded(f"unreadable response from {self._host}: {exc}") from None
        now = self._clock()
        self.last_success_at = now
        if data.skipped:
            self.skipped += data.skipped
            self.log.warning("rumble entries skipped", count=data.skipped)
        stream = livestream.live_stream(data)
        if stream is None:
            if self.stream_id is not None:
                self.log.info("rumble stream over", stream_id=self.stream_id)
            self.stream_id = None
            self.watching_now = None
            self.lifecycle.mark_connected("no live stream", idle=True)
            return
        if stream.id != self.stream_id:
            self.log.info("rumble live stream found", stream_id=stream.id)
        self.stream_id = stream.id
        self.stream_title = stream.title
        self.watching_now = stream.watching_now
        self.lifecycle.mark_connected(f"reading live stream {stream.id}")
        await self._deliver(livestream.to_events(stream, now=now))

    async def _deliver(self, events: list[Any]) -> None:
        assert self._seen is not None
        fresh = await self._seen.unseen(e.message_id for e in events)
        delivered: list[str] = []
        try:
            for event in events:
                if event.message_id not in fresh:
                    self.duplicates += 1
                    continue
                fresh.discard(event.message_id)
                await self._triggers().send(event)
                delivered.append(event.message_id)
                self.messages += 1
                if event.raw_type == "rant":
                    self.rants += 1
                self.last_event_at = event.sent_at
        finally:
            if delivered:
                # Shielded (a stop must not forget what was delivered), but bounded.
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._seen.mark(delivered, self._clock())

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self.outbox.drop("read_only", message.trigger_id)
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
        raise TypeError(f"RumbleChat takes SendChat, got {type(message).__name__}")

    def health(self) -> ConnectionHealth:
        """The API link's health with this actor's counters."""
        return self.lifecycle.health(
            messages=self.messages,
            errors=self.lifecycle.connect_failures + self.lifecycle.disconnects,
            dropped=self.outbox.dropped,
            last_event_at=self.last_event_at,
        )

    @property
    def status(self) -> str:
        """running | inactive | paused | error | disabled (the dashboard's words)."""
        return self.health().status

    @property
    def error(self) -> str | None:
        """The failure being retried, as a sentence (None while working)."""
        return self.health().error

    @property
    def paused_reason(self) -> str | None:
        """Why polling is paused, else None."""
        return self.lifecycle.paused_reason

    @property
    def dropped(self) -> int:
        """Replies dropped (all reasons)."""
        return self.outbox.dropped

    def snapshot(self) -> RumbleChatStatistics:
        """Status for the exports (never the API URL)."""
        try:
            now = trio.current_time()
        except RuntimeError:
            now = 0.0
        health = self.health()
        outbox = self.outbox.statistics()
        return RumbleChatStatistics(
            creator_id=self.creator_id,
            status=health.status,
            state=health.state.value,
            enabled=self.config.enabled,
            messages=self.messages,
            errors=health.errors + self.parse_errors,
            last_event_at=self.last_event_at,
            last_heartbeat=self.last_success_at,
            error=health.error,
            paused_reason=health.paused_reason,
            stream_id=self.stream_id,
            stream_title=self.stream_title,
            watching_now=self.watching_now,
            poll_seconds=self.config.poll_seconds,
            requests=self.requests,
            timeouts=self.timeouts,
            http_errors=dict(sorted(self.http_errors.items())),
            parse_errors=self.parse_errors,
            skipped=self.skipped,
            rants=self.rants,
            duplicates=self.duplicates,
            dropped=outbox.dropped,
            dropped_reasons=outbox.reasons(),
            rate_limits=self.governor.statistics(now) if self._poll_key in self.governor else (),
        )
