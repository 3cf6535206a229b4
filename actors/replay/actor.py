"""`ReplayChat`: plays a JSONL chat log (the runtime's chat log format) at a speed factor.

It is a platform like the others: its events go to the creator's trigger engine, and replies
come back to it (they are recorded and counted, never sent anywhere; `handle_nowait` records
them in the engine's step, so a reply wakes no task). The gaps between the
recorded `sent_at` times are kept, divided by `speed` (each line leaves on the shared wake-up
grid at most 50 ms after its time, handed over in the ticker's step, `coarse_pace`: a line
wakes no task of the replay's), and each event keeps its recorded
`sent_at`: the trigger engine runs cooldowns, timers and points on the event's time for this
platform (the recorded clock), so a replay at `speed = 10` gives the replies the live stream
would have had, and two replays of the same log write the same exports. With `loop`, each
further pass is shifted by the log's span (plus a second) so the clock never runs backwards.

A replay is a stream that happens once: given a store, it remembers where it stands (the file's
digest, the pass, the lines delivered; `state.replays`) and a restart resumes there instead of
playing the log again. Each pass (a `loop = true` replay, or a new file) is a new stream: its
message ids carry the pass number (`<id>#<pass>`; a line without an id is named by its line
number), so the trigger engine applies each line once per pass. Lines are handed over as
calls (`request`: an idle engine answers at once, in the same step; a busy one's reply is
taken when the next line is due, at most one line in flight), so
the position saved never runs ahead of what the engine took; the position is
committed with the engine's flush (`CommitWithFlush`: no store write of its own, and the
engine, stopped after the replay, flushes once more); the few lines between the last save and a
stop or crash are sent again, and the engine drops them as already seen.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
import trio

from actors import (
    Actor,
    ActorFailed,
    ActorRef,
    ActorStatistics,
    CallTimeout,
    MailboxFull,
    PendingReply,
)
from actors._ticker import coarse_pace, ticker_reached
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent
from actors.store import Read, write
from actors.triggers.engine import CommitWithFlush
from config.chatlog import ChatlogError, is_skippable, parse_chatlog_line
from state.commands import ReplayPositionOf, SaveReplayPosition
from state.replays import ReplayPosition

# Longest pause between two replayed lines, so a log with a gap of hours stays watchable.
MAX_GAP_SECONDS = 5.0
#: While playing, the position is saved after this many lines or this long, whichever comes
#: first (and at every pass end and stop). The lines since the last save are sent again after
#: a crash; the engine drops them by message id, so they stay well within the ids it keeps
#: (`TriggerEngine` keeps 256 per platform by default). Each save is a message to the engine
#: (counted in its `handled`), so they stay rare beside the chat lines.
SAVE_EVERY_SECONDS = 10.0
SAVE_EVERY_LINES = 100
#: How long a stopping replay waits for its engine to take the last position.
HANDOVER_TIMEOUT = 5.0
#: A replay this far behind its schedule (a busy engine) moves the schedule instead of
#: delivering the missed lines in a burst.
MAX_LAG_SECONDS = 1.0
#: How long the replay waits for the trigger engine to take a line once the next one is due
#: (a busy engine slows the replay; one that never answers fails it).
DELIVERY_TIMEOUT = 60.0
#: Lines already due that one step delivers at most (a log of many lines with the same time
#: then takes turns with the rest of the process: the others go at the next grid step).
BURST_LINES = 64
#: Events of a log kept to be handed to every replay playing the same line in the same pass.
EVENTS_SHARED = 256
#: Replies (and moderations) kept for inspection, the newest, by default: a thousand replays
#: keeping 100 replies each held about 25 KiB per creator, and 20 each about 5 KiB.
RECORDED = 5
#: The standard logger behind `Actor.log` (structlog's logger factory names it "actors").
_ACTORS_LOG = logging.getLogger("actors")

T = TypeVar("T")


#: What `ReplayChat._play` returns when the pass is over, or when the engine has not taken the
#: line in flight (`run` then waits for it).
_PASS_DONE = object()
_BUSY = object()


@attrs.frozen(kw_only=True)
class RecordedReplies:
    """Ask a `ReplayChat` for the replies it recorded (the newest `replies_kept`), oldest first."""


@attrs.frozen(kw_only=True)
class ReplayStatistics(ActorStatistics):
    """What a chat replay shows of itself in the tree (`ReplayChat.snapshot`): the replay
    platform's row of the exports."""

    creator_id: str
    #: "starting", "running", or "inactive" (the log is done, or it could not be read).
    status: str
    messages: int = 0
    #: Replies the triggers gave to its lines (kept, not sent anywhere).
    actions: int = 0
    moderations: int = 0
    #: Lines of the log that were rejected.
    errors: int = 0
    last_event_at: datetime | None = None
    last_heartbeat: datetime | None = None


