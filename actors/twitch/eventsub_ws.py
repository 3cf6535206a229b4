"""Twitch EventSub over WebSocket, sans-IO: the session machine, subscriptions, close codes.

Pure code, no I/O: the `TwitchEvents` actor opens sockets, feeds every text frame and the
passage of time into `SocketSession`, and acts on what comes back. Facts used
(../shared/docs/platforms.md §3.4, accounts-and-events.md §2):

- Connect to ``wss://eventsub.wss.twitch.tv/ws?keepalive_timeout_seconds=N`` (10..600). The first
  frame is ``session_welcome`` with ``payload.session.id`` and ``keepalive_timeout_seconds``;
  subscriptions must be created through Helix with ``transport = {method: websocket,
  session_id}`` within that many seconds, else Twitch closes with 4003.
- A ``session_keepalive`` arrives whenever nothing else was sent for the keepalive time: silence
  beyond ``keepalive_timeout_seconds`` plus `KEEPALIVE_GRACE` means the link is dead.
- ``session_reconnect`` carries ``reconnect_url``: connect there, wait for its welcome, then
  close the old socket. Subscriptions move over (no resubscribe); messages still arriving on
  the old socket are processed. Any other reconnect starts a new session with no
  subscriptions and without replay of what happened meanwhile.
- The client never sends data frames. Close codes 4000..4007 are documented (`CLOSE_CODES`).
- Subscribe answers: 202 created; 409 an identical enabled subscription exists (as good as
  created); 429 a limit (3 sockets or 300 subscriptions per socket per user, cost budget);
  401 the token; 403 a missing scope or role; 400/410 a wrong type, version or condition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs

from actors.twitch.eventsub import (
    EventSubParseError,
    Revocation,
    WsFrame,
    parse_revocation,
    parse_ws_frame,
)

__all__ = [
    "CHAT_MESSAGE",
    "CLOSE_CODES",
    "DEFAULT_URL",
    "EVENT_NAMES",
    "KEEPALIVE_GRACE",
    "MAX_SUBSCRIPTIONS_PER_SOCKET",
    "CloseCode",
    "Frame",
    "LinkDead",
    "Notified",
    "ReconnectRequested",
    "Rejected",
    "Revoked",
    "SocketSession",
    "SubscribeOutcome",
    "SubscriptionSpec",
    "Welcomed",
    "channel_subscriptions",
    "chat_subscription",
    "classify_subscribe",
    "describe_close",
    "session_url",
]

DEFAULT_URL = "wss://eventsub.wss.twitch.tv/ws"
#: Silence tolerated beyond the welcome's keepalive_timeout_seconds before the link is dead.
KEEPALIVE_GRACE = 3.0
#: Enabled subscriptions one WebSocket may hold.
MAX_SUBSCRIPTIONS_PER_SOCKET = 300
#: How long a fresh socket may wait for its welcome (Twitch sends it at once).
WELCOME_TIMEOUT = 10.0

CHAT_MESSAGE = "channel.chat.message"

#: Configuration event names -> (subscription type, version). Public: config and docs use them.
EVENT_NAMES: Mapping[str, tuple[str, str]] = {
    "redemption": ("channel.channel_points_custom_reward_redemption.add", "1"),
    "follow": ("channel.follow", "2"),
    "subscribe": ("channel.subscribe", "1"),
    "resub": ("channel.subscription.message", "1"),
    "gift": ("channel.subscription.gift", "1"),
    "cheer": ("channel.cheer", "1"),
    "raid": ("channel.raid", "1"),
    "online": ("stream.online", "1"),
    "offline": ("stream.offline", "1"),
}


@attrs.frozen(kw_only=True)
class CloseCode:
    """What a documented EventSub close code means and whether reconnecting can help."""

    code: int
    meaning: str
    advice: str
    retry: bool = True


CLOSE_CODES: Mapping[int, CloseCode] = {
    c.code: c
    for c in (
        CloseCode(
            code=4000,
            meaning="internal server error",
            advice="Twitch had a problem; reconnecting",
        ),
        CloseCode(
            code=4001,
            meaning="client sent inbound traffic",
            advice="the runtime sent a data frame, which EventSub forbids; report this bug",
        ),
        CloseCode(
            code=4002,
            meaning="client failed ping-pong",
            advice="the link or this machine stalled; reconnecting",
        ),
        CloseCode(
            code=4003,
            meaning="connection unused",
            advice=(
                "no subscription was created in time after the welcome; check the token's "
                "scopes and the subscription errors"
            ),
        ),
        CloseCode(
            code=4004,
            meaning="reconnect grace time expired",
            advice="the old socket was kept open too long after a reconnect; reconnecting",
        ),
        CloseCode(code=4005, meaning="network timeout", advice="reconnecting"),
        CloseCode(code=4006, meaning="network error", advice="reconnecting"),
        CloseCode(
            code=4007,
            meaning="invalid reconnect",
            advice="the reconnect URL was refused; starting a fresh session",
        ),
    )
}


def describe_close(code: int | None, reason: str | None = None) -> str:
    """A sentence a person can act on for a socket closed with `code`."""
    known = CLOSE_CODES.get(code) if code is not None else None
    if known is not None:
        return f"EventSub closed the socket ({code} {known.meaning}): {known.advice}"
    detail = f" {reason}" if reason else ""
    if code is None:
        return f"EventSub socket lost without a close code{detail}; reconnecting"
    return f"EventSub closed the socket ({code}{detail}); reconnecting"


def session_url(base: str, keepalive_seconds: int) -> str:
    """`base` with ``keepalive_timeout_seconds`` set in its query (10..600)."""
    if not 10 <= keepalive_seconds <= 600:
        raise ValueError("keepalive_timeout_seconds must be within 10..600")
    parts = urlsplit(base)
    kept = [p for p in parts.query.split("&") if p and not p.startswith("keepalive_timeout_")]
    query = "&".join([*kept, urlencode({"keepalive_timeout_seconds": keepalive_seconds})])
    return urlunsplit(parts._replace(query=query))


# --------------------------------------------------------------------------- subscriptions


@attrs.frozen(kw_only=True)
class SubscriptionSpec:
    """One subscription to create: type, version and condition (sorted pairs)."""

    type: str
    version: str
    condition: tuple[tuple[str, str], ...]

    def body(self, session_id: str) -> dict[str, Any]:
        """The JSON body of ``POST /eventsub/subscriptions`` for this WebSocket session."""
        return {
            "type": self.type,
            "version": self.version,
            "condition": dict(self.condition),
            "transport": {"method": "websocket", "session_id": session_id},
        }


def _spec(sub_type: str, version: str, **condition: str) -> SubscriptionSpec:
    return SubscriptionSpec(
        type=sub_type, version=version, condition=tuple(sorted(condition.items()))
    )


def channel_subscriptions(
    events: Iterable[str], broadcaster_id: str
) -> tuple[SubscriptionSpec, ...]:
    """The subscriptions for these configuration event names (unknown names: `ValueError`).

    A follow needs a moderator (the broadcaster's own token: the broadcaster); a raid
    subscribes to incoming raids (``to_broadcaster_user_id``).
    """
    specs = []
    for name in dict.fromkeys(events):
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}; expected one of {sorted(EVENT_NAMES)}")
        sub_type, version = EVENT_NAMES[name]
        if name == "follow":
            spec = _spec(
                sub_type,
                version,
                broadcaster_user_id=broadcaster_id,
                moderator_user_id=broadcaster_id,
            )
        elif name == "raid":
            spec = _spec(sub_type, version, to_broadcaster_user_id=broadcaster_id)
        else:
            spec = _spec(sub_type, version, broadcaster_user_id=broadcaster_id)
        specs.append(spec)
    if len(specs) > MAX_SUBSCRIPTIONS_PER_SOCKET:
        raise ValueError(f"at most {MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket")
    return tuple(specs)


def chat_subscription(broadcaster_id: str, user_id: str) -> SubscriptionSpec:
    """`channel.chat.message` read as `user_id` (the chat account) in `broadcaster_id`'s chat."""
    return _spec(CHAT_MESSAGE, "1", broadcaster_user_id=broadcaster_id, user_id=user_id)


@attrs.frozen(kw_only=True)
class SubscribeOutcome:
    """How one subscribe call ended.

    `kind`: ``created`` (202), ``exists`` (409: an identical enabled subscription is there, which
    serves us as well), ``limit`` (429), ``unauthorized`` (401: report the token), ``forbidden``
    (403: scope or role missing), ``invalid`` (400/404/410: type, version or condition refused),
    ``error`` (anything else, 5xx). `active` is whether events will flow; `retry_later` whether a
    later attempt (a new session, after backoff) may succeed; `sentence` says what to do.
    """

    kind: str
    status: int
    spec: SubscriptionSpec
    subscription_id: str | None = None
    message: str = ""

    @property
    def active(self) -> bool:
        return self.kind in ("created", "exists")

    @property
    def retry_later(self) -> bool:
        return self.kind in ("limit", "error", "unauthorized")

    @property
    def sentence(self) -> str:
        what = f"{self.spec.type} v{self.spec.version}"
        detail = f" ({self.message})" if self.message else ""
        return {
            "created": f"subscribed to {what}",
            "exists": f"{what} was already subscribed",
            "limit": (
                f"Twitch refused {what}: a limit is reached{detail}; at most 3 EventSub sockets "
                "and 300 subscriptions per socket per account: stop other programs using this "
                "account's EventSub, or wait for stale sessions to expire"
            ),
            "unauthorized": f"the token was refused for {what}{detail}; log the account in again",
            "forbidden": (
                f"Twitch forbids {what}{detail}: the account lacks a scope or role for it; log "
                "in again with the scopes this event needs"
            ),
            "invalid": f"Twitch rejected {what}{detail}: this subscription cannot be made",
        }.get(self.kind, f"subscribing to {what} failed with HTTP {self.status}{detail}")


def classify_subscribe(
    spec: SubscriptionSpec, status: int, body: Mapping[str, Any] | None
) -> SubscribeOutcome:
    """Turn a ``POST /eventsub/subscriptions`` answer into a `SubscribeOutcome`."""
    body = body if isinstance(body, Mapping) else {}
    message = body.get("message")
    message = message[:200] if isinstance(message, str) else ""
    if 200 <= status < 300:
        data = body.get("data")
        sub_id = None
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            raw = data[0].get("id")
            sub_id = raw if isinstance(raw, str) else None
        return SubscribeOutcome(kind="created", status=status, spec=spec, subscription_id=sub_id)
    kind = {409: "exists", 429: "limit", 401: "unauthorized", 403: "forbidden"}.get(status)
    if kind is None:
        kind = "invalid" if status in (400, 404, 410) else "error"
    return SubscribeOutcome(kind=kind, status=status, spec=spec, message=message)


# --------------------------------------------------------------------------- the session machine


@attrs.frozen(kw_only=True)
class Welcomed:
    """The socket's session is open: subscribe now (unless it is a handover target)."""

    session_id: str
    keepalive_seconds: int
    handover: bool


@attrs.frozen(kw_only=True)
class Notified:
    """A notification to apply (the caller drops duplicates by `frame.message_id`)."""

    frame: WsFrame


@attrs.frozen(kw_only=True)
class Revoked:
    """Twitch revoked a subscription (no more events of that type until fixed)."""

    frame: WsFrame
    revocation: Revocation


@attrs.frozen(kw_only=True)
class ReconnectRequested:
    """Open a socket to `url`; close this one once the new one is welcomed."""

    url: str


@attrs.frozen(kw_only=True)
class Rejected:
    """A frame that is not what the protocol says: counted and logged, never a crash."""

    reason: str


@attrs.frozen(kw_only=True)
class LinkDead:
    """No frame within the deadline: the link is dead (`reason` is a sentence)."""

    reason: str


Frame = Welcomed | Notified | Revoked | ReconnectRequested | Rejected


class SocketSession:
    """One EventSub socket's protocol state. Time is explicit (`now`, monotonic seconds).

    `handover` marks a socket opened for a ``session_reconnect``: its welcome must not lead to
    subscribing again. `deadline()` is when silence means a dead link: `welcome_timeout` after
    opening until the welcome, then the keepalive time plus `grace` after the last frame.
    """

    def __init__(
        self,
        *,
        now: float,
        handover: bool = False,
        grace: float = KEEPALIVE_GRACE,
        welcome_timeout: float = WELCOME_TIMEOUT,
    ) -> None:
        self.handover = handover
        self.grace = grace
        self.welcome_timeout = welcome_timeout
        self.opened_at = now
        self.last_frame_at = now
        self.session_id: str | None = None
        self.keepalive_seconds: int | None = None
        self.reconnect_url: str | None = None
        self.frames = 0
        self.keepalives = 0

    @property
    def welcomed(self) -> bool:
        return self.session_id is not None

    def deadline(self) -> float:
        """The monotonic time after which silence means a dead link."""
        if self.keepalive_seconds is None:
            return self.opened_at + self.welcome_timeout
        return self.last_frame_at + self.keepalive_seconds + self.grace

    def check(self, now: float) -> LinkDead | None:
        """`LinkDead` when `now` is past the deadline, else None."""
        if now <= self.deadline():
            return None
        if self.keepalive_seconds is None:
            return LinkDead(reason=f"no welcome within {self.welcome_timeout:g} s of connecting")
        silent = now - self.last_frame_at
        return LinkDead(
            reason=(
                f"no EventSub message or keepalive for {silent:.1f} s (keepalive "
                f"{self.keepalive_seconds} s + {self.grace:g} s grace): the link is dead"
            )
        )

    def receive(self, text: str | bytes, *, now: float) -> Frame | None:
        """Feed one text frame; what the actor must do about it (None: nothing)."""
        self.last_frame_at = now  # any frame proves the link alive, even a broken one
        self.frames += 1
        try:
            frame = parse_ws_frame(text)
        except EventSubParseError as exc:
            return Rejected(reason=str(exc)[:200])
        kind = frame.message_type
        if kind == "session_welcome":
            session = frame.session
            assert session is not None  # parse_ws_frame requires it for welcomes
            if self.welcomed:
                return Rejected(reason="a second welcome on one socket")
            keepalive = session.keepalive_timeout_seconds
            if keepalive is None or not 1 <= keepalive <= 3600 or not math.isfinite(keepalive):
                return Rejected(reason=f"welcome with an unusable keepalive: {keepalive!r}")
            self.session_id = session.id
            self.keepalive_seconds = keepalive
            return Welcomed(
                session_id=session.id, keepalive_seconds=keepalive, handover=self.handover
            )
        if not self.welcomed:
            return Rejected(reason=f"{kind} before the welcome")
        if kind == "session_keepalive":
            self.keepalives += 1
            return None
        if kind == "notification":
            if frame.subscription_type is None and frame.subscription is not None:
                frame = attrs.evolve(frame, subscription_type=frame.subscription.type)
            return Notified(frame=frame)
        if kind == "revocation":
            return Revoked(frame=frame, revocation=parse_revocation(frame))
        if kind == "session_reconnect":
            session = frame.session
            url = session.reconnect_url if session is not None else None
            if not url or urlsplit(url).scheme not in ("ws", "wss"):
                return Rejected(reason=f"session_reconnect without a usable URL: {url!r}")
            self.reconnect_url = url
            return ReconnectRequested(url=url)
        return Rejected(reason=f"unknown message type {kind!r}")
