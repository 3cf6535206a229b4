"""The sans-IO heart of the trigger engine: chat events in, action descriptors out.

No I/O, no trio, no clock: `TriggerRules` compiles a creator's triggers, `CooldownTable` keeps
cooldowns on an explicit clock, `evaluate` turns one `ChatEvent` into an `Evaluation`, and
`render` fills reply templates safely. The `TriggerEngine` actor runs the descriptors.
"""

from actors.triggers.actions import (
    Action,
    ArgumentError,
    ClipRequest,
    ErrorReply,
    GiveawayClose,
    GiveawayDraw,
    GiveawayJoin,
    GiveawayOpen,
    NotApplicable,
    PointsAdd,
    PointsGive,
    PointsShow,
    PointsTop,
    PollClose,
    PollOpen,
    PollVote,
    QuoteAdd,
    QuoteDelete,
    QuoteShow,
    Reply,
    ScoreAdd,
    TallyChange,
    build_action,
)
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.evaluate import Blocked, Evaluation, evaluate
from actors.triggers.rules import Match, TriggerRules, allowed, role_level
from actors.triggers.templates import MAX_REPLY_LENGTH, action_variables, render

__all__ = [
    "MAX_REPLY_LENGTH",
    "Action",
    "ArgumentError",
    "Blocked",
    "ClipRequest",
    "CooldownTable",
    "ErrorReply",
    "Evaluation",
    "GiveawayClose",
    "GiveawayDraw",
    "GiveawayJoin",
    "GiveawayOpen",
    "Match",
    "NotApplicable",
    "PointsAdd",
    "PointsGive",
    "PointsShow",
    "PointsTop",
    "PollClose",
    "PollOpen",
    "PollVote",
    "QuoteAdd",
    "QuoteDelete",
    "QuoteShow",
    "Reply",
    "ScoreAdd",
    "TallyChange",
    "TriggerRules",
    "action_variables",
    "allowed",
    "build_action",
    "evaluate",
    "render",
    "role_level",
]
