"""Twitch EventSub, sans-IO: webhook verification, WebSocket frames, body parsing.

Pure code, no I/O. The webhook endpoint hands `verify_webhook` the raw request (headers and the
exact body bytes) and gets back a verified `EventSubMessage` or an `EventSubRejected` with a
machine-readable `reason`; the WebSocket actor hands `parse_ws_frame` each text frame. What the
endpoint answers is decided here too (`challenge_response`, `ack_response`), so the HTTP layer
stays a thin adapter.

Facts used (see ../shared/docs/platforms.md §3): signature = ``"sha256=" + hex(HMAC-SHA256(secret,
message_id + timestamp + raw_body))`` compared in constant time on the raw body; messages older
than 10 minutes are replays; timestamps are RFC 3339 with up to nanosecond fractions; deliveries
are at-least-once, so the endpoint dedupes by message id (`MessageIdCache`) but verification
itself does not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypedDict

import attrs

from actors.events import (
    AnyEvent,
    ChatEvent,
    FollowEvent,
    GiftEvent,
    PaidMessageEvent,
    RaidEvent,
    RedemptionEvent,
    ReplyParent,
    StreamEnded,
    StreamStarted,
    SubscriptionEvent,
)
from config.untrusted_json import decimal_int, loads_untrusted

__all__ = [
    "HEADER_MESSAGE_ID",
    "HEADER_MESSAGE_RETRY",
    "HEADER_MESSAGE_SIGNATURE",
    "HEADER_MESSAGE_TIMESTAMP",
    "HEADER_MESSAGE_TYPE",
    "HEADER_SUBSCRIPTION_TYPE",
    "HEADER_SUBSCRIPTION_VERSION",
    "MAX_CLOCK_SKEW",
    "MAX_MESSAGE_AGE",
    "EventSubMessage",
    "EventSubParseError",
    "EventSubRejected",
    "MessageIdCache",
    "Revocation",
    "Session",
    "Subscription",
    "SubscriptionBody",
    "WsFrame",
    "ack_response",
    "challenge_response",
    "compute_signature",
    "parse_revocation",
    "parse_subscription_body",
    "parse_timestamp",
    "parse_ws_frame",
    "shared_chat_source",
    "signed_message",
    "to_channel_event",
    "to_stream_event",
    "verify_webhook",
]

# Header names, lowercased: HTTP header names are case-insensitive and every lookup here
# goes through a lowercased view of the request headers.
HEADER_MESSAGE_ID = "twitch-eventsub-message-id"
HEADER_MESSAGE_RETRY = "twitch-eventsub-message-retry"
HEADER_MESSAGE_TYPE = "twitch-eventsub-message-type"
HEADER_MESSAGE_SIGNATURE = "twitch-eventsub-message-signature"
HEADER_MESSAGE_TIMESTAMP = "twitch-eventsub-message-timestamp"
HEADER_SUBSCRIPTION_TYPE = "twitch-eventsub-subscription-type"
HEADER_SUBSCRIPTION_VERSION = "twitch-eventsub-subscription-version"

_REQUIRED_HEADERS = (
    HEADER_MESSAGE_ID,
    HEADER_MESSAGE_TIMESTAMP,
    HEADER_MESSAGE_SIGNATURE,
    HEADER_MESSAGE_TYPE,
)

#: Twitch's documented replay window.
MAX_MESSAGE_AGE = timedelta(minutes=10)
#: How far ahead of our clock a timestamp may be before it is implausible. Small clock skew
#: between Twitch and us is normal; a message from the far future is forged or broken, and
#: accepting it would let it outlive the dedupe window.
MAX_CLOCK_SKEW = timedelta(minutes=2)

_SIGNATURE_PREFIX = "sha256="
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
# RFC 3339 date-time; the fraction may have any number of digits (Twitch sends nanoseconds,
# which `datetime.fromisoformat` cannot take before 3.11 and rounds unpredictably after).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


class EventSubRejected(ValueError):
    """A webhook request failed verification. `reason` is a short machine string.

    Reasons: ``missing_header``, ``duplicate_header``, ``bad_header``, ``bad_signature``,
    ``bad_timestamp``, ``stale``, ``future``, ``malformed_body``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class EventSubParseError(ValueError):
    """An EventSub WebSocket frame or subscription body is not what the protocol says."""


