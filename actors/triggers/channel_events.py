"""Event triggers: matching a Twitch channel event to a creator's `kind = "event"` triggers.

Pure code: the `TriggerEngine` hands a `ChannelEvent` (the typed event plus what the EventSub
actor knows about it) to `fire`, executes the descriptors it gets back like chat actions, and
answers a `ChannelEventOutcome` that says whether a redemption should be fulfilled, refunded or
left alone.

`decide` then applies what chat triggers also honour, with the same code: `permission` (the
acting viewer's roles as the EventSub actor knows them, see `ChannelEvent.roles`) and the
cooldowns of `actors.triggers.cooldowns` (`cooldown_user` keyed by the acting viewer: the
raider for a raid, the gifter for gifts; anonymous cheers and gifts share one key).

Conditions are `>=` comparisons (`min_bits`, `min_viewers`, `min_months`) or equality (`tier`);
a trigger's `reward` names one of the creator's configured rewards by its id, or a hand-made
reward by its title or Twitch id. Template fields: `{user}` (who acted: the raider for a raid,
"anonymous" when Twitch hides them), `{reward}`, `{input}`, `{bits}`, `{viewers}`, `{tier}`
(1, 2 or 3), `{months}`, `{gifts}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from actors.events import (
    FollowEvent,
    GiftEvent,
    PaidMessageEvent,
    PlatformEvent,
    RaidEvent,
    RedemptionEvent,
    StreamEnded,
    StreamStarted,
    SubscriptionEvent,
)
from actors.triggers.actions import (
    DEFAULT_CLIP_SECONDS,
    TALLY_OPS,
    Action,
    ActionFields,
    ClipRequest,
    PollClose,
    PollOpen,
    Reply,
    ScoreAdd,
    TallyChange,
    clean_text,
)
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.evaluate import Blocked
from actors.triggers.rules import allowed
from config.models import CreatorConfig, TriggerConfig

__all__ = [
    "ANONYMOUS",
    "ChannelEvent",
    "ChannelEventOutcome",
    "EventDecision",
    "build_event_action",
    "decide",
    "event_name",
    "events_used",
    "matching_triggers",
    "redemption_decision",
    "template_fields",
]

ANONYMOUS = "anonymous"
_BITS_MICROS = 1_000_000
_SUB_RAW_TYPES = {"channel.subscribe": "subscribe", "channel.subscription.message": "resub"}


@attrs.frozen(kw_only=True)
class ChannelEvent:
    """A channel event for the creator's trigger engine.

    `reward_key` is the configuration id of our reward a redemption is for (None: a hand-made
    reward or not a redemption); `manageable` whether the runtime may fulfil or refund it.
    `roles`: what is known of the acting viewer's roles (EventSub carries no badges: only
    ``broadcaster``, when the broadcaster acted on their own channel or the stream changed).
    """

    event: PlatformEvent
    reward_key: str | None = None
    manageable: bool = False
    roles: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class ChannelEventOutcome:
    """What the engine did with a `ChannelEvent`.

    `redemption`: ``fulfil``, ``refund`` or None (leave the redemption in the queue).
    """

    event: str | None
    fired: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()  # matched, held back by permission or a cooldown
    redemption: str | None = None


@attrs.frozen(kw_only=True)
class EventDecision:
    """What `decide` made of a channel event: the triggers that fire, those held back, and
    the cooldown entries started (durable key -> expiry, for the engine to persist)."""

    fired: tuple[TriggerConfig, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    cooldowns_started: Mapping[str, float] = attrs.Factory(dict)


def event_name(event: PlatformEvent) -> str | None:
    """The configuration name of `event` (``redemption``, ``cheer``, ...), None for others."""
    if isinstance(event, RedemptionEvent):
        return "redemption"
    if isinstance(event, FollowEvent):
        return "follow"
    if isinstance(event, SubscriptionEvent):
        return _SUB_RAW_TYPES.get(event.raw_type)
    if isinstance(event, GiftEvent):
        return "gift"
    if isinstance(event, PaidMessageEvent):
        return "cheer" if event.currency == "BITS" else None
    if isinstance(event, RaidEvent):
        return "raid"
    if isinstance(event, StreamStarted):
        return "online"
    if isinstance(event, StreamEnded):
        return "offline"
    return None


def events_used(creator: CreatorConfig) -> tuple[str, ...]:
    """The union of `[creators.twitch] events` and the events the creator's triggers use."""
    configured = creator.twitch.events if creator.twitch is not None else ()
    used = [t.event for t in creator.triggers if t.enabled and t.kind == "event" and t.event]
    return tuple(dict.fromkeys([*configured, *used]))


def _who(event: PlatformEvent) -> str:
    name = getattr(event, "display_name", None) or getattr(event, "login", None)
    return name or ANONYMOUS


def _bits(event: PlatformEvent) -> int | None:
    if isinstance(event, PaidMessageEvent) and event.currency == "BITS":
        return event.amount_micros // _BITS_MICROS
    return None


def _tier_number(tier: str | None) -> int | None:
    if tier in ("1000", "2000", "3000"):
        return int(tier) // 1000
    return None


def template_fields(event: PlatformEvent) -> dict[str, object]:
    """The template fields an event gives its trigger's response (see the module docs)."""
    tier = getattr(event, "tier", None)
    return {
        "user": _who(event),
        "reward": event.reward_title if isinstance(event, RedemptionEvent) else "",
        "input": clean_text(event.input) if isinstance(event, RedemptionEvent) else "",
        "bits": _bits(event) or 0,
        "viewers": (event.viewer_count or 0) if isinstance(event, RaidEvent) else 0,
        "tier": _tier_number(tier) or "",
        "months": (event.months or 0) if isinstance(event, SubscriptionEvent) else 0,
        "gifts": event.count if isinstance(event, GiftEvent) else 0,
    }


