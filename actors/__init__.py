"""Actors: objects with a mailbox, run as one trio task each, owned by a supervisor."""

from actors._actor import QUEUE, Actor
from actors._errors import ActorFailed, CallTimeout, MailboxFull, ReplyError
from actors._ref import ActorRef, PendingReply
from actors._registry import DeadLetter
from actors._ticker import (
    Alarm,
    TickerStatistics,
    coarse_sleep,
    coarse_sleep_until,
    ticker_statistics,
)
from actors._tree import (
    ActorStatistics,
    Detail,
    ErrorsReported,
    MailboxFigures,
    SnapshotFailed,
    TreeRow,
)

__all__ = [
    "QUEUE",
    "Actor",
    "ActorFailed",
    "ActorRef",
    "ActorStatistics",
    "Alarm",
    "CallTimeout",
    "DeadLetter",
    "Detail",
    "ErrorsReported",
    "MailboxFigures",
    "MailboxFull",
    "PendingReply",
    "ReplyError",
    "SnapshotFailed",
    "TickerStatistics",
    "TreeRow",
    "coarse_sleep",
    "coarse_sleep_until",
    "ticker_statistics",
]