@attrs.frozen(kw_only=True)
class Subscription:
    """The `subscription` object of an EventSub body."""

    id: str | None
    type: str | None
    version: str | None
    status: str | None
    cost: int | None
    condition: Mapping[str, Any]
    transport_method: str | None
    transport_session_id: str | None = None
    transport_callback: str | None = None
    created_at: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionBody:
    """A webhook body or the `payload` of a WebSocket notification/revocation."""

    message_type: str
    subscription: Subscription
    event: Mapping[str, Any] | None = None
    events: tuple[Mapping[str, Any], ...] | None = None
    challenge: str | None = None


@attrs.frozen(kw_only=True)
class Session:
    """The `session` object of a WebSocket welcome or reconnect frame."""

    id: str
    status: str | None
    keepalive_timeout_seconds: int | None
    reconnect_url: str | None
    connected_at: str | None


@attrs.frozen(kw_only=True)
class EventSubMessage:
    """A verified webhook request. `payload` is the decoded JSON body."""

    message_id: str
    message_type: str
    subscription_type: str | None
    subscription_version: str | None
    timestamp: datetime
    payload: Mapping[str, Any]
    challenge: str | None = None
    retry: int | None = None

    @property
    def subscription(self) -> Subscription | None:
        """The parsed `subscription` object, when the body has one."""
        sub = self.payload.get("subscription")
        return _subscription(sub) if isinstance(sub, Mapping) else None

    @property
    def event(self) -> Mapping[str, Any] | None:
        """The `event` object of a notification, else `None`."""
        event = self.payload.get("event")
        return event if isinstance(event, Mapping) else None


@attrs.frozen(kw_only=True)
class WsFrame:
    """One EventSub WebSocket frame: metadata plus payload."""

    message_id: str
    message_type: str
    message_timestamp: str
    timestamp: datetime
    subscription_type: str | None
    subscription_version: str | None
    payload: Mapping[str, Any]
    session: Session | None = None
    subscription: Subscription | None = None
    event: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Revocation:
    """Why Twitch revoked a subscription and what the runtime should do about it.

    `action`: ``reauthorize`` (the user took the authorization back; ask them again),
    ``drop`` (the user is gone), ``resubscribe`` (our endpoint failed too often; fix it and
    subscribe again), ``upgrade`` (the subscription version was removed), ``investigate``
    (a status this code does not know).
    """

    subscription_id: str | None
    subscription_type: str | None
    status: str | None
    condition: Mapping[str, Any]
    action: str


_REVOCATION_ACTIONS = {
    "authorization_revoked": "reauthorize",
    "user_removed": "drop",
    "notification_failures_exceeded": "resubscribe",
    "version_removed": "upgrade",
}


# --------------------------------------------------------------------------- helpers


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (any fraction length) into an aware UTC datetime.

    Fractions beyond microseconds are truncated, not rounded: rounding could carry into the
    next second (or year) and change the meaning of the signed value. Raises `ValueError`.
    """
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, got {type(value).__name__}")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"bad UTC offset in {value!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        parsed = datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # day 31 of February, year 0, overflow at edges
        raise ValueError(f"invalid timestamp {value!r}: {exc}") from None


def signed_message(message_id: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes Twitch signs: message id + timestamp + raw body."""
    return message_id.encode("utf-8") + timestamp.encode("utf-8") + body