def _reward_matches(trigger: TriggerConfig, channel_event: ChannelEvent) -> bool:
    if trigger.reward is None:
        return True
    event = channel_event.event
    assert isinstance(event, RedemptionEvent)
    if channel_event.reward_key is not None:
        return trigger.reward == channel_event.reward_key
    return trigger.reward == event.reward_id or (
        trigger.reward.casefold() == event.reward_title.casefold()
    )


def _conditions_hold(trigger: TriggerConfig, event: PlatformEvent) -> bool:
    if trigger.min_bits is not None and (_bits(event) or 0) < trigger.min_bits:
        return False
    if trigger.min_viewers is not None:
        viewers = event.viewer_count if isinstance(event, RaidEvent) else None
        if (viewers or 0) < trigger.min_viewers:
            return False
    if trigger.tier is not None and getattr(event, "tier", None) != trigger.tier:
        return False
    if trigger.min_months is not None:
        months = event.months if isinstance(event, SubscriptionEvent) else None
        if (months or 0) < trigger.min_months:
            return False
    return True


def matching_triggers(
    triggers: Iterable[TriggerConfig], channel_event: ChannelEvent
) -> list[TriggerConfig]:
    """The enabled event triggers `channel_event` fires, in configuration order."""
    name = event_name(channel_event.event)
    if name is None:
        return []
    found = []
    for trigger in triggers:
        if not trigger.enabled or trigger.kind != "event" or trigger.event != name:
            continue
        if name == "redemption" and not _reward_matches(trigger, channel_event):
            continue
        if _conditions_hold(trigger, channel_event.event):
            found.append(trigger)
    return found


def decide(
    triggers: Iterable[TriggerConfig],
    channel_event: ChannelEvent,
    cooldowns: CooldownTable,
    *,
    now: float,
) -> EventDecision:
    """The triggers `channel_event` fires once `permission` and cooldowns are applied, as
    `evaluate` applies them to chat; the cooldowns of those that fire start at `now`."""
    user_id = getattr(channel_event.event, "user_id", None) or ""
    fired: list[TriggerConfig] = []
    blocked: list[Blocked] = []
    started: dict[str, float] = {}
    for trigger in matching_triggers(triggers, channel_event):
        if not allowed(trigger, channel_event.roles):
            blocked.append(Blocked(trigger.id, "permission"))
            continue
        hold = cooldowns.blocking(trigger, user_id, now)
        if hold is not None:
            blocked.append(Blocked(trigger.id, "cooldown", hold[0], hold[1]))
            continue
        fired.append(trigger)
        started.update(cooldowns.start(trigger, user_id, now))
    return EventDecision(fired=tuple(fired), blocked=tuple(blocked), cooldowns_started=started)


def build_event_action(trigger: TriggerConfig, event: PlatformEvent, creator_id: str) -> Action:
    """The action descriptor of an event trigger (the acting viewer as its user)."""
    who = _who(event)
    common: ActionFields = {
        "trigger_id": trigger.id,
        "creator_id": creator_id,
        "platform": event.platform,
        "channel": event.channel,
        "message_id": None,  # nothing to reply to: an event is not a chat message
        "user_id": getattr(event, "user_id", None) or "",
        "login": getattr(event, "login", None) or "",
        "display_name": who,
        "response": trigger.response,
    }
    action = trigger.action
    if action == "reply":
        return Reply(**common, template=trigger.response or "")
    op = TALLY_OPS.get(action)
    if op is not None:
        amount = 0 if op == "reset" else (1 if trigger.amount is None else trigger.amount)
        return TallyChange(**common, tally_id=trigger.tally or "", op=op, amount=amount)
    if action == "score_add":
        points = 1 if trigger.points is None else trigger.points
        return ScoreAdd(**common, scoreboard_id=trigger.scoreboard or "", label=who, points=points)
    if action == "clip":
        duration = DEFAULT_CLIP_SECONDS if trigger.duration is None else trigger.duration
        return ClipRequest(**common, duration_seconds=duration, title=None)
    if action == "poll_close":
        return PollClose(**common)
    if action == "poll_open" and trigger.question and trigger.options:
        return PollOpen(
            **common,
            question=trigger.question,
            options=trigger.options,
            duration=trigger.duration,
        )
    raise ValueError(f"action {action!r} cannot run on a channel event")


def redemption_decision(
    fired: Sequence[TriggerConfig], failed: Mapping[str, bool], *, manageable: bool
) -> str | None:
    """Fulfil, refund or leave a redemption, given the triggers it fired and which failed.

    A failed action refunds when any fired trigger manages the redemption (``fulfil`` or
    ``refund``); otherwise ``refund`` wins over ``fulfil``. The engine passes triggers held
    back by a cooldown or permission as failed: the viewer paid for nothing, so they are
    refunded. Hand-made rewards are left alone
    (Twitch lets only the client that made a reward change its redemptions).
    """
    settings = [t.redemption for t in fired if t.redemption not in (None, "none")]
    if not manageable or not settings:
        return None
    if any(failed.get(t.id, False) for t in fired) or "refund" in settings:
        return "refund"
    return "fulfil"
