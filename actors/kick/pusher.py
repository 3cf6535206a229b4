"""Kick chat over Pusher: a sans-IO frame parser, event mapping and connection state machine.

Nothing here does I/O or reads a monotonic clock: the Kick actor owns the websocket, feeds the
text frames it receives into :func:`parse_frame` / :class:`PusherConnection`, sends the frames
the state machine hands back, and sleeps until :meth:`PusherConnection.next_deadline`. That is
what lets this module be tested against real captures, fuzzed and benchmarked.

Wire facts (see ``shared/docs/platforms.md`` sections 6.1, 6.2 and 8):

- every frame is a JSON object ``{"event": ..., "channel"?: ..., "data"?: ...}``; real servers
  send ``data`` as a JSON-encoded *string* (Kick double-encodes), pusher-js tests and soketi
  sometimes send an object, so both are accepted everywhere;
- Kick's own events arrive with and without the ``App\\Events\\`` prefix;
- close and ``pusher:error`` codes are grouped in ranges that say whether to reconnect.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import attrs

from actors.events import (
    AnyEvent,
    ChatEvent,
    Emote,
    GiftEvent,
    ModerationEvent,
    ReplyParent,
    StreamEnded,
    StreamStarted,
    SubscriptionEvent,
)
from config.untrusted_json import decimal_int, describe, loads_untrusted

__all__ = [
    "DEFAULT_ACTIVITY_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_PONG_TIMEOUT",
    "KICK_APP_KEY",
    "KICK_CLUSTER",
    "CloseAction",
    "Connected",
    "ConnectionInfo",
    "ConnectionState",
    "Deliver",
    "Output",
    "PusherConnection",
    "PusherFrame",
    "PusherParseError",
    "Reconnect",
    "Send",
    "ServerError",
    "Subscribed",
    "SubscriptionFailed",
    "SubscriptionState",
    "channel_channel",
    "channel_id_from",
    "chatroom_channel",
    "chatroom_id_from",
    "classify_close",
    "classify_error",
    "connection_url",
    "event_name",
    "parse_connection_established",
    "parse_emotes",
    "parse_frame",
    "ping",
    "pong",
    "subscribe",
    "to_chat_event",
    "to_event",
    "unsubscribe",
]

#: Kick's public Pusher app key and cluster (the older key ``eb1d5f283081a78b932c`` is obsolete).
KICK_APP_KEY = "32cbd69e4b950bf97679"
KICK_CLUSTER = "us2"
#: Pusher protocol version spoken by this client; client/version are informational only.
PROTOCOL_VERSION = 7
CLIENT_NAME = "js"
CLIENT_VERSION = "8.4.0-rc2"

#: pusher-js defaults, in seconds. Kick advertises ``activity_timeout`` 120.
DEFAULT_ACTIVITY_TIMEOUT = 120.0
DEFAULT_PONG_TIMEOUT = 30.0
#: How long we wait for ``pusher:connection_established`` after the socket opened.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0

_EVENT_PREFIX = "App\\Events\\"


class PusherParseError(ValueError):
    """A text frame (or a Kick payload inside one) that cannot be understood."""


# --------------------------------------------------------------------------------------------
# Frames


@attrs.frozen(kw_only=True)
class PusherFrame:
    """One parsed Pusher frame.

    ``data`` is the decoded value when the wire ``data`` was a JSON string, the string itself
    when it was a string that is not JSON, the JSON value as given otherwise, and ``None`` when
    the frame had no ``data`` member. ``data_is_string`` tells whether the wire value was a
    string (real Pusher and Kick servers always send one).
    """

    event: str
    channel: str | None = None
    data: Any = None
    data_is_string: bool = False


def parse_frame(text: str) -> PusherFrame:
    """Parse one websocket text frame.

    Raises :class:`PusherParseError` (and nothing else, for any ``str``) when the text is not
    JSON, not a JSON object, or has no string ``event``. A ``channel`` that is not a string is
    treated as absent, because no Pusher frame routes on anything but a channel name.
    """
    if not isinstance(text, str):
        raise PusherParseError(f"expected a text frame, got {type(text).__name__}")
    try:
        outer = loads_untrusted(text)
    except ValueError as exc:
        raise PusherParseError(f"frame is not JSON: {exc}") from None
    if not isinstance(outer, dict):
        raise PusherParseError(f"frame is not a JSON object but {type(outer).__name__}")
    event = outer.get("event")
    if not isinstance(event, str):
        raise PusherParseError("frame has no string 'event'")
    channel = outer.get("channel")
    if not isinstance(channel, str):
        channel = None
    data = outer.get("data")
    data_is_string = isinstance(data, str)
    if isinstance(data, str):
        # Kick double-encodes: the payload is JSON inside a JSON string. A string that is not
        # JSON (pusher-js sends ":(" in a test) is kept as is.
        try:
            data = loads_untrusted(data)
        except ValueError:
            pass
    return PusherFrame(event=event, channel=channel, data=data, data_is_string=data_is_string)


def event_name(frame_or_event: PusherFrame | str) -> str:
    """The event name without Kick's ``App\\Events\\`` prefix (Kick sends both spellings)."""
    name = frame_or_event if isinstance(frame_or_event, str) else frame_or_event.event
    return name.removeprefix(_EVENT_PREFIX)