def compute_signature(secret: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    """The `Twitch-Eventsub-Message-Signature` value for these inputs."""
    digest = hmac.new(secret, signed_message(message_id, timestamp, body), hashlib.sha256)
    return _SIGNATURE_PREFIX + digest.hexdigest()


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    try:
        items = list(headers.items())
    except Exception as exc:  # a broken mapping is a broken request, not a crash
        raise EventSubRejected("bad_header", f"headers not readable: {exc!r}") from None
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(name, str) or not isinstance(value, str):
            raise EventSubRejected("bad_header", f"header {name!r} is not text")
        key = name.strip().lower()
        if key in lowered and key in _REQUIRED_HEADERS:
            # Two spellings of a signed header: which one was signed is ambiguous.
            raise EventSubRejected("duplicate_header", key)
        lowered[key] = value
    return lowered


def _require_aware(now: datetime) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware UTC datetime, got a naive one")
    try:
        return now.astimezone(UTC)
    except OverflowError:  # datetime.max with a positive offset, say
        raise ValueError(f"now is out of range: {now!r}") from None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _subscription(sub: Mapping[str, Any]) -> Subscription:
    transport = sub.get("transport")
    transport = transport if isinstance(transport, Mapping) else {}
    condition = sub.get("condition")
    cost = sub.get("cost")
    return Subscription(
        id=_opt_str(sub.get("id")),
        type=_opt_str(sub.get("type")),
        version=_opt_str(sub.get("version")),
        status=_opt_str(sub.get("status")),
        # bool is an int in Python; a boolean cost is not a cost.
        cost=cost if isinstance(cost, int) and not isinstance(cost, bool) else None,
        condition=condition if isinstance(condition, Mapping) else {},
        transport_method=_opt_str(transport.get("method")),
        transport_session_id=_opt_str(transport.get("session_id")),
        transport_callback=_opt_str(transport.get("callback")),
        created_at=_opt_str(sub.get("created_at")),
    )


# --------------------------------------------------------------------------- webhook


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: bytes,
    *,
    now: datetime,
    max_age: timedelta = MAX_MESSAGE_AGE,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> EventSubMessage:
    """Verify a webhook request and decode it; never dedupes.

    `headers` may use any case; `body` must be the raw bytes as received (never re-serialized
    JSON). `now` must be an aware datetime (a naive one raises plain `ValueError`). Raises
    `EventSubRejected` with `reason` ``missing_header``, ``bad_signature``, ``bad_timestamp``,
    ``stale`` (older than `max_age`), ``future`` (more than `max_skew` ahead) or
    ``malformed_body`` (not a JSON object, or a verification request without a challenge).
    """
    now_utc = _require_aware(now)
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ValueError("the EventSub secret must not be empty")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise EventSubRejected("malformed_body", f"body must be bytes, got {type(body).__name__}")
    body = bytes(body)

    h = _lower_headers(headers)
    for name in _REQUIRED_HEADERS:
        if not h.get(name):
            raise EventSubRejected("missing_header", name)
    message_id = h[HEADER_MESSAGE_ID]
    raw_timestamp = h[HEADER_MESSAGE_TIMESTAMP]
    signature = h[HEADER_MESSAGE_SIGNATURE].strip()

    # Signature first: nothing else in the request is trusted until it matches.
    if not signature.startswith(_SIGNATURE_PREFIX):
        raise EventSubRejected("bad_signature", "signature lacks the sha256= prefix")
    if _HEX_SHA256.fullmatch(signature[len(_SIGNATURE_PREFIX) :]) is None:
        raise EventSubRejected("bad_signature", "signature is not 64 hex digits")
    try:
        expected = compute_signature(secret, message_id, raw_timestamp, body)
    except UnicodeEncodeError:  # lone surrogates in a header cannot have been signed by Twitch
        raise EventSubRejected("bad_header", "header is not encodable") from None
    # Constant-time compare; hex digits are case-insensitive, so normalise case first.
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise EventSubRejected("bad_signature", "signature does not match")

    try:
        timestamp = parse_timestamp(raw_timestamp)
    except ValueError as exc:
        raise EventSubRejected("bad_timestamp", str(exc)) from None
    age = now_utc - timestamp
    if age > max_age:
        raise EventSubRejected("stale", f"message is {age} old")
    if -age > max_skew:
        raise EventSubRejected("future", f"message is {-age} in the future")

    try:
        payload = loads_untrusted(body)
    except ValueError as exc:
        raise EventSubRejected("malformed_body", f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise EventSubRejected("malformed_body", "body is not a JSON object")

    message_type = h[HEADER_MESSAGE_TYPE]
    challenge = payload.get("challenge")
    if message_type == "webhook_callback_verification" and not isinstance(challenge, str):
        raise EventSubRejected("malformed_body", "verification request without a challenge")

    sub = payload.get("subscription")
    sub = sub if isinstance(sub, Mapping) else {}
    retry = h.get(HEADER_MESSAGE_RETRY, "")
    return EventSubMessage(
        message_id=message_id,
        message_type=message_type,
        # The headers are authoritative; the body is the fallback for relays that drop them.
        subscription_type=h.get(HEADER_SUBSCRIPTION_TYPE) or _opt_str(sub.get("type")),
        subscription_version=h.get(HEADER_SUBSCRIPTION_VERSION) or _opt_str(sub.get("version")),
        timestamp=timestamp,
        payload=payload,
        challenge=challenge if isinstance(challenge, str) else None,
        retry=decimal_int(retry),  # unsigned header: None unless a short decimal count
    )


def challenge_response(msg: EventSubMessage) -> tuple[int, str, bytes]:
    """The answer to a `webhook_callback_verification`: 200, text/plain, the raw challenge.

    Raises `ValueError` for any other message type (those get `ack_response`).
    """
    if msg.message_type != "webhook_callback_verification" or msg.challenge is None:
        raise ValueError(f"not a verification request: {msg.message_type!r}")
    return 200, "text/plain", msg.challenge.encode("utf-8")


def ack_response() -> tuple[int, str, bytes]:
    """The answer to a notification or revocation, duplicates included: 204, no body."""
    return 204, "text/plain", b""


def parse_revocation(msg: EventSubMessage | WsFrame) -> Revocation:
    """Classify a `revocation` message by its subscription status."""
    if msg.message_type != "revocation":
        raise ValueError(f"not a revocation: {msg.message_type!r}")
    sub = msg.subscription
    status = sub.status if sub else None
    return Revocation(
        subscription_id=sub.id if sub else None,
        subscription_type=(sub.type if sub else None) or msg.subscription_type,
        status=status,
        condition=sub.condition if sub else {},
        action=_REVOCATION_ACTIONS.get(status or "", "investigate"),
    )


class MessageIdCache:
    """Bounded, time-limited set of seen webhook message ids (the endpoint's dedupe).

    Twitch redelivers with the same message id; a message older than `MAX_MESSAGE_AGE` is
    rejected by `verify_webhook` anyway, so ids only need to be kept a little longer than
    that. `max_size` bounds memory under a flood; when full the oldest id is evicted.
    Time is explicit (`now`, monotonic seconds) so tests need no clock.
    """

    def __init__(self, *, max_size: int = 10_000, ttl: float = 15 * 60.0) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.max_size = max_size
        self.ttl = ttl
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self, now: float) -> None:
        # Insertion order is expiry order (constant ttl, monotonic now), so stop at the first
        # live entry.
        while self._expiry:
            first_id, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                break
            del self._expiry[first_id]

    def seen(self, message_id: str, *, now: float) -> bool:
        """Whether `message_id` was remembered and has not expired (does not record it)."""
        self._purge(now)
        return message_id in self._expiry

    def remember(self, message_id: str, *, now: float) -> bool:
        """Record `message_id`; True when it is new, False when it is a duplicate.

        A duplicate keeps its first expiry: redeliveries must not keep an id alive forever.
        """
        self._purge(now)
        if message_id in self._expiry:
            return False
        self._expiry[message_id] = now + self.ttl
        while len(self._expiry) > self.max_size:
            self._expiry.popitem(last=False)
        return True

    def forget(self, message_id: str) -> None:
        """Drop `message_id` (processing failed, so Twitch's retry must be processed)."""
        self._expiry.pop(message_id, None)


# --------------------------------------------------------------------------- bodies


def _decode_object(data: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(data, Mapping):
        return data
    try:
        obj = loads_untrusted(data)
    except ValueError as exc:
        raise EventSubParseError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise EventSubParseError("not a JSON object")
    return obj


def parse_subscription_body(data: str | bytes | Mapping[str, Any]) -> SubscriptionBody:
    """Parse a webhook body or a WebSocket `payload` holding a `subscription`.

    The message type is inferred from the shape (the headers/metadata are authoritative when
    present): `challenge` means ``webhook_callback_verification``, `event` or `events`
    (batched delivery) means ``notification``, a bare `subscription` means ``revocation``.
    """
    obj = _decode_object(data)
    sub = obj.get("subscription")
    if not isinstance(sub, Mapping):
        raise EventSubParseError("body has no subscription object")
    challenge = obj.get("challenge")
    event = obj.get("event")
    events = obj.get("events")
    if isinstance(challenge, str):
        message_type = "webhook_callback_verification"
    elif isinstance(event, Mapping) or isinstance(events, list):
        message_type = "notification"
    else:
        message_type = "revocation"
    return SubscriptionBody(
        message_type=message_type,
        subscription=_subscription(sub),
        event=event if isinstance(event, Mapping) else None,
        events=tuple(e for e in events if isinstance(e, Mapping))
        if isinstance(events, list)
        else None,
        challenge=challenge if isinstance(challenge, str) else None,
    )


_WS_TYPES = frozenset(
    {"session_welcome", "session_keepalive", "session_reconnect", "notification", "revocation"}
)


def parse_ws_frame(text: str | bytes) -> WsFrame:
    """Parse one EventSub WebSocket text frame.

    Raises `EventSubParseError` when the frame lacks metadata, a message id/type or a valid
    timestamp. Unknown message types are kept (Twitch may add some); welcome and reconnect
    frames carry `session`, notification and revocation frames `subscription` (and `event`).
    """
    obj = _decode_object(text)
    meta = obj.get("metadata")
    payload = obj.get("payload")
    if not isinstance(meta, Mapping):
        raise EventSubParseError("frame has no metadata object")
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise EventSubParseError("frame payload is not an object")
    message_id, message_type = meta.get("message_id"), meta.get("message_type")
    raw_ts = meta.get("message_timestamp")
    if not isinstance(message_id, str) or not isinstance(message_type, str):
        raise EventSubParseError("metadata lacks message_id or message_type")
    try:
        if not isinstance(raw_ts, str):
            raise ValueError(f"timestamp must be a string, got {type(raw_ts).__name__}")
        timestamp = parse_timestamp(raw_ts)
    except ValueError as exc:
        raise EventSubParseError(f"bad message_timestamp: {exc}") from None

    session = None
    raw_session = payload.get("session")
    if isinstance(raw_session, Mapping) and isinstance(raw_session.get("id"), str):
        keepalive = raw_session.get("keepalive_timeout_seconds")
        session = Session(
            id=raw_session["id"],
            status=_opt_str(raw_session.get("status")),
            keepalive_timeout_seconds=keepalive
            if isinstance(keepalive, int) and not isinstance(keepalive, bool)
            else None,
            reconnect_url=_opt_str(raw_session.get("reconnect_url")),
            connected_at=_opt_str(raw_session.get("connected_at")),
        )
    elif message_type in ("session_welcome", "session_reconnect"):
        raise EventSubParseError(f"{message_type} frame without a session")

    sub = payload.get("subscription")
    event = payload.get("event")
    return WsFrame(
        message_id=message_id,
        message_type=message_type,
        message_timestamp=raw_ts,
        timestamp=timestamp,
        subscription_type=_opt_str(meta.get("subscription_type")),
        subscription_version=_opt_str(meta.get("subscription_version")),
        payload=payload,
        session=session,
        subscription=_subscription(sub) if isinstance(sub, Mapping) else None,
        event=event if isinstance(event, Mapping) else None,
    )


# --------------------------------------------------------------------------- normalized


def to_stream_event(msg: EventSubMessage | WsFrame) -> StreamStarted | StreamEnded | None:
    """`StreamStarted`/`StreamEnded` for stream.online/stream.offline notifications, else None.

    `channel` is the broadcaster login (the id when the login is missing). `sent_at` is the
    stream's `started_at` for online events (when it parses), else the message timestamp.
    Raises `ValueError` for a stream notification without any broadcaster.
    """
    if msg.message_type != "notification":
        return None
    sub_type = msg.subscription_type
    if sub_type not in ("stream.online", "stream.offline"):
        return None
    event = msg.event
    if event is None:
        raise ValueError(f"{sub_type} notification without an event object")
    channel = _opt_str(event.get("broadcaster_user_login")) or _opt_str(
        event.get("broadcaster_user_id")
    )
    if not channel:
        raise ValueError(f"{sub_type} notification without a broadcaster")
    if sub_type == "stream.offline":
        return StreamEnded(
            platform="twitch",
            channel=channel,
            message_id=msg.message_id,
            sent_at=msg.timestamp,
            raw_type=sub_type,
        )
    sent_at = msg.timestamp
    started_at = event.get("started_at")
    if isinstance(started_at, str):
        try:
            sent_at = parse_timestamp(started_at)
        except ValueError:
            pass  # keep the message timestamp; the transition itself is what matters
    return StreamStarted(
        platform="twitch",
        channel=channel,
        message_id=msg.message_id,
        sent_at=sent_at,
        raw_type=sub_type,
    )


#: Micro-units per bit: a cheer is a `PaidMessageEvent` in currency ``BITS``.
BITS_MICROS = 1_000_000
_MAX_COUNT = 10**9  # bits, viewers, months, gifts: anything larger is not a real count


def _count(value: object) -> int | None:
    """A non-negative integer count, else None (booleans, floats, absurd sizes refused)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
        return value
    return None


def _user(event: Mapping[str, Any], prefix: str) -> tuple[str | None, str | None, str | None]:
    return (
        _opt_str(event.get(f"{prefix}_id")),
        _opt_str(event.get(f"{prefix}_login")),
        _opt_str(event.get(f"{prefix}_name")),
    )


def _chat_roles(badges: object) -> frozenset[str]:
    sets = set()
    if isinstance(badges, list):
        sets = {b.get("set_id") for b in badges if isinstance(b, Mapping)}
    roles = set()
    for role in ("broadcaster", "moderator", "vip"):
        if role in sets:
            roles.add(role)
    if "subscriber" in sets or "founder" in sets:
        roles.add("subscriber")
    return frozenset(roles)


def shared_chat_source(msg: EventSubMessage | WsFrame) -> str | None:
    """The channel a `channel.chat.message` was sent in when that is another channel of a
    Shared Chat session (its `source_broadcaster_user_id`), else None.

    Twitch delivers the whole shared session's chat to each participant; a message whose
    source is another broadcaster is that channel's chat, not this one's.
    """
    if msg.message_type != "notification" or msg.subscription_type != "channel.chat.message":
        return None
    event = msg.event
    if event is None:
        return None
    source = _opt_str(event.get("source_broadcaster_user_id"))
    if source is None or source == _opt_str(event.get("broadcaster_user_id")):
        return None
    return source


def to_channel_event(msg: EventSubMessage | WsFrame) -> AnyEvent | None:
    """The typed event of a channel notification (webhook or WebSocket), else None.

    Covers redemptions (`RedemptionEvent`), follows (`FollowEvent`), subscriptions and resubs
    (`SubscriptionEvent`), gifts (`GiftEvent`), cheers (`PaidMessageEvent` in ``BITS``), incoming
    raids (`RaidEvent`, the raider as the user), chat (`ChatEvent`) and stream.online/offline
    (see `to_stream_event`). `channel` is the broadcaster login (the id when it is missing).
    Other subscription types give None. Raises `ValueError` for a known type whose event lacks
    what identifies it (no broadcaster, no redemption id, no chatter): the caller counts it.
    """
    if msg.message_type != "notification":
        return None
    sub_type = msg.subscription_type
    if sub_type in ("stream.online", "stream.offline"):
        return to_stream_event(msg)
    event = msg.event
    if event is None:
        if sub_type in _CHANNEL_TYPES:
            raise ValueError(f"{sub_type} notification without an event object")
        return None
    if sub_type not in _CHANNEL_TYPES:
        return None
    prefix = "to_broadcaster_user" if sub_type == "channel.raid" else "broadcaster_user"
    channel = _opt_str(event.get(f"{prefix}_login")) or _opt_str(event.get(f"{prefix}_id"))
    if not channel:
        raise ValueError(f"{sub_type} notification without a broadcaster")
    common: _EventFields = {
        "platform": "twitch",
        "channel": channel,
        "message_id": msg.message_id,
        "sent_at": msg.timestamp,
        "raw_type": sub_type,
    }
    user_id, login, name = _user(event, "user")
    if sub_type == "channel.channel_points_custom_reward_redemption.add":
        reward = event.get("reward")
        reward = reward if isinstance(reward, Mapping) else {}
        redemption_id, reward_id = _opt_str(event.get("id")), _opt_str(reward.get("id"))
        if not redemption_id or not reward_id:
            raise ValueError("redemption without a redemption id or a reward id")
        return RedemptionEvent(
            **common,
            user_id=user_id,
            login=login,
            display_name=name,
            redemption_id=redemption_id,
            reward_id=reward_id,
            reward_title=_opt_str(reward.get("title")) or "",
            cost=_count(reward.get("cost")),
            input=_opt_str(event.get("user_input")) or "",
            status=_opt_str(event.get("status")),
        )
    if sub_type == "channel.follow":
        return FollowEvent(**common, user_id=user_id, login=login, display_name=name)
    if sub_type == "channel.subscribe":
        return SubscriptionEvent(
            **common,
            user_id=user_id,
            login=login,
            display_name=name,
            tier=_opt_str(event.get("tier")),
            months=1,
        )
    if sub_type == "channel.subscription.message":
        message = event.get("message")
        text = _opt_str(message.get("text")) if isinstance(message, Mapping) else None
        return SubscriptionEvent(
            **common,
            user_id=user_id,
            login=login,
            display_name=name,
            tier=_opt_str(event.get("tier")),
            months=_count(event.get("cumulative_months")),
            text=text,
        )
    if sub_type == "channel.subscription.gift":
        anonymous = event.get("is_anonymous") is True
        return GiftEvent(
            **common,
            user_id=None if anonymous else user_id,
            login=None if anonymous else login,
            display_name=None if anonymous else name,
            count=_count(event.get("total")) or 1,
            tier=_opt_str(event.get("tier")),
            anonymous=anonymous,
        )
    if sub_type == "channel.cheer":
        bits = _count(event.get("bits"))
        if bits is None:
            raise ValueError("cheer without a bit count")
        anonymous = event.get("is_anonymous") is True
        return PaidMessageEvent(
            **common,
            user_id=None if anonymous else user_id,
            login=None if anonymous else login,
            display_name=None if anonymous else name,
            amount_micros=bits * BITS_MICROS,
            currency="BITS",
            text=_opt_str(event.get("message")),
            amount_display=f"{bits} bits",
        )
    if sub_type == "channel.raid":
        raider_id, raider_login, raider_name = _user(event, "from_broadcaster_user")
        return RaidEvent(
            **common,
            user_id=raider_id,
            login=raider_login,
            display_name=raider_name,
            viewer_count=_count(event.get("viewers")),
        )
    return _chat_message(event, common)


class _EventFields(TypedDict):
    """The `PlatformEvent` fields every channel notification shares."""

    platform: str
    channel: str
    message_id: str | None
    sent_at: datetime
    raw_type: str


def _chat_message(event: Mapping[str, Any], common: _EventFields) -> ChatEvent:
    user_id, login, name = _user(event, "chatter_user")
    message_id = _opt_str(event.get("message_id"))
    if not user_id or not login or not message_id:
        raise ValueError("chat message without a chatter or a message id")
    message = event.get("message")
    text = _opt_str(message.get("text")) if isinstance(message, Mapping) else None
    cheer = event.get("cheer")
    bits = _count(cheer.get("bits")) if isinstance(cheer, Mapping) else None
    reply = event.get("reply")
    parent = None
    if isinstance(reply, Mapping) and _opt_str(reply.get("parent_message_id")):
        parent = ReplyParent(
            message_id=reply["parent_message_id"],
            user_id=_opt_str(reply.get("parent_user_id")),
            login=_opt_str(reply.get("parent_user_login")),
            display_name=_opt_str(reply.get("parent_user_name")),
            text=_opt_str(reply.get("parent_message_body")),
        )
    return ChatEvent(
        **(common | {"message_id": message_id}),  # the chat message's own id (for replies)
        user_id=user_id,
        login=login,
        display_name=name or login,
        text=text or "",
        roles=_chat_roles(event.get("badges")),
        bits=bits or 0,
        reply_parent=parent,
        color=_opt_str(event.get("color")) or None,
    )


_CHANNEL_TYPES = frozenset(
    {
        "channel.channel_points_custom_reward_redemption.add",
        "channel.follow",
        "channel.subscribe",
        "channel.subscription.message",
        "channel.subscription.gift",
        "channel.cheer",
        "channel.raid",
        "channel.chat.message",
    }
)
