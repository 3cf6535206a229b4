"""Normalized events: what every platform's chat becomes.

Parsers (sans-IO) produce these frozen values; the trigger engine, the store and the exporters
consume them without knowing which platform they came from. Field names are public API: code
outside the project reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

PLATFORMS = frozenset({"twitch", "youtube", "kick", "rumble", "replay"})
ROLES = frozenset({"broadcaster", "moderator", "vip", "subscriber", "member"})


def _roles(value: Iterable[str]) -> frozenset[str]:
    roles = frozenset(value)
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
