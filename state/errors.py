"""Exceptions raised by the store engine.

Everything the engine raises on purpose derives from :class:`StoreError`, so the store actor can
tell "the request was refused" (reply with the error) from a bug (crash and restart).
"""

from __future__ import annotations

__all__ = [
    "REFUSALS",
    "DatabaseClosed",
    "DatabaseCorrupt",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "InvalidArgument",
    "InvalidTransition",
    "MigrationFailed",
    "PollClosed",
    "RecordExists",
    "RecordNotFound",
    "StoreError",
    "WriteFailed",
]


class StoreError(Exception):
    """Base class of every error the state store raises deliberately."""


# --- opening the database -------------------------------------------------------------------


class DatabaseCorrupt(StoreError):
    """The file is not an SQLite database, or its integrity check failed.

    The file was left exactly as it was found: the engine never repairs, truncates or
    recreates a database it cannot trust.
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"database {path!r} is corrupt or not an SQLite database ({detail}); "
            "the file was not modified and user data was not touched. Restore it from a "
            "backup or move it aside to start with an empty store."
        )


class DatabaseTooNew(StoreError):
    """The database was written by a newer runtime (its schema version is unknown to us)."""

    def __init__(self, path: str, found: int, newest_known: int) -> None:
        self.path = path
        self.found = found
        self.newest_known = newest_known
        super().__init__(
            f"database {path!r} has schema version {found}, but this runtime only knows "
            f"versions up to {newest_known}; upgrade the runtime. The file was not modified."
        )


class DatabaseUnavailable(StoreError):
    """The database file or its folder cannot be read, written or created."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"database {path!r} is unavailable: {reason}")


class DatabaseClosed(StoreError):
    """The :class:`~state.database.Database` was used after :meth:`close`."""


class MigrationFailed(StoreError):
    """A schema migration raised; its transaction was rolled back."""


class WriteFailed(StoreError):
    """A commit failed at the SQLite level (disk full, I/O error); nothing was committed."""


# --- refused requests -----------------------------------------------------------------------


class InvalidArgument(StoreError, ValueError):
    """An argument is out of range or malformed (also a ``ValueError``)."""


class RecordNotFound(StoreError, LookupError):
    """The poll, clip, outbox entry, ... named in the request does not exist."""


class RecordExists(StoreError):
    """A record with this id already exists and the operation may not replace it."""


class InvalidTransition(StoreError):
    """A state machine (clip, outbox entry, poll) refused to move from its current state."""

    def __init__(self, entity: str, entity_id: str, current: str, requested: str) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.current = current
        self.requested = requested
        super().__init__(f"{entity} {entity_id!r} cannot go from {current!r} to {requested!r}")


class PollClosed(InvalidTransition):
    """A vote (or a second close) arrived for a poll that is already closed."""

    def __init__(self, poll_id: str, requested: str) -> None:
        super().__init__("poll", poll_id, "closed", requested)


class Refused(InvalidArgument):
    """A request the rules refuse (too few points, already entered, no such quote); `message`
    is a sentence fit to say in chat as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: The errors that refuse a request the state does not allow (a command's answer, not a fault
#: of the store): what a chat command hears as "no poll is open" or "not enough points".
REFUSALS: tuple[type[StoreError], ...] = (
    InvalidArgument,
    RecordNotFound,
    RecordExists,
    InvalidTransition,
)
