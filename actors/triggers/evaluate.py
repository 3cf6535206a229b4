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
from actors.triggers.actions import (
    Action,
    ArgumentError,
    ErrorReply,
    NotApplicable,
    build_action,
    clean_text,
)
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.rules import TriggerRules, role_level

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
    self_logins = rules.self_logins  # rules.is_self, inlined: it runs for every message
    if self_logins and event.login.lower() in self_logins:
        return _IGNORED
    hits = rules._hits(event)
    if not hits:
        return EMPTY
    # Tuples grown in place: most matched messages end up with one entry in one of them, and
    # this spares building lists to convert.
    actions: tuple[Action, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    errors: tuple[ErrorReply, ...] = ()
    started: dict[str, float] | None = None
    level = -1  # the chatter's permission level, computed on first need
    user_id = event.user_id
    for entry, detail in hits:
        required = entry.required
        if required:
            if level < 0:
                level = role_level(event.roles)
            if level < required:
                blocked += (Blocked(entry.trigger.id, "permission"),)
                continue
        if entry.cooled:
            hold = cooldowns.blocking(entry.trigger, user_id, now)
            if hold is not None:
                scope, remaining = hold
                blocked += (Blocked(entry.trigger.id, "cooldown", scope, remaining),)
                continue
        # Only now, for a trigger that fires, is the Match worth building.
        match = entry.match(detail)
        try:
            action = build_action(match, event, rules.creator_id)
        except NotApplicable:
            continue  # a sub-command of another trigger sharing this command
        except ArgumentError as exc:
            error = ErrorReply(
                trigger_id=entry.trigger.id,
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
            errors += (error,)
            continue
        actions += (action,)
        if entry.cooled:
            if started is None:
                started = {}
            started.update(cooldowns.start(entry.trigger, user_id, now))
    return Evaluation(
        actions=actions,
        blocked=blocked,
        errors=errors,
        cooldowns_started=MappingProxyType(started) if started else _NOTHING,
    )
