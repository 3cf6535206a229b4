"""The SQLite store engine (apsw): schema, migrations and typed queries.

Synchronous and single-writer by design: the ``StateStore`` actor owns one
:class:`~state.database.Database` and calls it from one worker thread. Query functions live
in one module per concern (:mod:`state.polls`, :mod:`state.counters`, :mod:`state.clips`,
:mod:`state.outbox`, :mod:`state.cooldowns`, :mod:`state.signals`, :mod:`state.quotas`,
:mod:`state.streams`, :mod:`state.creators`, :mod:`state.loyalty`, :mod:`state.quotes`,
:mod:`state.giveaways`, :mod:`state.chatops`) and take the ``apsw.Connection`` yielded by
:meth:`Database.transaction` / passed by :meth:`Database.batch`, or a read connection.
:mod:`state.commands` wraps the writes actors ask for as typed command values the store runs.

Timestamps are integer Unix milliseconds UTC everywhere (see :mod:`state.timeutil`).
"""

from .database import BatchOutcome, Combined, Database, ReadConnection, Statistics, open_database
from .errors import (
    DatabaseClosed,
    DatabaseCorrupt,
    DatabaseTooNew,
    DatabaseUnavailable,
    InvalidArgument,
    InvalidTransition,
    MigrationFailed,
    PollClosed,
    RecordExists,
    RecordNotFound,
    StoreError,
    WriteFailed,
)
from .migrations import LATEST_VERSION, MIGRATIONS

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "BatchOutcome",
    "Combined",
    "Database",
    "DatabaseClosed",
    "DatabaseCorrupt",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "InvalidArgument",
    "InvalidTransition",
    "MigrationFailed",
    "PollClosed",
    "ReadConnection",
    "RecordExists",
    "RecordNotFound",
    "Statistics",
    "StoreError",
    "WriteFailed",
    "open_database",
]
