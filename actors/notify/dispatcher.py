"""`NotificationDispatcher`: delivers the notification outbox to Discord.

Entries are written to the outbox first (by whoever decides to notify, in the transaction that
records the reason, see `actors.notify.rules.outbox_ops`); this single loop then takes the
oldest due one, posts it, and records the attempt and its outcome in one transaction
(``pending -> sending -> delivered|pending|dead``; see `_deliver` for why the POST comes before
the claim is committed). At start, entries a crash left in ``sending`` go back to ``pending``
(`state.outbox.recover_sending`). A crash before the POST goes out cannot double a message; a
crash after Discord accepted it and before the outcome was committed can (at-least-once):
channel messages carry a ``nonce`` with ``enforce_nonce`` so Discord itself drops that
duplicate, webhooks have no such field.

Failures: a 429 is waited out inside `DiscordRest` (``retry_after``, bucket headers) and, when
the wait is long, rescheduled in the outbox; 5xx and transport errors retry with exponential
backoff; 4xx (bad body, deleted webhook) and ``max_attempts`` failures end ``dead`` with the
reason (shown in jobs.json).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import apsw
import attrs
import httpx
import trio

from actors import Actor, ActorRef, ActorStatistics
from actors.connection import ConnectionHealth, Lifecycle, describe_failure
from actors.discord.http_client import DiscordHttpError, DiscordRest, RateLimited
from actors.events import StreamEnded, StreamStarted
from actors.notify.rules import NotifyRule
from actors.store import Read, write
from state import outbox
from state.timeutil import now_ms, to_datetime

__all__ = ["NotificationDispatcher", "NotificationDispatcherStatistics", "Wake"]


@attrs.frozen(kw_only=True)
class Wake:
    """Entries were enqueued: look at the outbox now instead of at the next due time."""


@attrs.frozen(kw_only=True, slots=True)
class NotificationDispatcherStatistics(ActorStatistics):
    """What the notification dispatcher shows of itself in the tree
    (`NotificationDispatcher.snapshot`): what came of its deliveries since the start."""

    delivered: int = 0
    #: Failed deliveries put back in the outbox for a later try.
    retried: int = 0
    #: Entries given up on (refused for good, or out of attempts).
    dead: int = 0
    #: Deliveries put off by a long `retry_after` from Discord (also counted as retried or dead).
    rate_limited: int = 0
    #: Entries a crash had left ``sending``, put back to ``pending`` at the start.
    recovered: int = 0
    last_error: str | None = None
    #: When the last delivery was recorded (None: none yet).
    last_delivery_at: datetime | None = None


class NotificationDispatcher(Actor):
    """Posts outbox entries to Discord webhooks (``webhook:<rule>``) or channels (``channel:<id>``).

    `rest` posts webhooks (no token; created and owned here when None); `bot_rest` posts channel
    messages with the bot token (optional). `on_step(step, entry)` is called with ``claimed``
    (taken, not yet posted) and ``sent`` (posted, outcome not yet committed); tests raise from
    it to crash between steps. Clock: `clock_ms` (Unix ms,
    the outbox's time base).
    """

    def __init__(
        self,
        *,
        store: Callable[[], ActorRef],
        rules: Sequence[NotifyRule],
        rest: DiscordRest | None = None,
        bot_rest: DiscordRest | None = None,
        max_attempts: int = 8,
        initial_backoff_ms: int = 5_000,
        max_backoff_ms: int = 3_600_000,
        idle_seconds: float = 30.0,
        clock_ms: Callable[[], int] = now_ms,
        on_step: Callable[[str, outbox.OutboxEntry], None] | None = None,
    ) -> None:
        self._store = store
        self._rules = {rule.id: rule for rule in rules}
        self._rest = rest
        self._owns_rest = rest is None
        self._bot_rest = bot_rest
        self.max_attempts = max_attempts
        self.initial_backoff_ms = initial_backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self.idle_seconds = idle_seconds
        self._clock_ms = clock_ms
        self._on_step = on_step
        self._wake = trio.Event()
        self.delivered = 0
        self.retried = 0
        self.dead = 0
        self.rate_limited = 0
        self.recovered = 0
        self.last_error: str | None = None
        self.last_delivery_at: int | None = None
        # Retries are scheduled per entry in the durable outbox; the lifecycle only keeps
        # the health: connected after a delivery, reconnecting/failed after a failed one.
        self.lifecycle = Lifecycle("notify", target="Discord", stable_after=0.0)

    async def on_start(self) -> None:
        self.lifecycle.log = self.log
        self.lifecycle.mark_connected("nothing delivered yet", idle=True)
        if self._rest is None:
            self._rest = DiscordRest()
        now = self._clock_ms()
        [self.recovered] = await write(
            self._store(), lambda conn: outbox.recover_sending(conn, now=now), topic="outbox"
        )
        if self.recovered:
            self.log.info("outbox entries recovered after a restart", count=self.recovered)

    async def on_stop(self) -> None:
        if self._owns_rest and self._rest is not None:
            rest, self._rest = self._rest, None
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await rest.aclose()

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Wake | StreamStarted | StreamEnded):
            # A committed transition: its notifications are in the outbox already.
            self._wake.set()
            return None
        self.log.warning("unexpected message", type=type(message).__name__)
        return None

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        while True:
            now = self._clock_ms()
            # A read, not a claim: an idle look must not cost a write (and its fsync).
            head, due = await self._store().call(Read(fn=partial(_head, now=now)), timeout=30.0)
            if head is not None:
                await self._deliver(head, now)
                continue
            wait = self.idle_seconds
            if due is not None:
                wait = min(wait, max(0.001, (due - now) / 1000))
            with trio.move_on_after(wait):
                await self._wake.wait()
            self._wake = trio.Event()

    def _step(self, step: str, entry: outbox.OutboxEntry) -> None:
        if self._on_step is not None:
            self._on_step(step, entry)

    async def _deliver(self, entry: outbox.OutboxEntry, seen_at: int) -> None:
        """POST `entry`, then record the attempt and its outcome in ONE transaction.

        Posting before the claim is written saves a commit (an fsync) on every notification's
        path; it is safe because this loop is the only one that claims: the claim made
        afterwards (`claim_next_due` at `seen_at`) takes exactly this entry, which is checked.
        A crash before the record leaves the entry ``pending`` (delivered again after the
        restart: the at-least-once window is the same as with a claim written first).
        """
        self._step("claimed", entry)
        outcome: Callable[[apsw.Connection, outbox.OutboxEntry, int], outbox.OutboxEntry]
        error: str | None = None
        refusal: str | None = None  # an HTTP refusal as the health says it, naming the host
        try:
            await self._post(entry)
        except RateLimited as exc:
            self.rate_limited += 1
            error = f"rate limited ({exc.wait:.1f} s)"
            outcome = self._retry_after(error, exc.wait)
        except DiscordHttpError as exc:
            error = f"HTTP {exc.status} {exc.message}".strip()
            outcome = _dead(error) if exc.permanent else self._failure(error)
            refusal = f"HTTP {exc.status} from {self._host(entry)}"
            refusal += f": {exc.message}" if exc.message else ""
        except (httpx.HTTPError, OSError) as exc:
            # The exception text may embed the URL (and so the webhook token): the sentence
            # names the host only, else the type only.
            failure = describe_failure(exc)
            error = failure.reason if failure else f"transport error: {type(exc).__name__}"
            outcome = self._failure(error)
        except _Undeliverable as exc:
            error = str(exc)
            outcome = _dead(error)
        else:
            self._step("sent", entry)
            outcome = _delivered
        now = self._clock_ms()

        def record(conn: apsw.Connection) -> outbox.OutboxEntry:
            claimed = outbox.claim_next_due(conn, now=seen_at)
            if claimed is None or claimed.id != entry.id:
                raise _ClaimMismatch(f"expected entry {entry.id}, claimed {claimed}")
            return outcome(conn, claimed, now)

        try:
            [after] = await write(self._store(), record, topic="outbox")
        except _ClaimMismatch as exc:
            # Cannot happen with one dispatcher; if it does, say so (a resend may follow).
            self.log.error("outbox claim mismatch", error=str(exc))
            self.last_error = str(exc)
            return
        if after.state == "delivered":
            self.delivered += 1
            self.last_delivery_at = now
            self.lifecycle.mark_connected("delivering")
            return
        self.last_error = after.last_error or error
        # A dead entry (refused for good) needs a person; a rate limit is no failure.
        reason = refusal or self.last_error
        if after.state == "dead":
            self.lifecycle.note_failure(reason or "undeliverable", needs_person=True)
        elif not error or not error.startswith("rate limited"):
            self.lifecycle.note_failure(reason or "delivery failed")
        if after.state == "dead":
            self.dead += 1
            self.log.warning("notification dead-lettered", entry=entry.id, reason=after.last_error)
        else:
            self.retried += 1
            self.log.info("notification will be retried", entry=entry.id, error=error)

    def _failure(
        self, error: str
    ) -> Callable[[apsw.Connection, outbox.OutboxEntry, int], outbox.OutboxEntry]:
        def op(conn: apsw.Connection, entry: outbox.OutboxEntry, now: int) -> outbox.OutboxEntry:
            return outbox.record_failure(
                conn,
                entry_id=entry.id,
                error=error,
                now=now,
                max_attempts=self.max_attempts,
                initial_ms=self.initial_backoff_ms,
                maximum_ms=self.max_backoff_ms,
            )

        return op

    def _retry_after(
        self, error: str, wait: float
    ) -> Callable[[apsw.Connection, outbox.OutboxEntry, int], outbox.OutboxEntry]:
        # Discord said how long to wait: that, not the exponential backoff (still capped by
        # max_attempts).
        def op(conn: apsw.Connection, entry: outbox.OutboxEntry, now: int) -> outbox.OutboxEntry:
            if entry.attempts >= self.max_attempts:
                reason = f"gave up after {entry.attempts} attempts: {error}"
                return outbox.mark_dead(conn, entry_id=entry.id, reason=reason, now=now)
            at = now + int(wait * 1000)
            return outbox.mark_retry(
                conn, entry_id=entry.id, error=error, next_attempt_at=at, now=now
            )

        return op

    def _host(self, entry: outbox.OutboxEntry) -> str:
        """The host `entry` goes to (never the URL: a webhook's path holds its token)."""
        kind, _, target = entry.destination.partition(":")
        rule = self._rules.get(target) if kind == "webhook" else None
        if rule is not None and rule.webhook_url is not None:
            url = rule.webhook_url
        else:
            rest = self._bot_rest if kind == "channel" else self._rest
            url = rest.base_url if rest is not None else ""
        return urlsplit(url).hostname or "discord.com"

    async def _post(self, entry: outbox.OutboxEntry) -> None:
        kind, _, target = entry.destination.partition(":")
        body = dict(entry.payload)
        if kind == "webhook":
            rule = self._rules.get(target)
            if rule is None or rule.webhook_url is None:
                raise _Undeliverable(f"no webhook rule {target!r} in the configuration")
            assert self._rest is not None
            await self._rest.request(
                "POST", rule.webhook_url, params={"wait": "true"}, json=body, auth=False
            )
        elif kind == "channel":
            if self._bot_rest is None:
                raise _Undeliverable("channel notifications need the [discord] bot")
            # Discord drops a second message with the same nonce (a resend after a crash).
            body["nonce"] = hashlib.sha256(entry.dedupe_key.encode()).hexdigest()[:25]
            body["enforce_nonce"] = True
            await self._bot_rest.request("POST", f"/channels/{target}/messages", json=body)
        else:
            raise _Undeliverable(f"unknown destination kind {kind!r}")

    def health(self) -> ConnectionHealth:
        """Whether notifications get through (the last attempt's outcome)."""
        return self.lifecycle.health(actions=self.delivered, errors=self.dead, last_event_at=None)

    def snapshot(self) -> NotificationDispatcherStatistics:
        """Counters for jobs.json/telemetry (the entries themselves: `state.outbox.list_outbox`)."""
        return NotificationDispatcherStatistics(
            delivered=self.delivered,
            retried=self.retried,
            dead=self.dead,
            rate_limited=self.rate_limited,
            recovered=self.recovered,
            last_error=self.last_error,
            last_delivery_at=(
                None if self.last_delivery_at is None else to_datetime(self.last_delivery_at)
            ),
        )


class _Undeliverable(Exception):
    """The entry cannot be delivered by this configuration (dead at once)."""


class _ClaimMismatch(Exception):
    """The claim after a POST did not take the entry that was posted."""


def _head(conn: apsw.Connection, now: int) -> tuple[outbox.OutboxEntry | None, int | None]:
    """The entry `claim_next_due` would take at `now` (same order), and the next due time."""
    due = outbox.next_due_at(conn)
    if due is None or due > now:
        return None, due
    pending = outbox.list_outbox(conn, states=["pending"])
    ready = [e for e in pending if e.next_attempt_at <= now]
    head = min(ready, key=lambda e: (e.next_attempt_at, e.id)) if ready else None
    return head, due


def _delivered(conn: apsw.Connection, entry: outbox.OutboxEntry, now: int) -> outbox.OutboxEntry:
    return outbox.mark_delivered(conn, entry_id=entry.id, now=now)


def _dead(reason: str) -> Callable[[apsw.Connection, outbox.OutboxEntry, int], outbox.OutboxEntry]:
    def op(conn: apsw.Connection, entry: outbox.OutboxEntry, now: int) -> outbox.OutboxEntry:
        return outbox.mark_dead(conn, entry_id=entry.id, reason=reason, now=now)

    return op
