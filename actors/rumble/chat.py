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
- Errors: network errors, 5xx, 429, unreadable bodies and stalls (`request_timeout`) back off
  exponentially with jitter; 401/403/404 (a revoked or wrong key) put the actor in "error" and
  retry slowly. Never a tight loop.
- `SendChat`: the Live Stream API is read-only, so replies are dropped with the counted reason
  "read_only" (sending needs Rumble's logged-in chat API, which this runtime does not use).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import trio

from actors import Actor, ActorRef
from actors.chat import SendChat
from actors.ratelimit import RateGovernor, RateKey, acquire
from actors.recent import SeenMessages
from actors.rumble import livestream
from config.models import RumbleConfig

__all__ = ["RumbleChat"]

PLATFORM: Final = "rumble"
DEFAULT_PAUSED_REASON: Final = "paused in configuration"

_TRANSPORT_ERRORS: Final = (httpx.TransportError, OSError, trio.BrokenResourceError)


class _Failed(Exception):
    """One poll failed; `fatal` when only a configuration change can help."""

    def __init__(self, what: str, *, fatal: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.fatal = fatal


class RumbleChat(Actor):
    """Polls one creator's Rumble Live Stream API; see the module docs."""

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
        self.backoff_maximum = backoff_maximum
        self.backoff_jitter = backoff_jitter
        self.error_retry_initial = error_retry_initial
        self.error_retry_maximum = error_retry_maximum
        self._dedupe_size = dedupe_size
        self._poll_key = RateKey(platform=PLATFORM, creator_id=creator_id, action="poll")
        self._seen: SeenMessages | None = None

        if not config.enabled:
            self.status = "disabled"
        elif config.paused:
            self.status = "paused"
        else:
            self.status = "inactive"
        self.paused_reason: str | None = (
            (config.paused_reason or DEFAULT_PAUSED_REASON) if config.paused else None
        )
        self.error: str | None = None
        self.stream_id: str | None = None
        self.stream_title: str | None = None
        self.watching_now: int | None = None
        self.requests = 0
        self.failures = 0
        self.timeouts = 0
        self.http_errors: dict[str, int] = {}
        self.parse_errors = 0
        self.skipped = 0
        self.messages = 0
        self.rants = 0
        self.duplicates = 0
        self.dropped = 0
        self.dropped_reasons: dict[str, int] = {}
        self.last_event_at: datetime | None = None
        self.last_success_at: datetime | None = None

    async def on_start(self) -> None:
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
        if not self.config.enabled:
            self.log.info("rumble chat disabled")
            await trio.sleep_forever()
        if self.config.paused:
            self.log.info("rumble chat paused", reason=self.paused_reason)
            await trio.sleep_forever()
        failures = 0
        fatal = 0
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.request_timeout
        ) as client:
            while True:
                await acquire(self.governor, self._poll_key)
                try:
                    await self._poll_once(client)
                except _Failed as failed:
                    self.failures += 1
                    if failed.fatal:
                        fatal += 1
                        base = min(
                            self.error_retry_maximum,
                            self.error_retry_initial * 2 ** min(fatal - 1, 32),
                        )
                        self.status = "error"
                    else:
                        failures += 1
                        base = min(
                            self.backoff_maximum,
                            self.config.poll_seconds * 2 ** min(failures - 1, 32),
                        )
                        if failures >= 3:
                            self.status = "error"
                    self.error = failed.what
                    delay = self._jitter(base)
                    self.log.warning("rumble poll failed", error=failed.what, retry_in=delay)
                    await trio.sleep(delay)
                    continue
                failures = fatal = 0
                self.error = None

    async def _poll_once(self, client: httpx.AsyncClient) -> None:
        self.requests += 1
        try:
            with trio.fail_after(self.request_timeout):
                # The URL holds the key: it goes to httpx and nowhere else.
                response = await client.get(
                    self.config.api_url.reveal(), headers={"Accept": "application/json"}
                )
        except trio.TooSlowError:
            self.timeouts += 1
            raise _Failed("timeout") from None
        except httpx.InvalidURL:  # its message would quote the URL: name only the problem
            raise _Failed("the configured API URL is not a valid URL", fatal=True) from None
        except _TRANSPORT_ERRORS as exc:
            if isinstance(exc, httpx.TimeoutException):
                self.timeouts += 1
                raise _Failed("timeout") from None
            raise _Failed(type(exc).__name__) from None
        status = response.status_code
        if status != 200:
            name = f"http{status}"
            self.http_errors[name] = self.http_errors.get(name, 0) + 1
            raise _Failed(f"HTTP {status}", fatal=status in (401, 403, 404))
        try:
            data = livestream.parse_livestream_data(response.content)
        except (ValueError, livestream.RumbleParseError) as exc:
            self.parse_errors += 1
            raise _Failed(f"unreadable response: {exc}") from None
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
            self.status = "inactive"
            return
        if stream.id != self.stream_id:
            self.log.info("rumble live stream found", stream_id=stream.id)
        self.stream_id = stream.id
        self.stream_title = stream.title
        self.watching_now = stream.watching_now
        self.status = "running"
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

    def _jitter(self, seconds: float) -> float:
        return seconds * self._rng.uniform(1 - self.backoff_jitter, 1 + self.backoff_jitter)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self._drop("read_only", message.trigger_id)
            return None
        raise TypeError(f"RumbleChat takes SendChat, got {type(message).__name__}")

    def _drop(self, reason: str, trigger_id: str | None) -> None:
        self.dropped += 1
        self.dropped_reasons[reason] = self.dropped_reasons.get(reason, 0) + 1
        self.log.warning("rumble reply dropped", reason=reason, trigger=trigger_id)

    def snapshot(self) -> dict[str, Any]:
        """Status for the exports (never the API URL)."""
        try:
            now = trio.current_time()
        except RuntimeError:
            now = 0.0
        return {
            "platform": PLATFORM,
            "creator_id": self.creator_id,
            "status": self.status,
            "enabled": self.config.enabled,
            "messages": self.messages,
            "actions": 0,
            "errors": self.failures + self.parse_errors,
            "last_event_at": self.last_event_at,
            "last_heartbeat": self.last_success_at,
            "error": self.error,
            "paused_reason": self.paused_reason,
            "stream_id": self.stream_id,
            "stream_title": self.stream_title,
            "watching_now": self.watching_now,
            "poll_seconds": self.config.poll_seconds,
            "requests": self.requests,
            "timeouts": self.timeouts,
            "http_errors": dict(sorted(self.http_errors.items())),
            "parse_errors": self.parse_errors,
            "skipped": self.skipped,
            "rants": self.rants,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
            "dropped_reasons": dict(sorted(self.dropped_reasons.items())),
            "rate_limits": self.governor.statistics(now) if self._poll_key in self.governor else [],
        }