_CHATROOM_RE = re.compile(r"(?:chatrooms\.(\d+)(?:\.v2)?|chatroom_(\d+))", re.ASCII)
_CHANNEL_RE = re.compile(r"channel[._](\d+)", re.ASCII)


def chatroom_id_from(channel: str | None) -> int | None:
    """The chatroom id in ``chatrooms.<id>.v2`` (also ``chatrooms.<id>``, ``chatroom_<id>``)."""
    if channel is None:
        return None
    m = _CHATROOM_RE.fullmatch(channel)
    if m is None:
        return None
    return decimal_int(m.group(1) or m.group(2))


def channel_id_from(channel: str | None) -> int | None:
    """The channel id in ``channel.<id>`` (also the legacy ``channel_<id>``)."""
    if channel is None:
        return None
    m = _CHANNEL_RE.fullmatch(channel)
    return decimal_int(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------
# Client frames and URL


def _dump(event: str, data: Mapping[str, Any]) -> str:
    return json.dumps({"event": event, "data": dict(data)}, separators=(",", ":"))


def subscribe(channel: str, *, auth: str = "") -> str:
    """A ``pusher:subscribe`` frame. Kick's public channels take an empty ``auth``."""
    return _dump("pusher:subscribe", {"auth": auth, "channel": channel})


def unsubscribe(channel: str) -> str:
    """A ``pusher:unsubscribe`` frame."""
    return _dump("pusher:unsubscribe", {"channel": channel})


def ping() -> str:
    """A client ``pusher:ping`` frame (sent after ``activity_timeout`` of silence)."""
    return _dump("pusher:ping", {})


def pong() -> str:
    """A ``pusher:pong`` frame, the answer to a server ``pusher:ping``."""
    return _dump("pusher:pong", {})


def chatroom_channel(chatroom_id: int | str) -> str:
    """The chat channel of a chatroom: ``chatrooms.<id>.v2``."""
    return f"chatrooms.{chatroom_id}.v2"


def channel_channel(channel_id: int | str) -> str:
    """The channel-events channel (live/offline, subs, follows): ``channel.<id>``."""
    return f"channel.{channel_id}"


def connection_url(
    app_key: str = KICK_APP_KEY,
    cluster: str = KICK_CLUSTER,
    host: str | None = None,
    port: int | None = None,
    tls: bool = True,
) -> str:
    """The websocket URL for an app key.

    Defaults give Kick's URL,
    ``wss://ws-us2.pusher.com/app/32cbd69e4b950bf97679?protocol=7&client=js&version=8.4.0-rc2&flash=false``.
    ``host``/``port`` point it at a Pusher-compatible server such as soketi (``/app/{key}``).
    """
    if not app_key:
        raise ValueError("app_key must not be empty")
    scheme = "wss" if tls else "ws"
    netloc = host if host is not None else f"ws-{cluster}.pusher.com"
    if port is not None:
        netloc = f"{netloc}:{port}"
    query = f"protocol={PROTOCOL_VERSION}&client={CLIENT_NAME}&version={CLIENT_VERSION}&flash=false"
    return f"{scheme}://{netloc}/app/{quote(app_key, safe='')}?{query}"


# --------------------------------------------------------------------------------------------
# Close and error codes


class CloseAction(enum.Enum):
    """What to do after the server closed the socket (or sent ``pusher:error``) with a code.

    - ``REFUSED``: do not reconnect unchanged (4000-4099: 4000 means TLS only, and we always use
      TLS; 4001 unknown app key, 4003 app disabled, 4009 unauthorized...; 4300-4399 as well).
      The actor goes to an error state and waits for a configuration change.
    - ``BACKOFF``: reconnect after a backoff of at least 1 s (4100-4199, and every code outside
      the Pusher ranges, e.g. 1006 abnormal closure).
    - ``RETRY``: reconnect now (4200-4299: server closing, pong not received...).
    """

    REFUSED = "refused"
    BACKOFF = "backoff"
    RETRY = "retry"


def classify_close(code: int | None) -> CloseAction:
    """Map a websocket close code to a :class:`CloseAction` (``None``: no code was given)."""
    if code is None or isinstance(code, bool) or not isinstance(code, int):
        return CloseAction.BACKOFF
    if 4000 <= code <= 4099 or 4300 <= code <= 4399:
        return CloseAction.REFUSED
    if 4200 <= code <= 4299:
        return CloseAction.RETRY
    return CloseAction.BACKOFF


def _error_code(data: Any) -> int | None:
    if isinstance(data, dict):
        code = data.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def classify_error(frame: PusherFrame) -> CloseAction | None:
    """The :class:`CloseAction` of a ``pusher:error`` frame, by the same code ranges.

    Returns ``None`` when the error carries no integer code (Pusher sends ``code: null`` for
    errors that leave the connection open, such as a rejected client event, and pusher-js sends
    a bare string in one test): the actor just logs it.
    """
    code = _error_code(frame.data)
    return None if code is None else classify_close(code)


# --------------------------------------------------------------------------------------------
# Handshake


@attrs.frozen(kw_only=True)
class ConnectionInfo:
    """What ``pusher:connection_established`` tells the client."""

    socket_id: str
    activity_timeout: float


def parse_connection_established(frame: PusherFrame) -> ConnectionInfo:
    """Read ``socket_id`` and ``activity_timeout`` (seconds) from the handshake frame.

    Raises :class:`PusherParseError` when either is missing or odd; like pusher-js, a handshake
    without ``activity_timeout`` is an error ("No activity timeout specified in handshake")
    rather than a silent default, because the liveness check depends on it.
    """
    data = frame.data
    if not isinstance(data, dict):
        raise PusherParseError("connection_established without a data object")
    socket_id = data.get("socket_id")
    if not isinstance(socket_id, str) or not socket_id:
        raise PusherParseError("No socket_id specified in handshake")
    timeout = data.get("activity_timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise PusherParseError("No activity timeout specified in handshake")
    if not timeout > 0 or timeout != timeout or timeout == float("inf"):
        raise PusherParseError(
            f"activity_timeout must be a positive number, got {describe(timeout)}"
        )
    return ConnectionInfo(socket_id=socket_id, activity_timeout=float(timeout))


# --------------------------------------------------------------------------------------------
# Kick payloads -> normalized events

_DIGITS_RE = re.compile(r"[0-9]{1,30}")  # ASCII only: str.isdigit() also accepts "²"
_EMOTE_RE = re.compile(r"\[emote:(\d+):([^\[\]]*)\]", re.ASCII)

# Badge type -> normalized role. "og" and "founder" are subscriber flavours on Kick;
# sub_gifter, verified, staff... carry no chat privilege and map to nothing.
_BADGE_ROLES = {
    "broadcaster": "broadcaster",
    "moderator": "moderator",
    "vip": "vip",
    "subscriber": "subscriber",
    "og": "subscriber",
    "founder": "subscriber",
}

_TS_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?",
    re.ASCII,
)


def _parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or UNIX seconds, else ``None``.

    Accepts fractional seconds of any length (truncated to microseconds), ``Z`` or an offset,
    and Kick's ``YYYY-MM-DD HH:MM:SS`` form; a time without an offset is UTC (Kick's servers
    run in UTC).
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            return None
        m = _TS_RE.fullmatch(value.strip())
        if m is None:
            return None
        year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
        micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
        tz = UTC
        if m.group(9):
            offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11) or 0))
            tz = timezone(-offset if m.group(9) == "-" else offset)
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _now(now: datetime | None) -> datetime:
    # The only clock read in this module: payloads without a timestamp (StopStreamBroadcast,
    # MessageDeletedEvent...) take the caller's `now`, or the current time when none is given.
    return now if now is not None else datetime.now(UTC)


