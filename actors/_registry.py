"""The registry of one supervision tree: paths, their mailboxes, and the dead-letter log.

It is shared by every supervisor of a tree and outlives their instances, which is what lets a
ref (and the messages waiting in a mailbox) survive restarts at any level of the tree.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any, Generic, TypeVar

import attrs
import outcome
import structlog
import trio

from actors._errors import ActorFailed
from actors._mailbox import Call, InlineFailure, Mailbox
from actors._timer import CallTimer

log = structlog.get_logger("actors")

DEFAULT_MAILBOX_SIZE = 1000
#: Most actors a shutdown report names one by one (dead letters, stops cut off).
REPORT_ACTORS = 20

# The supervisors' child-spec type. The registry only keeps specs for them (it never reads one),
# so it takes the type as a parameter instead of importing it: supervisors depend on actors.
SpecT = TypeVar("SpecT")


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that no instance will handle."""

    path: str
    message_type: str
    reason: str


class DeadLetters:
    """Counts and remembers (bounded) the messages that were dropped, and logs them.

    Each one is logged as it happens, except while the tree shuts down (`summarize`): a stop
    under load drops thousands of messages, so they are counted per actor and `report` logs
    one line per actor instead.
    """

    def __init__(self, keep: int = 100) -> None:
        self.count = 0
        self.recent: deque[DeadLetter] = deque(maxlen=keep)
        self.summarize = False
        self._pending: dict[str, Counter[tuple[str, str]]] = {}

    def record(self, path: str, item: object, reason: str, cause: BaseException | None) -> None:
        """Log and count `item`; a waiting caller gets `ActorFailed` (cause chained)."""
        if type(item) is InlineFailure:  # a call whose inline handling failed: its caller waits
            cause = cause or item.error
            item = item.call
        message = item.message if isinstance(item, Call) else item
        letter = DeadLetter(path=path, message_type=type(message).__name__, reason=reason)
        self.count += 1
        self.recent.append(letter)
        if self.summarize:
            self._pending.setdefault(path, Counter())[(letter.message_type, reason)] += 1
        else:
            log.warning("dead letter", path=path, message_type=letter.message_type, reason=reason)
        if isinstance(item, Call):
            failure = ActorFailed(path, reason)
            failure.__cause__ = cause
            item.resolve(outcome.Error(failure))

    def report(self) -> None:
        """Log what was counted since the last report: one line per actor, or, for more than
        `REPORT_ACTORS` actors, one line in all (a stop of ten thousand creators logged a
        line per actor for seconds, past the shutdown deadline) naming the first of them."""
        pending, self._pending = self._pending, {}
        if len(pending) > REPORT_ACTORS:
            total: Counter[tuple[str, str]] = Counter()
            for counts in pending.values():
                total.update(counts)
            paths = sorted(pending)
            log.warning(
                "dead letters during the stop",
                actors=len(paths),
                count=sum(total.values()),
                messages={f"{kind}: {reason}": n for (kind, reason), n in sorted(total.items())},
                paths=[*paths[:REPORT_ACTORS], "..."],
            )
            return
        for path, counts in sorted(pending.items()):
            log.warning(
                "dead letters during the stop",
                path=path,
                count=sum(counts.values()),
                messages={f"{kind}: {reason}": n for (kind, reason), n in sorted(counts.items())},
            )


class Registry(Generic[SpecT]):
    """Every path known in one tree: kind, mailbox, and dynamically added child specs.

    `dynamic` remembers, per supervisor path, the specs added at run time so a restarted
    supervisor starts them again; their type (`SpecT`) belongs to the supervisors.
    """

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._mailboxes: dict[str, Mailbox] = {}
        self.dynamic: dict[str, dict[str, SpecT]] = {}
        self.dead_letters = DeadLetters()
        self.closed = False
        self.timer: CallTimer | None = None
        # Shutdown bounds: (path prefix, trio time) pairs, and the scopes they cut off.
        self._stop_bounds: list[tuple[str, float]] = []
        self._stopping: dict[trio.CancelScope, str] = {}
        self._cut_off: list[str] = []  # stops cut off while bounded, for `report_cut_offs`
        #: Stops whose `on_stop` was cut off so far (what it would have finished is lost).
        self.stops_cut_off = 0

    # ------------------------------------------------------------------ shutdown bounds

    def bound_stops(self, deadline: float, under: str = "") -> None:
        """Every stop of an actor at or below the path `under` ("" for the whole tree) ends by
        `deadline` (trio time): its grace period and its `on_stop`, shielded or not, are cut
        there, including those already running. Dropped messages are summarized from now on
        (see `DeadLetters`)."""
        self.dead_letters.summarize = True
        self._stop_bounds.append((under, deadline))
        for scope, path in self._stopping.items():
            if _below(path, under):
                scope.deadline = min(scope.deadline, deadline)

    def stop_deadline(self, path: str) -> float:
        """The latest time a stop of `path` may end (infinite when no bound applies)."""
        return min((d for under, d in self._stop_bounds if _below(path, under)), default=math.inf)

    def stopping(self, scope: trio.CancelScope, path: str) -> None:
        """Track `scope` (a stop of `path`) so later bounds cut it too; `stopped` forgets it."""
        scope.deadline = min(scope.deadline, self.stop_deadline(path))
        self._stopping[scope] = path

    def stopped(self, scope: trio.CancelScope) -> None:
        """Forget a scope given to `stopping`."""
        self._stopping.pop(scope, None)

    def cut_off(self, path: str) -> bool:
        """Note that the stop of `path` (its `on_stop`) was cut off at its bound; whether to
        log it on its own now. While the tree shuts down (`bound_stops`) they are counted and
        `report_cut_offs` logs them in one line: at ten thousand creators a line each took
        seconds of the deadline, and the event loop's time, from the stops still running."""
        self.stops_cut_off += 1
        if not self.dead_letters.summarize:
            return True
        self._cut_off.append(path)
        return False

    def report_cut_offs(self) -> None:
        """Log the stops cut off since the last report (see `cut_off`) in one warning that
        names them (the first `REPORT_ACTORS`)."""
        paths, self._cut_off = sorted(self._cut_off), []
        if paths:
            more = ["..."] if len(paths) > REPORT_ACTORS else []
            log.warning(
                "on_stop cut off at the shutdown deadline",
                count=len(paths),
                paths=[*paths[:REPORT_ACTORS], *more],
            )

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


def _below(path: str, under: str) -> bool:
    return not under or path == under or path.startswith(under + "/")
