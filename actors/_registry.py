"""The registry of one supervision tree: paths, their mailboxes, and the dead-letter log.

It is shared by every supervisor of a tree and outlives their instances, which is what lets a
ref (and the messages waiting in a mailbox) survive restarts at any level of the tree.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import attrs
import outcome
import structlog

from actors._errors import ActorFailed
from actors._mailbox import Call, Mailbox
from actors._timer import CallTimer

if TYPE_CHECKING:
    from supervisors._spec import ChildSpec

log = structlog.get_logger("actors")

DEFAULT_MAILBOX_SIZE = 1000


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that no instance will handle."""

    path: str
    message_type: str
    reason: str


class DeadLetters:
    """Counts and remembers (bounded) the messages that were dropped, and logs each one."""

    def __init__(self, keep: int = 100) -> None:
        self.count = 0
        self.recent: deque[DeadLetter] = deque(maxlen=keep)

    def record(self, path: str, item: object, reason: str, cause: BaseException | None) -> None:
        """Log and count `item`; a waiting caller gets `ActorFailed` (cause chained)."""
        message = item.message if isinstance(item, Call) else item
        letter = DeadLetter(path=path, message_type=type(message).__name__, reason=reason)
        self.count += 1
        self.recent.append(letter)
        log.warning("dead letter", path=path, message_type=letter.message_type, reason=reason)
        if isinstance(item, Call):
            failure = ActorFailed(path, reason)
            failure.__cause__ = cause
            item.resolve(outcome.Error(failure))


class Registry:
    """Every path known in one tree: kind, mailbox, and dynamically added child specs."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._mailboxes: dict[str, Mailbox] = {}
        self.dynamic: dict[str, dict[str, ChildSpec]] = {}
        self.dead_letters = DeadLetters()
        self.closed = False
        self.timer: CallTimer | None = None

    def register(self, path: str, kind: str | None = None) -> None:
        """Make `path` known (idempotent); `kind` is 'actor' or 'supervisor' once known."""
        if kind is not None or path not in self._kinds:
            self._kinds[path] = kind or self._kinds.get(path, "unknown")

    def kind(self, path: str) -> str | None:
        """'actor', 'supervisor', 'unknown' (not started yet) or None (not known)."""
        return self._kinds.get(path)

    def mailbox(self, path: str, capacity: int = DEFAULT_MAILBOX_SIZE) -> Mailbox:
        """The mailbox of `path`, created with `capacity` on first use."""
        box = self._mailboxes.get(path)
        if box is None or box.closed:
            if self.closed:
                raise ActorFailed(path, "actor stopped for good")
            if path not in self._kinds:
                raise KeyError(path)
            box = self._mailboxes[path] = Mailbox(path, capacity)
        return box

    def existing_mailbox(self, path: str) -> Mailbox | None:
        """The open mailbox of `path`, if any."""
        box = self._mailboxes.get(path)
        return None if box is None or box.closed else box

    def remove(self, path: str) -> None:
        """Forget `path` and everything below it; queued messages become dead letters."""
        prefix = path + "/"
        for known in [p for p in self._kinds if p == path or p.startswith(prefix)]:
            del self._kinds[known]
            self.dynamic.pop(known, None)
            box = self._mailboxes.pop(known, None)
            if box is not None:
                for item in box.close():
                    self.dead_letters.record(known, item, "actor stopped for good", None)

    def close_all(self) -> None:
        """The tree stopped for good: refuse new messages and fail the waiting ones."""
        self.closed = True
        for path, box in list(self._mailboxes.items()):
            for item in box.close():
                self.dead_letters.record(path, item, "actor stopped for good", None)

    def paths(self) -> list[str]:
        """Every known path, sorted."""
        return sorted(self._kinds)

    def describe(self) -> dict[str, Any]:
        """Counts for the runtime snapshot."""
        return {"paths": len(self._kinds), "dead_letters": self.dead_letters.count}
