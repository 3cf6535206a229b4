"""Errors of the actor API, and the deliberate unwrapping of trio's exception groups."""

from __future__ import annotations

import trio


class MailboxFull(Exception):
    """`ActorRef.cast` found the mailbox at its capacity; the message was not queued."""

    def __init__(self, path: str, capacity: int) -> None:
        super().__init__(f"mailbox of {path} is full ({capacity} messages)")
        self.path = path
        self.capacity = capacity


class CallTimeout(Exception):
    """`ActorRef.call` got no reply within its timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"no reply from {path} within {timeout:g} s")
        self.path = path
        self.timeout = timeout


class ActorFailed(Exception):
    """The actor could not answer: its handler raised (the exception is `__cause__`), or the
    actor stopped for good (`__cause__` is None)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ReplyError(Exception):
    """Raised by a handler to answer a `call` with an error instead of crashing.

    The caller's `call` raises `error` itself (the request was refused or failed, the actor is
    fine); for a `cast` or `send` nobody is waiting, so it is logged and counted. Like
    returning `{error, Reason}` from an Erlang gen_server instead of exiting.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


_FATAL = (KeyboardInterrupt, SystemExit)


def leaves(exc: BaseException) -> list[BaseException]:
    """Flatten nested exception groups into their leaf exceptions, in order."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(leaves(inner))
        return out
    return [exc]


def unwrap_failure(exc: BaseException) -> BaseException | None:
    """Pick the exception that explains why a task tree failed.

    Trio's strict groups wrap even a single failure; we look through them on purpose.
    KeyboardInterrupt and SystemExit win (they must propagate, never count as crashes);
    cancellations are not failures, so a group of only `Cancelled` gives None.
    """
    found = leaves(exc)
    for leaf in found:
        if isinstance(leaf, _FATAL):
            return leaf
    for leaf in found:
        if not isinstance(leaf, trio.Cancelled):
            return leaf
    return None


def describe(exc: BaseException | None) -> str | None:
    """`Type: message` with secrets masked, for statistics and logs."""
    if exc is None:
        return None
    from actors.secret_masking import mask_secrets

    text = str(exc)
    return f"{type(exc).__name__}: {mask_secrets(text)}" if text else type(exc).__name__
