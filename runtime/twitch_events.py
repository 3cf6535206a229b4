"""Wiring of a creator's Twitch EventSub actors (`twitch-events`, and `twitch` over EventSub).

`twitch-events` runs when the creator has channel events to receive (`[creators.twitch] events`
or event triggers) or rewards to manage, with the broadcaster account's token. With
`transport = "eventsub"` the creator's `twitch` child is a `TwitchEvents` in the ``chat`` role
(``channel.chat.message`` with the chat account's token, replies through Helix) instead of IRC.

Accounts come from `[[accounts]]` (the accounts feature, #14): each has a `client_id`, and its
actor lives at ``accounts/<id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from actors import ActorRef
from actors.accounts import AccountTokenSource, TokenSource
from actors.triggers.channel_events import events_used
from config.models import AccountConfig, CreatorConfig
from supervisors import ChildSpec

if TYPE_CHECKING:
    from actors.twitch.moderation import TwitchModerator

__all__ = ["eventsub_chat_spec", "twitch_events_spec"]

log = structlog.get_logger("runtime.twitch_events")


def _account(
    lookup: Callable[[str], ActorRef], accounts: Sequence[AccountConfig], account_id: str | None
) -> tuple[str, TokenSource] | None:
    """The client id and token source of the `[[accounts]]` entry `account_id`."""
    if account_id is None:
        return None
    for account in accounts:
        if account.id == account_id:
            return account.client_id, AccountTokenSource(lambda: lookup(f"accounts/{account_id}"))
    return None


def twitch_events_spec(
    lookup: Callable[[str], ActorRef],
    creator: CreatorConfig,
    *,
    accounts: Sequence[AccountConfig],
    monitor: Callable[[], ActorRef] | None = None,
) -> ChildSpec | None:
    """`twitch-events` for this creator, or None when it has nothing to receive."""
    twitch = creator.twitch
    if twitch is None or not twitch.enabled or not (events_used(creator) or twitch.rewards):
        return None
    account_id = twitch.broadcaster_account or twitch.account
    resolved = _account(lookup, accounts, account_id)
    if resolved is None:
        log.error(
            "twitch channel events need [creators.twitch] broadcaster_account naming an "
            "[[accounts]] entry (the broadcaster's own login)",
            creator=creator.id,
        )
        return None
    client_id, tokens = resolved
    base = f"creators/creator:{creator.id}"
    from actors.twitch.events_actor import TwitchEvents

    return ChildSpec(
        "twitch-events",
        lambda: TwitchEvents(
            creator=creator,
            role="events",
            client_id=client_id,
            tokens=tokens,
            triggers=lambda: lookup(f"{base}/triggers"),
            store=lambda: lookup("store"),
            monitor=monitor,
        ),
    )


def eventsub_chat_spec(
    lookup: Callable[[str], ActorRef],
    creator: CreatorConfig,
    *,
    accounts: Sequence[AccountConfig],
    moderator: Callable[[], TwitchModerator | None] | None = None,
) -> ChildSpec | None:
    """`twitch` over EventSub + Helix (``transport = "eventsub"``), or None when not chosen.
    `moderator` makes each instance's filter moderation (see `runtime.tree.twitch_moderator`)."""
    twitch = creator.twitch
    if twitch is None or not twitch.enabled or twitch.transport != "eventsub":
        return None
    resolved = _account(lookup, accounts, twitch.account)
    if resolved is None:
        log.error(
            'transport = "eventsub" needs [creators.twitch] account naming an [[accounts]] entry',
            creator=creator.id,
        )
        return None
    client_id, tokens = resolved
    base = f"creators/creator:{creator.id}"
    from actors.twitch.events_actor import TwitchEvents

    return ChildSpec(
        "twitch",
        lambda: TwitchEvents(
            creator=creator,
            role="chat",
            client_id=client_id,
            tokens=tokens,
            triggers=lambda: lookup(f"{base}/triggers"),
            store=lambda: lookup("store"),
            moderator=moderator() if moderator is not None else None,
        ),
    )
