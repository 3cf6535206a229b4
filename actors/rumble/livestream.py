"""Rumble Live Stream API v1.0 (beta): sans-IO parsing of its one response.

Each streamer creates a private URL at rumble.com/account/livestream-api of the form
`https://rumble.com/-livestream-api/get-data?key=<KEY>`; the key *is* the credential, so the
whole URL is a secret. One GET returns everything (Rumble's help-centre example output):

    {"now": <unix s>, "type": "user"|"channel", "user_id", "username", "channel_id",
     "channel_name", "since", "max_num_results": 50,
     "followers": {...}, "subscribers": {...}, "gifted_subs": {...},
     "livestreams": [{"id" (base 36), "title", "created_on", "is_live", "categories",
                      "stream_key", "likes", "dislikes", "watching_now",
                      "chat": {"latest_message", "recent_messages": [...],
                               "latest_rant", "recent_rants": [...]}}]}

A chat message is `{"username", "badges": [...], "text", "created_on"}`; a rant adds
`"expires_on", "amount_cents", "amount_dollars"`. Messages carry **no id**: the window of the
last `max_num_results` messages slides forward each poll, so `message_key` derives a stable id
from (stream, time, user, text, n-th repeat within the window). The badge names mapped to roles
(`admin` -> broadcaster, `moderator`, `recurring_subscription`/`locals_supporter` ->
subscriber) are [unverified]; unknown badges are ignored. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from actors.events import ChatEvent, PaidMessageEvent
from config.untrusted_json import MAX_INT_DIGITS, decimal_int, loads_untrusted

__all__ = [
    "BADGE_ROLES",
    "Livestream",
    "LivestreamData",
    "RumbleMessage",
    "RumbleParseError",
    "live_stream",
    "message_key",
    "parse_livestream_data",
    "to_events",
]

BADGE_ROLES: Mapping[str, str] = {
    "admin": "broadcaster",
    "moderator": "moderator",
    "recurring_subscription": "subscriber",
    "locals_supporter": "subscriber",
}


class RumbleParseError(ValueError):
    """The body is not a Live Stream API response at all."""


@attrs.frozen(kw_only=True)
class RumbleMessage:
    """One chat message or rant (`amount_cents` set) of a livestream."""

    username: str
    text: str
    created_on: datetime | None
    badges: tuple[str, ...] = ()
    amount_cents: int | None = None


@attrs.frozen(kw_only=True)
class Livestream:
    """One entry of `livestreams`."""

    id: str
    title: str | None = None
    is_live: bool = False
    created_on: datetime | None = None
    watching_now: int | None = None
    messages: tuple[RumbleMessage, ...] = ()
    rants: tuple[RumbleMessage, ...] = ()


@attrs.frozen(kw_only=True)
class LivestreamData:
    """The parts of a response the chat actor uses; `skipped` counts unreadable entries."""

    now: datetime | None
    username: str | None
    channel_name: str | None
    livestreams: tuple[Livestream, ...] = ()
    skipped: int = 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_MAX_CENTS = 10**11  # a billion dollars: more is not a rant but hostile data


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**MAX_INT_DIGITS:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        magnitude = decimal_int(text.removeprefix("-"))
        return None if magnitude is None else (-magnitude if text.startswith("-") else magnitude)
    return None


def _unix_time(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # beyond year 9999 or the platform's range
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _message(raw: Any, *, rant: bool) -> RumbleMessage | None:
    if not isinstance(raw, dict):
        return None
    username = _str(raw.get("username"))
    text = _str(raw.get("text"))
    if not username or text is None:
        return None
    badges = raw.get("badges")
    amount = None
    if rant:
        amount = _int(raw.get("amount_cents"))
        if amount is None:
            dollars = raw.get("amount_dollars")
            if isinstance(dollars, int | float) and not isinstance(dollars, bool):
                amount = round(dollars * 100) if abs(dollars) * 100 < _MAX_CENTS else None
        if amount is None or not 0 <= amount < _MAX_CENTS:
            return None
    return RumbleMessage(
        username=username,
        text=text,
        created_on=_time(raw.get("created_on")),
        badges=tuple(b for b in badges if isinstance(b, str)) if isinstance(badges, list) else (),
        amount_cents=amount,
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_livestream_data(body: bytes | str | Mapping[str, Any]) -> LivestreamData:
    """Parse a Live Stream API response (its bytes, or the decoded object); unreadable
    streams/messages are skipped and counted.

    Raises `RumbleParseError` (and nothing else) when the body is not JSON, is JSON beyond the
    limits of `config.untrusted_json` (deep nesting, huge numbers), is not a JSON object, or
    `livestreams` is present but not a list.
    """
    if isinstance(body, bytes | bytearray | str):
        try:
            body = loads_untrusted(body)
        except ValueError as exc:
            raise RumbleParseError(f"response body is unreadable: {exc}") from None
    if not isinstance(body, dict):
        raise RumbleParseError(f"response body is not an object but {type(body).__name__}")
    streams_raw = body.get("livestreams")
    if streams_raw is not None and not isinstance(streams_raw, list):
        raise RumbleParseError("'livestreams' is not a list")
    skipped = 0
    streams = []
    for raw in streams_raw or ():
        stream_id = _str(raw.get("id")) if isinstance(raw, dict) else None
        if not stream_id:
            skipped += 1
            continue
        chat = raw.get("chat") if isinstance(raw.get("chat"), dict) else {}
        messages, rants = [], []
        for item in _list(chat.get("recent_messages")):
            parsed = _message(item, rant=False)
            if parsed is None:
                skipped += 1
            else:
                messages.append(parsed)
        for item in _list(chat.get("recent_rants")):
            parsed = _message(item, rant=True)
            if parsed is None:
                skipped += 1
            else:
                rants.append(parsed)
        streams.append(
            Livestream(
                id=stream_id,
                title=_str(raw.get("title")),
                is_live=raw.get("is_live") is True,
                created_on=_time(raw.get("created_on")),
                watching_now=_int(raw.get("watching_now")),
                messages=tuple(messages),
                rants=tuple(rants),
            )
        )
    return LivestreamData(
        now=_unix_time(body.get("now")),
        username=_str(body.get("username")),
        channel_name=_str(body.get("channel_name")),
        livestreams=tuple(streams),
        skipped=skipped,
    )


def live_stream(data: LivestreamData) -> Livestream | None:
    """The live stream to read: the newest `is_live` entry, else None."""
    live = [s for s in data.livestreams if s.is_live]
    if not live:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(live, key=lambda s: s.created_on or floor)


def message_key(stream_id: str, message: RumbleMessage, repeat: int) -> str:
    """A stable id for a message that has none: the same message in a later poll's window
    gets the same key. `repeat` tells identical messages within one window apart."""
    when = message.created_on.isoformat() if message.created_on else ""
    kind = "rant" if message.amount_cents is not None else "chat"
    digest = hashlib.sha256(
        "\x1f".join((kind, when, message.username, message.text, str(repeat))).encode()
    ).hexdigest()[:24]
    return f"{stream_id}:{digest}"


def to_events(stream: Livestream, *, now: datetime) -> list[ChatEvent | PaidMessageEvent]:
    """The stream's messages and rants as normalized events, oldest first.

    `channel` is the livestream id; `user_id`/`login`/`display_name` are the username (the API
    gives nothing else); rants become `PaidMessageEvent` in USD. `now` stands in for a missing
    `created_on`.
    """
    out: list[tuple[datetime, int, ChatEvent | PaidMessageEvent]] = []
    for group, raw_type in ((stream.messages, "message"), (stream.rants, "rant")):
        seen: dict[tuple[Any, ...], int] = {}
        for message in group:
            identity = (message.created_on, message.username, message.text)
            repeat = seen.get(identity, 0)
            seen[identity] = repeat + 1
            common: dict[str, Any] = {
                "platform": "rumble",
                "channel": stream.id,
                "message_id": message_key(stream.id, message, repeat),
                "sent_at": message.created_on or now,
                "raw_type": raw_type,
                "user_id": message.username,
                "login": message.username,
                "display_name": message.username,
            }
            event: ChatEvent | PaidMessageEvent
            if message.amount_cents is not None:
                event = PaidMessageEvent(
                    **common,
                    amount_micros=message.amount_cents * 10_000,
                    currency="USD",
                    text=message.text,
                    amount_display=f"${message.amount_cents / 100:.2f}",
                )
            else:
                roles = frozenset(BADGE_ROLES[b] for b in message.badges if b in BADGE_ROLES)
                event = ChatEvent(**common, text=message.text, roles=roles)
            out.append((common["sent_at"], len(out), event))
    out.sort(key=lambda t: (t[0], t[1]))
    return [event for _, _, event in out]
