"""One chat message in, the actions to run out: matching, permissions, cooldowns, arguments.

`evaluate` is the whole per-message decision of the trigger engine, without I/O. For each
trigger the message matches, in configuration order:

1. permission: a chatter below the trigger's level is `blocked` with reason `"permission"`;
2. cooldown: a running cooldown blocks with reason `"cooldown"`, its scope and the seconds left;
3. arguments: bad ones give an `ErrorReply` in `errors` (the cooldown does not start, so the
   chatter can correct the command at once);
4. otherwise the descriptor goes to `actions` and the trigger's cooldowns start at `now`; the
   entries started are in `cooldowns_started` for the engine to persist.

A trigger that fires can block a later one of the same message through the global cooldown.
Messages from the bot's own logins (`TriggerRules.self_logins`) are ignored entirely, so the
bot's replies never trigger anything (no reply loops).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple

import attrs

from actors.events import ChatEvent
from actors.triggers.actions import Action, ArgumentError, ErrorReply, build_action, clean_text
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.rules import PERMISSION_LEVELS, TriggerRules, role_level

_NOTHING: Mapping[str, float] = MappingProxyType({})


class Blocked(NamedTuple):
    """A matched trigger that did not fire (a named tuple: cheap to build per message).

    `reason` is `"permission"` or `"cooldown"`; for a cooldown, `scope` is `"user"`,
    `"trigger"` or `"global"` and `remaining` the seconds until it may fire.
    """

    trigger_id: str
    reason: Literal["permission", "cooldown"]
    scope: str | None = None
    remaining: float | None = None


@attrs.frozen(kw_only=True)
class Evaluation:
    """What one message does. Empty for most messages.

    `actions`: descriptors of the triggers that fired, in configuration order. `blocked`: the
    matched triggers that did not fire. `errors`: argument problems to say in chat.
    `cooldowns_started`: durable cooldown key -> expiry for the entries this message started.
    `ignored`: the message came from the bot itself.
    """

    actions: tuple[Action, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    errors: tuple[ErrorReply, ...] = ()
    cooldowns_started: Mapping[str, float] = _NOTHING
    ignored: bool = False


EMPTY = Evaluation()
_IGNORED = Evaluation(ignored=True)


def evaluate(
    rules: TriggerRules, cooldowns: CooldownTable, event: ChatEvent, *, now: float
) -> Evaluation:
    """Decide what `event` does and start the cooldowns of the triggers that fire.

    `now` is on the clock `cooldowns` uses (the engine passes epoch seconds). Never raises for
    any message text or roles.
    """
    if rules.is_self(event):
        return _IGNORED
    matches = rules.match_unchecked(event)
    if not matches:
        return EMPTY
    actions: list[Action] = []
    blocked: list[Blocked] = []
    errors: list[ErrorReply] = []
    started: dict[str, float] = {}
    level = -1  # the chatter's permission level, computed on first need
    user_id = event.user_id
    for match in matches:
        trigger = match.trigger
        required = PERMISSION_LEVELS.get(trigger.permission, 0)
        if required:
            if level < 0:
                level = role_level(event.roles)
            if level < required:
                blocked.append(Blocked(trigger.id, "permission"))
                continue
        hold = cooldowns.blocking(trigger, user_id, now)
        if hold is not None:
            blocked.append(Blocked(trigger.id, "cooldown", *hold))
            continue
        try:
            action = build_action(match, event, rules.creator_id)
        except ArgumentError as exc:
            errors.append(
                ErrorReply(
                    trigger_id=trigger.id,
                    creator_id=rules.creator_id,
                    platform=event.platform,
                    channel=event.channel,
                    message_id=event.message_id,
                    user_id=event.user_id,
                    login=event.login,
                    display_name=event.display_name,
                    args=match.args,
                    raw_args=match.raw_args,
                    text=clean_text(exc.message),
                )
            )
            continue
        actions.append(action)
        started.update(cooldowns.start(trigger, user_id, now))
    return Evaluation(
        actions=tuple(actions),
        blocked=tuple(blocked),
        errors=tuple(errors),
        cooldowns_started=MappingProxyType(started) if started else _NOTHING,
    )