class ReplayChat(Actor):
    """Reads `file` and sends each line to `triggers` as a `ChatEvent` (platform "replay")."""

    # Its state in slots, not an instance dict (~1.5 KiB per replay; see `Actor.__slots__`).
    __slots__ = (
        "_clock",
        "_delivering",
        "_due",
        "_due_line",
        "_inflight",
        "_lines_done",
        "_log",
        "_moderations",
        "_next",
        "_position",
        "_replies",
        "_saved",
        "_saved_at",
        "_shift",
        "_span",
        "_store",
        "_suffix",
        "_target",
        "_triggers",
        "_unsaved",
        "creator_id",
        "file",
        "finished",
        "last_event_at",
        "loop",
        "messages",
        "moderation_count",
        "rejected",
        "replies_kept",
        "reply_count",
        "speed",
        "status",
    )

    def __init__(
        self,
        *,
        creator_id: str,
        file: Path,
        triggers: Callable[[], ActorRef],
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: Callable[[], ActorRef] | None = None,
        replies_kept: int | None = None,
    ) -> None:
        self.creator_id = creator_id
        self.replies_kept = RECORDED if replies_kept is None else replies_kept
        self.file = file
        self._triggers = triggers
        self.speed = speed
        self.loop = loop
        self._clock = clock
        self._store = store
        # Where the replay stands: the position last built, and the lines done since (a line
        # delivered moves a count; the `position` value is built when someone asks).
        self._position: ReplayPosition | None = None
        self._lines_done = 0
        self._saved: ReplayPosition | None = None
        self._delivering: int | None = None  # the line handed over, not yet acknowledged
        # The line in flight: its reply, line number, recorded time.
        self._inflight: tuple[PendingReply, int, datetime] | None = None
        self._saved_at = 0.0
        self._unsaved = 0
        self.messages = 0
        self.rejected = 0
        # The latest replies and moderations, for inspection: made at the first one (a
        # thousand replays that are never moderated keep no empty deque each).
        self._replies: list[SendChat] | None = None
        self.reply_count = 0
        # The replay platform cannot moderate: a filter's delete or timeout is recorded only.
        self._moderations: list[Moderate] | None = None
        self.moderation_count = 0
        self.last_event_at: datetime | None = None
        self.status = "starting"
        self.finished = False
        # The log, set by `on_start` (named here so every replay's attributes share one key
        # table: an attribute first set later gives each instance a dict of its own).
        self._log: _ChatLog | None = None
        self._span = timedelta(0)
        # Where `run` stands in the pass (see `_play`): the engine's ref, the pass's time shift
        # and id suffix, the next line, and when the line `_due_line` is due (trio clock;
        # None: the pass's first line, due at once).
        self._target: ActorRef | None = None
        self._shift = timedelta(0)
        self._suffix = ""
        self._next = 1
        self._due: float | None = None
        self._due_line = 0

    @property
    def position(self) -> ReplayPosition | None:
        """Where the replay stands: the log (by digest), the pass, the lines it has done."""
        position = self._position
        if position is not None and position.lines_done != self._lines_done:
            position = self._position = ReplayPosition(
                digest=position.digest,
                pass_number=position.pass_number,
                lines_done=self._lines_done,
            )
        return position

    @position.setter
    def position(self, value: ReplayPosition | None) -> None:
        self._position = value
        self._lines_done = 0 if value is None else value.lines_done

    @property
    def replies(self) -> Sequence[SendChat]:
        """The latest replies (at most `replies_kept`), oldest first."""
        return self._replies if self._replies is not None else ()

    @property
    def moderations(self) -> Sequence[Moderate]:
        """The latest moderations asked of this platform (recorded only), oldest first."""
        return self._moderations if self._moderations is not None else ()

    async def on_start(self) -> None:
        # Fail at start (a crash the supervisor sees) rather than in the middle of a replay.
        log = await trio.to_thread.run_sync(_read_log, self.file)
        self._log, self._span, digest = log, log.span, log.digest
        saved = None
        if self._store is not None:
            creator_id = self.creator_id
            # A typed query: the store may answer it ahead of other creators' queued writes
            # (a mass start behind a flood of writes would otherwise wait them out).
            saved = await self._store().call(
                Read(fn=ReplayPositionOf(creator_id=creator_id)), timeout=30
            )
        if saved is None:
            self.position = ReplayPosition(digest=digest, pass_number=1, lines_done=0)
        elif saved.digest != digest:  # another log: another stream
            self.position = ReplayPosition(
                digest=digest, pass_number=saved.pass_number + 1, lines_done=0
            )
        else:
            self.position = saved
        self._saved = saved
        self.status = "running"

    async def on_stop(self) -> None:
        # The engine stops after this replay and flushes then: handed over (and acknowledged)
        # now, the position is committed with that flush. An engine that cannot take it (gone,
        # or restarting after its own crash) leaves it to a write of our own. Handed over even
        # when unchanged: the last `_save` was a cast the stopping engine may not have taken.
        # A line whose call the stop cut short is still in the engine's mailbox, ahead of the
        # handover: once the engine acknowledges the handover it has taken that line too.
        position = self.position
        if self._store is None or position is None:
            return
        taken = position
        if self._delivering is not None:
            taken = attrs.evolve(position, lines_done=self._delivering)
        save = SaveReplayPosition(creator_id=self.creator_id, position=taken)
        try:
            await self._triggers().call(self._handover(save), timeout=HANDOVER_TIMEOUT)
            if taken is not position:
                self.position, self._delivering = taken, None
                self.messages += 1
        except (ActorFailed, CallTimeout, KeyError):
            save = SaveReplayPosition(creator_id=self.creator_id, position=position)
            try:
                await write(self._store(), save, topic="replay")
            except Exception as exc:
                self.log.warning("replay position not saved", error=type(exc).__name__)
                return
        self._saved = save.position

    def _save_command(self) -> SaveReplayPosition | None:
        position = self.position
        if self._store is None or position is None or position == self._saved:
            return None
        return SaveReplayPosition(creator_id=self.creator_id, position=position)

    @staticmethod
    def _handover(save: SaveReplayPosition) -> CommitWithFlush:
        return CommitWithFlush(key="replay-position", command=save)

    def _save(self) -> None:
        """Save the position unless it is already saved: it rides in the trigger engine's next
        flush (`CommitWithFlush`), beside the ids of the lines it covers, so a replay costs
        the store no write of its own. Trouble is logged, never fatal (the next save tries
        again; the engine's seen ids keep a line sent again from counting twice)."""
        save = self._save_command()
        if save is None:
            return
        try:
            self._triggers().cast(self._handover(save))
        except (MailboxFull, ActorFailed, KeyError) as exc:
            self.log.warning("replay position not handed over", error=type(exc).__name__)
            return
        self._saved = save.position

    async def run(self) -> None:
        self._target = self._triggers()
        assert self.position is not None
        self._saved_at = trio.current_time()
        self._unsaved = 0
        while True:
            pass_number, start = self.position.pass_number, self.position.lines_done
            # Pass n plays the log's recorded times shifted by n - 1 spans (plus a second each),
            # so the recorded clock never runs backwards, across restarts too.
            self._shift = (pass_number - 1) * self._span
            self._suffix = f"#{pass_number}"
            self._next = start + 1
            self._due, self._due_line = None, 0  # the first line of a pass leaves at once
            played = self.messages
            await self._play_pass()
            await self._settle()
            if not self.loop:
                break
            if start == 0 and self.messages == played:
                # A whole pass without one valid line: looping would only spin.
                self.log.warning("replay has no valid line to loop over", file=str(self.file))
                break
            self.position = attrs.evolve(self.position, pass_number=pass_number + 1, lines_done=0)
            self._save()
        self._save()
        self.status = "inactive"
        self.finished = True
        self.log.info("replay finished", messages=self.messages, rejected=self.rejected)
        await trio.sleep_forever()  # stay up: the creator's replies still land here

    async def _play_pass(self) -> None:
        """Deliver the lines of the pass from `_next` on, each at its time: `_play` does it,
        in the ticker's step as each line falls due (a line costs this task no wake-up); this
        task takes over only for what waits (a busy engine, a full mailbox)."""
        waiting = self._play(trio.current_time())
        while waiting is not _PASS_DONE:
            if type(waiting) is float:
                waiting = await coarse_pace(waiting, self._play)
                continue
            if waiting is _BUSY:
                await self._settle()  # the engine has not taken the previous line yet
            else:  # a full mailbox: wait for room like a `call` (a busy engine slows us)
                event, number, at = waiting
                target = self._target
                assert target is not None
                await target.call(event, timeout=DELIVERY_TIMEOUT)
                self._delivered(number, at, trio.current_time())
                self._next = number + 1
            waiting = self._play(trio.current_time())

    def _play(self, now: float) -> Any:
        """Deliver every line due at trio time `now`, from `_next` on; returns when the next
        one is due (trio clock, a float), or `_PASS_DONE`, or what this task must wait for:
        `_BUSY` (the engine has not taken the line in flight), or `(event, number, at)` of
        the line a full mailbox refused. Lines are paced from the schedule (`_due`), not from
        the previous delivery: the wake-ups on the shared grid and the engine's reply times do
        not add up along the log, and every line already due is delivered at once (up to
        `BURST_LINES`, then the next grid step goes on)."""
        target, log = self._target, self._log
        assert target is not None and log is not None
        lines = log.lines
        burst = BURST_LINES
        while self._next <= len(lines):
            number = self._next
            line = lines[number - 1]
            if type(line) is not _Line:
                if not self._took_inflight(now):
                    return _BUSY
                if line is not None:
                    self.rejected += 1
                    self.log.warning("replay line rejected", line=number, error=line)
                self._lines_done = number
                self._next = number + 1
                continue
            due = self._due
            if self._due_line != number:
                if due is None:
                    due = now  # the first line of a pass leaves at once
                else:
                    due += min(max(line.gap / self.speed, 0.0), MAX_GAP_SECONDS)
                    if now - due > MAX_LAG_SECONDS:
                        # A busy engine slows the replay instead of facing a catch-up burst.
                        due = now
                    if not ticker_reached(due, now):
                        self._due, self._due_line = due, number
                        return due
                self._due, self._due_line = due, number
            assert due is not None
            burst -= 1
            if burst < 0:
                return math.nextafter(now, math.inf)  # the rest at the next grid step
            # The previous line's reply came meanwhile (almost always): taken at once.
            if not self._took_inflight(due):
                return _BUSY
            event = log.event(number, self._shift, self._suffix)
            at = event.sent_at
            self._delivering = number
            try:
                # An idle engine takes it in this step (`TriggerEngine.call_nowait`): counted
                # now, with no reply to take at the next line. Else handed over without
                # waiting: the reply is taken at the next line. No call timer entry: `_settle`
                # bounds the wait for a reply that is late.
                _, pending = target.request_now(event, timeout=math.inf)
            except MailboxFull:
                return (event, number, at)
            self._next = number + 1
            if pending is None:
                self._delivered(number, at, due)
            else:  # not answered in this step (`request_now` never gives a done reply)
                self._inflight = (pending, number, at)
        return _PASS_DONE

    def _took_inflight(self, now: float) -> bool:
        """Count the line in flight (if any) if the engine has taken it; False while it has
        not. Raises what its delivery raised (`ActorFailed`)."""
        inflight = self._inflight
        if inflight is None:
            return True
        pending, number, at = inflight
        if not pending.done:
            return False
        self._inflight = None
        pending.result_nowait()
        self._delivered(number, at, now)
        return True

    async def _settle(self) -> None:
        """Wait for the engine to take the line in flight (if any), then count it: the
        position never runs ahead of what the engine took. A failed delivery (`ActorFailed`),
        or no reply within `DELIVERY_TIMEOUT` (`CallTimeout`), raises: a crash, as a failed
        `call` would be."""
        inflight = self._inflight
        if inflight is None:
            return
        pending, number, at = inflight
        if pending.done:
            self._took_inflight(trio.current_time())
            return
        with trio.move_on_after(DELIVERY_TIMEOUT):
            await pending.result()
        if not pending.done:
            raise CallTimeout(self._triggers().path, DELIVERY_TIMEOUT)
        self._inflight = None
        self._delivered(number, at, trio.current_time())

    def _delivered(self, number: int, at: datetime, now: float) -> None:
        """Line `number` of the current pass was taken by the engine (at trio time `now`)."""
        self._delivering = None
        self._lines_done = number  # the position value is built when asked (`position`)
        self.messages += 1
        self.last_event_at = at
        self._unsaved += 1
        if self._unsaved >= SAVE_EVERY_LINES or now - self._saved_at >= SAVE_EVERY_SECONDS:
            self._save()
            self._saved_at, self._unsaved = now, 0

    def handle_nowait(self, message: object) -> bool:
        """Record a reply or a moderation in the engine's step (no task of this replay runs
        for it: `Mailbox.serve_on_demand`)."""
        if type(message) is SendChat:
            self._record_reply(message)
            return True
        if type(message) is Moderate:
            self._record_moderation(message)
            return True
        return False

    def _record_reply(self, message: SendChat) -> None:
        self._replies = _kept(self._replies, message, self.replies_kept)
        self.reply_count += 1
        # Its log line (info) is built only when info lines are logged at all: at a thousand
        # creators, a filtered-out structlog call per reply cost a third of recording it
        # (and a bound logger per replay).
        if _ACTORS_LOG.isEnabledFor(logging.INFO):
            self.log.info("reply", text=message.text, trigger=message.trigger_id)

    def _record_moderation(self, message: Moderate) -> None:
        self._moderations = _kept(self._moderations, message, self.replies_kept)
        self.moderation_count += 1
        if _ACTORS_LOG.isEnabledFor(logging.INFO):  # as for a reply
            self.log.info("moderation recorded", action=message.action, filter=message.filter_id)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self._record_reply(message)
            return None
        if isinstance(message, Moderate):
            self._record_moderation(message)
            return None
        if isinstance(message, RecordedReplies):
            return tuple(self.replies)
        raise TypeError(f"ReplayChat takes SendChat, got {type(message).__name__}")

    def snapshot(self) -> ReplayStatistics:
        return ReplayStatistics(
            creator_id=self.creator_id,
            status=self.status,
            messages=self.messages,
            actions=self.reply_count,
            moderations=self.moderation_count,
            errors=self.rejected,
            last_event_at=self.last_event_at,
            last_heartbeat=self._clock(),
        )


