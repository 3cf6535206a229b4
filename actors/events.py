"""Normalized events: what every platform's chat becomes.

Parsers (sans-IO) produce these frozen values; the trigger engine, the store and the exporters
consume them without knowing which platform they came from. Field names are public API: code
outside the project reads them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

import attrs

PLATFORMS = frozenset({"twitch", "youtube", "kick", "rumble", "replay"})
ROLES = frozenset({"broadcaster", "moderator", "vip", "subscriber", "member"})


def _roles(value: object) -> frozenset[str]:
    roles = frozenset(value)  # type: ignore[arg-type]
    unknown = roles - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; expected a subset of {sorted(ROLES)}")
    return roles


def _aware(_instance: object, attribute: attrs.Attribute, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be an aware datetime, got naive {value!r}")


@attrs.frozen(kw_only=True)
class Emote:
    """An emote inside a chat message: inclusive code-point range, as the platform sends it."""

    id: str
    start: int
    end: int
    name: str | None = None


@attrs.frozen(kw_only=True)
class ReplyParent:
    """The message a chat message replies to."""

    message_id: str
    user_id: str | None = None
    login: str | None = None
    display_name: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True)
class PlatformEvent:
    """Fields every normalized event carries."""

    platform: str
    channel: str
    message_id: str | None
    sent_at: datetime = attrs.field(validator=_aware)
    raw_type: str


@attrs.frozen(kw_only=True)
class ChatEvent(PlatformEvent):
    """One chat message from any platform."""

    user_id: str
    login: str
    display_name: str
    text: str
    roles: frozenset[str] = attrs.field(default=frozenset(), converter=_roles)
    emotes: tuple[Emote, ...] = ()
    bits: int = 0
    reply_parent: ReplyParent | None = None
    first_message: bool = False
    is_action: bool = False
    color: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionEvent(PlatformEvent):
    """A new subscription, a renewal (resub) or a membership (YouTube, Kick)."""

    user_id: str | None
    login: str | None
    display_name: str | None
    tier: str | None = None
    months: int | None = None
    text: str | None = None


@attrs.frozen(kw_only=True)
class GiftEvent(PlatformEvent):
    """Gifted subscriptions: one recipient, or a mystery gift of `count` subs."""

    user_id: str | None
    login: str | None
    display_name: str | None
    count: int = 1
    tier: str | None = None
    recipient_user_id: str | None = None
    recipient_login: str | None = None
    anonymous: bool = False


@attrs.frozen(kw_only=True)
class RaidEvent(PlatformEvent):
    """Another channel raiding (or hosting) this one."""

    user_id: str | None
    login: str | None
    display_name: str | None
    viewer_count: int | None = None


@attrs.frozen(kw_only=True)
class PaidMessageEvent(PlatformEvent):
    """Money attached to a message: Super Chat, Super Sticker, cheer, Kick tip."""

    user_id: str | None
    login: str | None
    display_name: str | None
    amount_micros: int
    currency: str
    text: str | None = None
    amount_display: str | None = None


MODERATION_ACTIONS = frozenset({"ban", "timeout", "delete", "clear", "unban"})


@attrs.frozen(kw_only=True)
class ModerationEvent(PlatformEvent):
    """A ban, timeout, deleted message or cleared chat."""

    action: str = attrs.field(validator=attrs.validators.in_(MODERATION_ACTIONS))
    target_user_id: str | None = None
    target_login: str | None = None
    target_message_id: str | None = None
    duration_seconds: int | None = None


@attrs.frozen(kw_only=True)
class NoticeEvent(PlatformEvent):
    """A platform notice that is none of the above (announcement, milestone, ritual, ...)."""

    kind: str
    user_id: str | None = None
    login: str | None = None
    display_name: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True)
class RedemptionEvent(PlatformEvent):
    """A viewer redeemed a channel-points reward (`message_id` is the notification's id).

    `redemption_id` and `reward_id` identify what to fulfil or refund; `input` is the text the
    viewer typed ("" when the reward asks for none); `status` as the platform reported it.
    """

    user_id: str | None
    login: str | None
    display_name: str | None
    redemption_id: str
    reward_id: str
    reward_title: str
    cost: int | None = None
    input: str = ""
    status: str | None = None


@attrs.frozen(kw_only=True)
class FollowEvent(PlatformEvent):
    """A viewer followed the channel."""

    user_id: str | None
    login: str | None
    display_name: str | None


@attrs.frozen(kw_only=True)
class StreamStarted(PlatformEvent):
    """A watched channel went live."""

    title: str | None = None
    game: str | None = None
    viewer_count: int | None = None


@attrs.frozen(kw_only=True)
class StreamEnded(PlatformEvent):
    """A watched channel went offline."""


AnyEvent = (
    ChatEvent
    | SubscriptionEvent
    | GiftEvent
    | RaidEvent
    | PaidMessageEvent
    | ModerationEvent
    | NoticeEvent
    | RedemptionEvent
    | FollowEvent
    | StreamStarted
    | StreamEnded
)


# --------------------------------------------------------------------------------------------
# Private fast constructors for parsers' hot paths
# --------------------------------------------------------------------------------------------
#
# attrs' generated __init__ takes keyword arguments, runs the `roles` converter and the
# `sent_at` validator and sets each field through object.__setattr__: for a ChatEvent that is
# several microseconds, a large share of a chat line's whole cost. A parser that has built
# every value itself (an aware UTC datetime, a frozenset drawn from ROLES, a tuple of Emote)
# can fill the slots directly instead. The result is the same object attrs would build (the
# same slots hold the same values, so ==, hash and repr agree: see
# tests/unit/actors/test_events_fast.py). These helpers check nothing: call them only with
# values that already satisfy the public constructor's converters and validators. Everyone
# else uses the public constructors, which keep validating.

_CHAT_EVENT_FIELDS: tuple[str, ...] = (
    "platform",
    "channel",
    "message_id",
    "sent_at",
    "raw_type",
    "user_id",
    "login",
    "display_name",
    "text",
    "roles",
    "emotes",
    "bits",
    "reply_parent",
    "first_message",
    "is_action",
    "color",
)
_EMOTE_FIELDS: tuple[str, ...] = ("id", "start", "end", "name")
_REPLY_PARENT_FIELDS: tuple[str, ...] = ("message_id", "user_id", "login", "display_name", "text")

if (
    tuple(a.name for a in attrs.fields(ChatEvent)) != _CHAT_EVENT_FIELDS
    or tuple(a.name for a in attrs.fields(Emote)) != _EMOTE_FIELDS
    or tuple(a.name for a in attrs.fields(ReplyParent)) != _REPLY_PARENT_FIELDS
):  # pragma: no cover - a guard for whoever adds a field
    raise RuntimeError("ChatEvent/Emote/ReplyParent fields changed: update the constructors below")

_new = object.__new__
# Slot descriptors (found through the MRO, so PlatformEvent's own slots are included).
(
    _set_platform,
    _set_channel,
    _set_message_id,
    _set_sent_at,
    _set_raw_type,
    _set_user_id,
    _set_login,
    _set_display_name,
    _set_text,
    _set_roles,
    _set_emotes,
    _set_bits,
    _set_reply_parent,
    _set_first_message,
    _set_is_action,
    _set_color,
) = (getattr(ChatEvent, name).__set__ for name in _CHAT_EVENT_FIELDS)
_set_emote_id, _set_emote_start, _set_emote_end, _set_emote_name = (
    getattr(Emote, name).__set__ for name in _EMOTE_FIELDS
)


def _chat_event_unchecked_py(
    platform: str,
    channel: str,
    message_id: str | None,
    sent_at: datetime,
    raw_type: str,
    user_id: str,
    login: str,
    display_name: str,
    text: str,
    roles: frozenset[str],
    emotes: tuple[Emote, ...],
    bits: int,
    reply_parent: ReplyParent | None,
    first_message: bool,
    is_action: bool,
    color: str | None,
) -> ChatEvent:
    """A `ChatEvent` from known-good values, skipping the converter and the validator.

    `sent_at` must be aware and `roles` a frozenset that is a subset of `ROLES`.
    """
    event = _new(ChatEvent)
    _set_platform(event, platform)
    _set_channel(event, channel)
    _set_message_id(event, message_id)
    _set_sent_at(event, sent_at)
    _set_raw_type(event, raw_type)
    _set_user_id(event, user_id)
    _set_login(event, login)
    _set_display_name(event, display_name)
    _set_text(event, text)
    _set_roles(event, roles)
    _set_emotes(event, emotes)
    _set_bits(event, bits)
    _set_reply_parent(event, reply_parent)
    _set_first_message(event, first_message)
    _set_is_action(event, is_action)
    _set_color(event, color)
    return event


def _emote_unchecked_py(id: str, start: int, end: int, name: str | None) -> Emote:
    """An `Emote` without the keyword-argument __init__ (Emote has no checks to skip)."""
    emote = _new(Emote)
    _set_emote_id(emote, id)
    _set_emote_start(emote, start)
    _set_emote_end(emote, end)
    _set_emote_name(emote, name)
    return emote


def _reply_parent_unchecked_py(
    message_id: str,
    user_id: str | None,
    login: str | None,
    display_name: str | None,
    text: str | None,
) -> ReplyParent:
    """A `ReplyParent` from positional values (it has no checks to skip)."""
    return ReplyParent(
        message_id=message_id, user_id=user_id, login=login, display_name=display_name, text=text
    )


# One ChatEvent (and its emotes) per chat line: the compiled constructors (`_slotted.c`, built
# with the package when a C compiler is at hand) store the same values through the same slot
# descriptors in a single call. The Python twins above stay the reference and the fallback.
_chat_event_unchecked: Callable[..., ChatEvent] = _chat_event_unchecked_py
_emote_unchecked: Callable[[str, int, int, str | None], Emote] = _emote_unchecked_py
_reply_parent_unchecked: Callable[..., ReplyParent] = _reply_parent_unchecked_py
try:
    from actors._slotted import constructor as _compiled_constructor  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - built without a C compiler
    _compiled_constructor = None
if _compiled_constructor is not None and os.environ.get("STREAMSUITES_PURE_PYTHON", "") in (
    "",
    "0",
):
    _chat_event_unchecked = _compiled_constructor(ChatEvent, _CHAT_EVENT_FIELDS)
    _emote_unchecked = _compiled_constructor(Emote, _EMOTE_FIELDS)
    _reply_parent_unchecked = _compiled_constructor(ReplyParent, _REPLY_PARENT_FIELDS)