def _id_str(value: Any) -> str | None:
    """A platform id as a string: ints and non-empty strings only (never bools or floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return int(value)
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_emotes(text: str) -> tuple[Emote, ...]:
    """Emotes written inline as ``[emote:<id>:<name>]``, with inclusive code-point ranges."""
    return tuple(
        Emote(id=m.group(1), start=m.start(), end=m.end() - 1, name=m.group(2) or None)
        for m in _EMOTE_RE.finditer(text)
    )


def _roles(identity: dict[str, Any]) -> frozenset[str]:
    badges = identity.get("badges")
    roles = set()
    if isinstance(badges, list):
        for badge in badges:
            kind = _obj(badge).get("type")
            if isinstance(kind, str) and kind in _BADGE_ROLES:
                roles.add(_BADGE_ROLES[kind])
    return frozenset(roles)


def _reply_parent(data: dict[str, Any]) -> ReplyParent | None:
    metadata = data.get("metadata")
    if isinstance(metadata, str):
        # Some captures carry metadata as one more JSON string; tolerate it.
        try:
            metadata = loads_untrusted(metadata)
        except ValueError:
            return None
    metadata = _obj(metadata)
    message = _obj(metadata.get("original_message"))
    message_id = _id_str(message.get("id"))
    if message_id is None:
        return None
    sender = _obj(metadata.get("original_sender"))
    return ReplyParent(
        message_id=message_id,
        user_id=_id_str(sender.get("id")),
        # Kick reply metadata names the sender by username only; no slug to use as login.
        display_name=_str(sender.get("username")),
        text=_str(message.get("content")),
    )


def _chat_channel(frame: PusherFrame, data: dict[str, Any]) -> str:
    chatroom = chatroom_id_from(frame.channel)
    if chatroom is None:
        chatroom = _int(data.get("chatroom_id"))
    if chatroom is None:
        raise PusherParseError(f"{frame.event}: cannot tell the chatroom")
    return str(chatroom)


def _payload(frame: PusherFrame) -> dict[str, Any]:
    if not isinstance(frame.data, dict):
        raise PusherParseError(f"{frame.event}: data is not an object")
    return frame.data


def to_chat_event(frame: PusherFrame, *, now: datetime | None = None) -> ChatEvent | None:
    """The :class:`ChatEvent` of a Kick ``ChatMessageEvent`` frame; ``None`` for other frames.

    - ``channel``: the chatroom id from ``chatrooms.<id>.v2``, else the payload's chatroom_id;
    - ``user_id``/``login``/``display_name``: sender ``id``, ``slug`` (falls back to the
      username) and ``username``;
    - ``roles`` from the sender's identity badges, ``color`` from the identity;
    - ``emotes`` from ``[emote:<id>:<name>]`` tokens in ``content`` (left in ``text``);
    - ``reply_parent`` from ``metadata`` when ``type`` is ``reply``;
    - ``sent_at`` from ``created_at`` (``now`` when missing or unreadable);
    - ``raw_type``: the Pusher event name as received.

    Raises :class:`PusherParseError` when a chat frame lacks what a chat message cannot do
    without: an object payload, a message id, string content, a sender id or a chatroom.
    """
    if event_name(frame) != "ChatMessageEvent":
        return None
    data = _payload(frame)
    message_id = _id_str(data.get("id"))
    content = data.get("content")
    sender = _obj(data.get("sender"))
    user_id = _id_str(sender.get("id"))
    if message_id is None or not isinstance(content, str) or user_id is None:
        raise PusherParseError("ChatMessageEvent without id, content or sender id")
    username = _str(sender.get("username"))
    slug = _str(sender.get("slug"))
    identity = _obj(sender.get("identity"))
    return ChatEvent(
        platform="kick",
        channel=_chat_channel(frame, data),
        message_id=message_id,
        sent_at=_parse_time(data.get("created_at")) or _now(now),
        raw_type=frame.event,
        user_id=user_id,
        login=slug or username or user_id,
        display_name=username or slug or user_id,
        text=content,
        roles=_roles(identity),
        emotes=parse_emotes(content),
        reply_parent=_reply_parent(data) if data.get("type") == "reply" else None,
        color=_str(identity.get("color")) or None,
    )


def _user(value: Any) -> tuple[str | None, str | None, str | None]:
    user = _obj(value)
    username = _str(user.get("username"))
    return _id_str(user.get("id")), _str(user.get("slug")) or username, username


def _ban(frame: PusherFrame, now: datetime | None, *, unban: bool) -> ModerationEvent:
    data = _payload(frame)
    user_id, login, _ = _user(data.get("user"))
    when = _now(now)
    action, duration = "unban", None
    if not unban:
        action = "ban"
        if data.get("permanent") is not True:
            # Kick timeouts carry `duration` in minutes (as in its moderation API) and/or
            # `expires_at`; with neither, it is a ban.
            minutes = _int(data.get("duration"))
            expires = _parse_time(data.get("expires_at"))
            if minutes is not None and minutes > 0:
                action, duration = "timeout", minutes * 60
            elif expires is not None:
                action, duration = "timeout", max(0, round((expires - when).total_seconds()))
    return ModerationEvent(
        platform="kick",
        channel=_chat_channel(frame, data),
        message_id=_id_str(data.get("id")),
        sent_at=when,
        raw_type=frame.event,
        action=action,
        target_user_id=user_id,
        target_login=login,
        duration_seconds=duration,
    )


def _stream_channel(frame: PusherFrame, fallback: Any) -> str:
    channel = channel_id_from(frame.channel)
    if channel is None:
        channel = _int(fallback)
    if channel is None:
        raise PusherParseError(f"{frame.event}: cannot tell the channel")
    return str(channel)


def to_event(frame: PusherFrame, *, now: datetime | None = None) -> AnyEvent | None:
    """The normalized event of a Kick frame, or ``None`` when it maps to none.

    - ``ChatMessageEvent`` -> :class:`ChatEvent` (see :func:`to_chat_event`);
    - ``MessageDeletedEvent`` -> ``ModerationEvent(action="delete")`` (``message.id`` target);
    - ``UserBannedEvent`` -> ``ModerationEvent`` ``ban`` (``permanent``) or ``timeout``
      (``duration`` minutes, else ``expires_at``); ``UserUnbannedEvent`` -> ``unban``;
    - ``SubscriptionEvent`` -> :class:`SubscriptionEvent` (``username``, ``months``);
    - ``GiftedSubscriptionsEvent`` -> :class:`GiftEvent` (count = number of recipients);
    - ``StreamerIsLive`` -> :class:`StreamStarted`; ``StopStreamBroadcast`` ->
      :class:`StreamEnded` (channel = channel id).

    Pusher protocol frames and every other event give ``None``. Payloads without a timestamp
    use ``now`` (the current time when not given). A known event whose payload is not an
    object, or that names no channel, raises :class:`PusherParseError`; missing optional fields
    become ``None``.
    """
    name = event_name(frame)
    if name == "ChatMessageEvent":
        return to_chat_event(frame, now=now)
    if name == "MessageDeletedEvent":
        data = _payload(frame)
        return ModerationEvent(
            platform="kick",
            channel=_chat_channel(frame, data),
            message_id=_id_str(data.get("id")),
            sent_at=_now(now),
            raw_type=frame.event,
            action="delete",
            target_message_id=_id_str(_obj(data.get("message")).get("id")),
        )
    if name in ("UserBannedEvent", "UserUnbannedEvent"):
        return _ban(frame, now, unban=name == "UserUnbannedEvent")
    if name == "SubscriptionEvent":
        data = _payload(frame)
        username = _str(data.get("username"))
        return SubscriptionEvent(
            platform="kick",
            channel=_chat_channel(frame, data),
            message_id=None,
            sent_at=_now(now),
            raw_type=frame.event,
            user_id=None,
            # Kick sends the display username only; the slug (login) is not derivable.
            login=None,
            display_name=username,
            months=_int(data.get("months")),
        )
    if name == "GiftedSubscriptionsEvent":
        data = _payload(frame)
        gifted = data.get("gifted_usernames")
        recipients = [u for u in gifted if isinstance(u, str)] if isinstance(gifted, list) else []
        gifter = _str(data.get("gifter_username"))
        return GiftEvent(
            platform="kick",
            channel=_chat_channel(frame, data),
            message_id=None,
            sent_at=_now(now),
            raw_type=frame.event,
            user_id=None,
            login=None,
            display_name=gifter,
            count=max(1, len(recipients)),
            recipient_login=recipients[0] if len(recipients) == 1 else None,
            anonymous=gifter is None,
        )
    if name == "StreamerIsLive":
        live = _obj(_payload(frame).get("livestream"))
        return StreamStarted(
            platform="kick",
            channel=_stream_channel(frame, live.get("channel_id")),
            message_id=_id_str(live.get("id")),
            sent_at=_parse_time(live.get("created_at")) or _now(now),
            raw_type=frame.event,
            title=_str(live.get("session_title")),
        )
    if name == "StopStreamBroadcast":
        live = _obj(_payload(frame).get("livestream"))
        return StreamEnded(
            platform="kick",
            channel=_stream_channel(frame, _obj(live.get("channel")).get("id")),
            message_id=_id_str(live.get("id")),
            sent_at=_now(now),
            raw_type=frame.event,
        )
    return None


# --------------------------------------------------------------------------------------------
# Connection state machine


class ConnectionState(enum.Enum):
    """Where a :class:`PusherConnection` is."""

    IDLE = "idle"  # no socket
    HANDSHAKING = "handshaking"  # socket open, waiting for connection_established
    CONNECTED = "connected"
    CLOSED = "closed"  # the machine asked for a reconnect or the socket was lost


class SubscriptionState(enum.Enum):
    """State of one wanted channel on the current connection."""

    PENDING = "pending"  # wanted, subscribe not sent yet (not connected)
    SUBSCRIBING = "subscribing"  # subscribe sent, no answer yet
    SUBSCRIBED = "subscribed"
    FAILED = "failed"  # pusher:subscription_error


@attrs.frozen(kw_only=True)
class Send:
    """Send this text frame on the socket."""

    text: str


@attrs.frozen(kw_only=True)
class Connected:
    """The handshake completed."""

    socket_id: str
    activity_timeout: float


@attrs.frozen(kw_only=True)
class Subscribed:
    """The server confirmed a subscription."""

    channel: str


@attrs.frozen(kw_only=True)
class SubscriptionFailed:
    """The server refused a subscription (``pusher:subscription_error``)."""

    channel: str
    data: Any = None


@attrs.frozen(kw_only=True)
class ServerError:
    """A ``pusher:error`` without a close code (4000-4399): log it, the connection stays up."""

    code: int | None
    message: str | None


@attrs.frozen(kw_only=True)
class Deliver:
    """An application frame (not ``pusher:*``) for the actor: see :func:`to_event`."""

    frame: PusherFrame


@attrs.frozen(kw_only=True)
class Reconnect:
    """Close the socket and act on ``action`` (``REFUSED`` means: do not reconnect)."""

    action: CloseAction
    reason: str
    code: int | None = None


Output = Send | Connected | Subscribed | SubscriptionFailed | ServerError | Deliver | Reconnect


class PusherConnection:
    """Sans-IO Pusher client protocol: frames in, frames and notifications out.

    The actor calls :meth:`connection_made` when the socket opens, feeds every text frame to
    :meth:`receive_text` (or parsed frames to :meth:`receive`), calls :meth:`tick` whenever
    :meth:`next_deadline` has passed, and :meth:`connection_lost` when the socket closes. Every
    method takes ``now`` (a monotonic float, seconds) and returns a list of outputs to act on in
    order. Wanted channels survive reconnects and are resubscribed after each handshake.

    Liveness (the silent-stall guard): any received frame counts as activity. After
    ``activity_timeout`` seconds of silence the machine sends ``pusher:ping``; if nothing at all
    arrives within ``pong_timeout`` it asks for a :class:`Reconnect` (``RETRY``), as pusher-js
    does. The handshake must arrive within ``handshake_timeout`` (``BACKOFF`` otherwise). The
    server's ``activity_timeout`` is capped at ``max_activity_timeout``.
    """

    def __init__(
        self,
        *,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        max_activity_timeout: float = DEFAULT_ACTIVITY_TIMEOUT,
    ) -> None:
        self.pong_timeout = pong_timeout
        self.handshake_timeout = handshake_timeout
        self.max_activity_timeout = max_activity_timeout
        self.state = ConnectionState.IDLE
        self.socket_id: str | None = None
        self.activity_timeout: float | None = None
        self._subscriptions: dict[str, SubscriptionState] = {}
        self._last_activity = 0.0
        self._opened_at = 0.0
        self._ping_sent_at: float | None = None

    # -- introspection

    @property
    def subscriptions(self) -> dict[str, SubscriptionState]:
        """A copy of the wanted channels and their state on the current connection."""
        return dict(self._subscriptions)

    @property
    def awaiting_pong(self) -> bool:
        """Whether a ping was sent and nothing has arrived since."""
        return self._ping_sent_at is not None

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called (``None``: nothing scheduled)."""
        if self.state is ConnectionState.HANDSHAKING:
            return self._opened_at + self.handshake_timeout
        if self.state is not ConnectionState.CONNECTED or self.activity_timeout is None:
            return None
        if self._ping_sent_at is not None:
            return self._ping_sent_at + self.pong_timeout
        return self._last_activity + self.activity_timeout

    # -- inputs

    def connection_made(self, *, now: float) -> list[Output]:
        """The socket opened: forget the previous connection and wait for the handshake."""
        self.state = ConnectionState.HANDSHAKING
        self.socket_id = None
        self.activity_timeout = None
        self._opened_at = self._last_activity = now
        self._ping_sent_at = None
        for channel in self._subscriptions:
            self._subscriptions[channel] = SubscriptionState.PENDING
        return []

    def connection_lost(self, code: int | None, *, now: float) -> list[Output]:
        """The socket closed with ``code`` (``None``: no close frame). Says how to reconnect."""
        was_closed = self.state is ConnectionState.CLOSED
        self._close()
        if was_closed:
            return []  # we already asked for the reconnect that caused this close
        return [Reconnect(action=classify_close(code), reason="connection closed", code=code)]

    def subscribe(self, channel: str, *, now: float) -> list[Output]:
        """Want ``channel``: subscribe now if connected, else after the next handshake."""
        state = self._subscriptions.get(channel)
        if state in (SubscriptionState.SUBSCRIBING, SubscriptionState.SUBSCRIBED):
            return []
        self._subscriptions[channel] = SubscriptionState.PENDING
        if self.state is ConnectionState.CONNECTED:
            self._subscriptions[channel] = SubscriptionState.SUBSCRIBING
            return [Send(text=subscribe(channel))]
        return []

    def unsubscribe(self, channel: str, *, now: float) -> list[Output]:
        """Stop wanting ``channel``."""
        state = self._subscriptions.pop(channel, None)
        if self.state is ConnectionState.CONNECTED and state in (
            SubscriptionState.SUBSCRIBING,
            SubscriptionState.SUBSCRIBED,
        ):
            return [Send(text=unsubscribe(channel))]
        return []

    def receive_text(self, text: str, *, now: float) -> list[Output]:
        """Parse and handle one text frame. Unparseable text is logged traffic, not fatal.

        Raises :class:`PusherParseError` for garbage so the actor can count it; the frame
        still counted as activity (the server is alive).
        """
        if self.state in (ConnectionState.HANDSHAKING, ConnectionState.CONNECTED):
            self._seen(now)  # before parsing: even garbage proves the server is alive
        return self.receive(parse_frame(text), now=now)

    def receive(self, frame: PusherFrame, *, now: float) -> list[Output]:
        """Handle one parsed frame."""
        if self.state not in (ConnectionState.HANDSHAKING, ConnectionState.CONNECTED):
            return []  # late frames after we gave up on this socket
        self._seen(now)
        event = frame.event
        if event == "pusher:connection_established":
            return self._established(frame, now)
        if event == "pusher:ping":
            return [Send(text=pong())]
        if event == "pusher:pong":
            return []
        if event == "pusher:error":
            code = _error_code(frame.data)
            message = _str(_obj(frame.data).get("message")) or _str(frame.data)
            if code is None or not 4000 <= code <= 4399:
                # No close code: Pusher keeps the connection open (e.g. a rejected client event).
                return [ServerError(code=code, message=message)]
            # The server closes with this code right after; act now rather than wait for it.
            self._close()
            return [
                Reconnect(action=classify_close(code), reason=message or "pusher:error", code=code)
            ]
        if event == "pusher_internal:subscription_succeeded" and frame.channel is not None:
            if frame.channel in self._subscriptions:
                self._subscriptions[frame.channel] = SubscriptionState.SUBSCRIBED
                return [Subscribed(channel=frame.channel)]
            return []  # an answer to a subscription we no longer want
        if event == "pusher:subscription_error" and frame.channel is not None:
            if frame.channel in self._subscriptions:
                self._subscriptions[frame.channel] = SubscriptionState.FAILED
            return [SubscriptionFailed(channel=frame.channel, data=frame.data)]
        if event.startswith(("pusher:", "pusher_internal:")):
            return []  # protocol chatter we do not need (member_added, cache_miss, ...)
        return [Deliver(frame=frame)]

    def tick(self, *, now: float) -> list[Output]:
        """Act on deadlines that have passed: send a ping, or give up on a silent socket."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return []
        if self.state is ConnectionState.HANDSHAKING:
            self._close()
            return [Reconnect(action=CloseAction.BACKOFF, reason="handshake timeout")]
        if self._ping_sent_at is not None:
            self._close()
            return [Reconnect(action=CloseAction.RETRY, reason="pong timeout")]
        self._ping_sent_at = now
        return [Send(text=ping())]

    # -- internals

    def _seen(self, now: float) -> None:
        self._last_activity = max(self._last_activity, now)
        self._ping_sent_at = None

    def _close(self) -> None:
        self.state = ConnectionState.CLOSED
        self._ping_sent_at = None

    def _established(self, frame: PusherFrame, now: float) -> list[Output]:
        try:
            info = parse_connection_established(frame)
        except PusherParseError as exc:
            self._close()
            return [Reconnect(action=CloseAction.BACKOFF, reason=str(exc))]
        self.state = ConnectionState.CONNECTED
        self.socket_id = info.socket_id
        self.activity_timeout = min(info.activity_timeout, self.max_activity_timeout)
        out: list[Output] = [
            Connected(socket_id=info.socket_id, activity_timeout=self.activity_timeout)
        ]
        for channel in self._subscriptions:
            self._subscriptions[channel] = SubscriptionState.SUBSCRIBING
            out.append(Send(text=subscribe(channel)))
        return out