def _kept(latest: list[T] | None, item: T, limit: int) -> list[T]:
    """`latest` (made when None) with `item` appended, cut to its newest `limit` items: a
    short list costs a few hundred bytes less than a bounded deque, per replay."""
    if latest is None:
        latest = []
    latest.append(item)
    if len(latest) > limit:
        del latest[: len(latest) - limit]
    return latest


class _Line:
    """A valid line as every pass plays it, prepared once per log: the `ChatEvent` fields
    that are the same for every pass (platform "replay"), the recorded time, the base of its
    message id (a pass adds `#<pass>`), and the seconds since the previous valid line."""

    __slots__ = ("fields", "gap", "id_base", "recorded")

    def __init__(self, fields: Mapping[str, Any], number: int, gap: float) -> None:
        self.recorded: datetime = fields["sent_at"]
        self.id_base: str = fields["message_id"] or f"line-{number}"
        # Read-only by convention: shared by every replay of the log (a plain dict, because
        # it is unpacked into each event).
        self.fields = {
            key: value for key, value in fields.items() if key not in ("sent_at", "message_id")
        }
        self.fields["platform"] = "replay"
        self.gap = gap


@attrs.frozen(kw_only=True)
class _ChatLog:
    """A chat log file as the replay plays it: each line parsed (its fields; None for a blank
    line or a comment; the error text of a bad line), the same lines prepared for playing
    (`_Line` for the valid ones), the span of one pass, the digest."""

    entries: tuple[Mapping[str, Any] | str | None, ...]
    lines: tuple[_Line | str | None, ...]
    span: timedelta
    digest: str
    # The events made last, by (pass suffix, line number), oldest first: every replay of the
    # log playing the same line in the same pass plays an equal (frozen) value, so a thousand
    # creators replaying one example make each event once, not once each.
    _events: dict[tuple[str, int], ChatEvent] = attrs.field(factory=dict, eq=False, repr=False)

    def event(self, number: int, shift: timedelta, suffix: str) -> ChatEvent:
        """The event of valid line `number` in the pass whose recorded times are moved by
        `shift` and whose message ids end with `suffix`."""
        key = (suffix, number)
        event = self._events.get(key)
        if event is None:
            line = self.lines[number - 1]
            assert type(line) is _Line
            event = ChatEvent(
                **line.fields, sent_at=line.recorded + shift, message_id=line.id_base + suffix
            )
            events = self._events
            if len(events) >= EVENTS_SHARED:
                del events[next(iter(events))]
            events[key] = event
        return event


