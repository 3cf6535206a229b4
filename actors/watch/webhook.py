"""`POST /webhooks/twitch`: the Twitch EventSub webhook endpoint for live/offline.

A thin adapter over the sans-IO `actors.twitch.eventsub`: the raw body and headers are verified
(HMAC, 10-minute freshness), the message id is remembered (a redelivery is answered 2xx without
being processed again: here in memory, and by the `LiveMonitor` in the store, in the
transaction of the transition, so also after a restart), the verification challenge is echoed
as text/plain, revocations are
logged and kept for the statistics, and stream.online/offline notifications are handed to the
`LiveMonitor` with a `call`: the answer goes back to Twitch only once the transition is
committed, so an acknowledged notification is never lost (if the monitor cannot take it, the id
is forgotten and Twitch gets a 503 and redelivers). Forged, stale (replayed) and malformed
requests get 403 and are counted by reason.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from actors import ActorRef
from actors.http_routes import Request, Response, RouteTable, json_response
from actors.twitch.eventsub import (
    EventSubRejected,
    MessageIdCache,
    ack_response,
    challenge_response,
    parse_revocation,
    to_stream_event,
    verify_webhook,
)
from actors.watch.statistics import WebhookRevocation, WebhookStatistics

__all__ = ["WebhookStats", "register_watch_routes"]

log = structlog.get_logger("actors.watch.webhook")


class WebhookStats:
    """Counters of the endpoint; `statistics()` gives them as a frozen value (shown in the
    live monitor's statistics under ``webhook``)."""

    #: How many revocations are kept (the latest).
    MAX_REVOCATIONS = 20

    def __init__(self) -> None:
        self.accepted = 0
        self.notifications = 0
        self.duplicates = 0
        self.challenges = 0
        self.revocations: deque[WebhookRevocation] = deque(maxlen=self.MAX_REVOCATIONS)
        self.rejected: Counter[str] = Counter()
        self.failures = 0
        self.last_at: datetime | None = None
        self.last_rejected_at: datetime | None = None

    @property
    def rejected_total(self) -> int:
        """Every refused request (forged, stale, malformed, ...)."""
        return sum(self.rejected.values())

    def statistics(self) -> WebhookStatistics:
        """The counters now (no secrets, no bodies)."""
        return WebhookStatistics(
            accepted=self.accepted,
            notifications=self.notifications,
            duplicates=self.duplicates,
            challenges=self.challenges,
            revocations=tuple(self.revocations),
            rejected=dict(sorted(self.rejected.items())),
            rejected_total=self.rejected_total,
            failures=self.failures,
            last_at=self.last_at,
        )


def _respond(answer: tuple[int, str, bytes]) -> Response:
    status, content_type, body = answer
    return Response(status=status, body=body, content_type=content_type)


def register_watch_routes(
    app: RouteTable,
    monitor: Callable[[], ActorRef],
    secret: str | bytes,
    *,
    path: str = "/webhooks/twitch",
    stats: WebhookStats | None = None,
    cache: MessageIdCache | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    call_timeout: float = 5.0,
) -> WebhookStats:
    """Add ``POST <path>`` (no bearer auth: Twitch signs instead) and return its stats.

    `monitor` resolves the `LiveMonitor` ref per request (it survives restarts).
    """
    if not secret:
        raise ValueError("the EventSub secret must not be empty")
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    stats = stats if stats is not None else WebhookStats()
    seen = cache if cache is not None else MessageIdCache()

    async def handler(request: Request) -> Response:
        try:
            msg = verify_webhook(request.headers, request.body, key, now=clock())
        except EventSubRejected as exc:
            stats.rejected[exc.reason] += 1
            stats.last_rejected_at = clock()
            log.warning("eventsub request rejected", reason=exc.reason, client=request.client)
            return json_response({"error": "forbidden", "status": 403}, 403)
        if not seen.remember(msg.message_id, now=monotonic()):
            stats.duplicates += 1
            return _respond(ack_response())
        stats.accepted += 1
        stats.last_at = now = clock()
        if msg.message_type == "webhook_callback_verification":
            stats.challenges += 1
            log.info("eventsub subscription verified", type=msg.subscription_type)
            return _respond(challenge_response(msg))
        if msg.message_type == "revocation":
            revocation = parse_revocation(msg)
            stats.revocations.append(
                WebhookRevocation(
                    subscription_id=revocation.subscription_id,
                    subscription_type=revocation.subscription_type,
                    status=revocation.status,
                    action=revocation.action,
                    at=now,
                )
            )
            log.warning(
                "eventsub subscription revoked",
                type=revocation.subscription_type,
                status=revocation.status,
                action=revocation.action,
            )
            return _respond(ack_response())
        try:
            event = to_stream_event(msg)
        except ValueError as exc:
            # Signed by Twitch but unusable: acknowledge (a retry would be the same), count it.
            stats.rejected["unusable_event"] += 1
            log.warning("eventsub notification unusable", error=str(exc))
            return _respond(ack_response())
        if event is not None:
            try:
                await monitor().call(event, timeout=call_timeout)
            except Exception as exc:
                # Not committed: let Twitch redeliver (same id), and accept it then.
                seen.forget(msg.message_id)
                stats.failures += 1
                log.warning("eventsub notification not processed", error=type(exc).__name__)
                return json_response({"error": "unavailable", "status": 503}, 503)
            stats.notifications += 1
        return _respond(ack_response())

    app.route("POST", path, handler, auth=False)
    return stats
