"""Store commands for the points, quote and giveaway actions, and their reply variables.

`FeaturePlans.plan(action, event, viewer)` is the trigger engine's `_plan` for these actions:
it returns the typed store commands to queue and a function turning their results into the
reply's template variables. Pure code: nothing is written here.

Randomness: `!quote` without arguments and the giveaway draw pick at random live (from
`secrets`); on the replay platform they are reproducible (derived from the message id, and
from the giveaway id and draw number), so replaying a log twice gives the same replies and
exports.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from typing import Any

from actors.events import ChatEvent
from actors.triggers.actions import (
    Action,
    GiveawayClose,
    GiveawayDraw,
    GiveawayJoin,
    GiveawayOpen,
    PointsAdd,
    PointsGive,
    PointsShow,
    PointsTop,
    QuoteAdd,
    QuoteDelete,
    QuoteShow,
)
from config.models import CreatorConfig
from state.commands import (
    AddQuote,
    AdjustPoints,
    CloseGiveaway,
    Command,
    DeleteQuote,
    DrawGiveaway,
    JoinGiveaway,
    OpenGiveaway,
    PointsOf,
    ShowQuote,
    TopPoints,
    TransferPoints,
    Viewer,
)

Finish = Callable[[list[Any]], dict[str, object]]
FEATURE_ACTIONS = (
    PointsShow,
    PointsGive,
    PointsAdd,
    PointsTop,
    QuoteAdd,
    QuoteShow,
    QuoteDelete,
    GiveawayOpen,
    GiveawayJoin,
    GiveawayDraw,
    GiveawayClose,
)


def _reproducible(event: ChatEvent) -> bool:
    return event.platform == "replay"


def _pick(event: ChatEvent) -> int:
    if _reproducible(event):
        return zlib.crc32((event.message_id or event.text).encode("utf-8"))
    return secrets.randbelow(2**31)


class FeaturePlans:
    """Plans of one creator's points, quote and giveaway actions."""

    # In slots: one of these per creator (a thousand), each dict of its own ~300 bytes.
    __slots__ = (
        "creator",
        "points_name",
    )

    def __init__(self, creator: CreatorConfig) -> None:
        self.creator = creator
        self.points_name = creator.points.name if creator.points else "points"

    def plan(
        self,
        action: Action,
        event: ChatEvent,
        viewer: Viewer,
        variables: dict[str, object],
        *,
        at: int,
    ) -> tuple[tuple[Command, ...], str, Finish]:
        """Commands, store topic, and reply variables for a feature action (`at`: the event's
        time in Unix milliseconds)."""
        creator_id = self.creator.id
        name = self.points_name
        variables["points_name"] = name

        def with_(**values: object) -> dict[str, object]:
            variables.update(values)
            return variables

        if isinstance(action, PointsShow):
            command: Command = PointsOf(
                creator_id=creator_id, viewer=viewer, target_login=action.target
            )
            return (
                (command,),
                "points",
                lambda r: with_(points=r[0].balance, target=r[0].display_name),
            )
        if isinstance(action, PointsGive):
            command = TransferPoints(
                creator_id=creator_id,
                giver=viewer,
                receiver_login=action.target,
                amount=action.amount,
                name=name,
                now=at,
            )
            return (
                (command,),
                "points",
                lambda r: with_(
                    points=r[0][0].balance,
                    target=r[0][1].display_name,
                    target_points=r[0][1].balance,
                    amount=action.amount,
                ),
            )
        if isinstance(action, PointsAdd):
            command = AdjustPoints(
                creator_id=creator_id,
                platform=event.platform,
                target_login=action.target,
                amount=action.amount,
                name=name,
                now=at,
            )
            return (
                (command,),
                "points",
                lambda r: with_(
                    points=r[0].balance, target=r[0].display_name, amount=action.amount
                ),
            )
        if isinstance(action, PointsTop):
            command = TopPoints(creator_id=creator_id, limit=action.limit)

            def top(results: list[Any]) -> dict[str, object]:
                ranked = ", ".join(
                    f"{n}) {b.display_name} ({b.balance})" for n, b in enumerate(results[0], 1)
                )
                return with_(top=ranked or "nobody yet")

            return (command,), "points", top
        if isinstance(action, QuoteAdd):
            command = AddQuote(
                creator_id=creator_id,
                text=action.text,
                added_by=action.display_name or action.login,
                platform=event.platform,
                now=at,
            )
            return (command,), "quotes", lambda r: with_(quote=r[0].text, number=r[0].number)
        if isinstance(action, QuoteShow):
            command = ShowQuote(
                creator_id=creator_id, number=action.number, word=action.word, pick=_pick(event)
            )
            return (
                (command,),
                "reads",
                lambda r: with_(quote=r[0].text, number=r[0].number, added_by=r[0].added_by),
            )
        if isinstance(action, QuoteDelete):
            command = DeleteQuote(creator_id=creator_id, number=action.number, now=at)
            return (command,), "quotes", lambda r: with_(quote=r[0].text, number=r[0].number)
        if isinstance(action, GiveawayOpen):
            command = OpenGiveaway(
                creator_id=creator_id,
                giveaway_id=f"{creator_id}-{at}",
                prize=action.prize,
                entry_cost=action.entry_cost,
                subscribers_only=action.subscribers_only,
                subscriber_tickets=action.subscriber_tickets,
                now=at,
            )
            return (
                (command,),
                "giveaways",
                lambda r: with_(prize=r[0].prize, entry_cost=r[0].entry_cost),
            )
        if isinstance(action, GiveawayJoin):
            command = JoinGiveaway(
                creator_id=creator_id,
                viewer=viewer,
                subscriber=action.subscriber,
                points_name=name,
                now=at,
            )

            def joined(results: list[Any]) -> dict[str, object]:
                giveaway, entry, balance = results[0]
                if balance is not None:
                    variables["points"] = balance.balance
                return with_(prize=giveaway.prize, tickets=entry.tickets)

            return (command,), "giveaways", joined
        if isinstance(action, GiveawayDraw):
            command = DrawGiveaway(creator_id=creator_id, reproducible=_reproducible(event), now=at)
            return (
                (command,),
                "giveaways",
                lambda r: with_(
                    winner=r[0].winner.display_name,
                    prize=r[0].giveaway.prize,
                    draw=r[0].draw_number,
                ),
            )
        if isinstance(action, GiveawayClose):
            command = CloseGiveaway(creator_id=creator_id, now=at)
            return (command,), "giveaways", lambda r: with_(prize=r[0].prize)
        raise TypeError(f"no feature plan for {type(action).__name__}")