def _read_log(path: Path) -> _ChatLog:
    """The log at `path`, read once for every replay of the same unchanged file (a thousand
    creators replaying one example share its lines instead of a copy each)."""
    stat = path.stat()
    return _read_log_version(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_log_version(path: Path, _mtime_ns: int, _size: int) -> _ChatLog:
    data = path.read_bytes()
    entries = tuple(_parse(line) for line in data.decode("utf-8").splitlines())
    lines: list[_Line | str | None] = []
    previous: datetime | None = None
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, Mapping):
            recorded = entry["sent_at"]
            gap = 0.0 if previous is None else (recorded - previous).total_seconds()
            lines.append(_Line(entry, number, gap))
            previous = recorded
        else:
            lines.append(entry)
    times = [e["sent_at"] for e in entries if isinstance(e, Mapping)]
    # One pass moves the recorded clock by the log's first to last time, plus a second.
    span = (max(times) - min(times) if times else timedelta(0)) + timedelta(seconds=1)
    return _ChatLog(
        entries=entries, lines=tuple(lines), span=span, digest=hashlib.sha256(data).hexdigest()
    )


def _parse(line: str) -> Mapping[str, Any] | str | None:
    if is_skippable(line):
        return None
    try:
        return MappingProxyType(parse_chatlog_line(line))
    except ChatlogError as exc:
        return str(exc)
