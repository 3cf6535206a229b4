"""`YouTubeChat`: one creator's YouTube live chat over the Data API v3, quota-aware.

Protocol facts and parsing live in the sans-IO module `actors.youtube.livechat`; this actor
does the HTTP (httpx), the waiting and the bookkeeping:

- Discovery: a configured `video_id` -> `videos.list` -> `activeLiveChatId` (1 unit); else,
  with an OAuth token, `liveBroadcasts.list?broadcastStatus=active` (the token's own live
  broadcasts); else, for a `channel_id`, `search.list?eventType=live` (100 units) followed by
  `videos.list`. The search is budgeted: at most once per `search_interval` seconds and only
  while the quota is not in its reserve. Nothing live: status "inactive", look again on a slow
  schedule (`rediscover_seconds`, stretched by the quota registry).
- Polling: `liveChatMessages.list` with `pageToken`, waiting `pollingIntervalMillis` between
  calls, stretched by the `QuotaRegistry`'s `PollingInterval` so the day's budget lasts until
  the reset. Every call is `Charge`d to the registry first; a refusal pauses the actor (status
  "paused", reason "quota exhausted until <reset>") until the reset.
- Dedupe: message ids are remembered in a bounded in-memory set and, when a `store` is given,
  in the store's `chat_seen` table (keyed by creator), so neither a re-poll nor a restart of
  the actor delivers a message twice. Ids are recorded after delivery: a crash in the middle of
  a page may deliver that page's rest again (at least once beats lost).
- Errors (`livechat.error_action`): quotaExceeded -> paused until the reset; rateLimitExceeded,
  5xx, network errors, unreadable bodies and stalls (`request_timeout`) end the lifecycle's
  session (`actors.connection.Lifecycle`: exponential backoff with jitter, then the same chat
  and page are polled again); liveChatEnded/liveChatNotFound/`offlineAt`/`chatEndedEvent` ->
  the stream is over, rediscover on the slow schedule; forbidden and auth errors need a person
  (state `failed`, a slow, growing retry). Never a tight loop.
- Sending `SendChat`: `liveChatMessages.insert` (20 units) with the OAuth token, through the
  rate governor's ("youtube", creator, "chat") bucket; text longer than 200 characters is cut.
  Without a token, or with no live chat within `max_queue_age`, replies are dropped with a
  counted reason.
- Filter moderation (`Moderate`): ``liveChatMessages.delete`` (50 units) or a temporary
  ``liveChatBans.insert`` (200 units) with the OAuth token, charged to the quota first, in a
  `ModerationQueue` beside polling; a 403 is a counted refusal naming what the account lacks.

Secrets: the API key travels in the `X-Goog-Api-Key` header and the token in `Authorization`,
so no URL carries a credential; neither is ever logged or put in a snapshot.

Timing uses `trio.current_time()`/`trio.sleep` only; `clock` (wall time, aware UTC) is used for
quota resets, `sent_at` fallbacks and snapshot times (tests derive it from trio's clock).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import httpx
import trio

from actors import Actor, ActorFailed, ActorRef, CallTimeout
from actors.accounts import AccessToken, TokenSource, TokenUnavailable
from actors.chat import Moderate, SendChat
from actors.chat_statistics import PolledChatStatistics
from actors.connection import ConnectionHealth, HttpStatusError, Lifecycle, Outbox, Outgoing
from actors.events import AnyEvent
from actors.moderation import (
    ModerationFailed,
    ModerationQueue,
    ModerationRefused,
    ModerationStatistics,
)
from actors.quotas.registry import Charge, Check, PollingInterval
from actors.quotas.tracker import QuotaDecision
from actors.ratelimit import RateGovernor, RateKey, acquire
from actors.recent import SeenMessages
from actors.youtube import livechat
from actors.youtube.livechat import ApiRequest, ErrorAction, YouTubeError
from config.models import YouTubeConfig
from config.untrusted_json import loads_untrusted
from supervisors import Backoff

__all__ = ["DEFAULT_POLL_SECONDS", "YouTubeChat", "YouTubeChatStatistics"]

PLATFORM: Final = "youtube"
LIST_METHOD: Final = "liveChatMessages.list"
DEFAULT_POLL_SECONDS: Final = 5.0
"""Polling interval when a response carries no `pollingIntervalMillis`."""

# Errors that mean "this request did not get through" (counted, then the lifecycle backs off).
_TRANSPORT_ERRORS: Final = (httpx.TransportError, OSError, trio.BrokenResourceError)


class _ApiFailure(Exception):
    """A non-2xx answer (or unreadable body) and what to do about it."""

    def __init__(self, error: YouTubeError, action: ErrorAction, what: str) -> None:
        super().__init__(what)
        self.error = error
        self.action = action
        self.what = what


class _StreamOver(Exception):
    """The chat ended or vanished: go back to discovery."""


@attrs.frozen(slots=True, kw_only=True)
class YouTubeChatStatistics(PolledChatStatistics):
    """What a YouTube chat shows of itself in the tree (`YouTubeChat.snapshot`): the common
    rows of a polled chat (`actions` is the replies sent, as `sent`), the live chat it reads,
    its quota and reply counters and its moderation queue. Never the API key or a token."""

    platform: str = PLATFORM
    live_chat_id: str | None = None
    video_id: str | None = None
    #: Seconds between polls as last stretched by the quota registry (None: not polling).
    polling_interval: float | None = None
    #: The quota registry's last answer: its status, the units left, when it resets.
    quota_status: str | None = None
    quota_remaining: int | None = None
    quota_reset_at: datetime | None = None
    request_failures: int = 0
    #: API errors by reason ("quotaExceeded", "http502"), sorted.
    api_errors: Mapping[str, int] = attrs.field(factory=dict)
    sent: int = 0
    queued: int = 0
    #: Replies cut to the API's 200 characters.
    truncated: int = 0
    moderation: ModerationStatistics
    discoveries: int = 0
    chats_ended: int = 0


class YouTubeChat(Actor):
    """Reads (and writes) one creator's YouTube live chat; see the module docs."""

    mailbox_size = 1000

    def __init__(
        self,
        *,
        creator_id: str,
        config: YouTubeConfig,
        triggers: Callable[[], ActorRef],
        quotas: Callable[[], ActorRef],
        api_base: str = livechat.API_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: Callable[[], ActorRef] | None = None,
        governor: RateGovernor | None = None,
        rng: random.Random | None = None,
        request_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_maximum: float = 300.0,
        backoff_jitter: float = 0.2,
        rediscover_seconds: float = 120.0,
        search_interval: float = 1800.0,
        error_retry_initial: float = 60.0,
        error_retry_maximum: float = 3600.0,
        send_capacity: int = 5,
        send_refill_per_second: float = 0.5,
        send_queue_size: int = 100,
        max_queue_age: float = 60.0,
        dedupe_size: int = 4096,
        token_source: TokenSource | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.config = config
        self._triggers = triggers
        self._quotas = quotas
        self.api_base = api_base.rstrip("/")
        self._transport = transport
        self._clock = clock
        self._store = store
        self.governor = governor if governor is not None else RateGovernor()
        self._rng = rng if rng is not None else random.Random()
        self.request_timeout = request_timeout
        self.rediscover_seconds = rediscover_seconds
        self.search_interval = search_interval
        self._send_key = RateKey(platform=PLATFORM, creator_id=creator_id, action="chat")
        self._send_capacity = send_capacity
        self._send_refill = send_refill_per_second
        self._dedupe_size = dedupe_size
        self._api_key = config.api_key.reveal()
        self._oauth = config.oauth_token.reveal() if config.oauth_token is not None else None
        # An account's token source (actors/accounts) is asked before every OAuth request.
        self._token_source = token_source
        self._presented: AccessToken | None = None

        self._client: httpx.AsyncClient | None = None
        self._seen: SeenMessages | None = None
        self._chat_found = trio.Event()
        self._last_search: float = -math.inf
        self._api_host = httpx.URL(self.api_base).host or "the YouTube API"
        self.lifecycle = Lifecycle(
            PLATFORM,
            enabled=config.enabled,
            creator_id=creator_id,
            target=self._api_host,
            backoff=Backoff(
                initial=backoff_initial, maximum=backoff_maximum, jitter=backoff_jitter
            ),
            person_backoff=Backoff(
                initial=error_retry_initial, maximum=error_retry_maximum, jitter=backoff_jitter
            ),
            max_person_failures=None,  # a fixed key or token is picked up on the slow retry
            stable_after=0.0,  # one good answer proves the API reachable again
            clock=clock,
            rng=self._rng,
        )
        self.outbox = Outbox(platform=PLATFORM, capacity=send_queue_size, max_age=max_queue_age)
        # Filter moderation (delete, timeout) with the OAuth token, beside polling.
        self.moderation = ModerationQueue(platform=PLATFORM)

        self.live_chat_id: str | None = None
        self.video_id: str | None = config.video_id
        self.page_token: str | None = None
        self.polling_interval: float | None = None
        self.quota_status: str | None = None
        self.quota_remaining: int | None = None
        self.quota_reset_at: datetime | None = None
        self.requests = 0
        self.request_failures = 0
        self.timeouts = 0
        self.api_errors: dict[str, int] = {}
        self.messages = 0
        self.duplicates = 0
        self.skipped = 0
        self.parse_errors = 0
        self.sent = 0
        self.truncated = 0
        self.discoveries = 0
        self.chats_ended = 0
        self.last_event_at: datetime | None = None
        self.last_success_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self.outbox.log = self.log  # drops are logged with the actor's path
        self.moderation.log = self.log
        self._seen = SeenMessages(
            platform=PLATFORM,
            creator_id=self.creator_id,
            store=self._store,
            size=self._dedupe_size,
            log=self.log,
        )
        self.governor.define(
            self._send_key,
            capacity=self._send_capacity,
            refill_per_second=self._send_refill,
            now=trio.current_time(),
        )

    async def run(self) -> None:
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.request_timeout
        ) as client:
            self._client = client
            async with trio.open_nursery() as nursery:
                if self.config.enabled:
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self.moderation.serve, self._moderate)
                await self.lifecycle.run(self._serve, log=self.log)

    async def on_stop(self) -> None:
        self._client = None

    async def _serve(self) -> None:
        """One lifecycle session: find the live chat (unless one is known) and poll it; a
        failed call ends the session, and the next one resumes at the same chat and page."""
        while True:
            try:
                if self.live_chat_id is None:
                    chat_id = await self._discover()
                    if chat_id is None:
                        self.lifecycle.mark_connected("no live stream", idle=True)
                        await trio.sleep(
                            await self._stretch("videos.list", self.rediscover_seconds)
                        )
                        continue
                    self._found(chat_id)
                assert self.live_chat_id is not None
                await self._poll(self.live_chat_id)
            except _StreamOver as over:
                self.chats_ended += 1
                self.log.info("youtube live chat over", reason=str(over))
                self._chat_gone()
                self.lifecycle.mark_connected("no live stream", idle=True)
                await trio.sleep(await self._stretch("videos.list", self.rediscover_seconds))

    def _found(self, chat_id: str) -> None:
        self.live_chat_id = chat_id
        self.page_token = None
        self._chat_found.set()
        self._chat_found = trio.Event()
        self.log.info("youtube live chat found", video_id=self.video_id)

    def _chat_gone(self) -> None:
        self.live_chat_id = None
        self.page_token = None
        self.polling_interval = None

    # ------------------------------------------------------------------ discovery

    async def _discover(self) -> str | None:
        """The live chat id to read, or None when nothing is live."""
        self.discoveries += 1
        if self.config.video_id:
            body = await self._call(livechat.videos_list(self.config.video_id))
            chat_id = livechat.parse_active_chat_id(body)
            if chat_id is not None:
                self.video_id = self.config.video_id
                return chat_id
        if self._oauth is not None or self._token_source is not None:
            req = livechat.live_broadcasts_list(broadcast_status="active", max_results=50)
            listing = livechat.parse_broadcasts(await self._call(req, oauth=True))
            for broadcast in listing.items:
                if broadcast.live_chat_id and broadcast.life_cycle_status in (
                    None,
                    "live",
                    "liveStarting",
                    "testing",
                    "testStarting",
                ):
                    self.video_id = broadcast.id
                    return broadcast.live_chat_id
        if self.config.channel_id and await self._may_search():
            self._last_search = trio.current_time()
            body = await self._call(livechat.search_live(self.config.channel_id))
            video_id = _search_video_id(body)
            if video_id is not None:
                chat_id = livechat.parse_active_chat_id(
                    await self._call(livechat.videos_list(video_id))
                )
                if chat_id is not None:
                    self.video_id = video_id
                    return chat_id
        return None

    async def _may_search(self) -> bool:
        """search.list costs 100 units: at most once per `search_interval`, never in the
        quota's reserve."""
        if trio.current_time() - self._last_search < self.search_interval:
            return False
        decision = await self._quota_call(
            Check(creator_id=self.creator_id, platform=PLATFORM, method="search.list")
        )
        return decision is not None and decision.allowed and decision.status == "ok"

    # ------------------------------------------------------------------ polling

    async def _poll(self, chat_id: str) -> None:
        while True:
            req = livechat.live_chat_messages_list(chat_id, page_token=self.page_token)
            body = await self._call(req)
            try:
                page = livechat.parse_messages(body, now=self._clock())
            except livechat.LiveChatParseError as exc:
                self.parse_errors += 1
                self.log.warning("youtube chat page rejected", error=str(exc))
                await trio.sleep(self.lifecycle.backoff.delay(1, self._rng))
                continue
            self.lifecycle.mark_connected(f"reading the live chat of {self.video_id}")
            if page.skipped:
                self.skipped += page.skipped
                self.log.warning("youtube chat items skipped", count=page.skipped)
            await self._deliver(page.events)
            if page.next_page_token:
                self.page_token = page.next_page_token
            if page.chat_ended:
                raise _StreamOver("offlineAt" if page.offline_at else "chatEndedEvent")
            hint = (
                page.polling_interval_ms / 1000
                if page.polling_interval_ms is not None
                else DEFAULT_POLL_SECONDS
            )
            self.polling_interval = await self._stretch(LIST_METHOD, hint)
            await trio.sleep(self.polling_interval)

    async def _deliver(self, events: Iterable[AnyEvent]) -> None:
        assert self._seen is not None
        events = list(events)
        ids = [e.message_id for e in events if e.message_id is not None]
        fresh = await self._seen.unseen(ids)
        delivered: list[str] = []
        batch: set[str] = set()
        try:
            for event in events:
                mid = event.message_id
                if mid is not None and (mid not in fresh or mid in batch):
                    self.duplicates += 1
                    continue
                # `send`, not `cast`: a slow trigger engine slows polling, nothing is lost.
                await self._triggers().send(event)
                self.messages += 1
                self.last_event_at = event.sent_at
                if mid is not None:
                    batch.add(mid)
                    delivered.append(mid)
        finally:
            if delivered:
                # Shielded (a stop must not forget what was delivered), but bounded.
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._seen.mark(delivered, self._clock())

    async def _stretch(self, method: str, minimum: float) -> float:
        """`minimum` (the platform's hint), stretched so the budget lasts until the reset."""
        answer = await self._quota_call(
            PollingInterval(
                creator_id=self.creator_id, platform=PLATFORM, method=method, minimum=minimum
            )
        )
        if isinstance(answer, int | float) and math.isfinite(answer) and answer > 0:
            return max(float(answer), minimum)
        return minimum

    # ------------------------------------------------------------------ calls

    async def _call(self, req: ApiRequest, *, oauth: bool = False) -> dict[str, Any]:
        """Make `req` (charging the quota first); a quota refusal pauses until the reset.

        Raises `_StreamOver` for answers that end this chat, `HttpStatusError` for other
        refusals and transport errors as they are: the lifecycle backs off (or fails, when a
        person must act) and runs the session again.
        """
        while True:
            await self._charge(req.quota_method)
            try:
                return await self._request(req, oauth=oauth)
            except _ApiFailure as failure:
                action = failure.action
                if action is ErrorAction.REDISCOVER:
                    raise _StreamOver(failure.what) from None
                if action is ErrorAction.WAIT_FOR_QUOTA_RESET:
                    await self._pause_until(livechat.next_quota_reset(self._clock()))
                    continue
                needs_person = action in (ErrorAction.FAIL, ErrorAction.REAUTHENTICATE)
                if needs_person:
                    self._chat_gone()
                raise HttpStatusError(
                    failure.error.status,
                    self._api_host,
                    detail=failure.what,
                    needs_person=needs_person,
                ) from None

    async def _request(self, req: ApiRequest, *, oauth: bool) -> dict[str, Any]:
        """One HTTP exchange; the JSON object of a 2xx answer, else `_ApiFailure`."""
        assert self._client is not None
        headers = {"Accept": "application/json"}
        if oauth and self._token_source is not None:
            try:
                self._presented = await self._token_source.token()
            except TokenUnavailable as exc:
                err = YouTubeError(status=401, reason="noToken")
                raise _ApiFailure(err, ErrorAction.BACKOFF, f"{req.quota_method}: {exc}") from None
            headers["Authorization"] = f"Bearer {self._presented.value}"
        elif oauth:
            assert self._oauth is not None
            headers["Authorization"] = f"Bearer {self._oauth}"
        else:
            headers["X-Goog-Api-Key"] = self._api_key
        self.requests += 1
        try:
            # Our own deadline covers what httpx's timeouts do not (a server that trickles).
            with trio.fail_after(self.request_timeout):
                response = await self._client.request(
                    req.http_method,
                    self.api_base + req.path,
                    params=req.params,
                    json=req.json,
                    headers=headers,
                )
        except (*_TRANSPORT_ERRORS, trio.TooSlowError) as exc:
            self.request_failures += 1
            if isinstance(exc, trio.TooSlowError | httpx.TimeoutException):
                self.timeouts += 1
            raise
        try:
            body = loads_untrusted(response.content)
        except ValueError:  # not JSON, or beyond its limits (nesting, numbers): unreadable
            body = None
        if response.status_code == 204:  # a delete answers with no content
            self.last_success_at = self._clock()
            return {}
        if 200 <= response.status_code < 300:
            if not isinstance(body, dict):
                self.parse_errors += 1
                err = YouTubeError(status=response.status_code, reason="unreadableBody")
                raise _ApiFailure(err, ErrorAction.BACKOFF, f"{req.quota_method}: unreadable body")
            self.last_success_at = self._clock()
            return body
        err = livechat.parse_error(response.status_code, body)
        if response.status_code == 401 and oauth and self._token_source and self._presented:
            await self._token_source.unauthorized(self._presented)
        reason = err.reason or f"http{response.status_code}"
        self.api_errors[reason] = self.api_errors.get(reason, 0) + 1
        action = livechat.error_action(err)
        raise _ApiFailure(err, action, f"{req.quota_method}: {response.status_code} {reason}")

    async def _charge(self, method: str) -> None:
        """Spend `method`'s units; while the registry refuses, stay paused until the reset."""
        failures = 0
        while True:
            decision = await self._quota_call(
                Charge(creator_id=self.creator_id, platform=PLATFORM, method=method)
            )
            if decision is None:  # the registry is unreachable: do not call unmetered
                failures += 1
                await trio.sleep(self.lifecycle.backoff.delay(failures, self._rng))
                continue
            if decision.allowed:
                if self.lifecycle.paused_reason is not None:
                    live = self.live_chat_id is not None
                    self.lifecycle.mark_connected(
                        "quota available again" if live else "no live stream", idle=not live
                    )
                return
            await self._pause_until(decision.reset_at)

    async def _quota_call(self, message: Any) -> Any:
        try:
            answer = await self._quotas().call(message, timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            self.log.warning("quota registry unavailable", error=type(exc).__name__)
            return None
        if isinstance(answer, QuotaDecision):
            self.quota_status = answer.status
            self.quota_remaining = answer.remaining
            self.quota_reset_at = answer.reset_at
        return answer

    async def _pause_until(self, reset_at: datetime) -> None:
        when = _iso(reset_at)
        self.quota_status = "exhausted"
        self.quota_reset_at = reset_at
        self.lifecycle.pause(f"quota exhausted until {when}")
        self.log.warning("youtube quota exhausted", until=when)
        wait = (reset_at - self._clock()).total_seconds()
        # A clock that disagrees with the reset time must not make us spin.
        await trio.sleep(max(wait, 60.0))

    # ------------------------------------------------------------------ sending

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self._enqueue(message)
            return None
        if isinstance(message, Moderate):
            if self._oauth is None and self._token_source is None:
                self.moderation.unsupported(
                    message,
                    "YouTube moderation needs an OAuth token: set [creators.youtube] account "
                    "(or oauth_token) for the channel's owner or one of its moderators",
                )
            else:
                self.moderation.offer(message)
            return None
        raise TypeError(f"YouTubeChat takes SendChat, got {type(message).__name__}")

    def _enqueue(self, message: SendChat) -> None:
        if not self.config.enabled:
            self.outbox.drop("disabled", message.trigger_id)
        elif self._oauth is None and self._token_source is None:
            self.outbox.drop("no_oauth", message.trigger_id)
        elif not message.text.strip():
            self.outbox.drop("empty", message.trigger_id)
        else:
            self.outbox.offer(message)

    async def _writer(self) -> None:
        outbox = self.outbox
        while True:
            item = await outbox.peek()
            if self.live_chat_id is None:
                # Wait for a live chat, but no longer than the reply may wait.
                deadline = item.queued_at + outbox.max_age
                with trio.move_on_at(deadline):
                    await self._chat_found.wait()
                if self.live_chat_id is None and trio.current_time() >= deadline:
                    outbox.done()
                    outbox.drop("no_live_chat", item.trigger_id)
                continue
            outbox.done()
            await acquire(self.governor, self._send_key)
            self.governor.touch(self._send_key, self._clock())
            await self._send_one(item)

    async def _send_one(self, item: Outgoing) -> None:
        chat_id = self.live_chat_id
        if chat_id is None:
            self.outbox.drop("no_live_chat", item.trigger_id)
            return
        text = item.text
        if len(text) > livechat.MAX_MESSAGE_LENGTH:
            text = text[: livechat.MAX_MESSAGE_LENGTH]
            self.truncated += 1
        req = livechat.live_chat_messages_insert(chat_id, text)
        decision = await self._quota_call(
            Charge(creator_id=self.creator_id, platform=PLATFORM, method=req.quota_method)
        )
        if decision is None or not decision.allowed:
            self.outbox.drop("quota", item.trigger_id)
            return
        try:
            await self._request(req, oauth=True)
        except _ApiFailure as failure:
            self.outbox.drop(failure.error.reason or f"http{failure.error.status}", item.trigger_id)
            return
        except (*_TRANSPORT_ERRORS, trio.TooSlowError) as exc:
            self.request_failures += 1
            self.outbox.drop("unreachable", item.trigger_id, error=type(exc).__name__)
            return
        self.sent += 1

    async def _moderate(self, moderate: Moderate) -> None:
        """Carry out one filter request: ``liveChatMessages.delete`` (50 units) or a temporary
        ``liveChatBans.insert`` (200 units), charged to the quota first."""
        if moderate.action == "delete":
            if not moderate.message_id:
                raise ModerationFailed("the filtered message has no id to delete")
            req = livechat.live_chat_messages_delete(moderate.message_id)
        elif moderate.action == "timeout":
            if self.live_chat_id is None:
                raise ModerationFailed("no live chat to time the author out in")
            if moderate.seconds is None:
                raise ModerationFailed("a timeout needs its length in seconds")
            req = livechat.live_chat_bans_insert(
                self.live_chat_id, moderate.user_id, moderate.seconds
            )
        else:
            raise ModerationFailed(f"unknown moderation action {moderate.action!r}")
        decision = await self._quota_call(
            Charge(creator_id=self.creator_id, platform=PLATFORM, method=req.quota_method)
        )
        if decision is None or not decision.allowed:
            raise ModerationFailed(
                f"the YouTube quota has no room for {req.quota_method} "
                f"({req.quota_cost} units) until the daily reset"
            )
        try:
            await self._request(req, oauth=True)
        except _ApiFailure as failure:
            said = f"HTTP {failure.error.status} {failure.error.reason or ''}".rstrip()
            if failure.error.status == 403:
                raise ModerationRefused(
                    f"YouTube refused {req.quota_method} ({said}): the account must own the "
                    "channel or moderate its chat, with the scope "
                    "https://www.googleapis.com/auth/youtube"
                ) from None
            raise ModerationFailed(f"YouTube did not {moderate.action} ({said})") from None
        except (*_TRANSPORT_ERRORS, trio.TooSlowError) as exc:
            self.request_failures += 1
            raise ModerationFailed(
                f"{self._api_host} could not be reached ({type(exc).__name__})"
            ) from None

    # ------------------------------------------------------------------ status

    def health(self) -> ConnectionHealth:
        """The API link's health with this actor's counters."""
        return self.lifecycle.health(
            messages=self.messages,
            actions=self.sent,
            errors=self.request_failures + sum(self.api_errors.values()) + self.parse_errors,
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
        """Why polling is paused (quota), else None."""
        return self.lifecycle.paused_reason

    @property
    def dropped(self) -> int:
        """Replies dropped (all reasons)."""
        return self.outbox.dropped

    def snapshot(self) -> YouTubeChatStatistics:
        """Status for the exports (no key, no token)."""
        now = trio.current_time() if _in_trio() else 0.0
        health = self.health()
        outbox = self.outbox.statistics()
        return YouTubeChatStatistics(
            creator_id=self.creator_id,
            status=health.status,
            state=health.state.value,
            enabled=self.config.enabled,
            messages=self.messages,
            actions=self.sent,
            errors=health.errors,
            last_event_at=self.last_event_at,
            last_heartbeat=self.last_success_at,
            error=health.error,
            paused_reason=health.paused_reason,
            live_chat_id=self.live_chat_id,
            video_id=self.video_id,
            polling_interval=self.polling_interval,
            quota_status=self.quota_status,
            quota_remaining=self.quota_remaining,
            quota_reset_at=self.quota_reset_at,
            requests=self.requests,
            request_failures=self.request_failures,
            timeouts=self.timeouts,
            api_errors=dict(sorted(self.api_errors.items())),
            duplicates=self.duplicates,
            skipped=self.skipped,
            parse_errors=self.parse_errors,
            sent=self.sent,
            queued=outbox.queued,
            truncated=self.truncated,
            dropped=outbox.dropped,
            dropped_reasons=outbox.reasons(),
            moderation=self.moderation.statistics(),
            discoveries=self.discoveries,
            chats_ended=self.chats_ended,
            rate_limits=self.governor.statistics(now) if self._send_key in self.governor else (),
        )


def _search_video_id(body: Any) -> str | None:
    """The first live video id of a `search.list` response (`items[].id.videoId`)."""
    items = body.get("items") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else ():
        ident = item.get("id") if isinstance(item, dict) else None
        video_id = ident.get("videoId") if isinstance(ident, dict) else None
        if isinstance(video_id, str) and video_id:
            return video_id
    return None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _in_trio() -> bool:
    try:
        trio.current_time()
    except RuntimeError:
        return False
    return True
