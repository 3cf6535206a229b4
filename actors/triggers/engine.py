"""`TriggerEngine`: one per creator; chat events in, actions executed for real.

Matching and cooldown decisions are the sans-IO `evaluate`; this actor executes what it
decides: replies go to the platform actor the message came from, polls, tallies, scores and
clip requests are committed through the store before the reply says they happened, and the
cooldowns that must survive a restart are persisted. Chat signals for the dashboard are
buffered and written in one transaction every `SIGNAL_FLUSH_SECONDS`, so chat volume never
means a commit per message; an action's write takes whatever is buffered along (one write, not
two).

Every platform's events pass here, so this is where a message id is applied at most once per
creator, across reconnects and restarts: an in-memory set (`SeenMessages`) decides, its new ids
are persisted with the engine's own writes (in an action's transaction when the message
changed something, else with the next flush), and the set is restored at start beside the
cooldowns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apsw
import attrs
import trio

from actors import (
    QUEUE,
    Actor,
    ActorFailed,
    ActorRef,
    ActorStatistics,
    Alarm,
    CallTimeout,
    MailboxFull,
    PendingReply,
)
from actors._ticker import ticker_reached
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent, PlatformEvent, RedemptionEvent, StreamEnded, StreamStarted
from actors.recent import SeenMessages
from actors.store import Read, Write, write
from actors.triggers.actions import (
    Action,
    ClipRequest,
    ErrorReply,
    PollClose,
    PollOpen,
    PollVote,
    Reply,
    ScoreAdd,
    TallyChange,
)
from actors.triggers.channel_events import (
    ChannelEvent,
    ChannelEventOutcome,
    build_event_action,
    decide,
    event_name,
    redemption_decision,
    template_fields,
)
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.evaluate import evaluate
from actors.triggers.features import FEATURE_ACTIONS, FeaturePlans
from actors.triggers.filters import PERMIT_COMMAND, ChatFilters, FilterHit
from actors.triggers.points import PointsLedger
from actors.triggers.rules import TriggerRules
from actors.triggers.templates import action_variables, render
from actors.triggers.timers import LIVE_DOMAIN, TimerSchedule, domain_of
from config.models import CreatorConfig
from exports.scrub import pseudonymize
from state.commands import (
    AddScore,
    AppendSignals,
    ChangeTally,
    ClosePoll,
    Command,
    CreateClip,
    DeclareTallies,
    GrantPoints,
    OpenPoll,
    Paid,
    PointsGrant,
    PruneCooldowns,
    RecordFilterHit,
    RecordTimerPost,
    RecordVote,
    RestoreEngine,
    SetCooldowns,
    SignalRow,
    SpendPoints,
    Viewer,
)
from state.errors import Refused, StoreError
from state.signals import SignalKind
from state.timeutil import from_datetime

#: The longest chat signals, counts and message ids wait in an engine before they are written
#: (unless an action's write takes them along first; earned points wait longer,
#: `POINTS_FLUSH_SECONDS`). At 1,000 creators each flush is a write request, a reply and a
#: commit's share of its own, about 50 us of CPU whatever it carries: one second to two took
#: 8 % of the CPU per chat message (the issue's load, 126 vs 138 us, both at once), two to five
#: another 6 % (129.4 vs 137.7 us, a process 300 s old, both at once). So `chat_events.json`
#: shows a chat line up to about 6 s after it was said, a crash loses at most this much of
#: the ids, counts and signals, and a stop flushes everything.
SIGNAL_FLUSH_SECONDS = 5.0
#: Earned loyalty points (per message, per active minute) are handed to the store at most this
#: often, unless a command that shows or spends points (or enters a giveaway) settles them at
#: once, so what chat is told is exact. Each hand-over is a balance row change per viewer and a
#: rebuild of the creator's points.json ranking; at 1,000 creators, handing them over with every
#: 2 s flush cost about 10 % of the CPU per chat message (the whole example: 226 vs 203 us, both
#: at once), every 10 s another 8 % against every 30 s (249 vs 230 us, both at once). A
#: viewer's earnings of these seconds become one row change (the per-message credit comes once
#: a minute at most), points.json shows them this much later, a crash loses at most this much
#: more of them (about a message's credit per viewer), and a stop writes all.
POINTS_FLUSH_SECONDS = 30.0
#: Every this many writes that carry cooldowns, one also forgets the creator's cooldowns that
#: ended (`PruneCooldowns`): every few minutes in a busy chat.
COOLDOWN_PRUNE_EVERY = 600
#: Operations of refused flushes kept for the next write at most (a store overloaded for
#: longer loses what is beyond, counted): about a minute and a half of one chat's flushes.
DEFERRED_LIMIT = 500
#: How often timers and active-minute points are checked on the wall clock (live platforms).
TICK_SECONDS = 5.0
#: A chat message this long after the first buffered write takes the flush along
#: (`TriggerEngine._flush_with_chat`).
FLUSH_WITH_CHAT_AFTER = SIGNAL_FLUSH_SECONDS / 2
#: The platform whose events run on their recorded clock (see `ReplayChat`).
REPLAY = "replay"
#: The longest the oldest write of an engine waits for the store before the engine takes no
#: more chat until it is done (backpressure; a store keeping up answers in milliseconds).
MAX_WRITE_LAG = 0.5
#: Room an engine wants in the store's mailbox before it takes a chat line (a line makes a
#: write or two): a store whose mailbox is nearly full makes chat wait (backpressure) instead
#: of refusing the line's writes. A thousand engines each voting at once in one burst filled
#: it before any of them had waited `MAX_WRITE_LAG`, and every write past its capacity failed.
STORE_HEADROOM = 16
#: Pseudonyms of chatters remembered per engine (then forgotten all at once).
PSEUDONYMS_KEPT = 2048
#: Cooldowns at least this long are committed before the reply; shorter ones with the next flush.
DURABLE_COOLDOWN_SECONDS = 30.0
#: How long a write of this engine (an action's, a flush) waits for the store's answer before
#: it fails (`CallTimeout`: the action's failure reply, the flush's counted warning). The
#: engine watches this deadline itself (`_expire_writes`, oldest write first), not a call
#: timer entry per write.
WRITE_TIMEOUT = 30.0

#: While writes are in flight and nothing else is due, `run` looks at them at least this
#: often (and exactly at their `WRITE_TIMEOUT`): a wake-up parked far ahead is left behind in
#: the ticker's table when chat moves the alarm nearer (a few dozen bytes each), so a short
#: horizon keeps few of them; chat moves the alarm well within it.
WRITE_WATCH_SECONDS = 5.0

#: Turns the results of an action's operations into its reply's template variables.
Finish = Callable[[list[Any]], dict[str, object]]
#: What an action writes: store commands (none for a plain reply), store topic, and `Finish`.
Plan = tuple[tuple[Command, ...], str, Finish]
STORE_FAILURE_REPLY = "Sorry, that did not work this time; please try again later."


@attrs.frozen(kw_only=True)
class CommitWithFlush:
    """Ask a `TriggerEngine` to commit `command` in its next flush, in the transaction that
    also records the message ids it has taken so far; a later one with the same `key`
    replaces one not yet written. A replay saves its position this way: no store write of
    its own, and the position never runs ahead of the ids that make the lines it covers count
    once. The reply to a `call` means queued, not committed."""

    key: str
    command: Command


@attrs.frozen(kw_only=True)
class TriggerEngineStatistics(ActorStatistics):
    """What a trigger engine shows of itself in the tree (`TriggerEngine.snapshot`): its
    counters, and the activity `chat_triggers.json` shows, keyed by (creator id, id)."""

    messages: int = 0
    duplicates: int = 0
    fired: int = 0
    #: Triggers fired per platform of the triggering message.
    fired_by_platform: Mapping[str, int] = attrs.field(factory=dict)
    actions: int = 0
    errors: int = 0
    replies_dropped: int = 0
    last_event_at: datetime | None = None
    cooldowns: int = 0
    inflight: int = 0
    #: Times chat waited for the store to catch up (`MAX_WRITE_LAG`, `STORE_HEADROOM`).
    store_waits: int = 0
    #: Flushes the store refused while its mailbox was full, kept for the next write.
    flushes_deferred: int = 0
    #: Buffered writes not yet committed (chat signals, cooldowns, points, counts).
    unflushed: int = 0
    #: When each trigger last fired.
    fired_at: Mapping[tuple[str, str], datetime] = attrs.field(factory=dict)
    filter_hits: Mapping[str, int] = attrs.field(factory=dict)
    #: Per filter: (hits, last hit).
    filters: Mapping[tuple[str, str], tuple[int, datetime | None]] = attrs.field(factory=dict)
    #: Per timer: (posts, last post).
    timers: Mapping[tuple[str, str], tuple[int, datetime]] = attrs.field(factory=dict)
    moderations: int = 0
    timer_posts: int = 0


class TriggerEngine(Actor):
    """Runs one creator's triggers."""

    # Its state in slots: a thousand engines each kept a 1.6 KiB instance dict (attributes
    # past the size of CPython's shared-key tables). `__dict__` is still there (the base's)
    # for what is set later by others (a bound logger).
    __slots__ = (
        "_alarm",
        "_board_titles",
        "_chat_features",
        "_clock",
        "_completion_failed",
        "_completions",
        "_cooldown_writes",
        "_costs",
        "_creator_id",
        "_deferred",
        "_filter_last",
        "_flush_at",
        "_flush_reply",
        "_flush_since",
        "_flushing",
        "_inflight",
        "_key",
        "_live",
        "_next_tick",
        "_pending_cooldowns",
        "_pending_ops",
        "_pending_signals",
        "_platform",
        "_points_due",
        "_prefix",
        "_pseudonyms",
        "_ready",
        "_riders",
        "_stopping",
        "_store",
        "_tally_counts",
        "_tally_labels",
        "_timer_posts",
        "_viewers",
        "_write_done",
        "actions",
        "cooldowns",
        "creator",
        "duplicates",
        "errors",
        "features",
        "filter_hits",
        "filters",
        "fired",
        "fired_by_platform",
        "flushes_deferred",
        "last_event_at",
        "last_fired",
        "messages",
        "moderations",
        "points",
        "replies_dropped",
        "rules",
        "seen",
        "store_waits",
        "timer_posts",
        "timers",
    )

    mailbox_size = 10_000

    def __init__(
        self,
        creator: CreatorConfig,
        *,
        store: Callable[[], ActorRef],
        platform: Callable[[str], ActorRef],
        pseudonym_key: bytes,
        self_logins: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        # Message ids kept in memory per platform (and reloaded at start): enough for a
        # reconnect's or a restart's redeliveries; memory per creator stays bounded (about
        # 2 KiB per busy platform: `RecentIds`) however long the process runs.
        seen_size: int = 256,
    ) -> None:
        self.creator = creator
        self._creator_id = creator.id
        self._store = _remembered(store)
        self._platform = _remembered_by_name(platform)
        self._key = pseudonym_key
        self._pseudonyms: dict[str, str] = {}
        # The last `Viewer` of each chatter (by platform and user id), reused while their
        # names stay the same: one fewer object per chat line. Bounded like `_pseudonyms`.
        self._viewers: dict[tuple[str, str], Viewer] = {}
        self._clock = clock
        self.rules = TriggerRules.from_config(creator, self_logins=self_logins)
        self.cooldowns = CooldownTable()
        self.seen = SeenMessages(creator_id=creator.id, store=store, size=seen_size)
        self._prefix = f"{creator.id}/"
        self._cooldown_writes = 0  # writes that carried cooldowns (`COOLDOWN_PRUNE_EVERY`)
        self._pending_signals: list[SignalRow] = []
        self._pending_cooldowns: dict[str, int] = {}
        # When the buffered writes are due to be flushed (trio clock; inf: nothing buffered).
        self._flush_at = math.inf
        # When the earned points may next be handed over with a flush (trio clock).
        self._points_due = -math.inf
        # When the next wall-clock tick is due (trio clock; inf: no tick, see `_ticking`).
        self._next_tick = math.inf
        # The background task (`run`) waits on this for the next flush, tick or reply.
        self._alarm = Alarm()
        # Points, quotes, giveaways, timers and filters (issue #16).
        self.filters = ChatFilters.from_config(creator)
        self.points = (
            PointsLedger(creator.points, credit_every_minutes=creator.points.credit_every_minutes)
            if creator.points
            else None
        )
        self.timers = TimerSchedule(creator)
        self.features = FeaturePlans(creator)
        # Which of them a chat line passes through (fixed by the configuration; asked once
        # here instead of per line).
        self._chat_features = (bool(self.filters), self.points is not None, bool(self.timers))
        self._costs = {t.id: t.cost for t in creator.triggers if t.cost}
        self._tally_counts: dict[str, int] = {t.id: 0 for t in creator.tallies}
        self._tally_labels = {t.id: t.label for t in reversed(creator.tallies)}  # first wins
        self._board_titles = {b.id: b.title for b in reversed(creator.scoreboards)}
        self._live: dict[str, bool] = {}
        self._pending_ops: list[Command] = []
        # A flush the store refused (its mailbox full): kept, ahead of what is buffered
        # since, for the next write (at most DEFERRED_LIMIT operations).
        self._deferred: list[Command] = []
        self._riders: dict[str, Command] = {}  # CommitWithFlush, by key
        self._flushing = 0
        self.filter_hits: dict[str, int] = {f.id: 0 for f in self.filters.filters}
        self._filter_last: dict[str, datetime] = {}
        self._timer_posts: dict[str, tuple[int, datetime]] = {}
        self.moderations = 0
        self.timer_posts = 0
        # Writes in flight, in the order they were queued: `run` completes them in that order
        # (replies keep chat order) as their commits arrive. A plain list: rarely more than a
        # couple at once, and an empty deque alone is ~760 bytes per engine.
        self._completions: list[_Completion] = []
        self._inflight = 0
        # Chat waiting for the store to catch up (`_keep_pace_with_the_store`): made when
        # first needed (~250 bytes, per engine, that most never use).
        self._write_done: trio.lowlevel.ParkingLot | None = None
        # Set by `on_stop`: commits then wake it instead of being taken in the store's step.
        self._stopping = False
        # An unexpected error of a completion taken in the store's step, re-raised by `run`.
        self._completion_failed: Exception | None = None
        self._flush_since = math.inf  # when the flush in flight was queued
        self._flush_reply: tuple[PendingReply, _Flush] | None = None  # the flush in flight
        self.store_waits = 0
        self.flushes_deferred = 0  # flushes the store refused while overloaded, kept
        self.messages = 0
        self.duplicates = 0
        self.fired = 0
        self.fired_by_platform: dict[str, int] = {}  # the platform of the triggering message
        self.actions = 0
        self.errors = 0
        self.replies_dropped = 0
        self.last_event_at: datetime | None = None
        # When each trigger last fired, by trigger id (the snapshot adds the creator: a key
        # tuple per trigger and engine kept for nothing otherwise).
        self.last_fired: dict[str, datetime] = {}

    async def on_start(self) -> None:
        # The restore runs beside the mailbox so a hundred creators start without waiting
        # for each other's reads; `handle` waits for it, so no message can skip a cooldown.
        self._ready = trio.Event()
        self.nursery.start_soon(self._restore)

    async def _restore(self) -> None:
        now_ms = int(self._clock() * 1000)
        creator = self.creator
        query = RestoreEngine(
            creator_id=creator.id,
            prefix=self._prefix,
            now=now_ms,
            tally_ids=tuple(t.id for t in creator.tallies),
            seen_limit=self.seen.size,
        )
        try:
            # One read for everything the engine reloads: a hundred creators starting cost a
            # hundred store round trips, not three hundred.
            restored = await self._store().call(Read(fn=query), timeout=30)
        except (apsw.Error, StoreError, CallTimeout, ActorFailed) as exc:
            # Chat keeps working with fresh cooldowns rather than not at all; said loudly.
            self.errors += 1
            self.log.error("cooldowns and seen messages not restored", error=str(exc))
            self._ready.set()
            return
        self.cooldowns.load(restored.cooldowns)
        self.seen.load(restored.seen)
        absent = restored.missing_tallies
        features = restored.features
        self._tally_counts.update(features.tallies)
        self.timers.restore(features.next_messages)
        for filter_id, (hits, last) in features.filter_hits.items():
            if filter_id in self.filter_hits:
                self.filter_hits[filter_id] = hits
                self._filter_last[filter_id] = datetime.fromtimestamp(last / 1000, UTC)
        for timer_id, (posts, last) in features.timer_posts.items():
            self._timer_posts[timer_id] = (posts, datetime.fromtimestamp(last / 1000, UTC))
        self._ready.set()
        # Read first: a restart (or a start with nothing new) costs no commit and no fsync.
        if not absent:
            return
        declare = DeclareTallies(
            creator_id=creator.id,
            tallies=tuple((t.id, t.label) for t in creator.tallies if t.id in absent),
            now=now_ms,
        )
        try:
            await write(self._store(), declare, topic="tallies")
        except (apsw.Error, StoreError, CallTimeout, ActorFailed) as exc:
            # The tallies appear with their first change instead; not worth a crash.
            self.errors += 1
            self.log.error("tallies not declared", error=str(exc))

    async def run(self) -> None:
        # One task for everything in the background: replies to committed actions (woken by
        # their commits), the flush (`SIGNAL_FLUSH_SECONDS` after the first buffered write,
        # unless a chat message took it along: `_flush_with_chat`) and the wall-clock tick of
        # live timers and points. An idle creator waits with no timer; the work due at a
        # deadline runs in the ticker's step (`Alarm.pace`), so a timed flush wakes no task.
        alarm = self._alarm
        if self._ticking():
            self._next_tick = trio.current_time() + TICK_SECONDS
        while True:
            alarm.deadline = self._background(trio.current_time())
            await alarm.pace(self._background)

    def _background(self, now: float) -> float:
        """What `run` does at trio time `now`; returns when it must run next."""
        if self._completion_failed is not None:
            raise self._completion_failed
        self._expire_writes(now)
        self._complete_arrived()
        if self._flush_reply is not None and self._flush_reply[0].done:
            self._flush_done()
        if now >= self._next_tick:
            self._tick(self._clock())
            self._next_tick = now + TICK_SECONDS
        flush = self._flush_reply
        if now >= self._flush_at:
            if flush is None:
                # Queued, not awaited: its outcome is taken at a later wake-up.
                self._flush_at = math.inf
                self._begin_flush()
                self._flush_at = min(self._flush_at, self._points_wait())
            else:  # one flush at a time: the next waits for the commit of this one
                flush[0].notify(self._alarm.wake)
        return self._wake_deadline(now)

    def _wake_deadline(self, now: float) -> float:
        """When `run` must wake next (trio clock) for the tick or the flush; on the shared
        wake-up grid, so a thousand engines share a handful of timers."""
        deadline = self._next_tick
        oldest = self._oldest_write()
        if oldest != math.inf:
            deadline = min(deadline, oldest + WRITE_TIMEOUT, now + WRITE_WATCH_SECONDS)
        if self._flush_reply is None or now < self._flush_at:
            # A flush's commit wakes nobody (a wake-up a second otherwise): its outcome is
            # taken in the task that delivers it (`_flush_arrived`), a failure logged then.
            return min(deadline, self._flush_at)
        # (else the next flush is due: the commit of the one in flight wakes `run`)
        return deadline

    def _ticking(self) -> bool:
        """Whether the wall-clock tick has work: timers or active-minute points, and a live
        platform to run them for (a replay runs both on its recorded clock, with its chat;
        a live event that comes all the same starts the tick, `_live_event`)."""
        if not (self.timers or (self.points and self.points.config.per_minute_active)):
            return False
        platforms = set(self.creator.sources())
        for timer in self.timers.timers:
            platforms.update(timer.platforms or ())
        return any(domain_of(p) == LIVE_DOMAIN for p in platforms)

    def _live_event(self) -> None:
        """An event of a live platform came to an engine that does not tick: start ticking
        (`_ticking` found no live platform configured)."""
        if self._next_tick == math.inf and (
            self.timers or (self.points and self.points.config.per_minute_active)
        ):
            self._next_tick = trio.current_time() + TICK_SECONDS
            if self._next_tick < self._alarm.deadline:
                self._alarm.set(self._next_tick)

    def _flush_with_chat(self, now: float) -> None:
        """Flush now, with a chat message that came at least `FLUSH_WITH_CHAT_AFTER` after
        the first buffered write, instead of at `_flush_at`: chat a second apart (a replay,
        a quiet stream) then costs the background task no wake-up per flush, and nothing
        waits longer than `SIGNAL_FLUSH_SECONDS`. One flush at a time still: while one is
        in flight `run` starts the next when due."""
        flush = self._flush_reply
        if flush is not None:
            if not flush[0].done:
                return
            self._flush_done()
        self._flush_at = math.inf
        self._begin_flush()
        self._flush_at = min(self._flush_at, self._points_wait())
        # `run` waits for a flush that is no longer due: it waits for the next thing instead.
        self._alarm.set(self._wake_deadline(now))

    def _want_flush(self) -> None:
        """Something was buffered: flush within `SIGNAL_FLUSH_SECONDS`."""
        if self._flush_at == math.inf:
            self._flush_at = flush_at = trio.current_time() + SIGNAL_FLUSH_SECONDS
            if flush_at < self._alarm.deadline:
                self._alarm.set(flush_at)

    async def on_stop(self) -> None:
        # Actions whose writes are already queued still get their reply (within the grace
        # period): the write happens whatever we do, so the chat should hear about it.
        alarm = self._alarm
        self._stopping = True
        while self._completions:
            if not self._completions[0][1].done:
                alarm.deadline = self._completions[0][5] + WRITE_TIMEOUT
                await alarm.wait()  # woken by the commit (`PendingReply.notify`)
                self._expire_writes(trio.current_time())
            self._complete_arrived()
        await self._flush()

    def call_nowait(self, message: object) -> Any:
        """A chat line handed over as a call (a replay's), answered in the caller's step
        while this engine is idle: its handling is synchronous once it is deduplicated and
        paced, so the caller's wait costs no wake-up of the mailbox loop. So is a
        `CommitWithFlush`. Anything else, or a line that would wait (restore not done, the
        store behind: `MAX_WRITE_LAG`), is queued for `handle` as usual."""
        if not self._ready.is_set():
            return QUEUE
        if type(message) is CommitWithFlush:
            self._ride(message)
            return None
        if type(message) is not ChatEvent or self._behind_the_store():
            return QUEUE
        if self._seen_before(message):
            return []
        return self._on_chat(message)

    def handle_nowait(self, message: object) -> bool:
        """A chat line a live platform sends (`send`, `cast`), taken in the sender's step
        while this engine is idle, restored and keeping pace with the store, as a replay's
        line is (`call_nowait`): a live chat line costs no wake-up of the mailbox loop. So is
        a `CommitWithFlush` cast (a replay's saved position). Anything else, or a line that
        would wait, goes to `handle`. A line whose handling fails crashes the engine with the
        line as the message being handled, never the sender (`Actor.handle_nowait`)."""
        if not self._ready.is_set():
            return False
        if type(message) is CommitWithFlush:
            self._ride(message)
            return True
        if type(message) is not ChatEvent or self._behind_the_store():
            return False
        if not self._seen_before(message):
            self._on_chat(message)  # a failure: the engine crashes with the line (the core)
        return True

    def _seen_before(self, event: ChatEvent) -> bool:
        """Whether this chat line was applied already (counted as a duplicate); else its id
        is remembered from now on."""
        message_id = event.message_id
        if message_id is not None and not self.seen.first_time(event.platform, message_id):
            self.duplicates += 1  # a replay (reconnect, restart): applied once already
            return True
        return False

    def _behind_the_store(self) -> bool:
        """Whether a write of this engine has waited longer than `MAX_WRITE_LAG`, or the
        store's mailbox has less than `STORE_HEADROOM` of room (chat then waits:
        `_keep_pace_with_the_store`)."""
        if (self._completions or self._flush_reply is not None) and (
            trio.current_time() - self._oldest_write() > MAX_WRITE_LAG
        ):
            return True
        return self._store_full()

    def _store_full(self) -> bool:
        """Whether the store's mailbox has less than `STORE_HEADROOM` of room."""
        try:
            return not self._store().has_room(STORE_HEADROOM)
        except (ActorFailed, KeyError):
            return False  # no store: the line's writes fail, counted and said (`_store_failed`)

    def _ride(self, message: CommitWithFlush) -> None:
        self._riders[message.key] = message.command
        self._want_flush()

    async def handle(self, message: Any) -> Any:
        if not self._ready.is_set():
            await self._ready.wait()
        if isinstance(message, ChatEvent):
            # Paced before its id is remembered: a flush while it waits must not commit the
            # id of a line whose own writes are not made yet (a crash or a kill then would
            # have its redelivery dropped as a duplicate).
            if self._behind_the_store():
                await self._keep_pace_with_the_store()
            if self._seen_before(message):
                return []
            return self._on_chat(message)
        if isinstance(message, PlatformEvent) and message.message_id is not None:
            if not self.seen.first_time(message.platform, message.message_id):
                self.duplicates += 1  # a replay (reconnect, restart): applied once already
                return None
            self._want_flush()  # the id is persisted with the next flush at the latest
        if isinstance(message, CommitWithFlush):
            self._ride(message)
            return None
        if isinstance(message, ChannelEvent):
            return await self._on_channel_event(message)
        if isinstance(message, PlatformEvent):
            self.messages += 1
            self.last_event_at = message.sent_at
            if isinstance(message, StreamStarted | StreamEnded):
                self._live[message.platform] = isinstance(message, StreamStarted)
                if self._next_tick == math.inf and message.platform != REPLAY:
                    self._live_event()
            return None
        raise TypeError(f"TriggerEngine takes chat events, got {type(message).__name__}")

    # ------------------------------------------------------------------------- chat

    def _on_chat(self, event: ChatEvent) -> list[Action]:
        """A new chat line (deduplicated, paced: `handle`), synchronous from here on."""
        clock = trio.current_time()  # one clock read per line
        if self._flush_at == math.inf:
            # The line's signal and id are buffered: flushed within `SIGNAL_FLUSH_SECONDS`
            # (`run` is told below, unless an action's write took them along meanwhile).
            self._flush_at = clock + SIGNAL_FLUSH_SECONDS
        actions = self._chat_line(event, clock)
        flush_at = self._flush_at
        alarm = self._alarm
        if flush_at - clock <= SIGNAL_FLUSH_SECONDS - FLUSH_WITH_CHAT_AFTER:
            self._flush_with_chat(clock)
        elif flush_at < alarm.deadline:
            alarm.set(flush_at)
        elif flush_at == math.inf and alarm.deadline < self._next_tick:
            # An action's write took the buffered writes along: `run` need not wake for a
            # flush.
            alarm.set(self._wake_deadline(clock))
        return actions

    def _chat_line(self, event: ChatEvent, clock: float) -> list[Action]:
        """What one new chat line does (its flush deadline is already set); `clock` is the
        trio clock of this step."""
        self.messages += 1
        self.last_event_at = sent_at = event.sent_at
        platform = event.platform
        user_id = event.user_id
        pseudonym = self._pseudonyms.get(user_id) or self._pseudonym(user_id)
        sent_ms = from_datetime(sent_at)  # once per line: the signal's, and the actions' time
        self._pending_signals.append(
            SignalRow(
                kind="chat",
                creator_id=self._creator_id,
                timestamp=sent_ms,
                entity_id=event.message_id or "-",
                type="chat_message",
                source=platform,
                summary=f"message from {pseudonym}",
            )
        )
        now = self._now(event)
        viewer: Viewer | None = None
        filters, points, timers = self._chat_features
        if filters or points or timers:
            if self.rules.self_logins and event.login.lower() in self.rules.self_logins:
                return []  # the bot's own lines: never filtered, never paid, not chat lines
            if filters and self._filtered(event, now):
                return []
            domain = domain_of(platform)
            if points:
                assert self.points is not None
                viewer = self._viewer(event)
                self.points.on_chat(event, viewer, domain, now)
            if timers:
                self.timers.on_chat(platform)
                self._post_timers(domain, now)
        result = evaluate(self.rules, self.cooldowns, event, now=now)
        if result.ignored or not (result.actions or result.errors):
            return []
        # The in-memory table enforces cooldowns at once. Those long enough to matter after a
        # restart are committed before the reply that acknowledges the trigger (they ride in
        # its write); short ones are copied with the next flush (`SIGNAL_FLUSH_SECONDS`).
        durable = self._started_cooldowns(result.cooldowns_started, now)
        for error in result.errors:
            self._say(error, error.text)
        fired_at = sent_at if platform == REPLAY else None
        for action in result.actions:
            self.fired += 1
            self.fired_by_platform[platform] = self.fired_by_platform.get(platform, 0) + 1
            self.last_fired[action.trigger_id] = fired_at or datetime.now(UTC)
            if isinstance(action, FEATURE_ACTIONS):
                viewer = viewer or self._viewer(event)
                ops, topic, finish = self.features.plan(
                    action, event, viewer, _variables(action), at=sent_ms
                )
            else:
                ops, topic, finish = self._plan(action, event, at=sent_ms)
            cost = self._costs.get(action.trigger_id)
            if cost:
                ops, finish = self._paid(
                    cost, event, viewer or self._viewer(event), ops, finish, at=sent_ms
                )
                topic = f"{topic}+points" if topic else "points"
            # Operations ahead of the action's own in its write (earnings, the ids and cooldowns
            # that ride with it): their outcomes are not the action's `finish`'s.
            skip = 0
            if (
                ops
                and self.points
                and (self.points.pending or self.points.accrued)
                and ("points" in topic or "giveaways" in topic)
            ):
                # A command that shows or spends balances settles the earnings (its balances
                # are exact); any other leaves them for their own flush (`POINTS_FLUSH_SECONDS`).
                grants = self._take_points(settle=True, now=clock)
                if grants:
                    # Earnings queued before this action are written before it: a balance
                    # shown or spent includes every message before the command.
                    ops = (GrantPoints(creator_id=self._creator_id, grants=grants), *ops)
                    skip += 1
                    topic = f"{topic}+points"
            # The message's id rides in the transaction of what it changed: a restart after
            # the commit cannot apply it again.
            if durable or (ops and self.seen.queued):
                ops = (self._persist(durable), *ops)
                skip += 1
                topic = topic or "cooldowns"
                durable = {}
            if not ops:
                self._succeeded(action, finish([]))
                continue
            # The rest of what is buffered (chat signals, cooldown copies, counts, riders)
            # rides ahead of the action's operations, in its transaction: the flush then
            # costs no write of its own. Its outcome is the flush's, apart from the action's.
            flush: _Flush | None = None
            taken = self._take_buffered(settle=False)
            if taken is not None:
                head, head_topic, flush = taken
                ops = (*head, *ops)
                topic = f"{topic}+{head_topic}"
                # Nothing is buffered any more, but earnings not yet due.
                self._flush_at = self._points_wait()
            try:
                # Queued now, in message order; the commit is awaited in the background so
                # the next chat message is not held up by this one's fsync (and writes from
                # a busy chat share commits in the store).
                # No call timer entry (`_expire_writes` watches the deadline).
                pending = self._store().request(Write(ops=ops, topic=topic), timeout=math.inf)
            except (MailboxFull, ActorFailed, KeyError) as exc:
                if flush is not None:
                    self._flush_ended(flush, None if self._defer(head, exc) else exc)
                self._store_failed(action, exc)
                continue
            self._inflight += 1
            self._completions.append((action, pending, finish, flush, skip, clock))
            # `run` fails it when due: it wakes by then (with a flush due, `_on_chat` sets the
            # alarm for that, and `run` looks at the writes then).
            if self._flush_at == math.inf and clock + WRITE_WATCH_SECONDS < self._alarm.deadline:
                self._alarm.set(clock + WRITE_WATCH_SECONDS)
            pending.notify(self._commit_arrived)
        return list(result.actions)

    def _started_cooldowns(self, started: Mapping[str, float], now: float) -> dict[str, int]:
        """Cooldowns just started: those long enough to matter after a restart are returned,
        to be committed with the action that started them; short ones are copied with the
        next flush (the in-memory table already enforces both)."""
        durable: dict[str, int] = {}
        for key, expiry in started.items():
            scope, expires_ms = self._prefix + key, int(expiry * 1000)
            if expiry - now >= DURABLE_COOLDOWN_SECONDS:
                durable[scope] = expires_ms
            else:
                self._pending_cooldowns[scope] = expires_ms
                self._want_flush()
        return durable

    def _now(self, event: ChatEvent | PlatformEvent) -> float:
        """The clock an event is judged on (cooldowns, timers, points): the engine's clock,
        except on the replay platform, whose events carry the recorded clock."""
        if event.platform == REPLAY:
            return event.sent_at.timestamp()
        if self._next_tick == math.inf:
            self._live_event()
        return self._clock()

    def _commit_arrived(self) -> None:
        """A queued write's commit (or failure) arrived: called in the task that delivered it
        (the store's, or the call timer's). The replies that are ready go out from here, in
        queue order, instead of waking `run` for each commit (a task switch per action); a
        stopping engine (`on_stop` waits for them) or one whose `run` is not waiting (it
        ended, or it is about to take them itself) is only woken. An unexpected error is
        re-raised by `run` (a crash of this engine, never of the store)."""
        alarm = self._alarm
        if self._stopping or not alarm.waiting:
            alarm.wake()
            return
        try:
            self._complete_arrived()
        except Exception as exc:
            self._completion_failed = exc
            alarm.wake()

    def _complete_arrived(self) -> None:
        """Reply to the actions whose commits arrived, in the order they were queued (a
        commit that arrived behind one still awaited waits for it)."""
        completions = self._completions
        if not completions or not completions[0][1].done:
            return
        while completions and completions[0][1].done:
            action, pending, finish, flush, skip, _ = completions.pop(0)
            self._finish(action, pending, finish, flush, skip)
            self._inflight -= 1
        if self._write_done:
            self._write_done.unpark_all()

    def _expire_writes(self, now: float) -> None:
        """Fail the writes (actions', the flush) that have waited `WRITE_TIMEOUT` for the store
        by trio time `now` (on the shared grid, as the alarm wakes), as a call's timeout would
        (`CallTimeout`); their outcomes are taken as for any other (`_complete_arrived`,
        `_flush_done`). A late commit changes nothing then."""
        timeout: CallTimeout | None = None
        for completion in self._completions:  # in the order queued: oldest first
            if not ticker_reached(completion[5] + WRITE_TIMEOUT, now):
                break
            if not completion[1].done:
                timeout = timeout or CallTimeout(self._store().path, WRITE_TIMEOUT)
                completion[1].fail(timeout)
        flush = self._flush_reply
        if (
            flush is not None
            and not flush[0].done
            and ticker_reached(self._flush_since + WRITE_TIMEOUT, now)
        ):
            flush[0].fail(timeout or CallTimeout(self._store().path, WRITE_TIMEOUT))

    def _oldest_write(self) -> float:
        """When this engine's oldest write still in flight (action or flush) was queued."""
        completions = self._completions
        flush_since = self._flush_since
        if self._flush_reply is not None and self._flush_reply[0].done:
            flush_since = math.inf  # committed; `run` takes its outcome later
        return min(completions[0][5], flush_since) if completions else flush_since

    async def _keep_pace_with_the_store(self) -> None:
        """Wait while this engine's oldest write has waited longer than `MAX_WRITE_LAG`, or
        the store's mailbox is nearly full (`STORE_HEADROOM`): a store that falls behind
        slows the chat sources (a replay waits for its calls; live chat waits in the
        mailbox) instead of queueing writes without bound or having them refused."""
        waited = False
        while True:
            if trio.current_time() - self._oldest_write() > MAX_WRITE_LAG:
                if self._flush_reply is not None:
                    # Its commit wakes `run`, which takes it and lets this wait go on.
                    self._flush_reply[0].notify(self._alarm.wake)
                if self._write_done is None:
                    self._write_done = trio.lowlevel.ParkingLot()
                wait = self._write_done.park()
            elif self._store_full():
                # Woken as the store takes what it has queued (or stops for good).
                wait = self._store().wait_for_room(STORE_HEADROOM)
            else:
                return
            if not waited:
                waited = True
                self.store_waits += 1
            try:
                await wait
            except ActorFailed:
                return  # the store is gone: the line's writes fail, counted and said

    def _finish(
        self,
        action: Action,
        pending: PendingReply,
        finish: Finish,
        flush: _Flush | None,
        skip: int = 0,
    ) -> None:
        try:
            outcomes = pending.result_nowait()
        except (apsw.Error, CallTimeout, ActorFailed) as exc:
            if flush is not None:
                self._flush_ended(flush, exc)
            self._store_failed(action, exc)
            return
        if flush is not None:
            # The flush this write carried: its failure is the flush's, not the action's
            # (each operation is undone alone).
            carried, outcomes = outcomes[: flush.ops], outcomes[flush.ops :]
            self._flush_ended(flush, _first_failure(carried))
        try:
            # Every outcome unwrapped: a failure of an operation riding ahead is the action's.
            results = [r.unwrap() for r in outcomes]
            variables = finish(results[skip:] if skip else results)
        except Refused as refused:
            # The rules said no (too few points, already entered): say why, as written.
            self._say(action, refused.message)
            # Its traceback's frames hold this write's outcome, which holds it: a cycle that
            # kept each refusal (about 6 KiB) until the collector's oldest pass, minutes away.
            refused.__traceback__ = None
        except (StoreError, ValueError) as exc:
            self.errors += 1
            self.log.warning("action failed", trigger=action.trigger_id, error=str(exc))
            self._say(action, _user_facing(exc))
        except (apsw.Error, CallTimeout, ActorFailed) as exc:
            self._store_failed(action, exc)
        else:
            self._succeeded(action, variables)

    def _succeeded(self, action: Action, variables: dict[str, object]) -> None:
        self.actions += 1
        if action.response:
            self._say(action, render(action.response, self._with_extras(variables)))

    def _store_failed(self, action: Action, exc: BaseException) -> None:
        # SQLite itself failed, or the store did not answer: this action failed, the engine
        # is fine (restarting it would restart the creator's platforms too). The chat gets
        # no internal details.
        self.errors += 1
        self.log.error("action failed in the store", trigger=action.trigger_id, error=str(exc))
        self._say(action, STORE_FAILURE_REPLY)

    def _say(self, action: Action, text: str) -> None:
        self._send(action.platform, text, reply_to=action.message_id, trigger_id=action.trigger_id)

    def _send(
        self, platform: str, text: str, *, reply_to: str | None, trigger_id: str | None
    ) -> None:
        if not text:
            return
        try:
            self._platform(platform).cast(
                SendChat(text=text, reply_to=reply_to, trigger_id=trigger_id)
            )
        except (MailboxFull, KeyError, ActorFailed) as exc:
            # ActorFailed: the platform is gone for good (the process is stopping). A flood
            # drops replies by the thousand: the first is logged, all are counted.
            self.errors += 1
            self.replies_dropped += 1
            if self.replies_dropped == 1:
                self.log.warning(
                    "reply dropped (further drops are counted as replies_dropped)",
                    trigger=trigger_id,
                    error=str(exc),
                )

    # ---------------------------------------------------------------- channel events

    async def _on_channel_event(self, message: ChannelEvent) -> ChannelEventOutcome:
        """Fire the event triggers `message` matches, each action committed before its reply
        (channel events are rare: waiting here keeps the outcome exact for redemptions)."""
        event = message.event
        self.messages += 1
        self.last_event_at = event.sent_at
        name = event_name(event)
        who = getattr(event, "user_id", None)
        self._signal(
            "chat",
            event.sent_at,
            entity_id=event.message_id or "-",
            type=name or event.raw_type,
            source=event.platform,
            summary=f"{name or event.raw_type} by {self._pseudonym(who) if who else '-'}",
        )
        now = self._now(event)
        decision = decide(self.creator.triggers, message, self.cooldowns, now=now)
        durable = self._started_cooldowns(decision.cooldowns_started, now)
        fired = decision.fired
        fields = template_fields(event)
        # Held back by a cooldown or permission: counted as failed for the redemption (the
        # viewer paid for nothing: refunded when the trigger manages redemptions).
        failed: dict[str, bool] = {b.trigger_id: True for b in decision.blocked}
        for trigger in fired:
            self.fired += 1
            self.last_fired[trigger.id] = datetime.now(UTC)
            try:
                action = build_event_action(trigger, event, self.creator.id)
                ops, topic, finish = self._plan(action, event)
                skip = 0  # operations ahead of the action's own
                if durable:  # committed with the first action, before its reply
                    ops, skip = (self._persist(durable), *ops), 1
                    topic, durable = topic or "cooldowns", {}
                results = await write(self._store(), *ops, topic=topic) if ops else []
                variables = {**finish(results[skip:]), **fields}
            except (StoreError, ValueError, apsw.Error, CallTimeout, ActorFailed) as exc:
                failed[trigger.id] = True
                self.errors += 1
                self.log.warning("event action failed", trigger=trigger.id, error=str(exc))
                continue
            self.actions += 1
            if action.response:
                self._say(action, render(action.response, variables))
        blocked = {b.trigger_id for b in decision.blocked}
        held = [t for t in self.creator.triggers if t.id in blocked]
        return ChannelEventOutcome(
            event=name,
            fired=tuple(t.id for t in fired),
            failed=tuple(sorted(k for k in failed if k not in blocked)),
            blocked=tuple(sorted(blocked)),
            redemption=redemption_decision([*fired, *held], failed, manageable=message.manageable)
            if isinstance(event, RedemptionEvent)
            else None,
        )

    # -------------------------------------------------------------------- execution

    def _plan(self, action: Action, event: PlatformEvent, *, at: int | None = None) -> Plan:
        """What `action` writes (typed store commands, topic) and how its reply variables
        follow from the commands' results. Nothing is written here: the caller queues it.
        `at`: the event's time in Unix milliseconds, when the caller has it already."""
        variables = _variables(action)
        creator_id = self.creator.id
        if at is None:
            at = from_datetime(event.sent_at)
        if isinstance(action, Reply | ErrorReply):
            return (), "", lambda _results: variables
        if isinstance(action, PollOpen):
            command: Command = OpenPoll(
                creator_id=creator_id,
                question=action.question,
                options=action.options,
                now=at,
            )

            def opened(results: list[Any]) -> dict[str, object]:
                variables["poll"] = results[0].poll.poll_id
                return variables

            return (command,), "polls", opened
        if isinstance(action, PollVote):
            command = RecordVote(
                creator_id=creator_id,
                voter_key=self._pseudonym(action.user_id),
                option=action.option,
                now=at,
                source=event.platform,
            )

            def voted(results: list[Any]) -> dict[str, object]:
                (result,) = results
                variables["option"] = result.option_id
                variables["votes"] = result.results.total_votes
                return variables

            return (command,), "polls", voted
        if isinstance(action, PollClose):

            def closed_(results: list[Any]) -> dict[str, object]:
                (closed,) = results
                best = max(closed.options, key=lambda o: (o.votes, -o.position), default=None)
                variables["winner"] = best.label if best and best.votes else "nobody"
                # "{winner} wins with {votes} votes": the winner's votes; the poll's total apart.
                variables["votes"] = best.votes if best else 0
                variables["total_votes"] = closed.total_votes
                variables["question"] = closed.poll.question
                return variables

            return (ClosePoll(creator_id=creator_id, now=at),), "polls", closed_
        if isinstance(action, TallyChange):
            label = self._tally_labels.get(action.tally_id)
            command = ChangeTally(
                creator_id=creator_id,
                tally_id=action.tally_id,
                label=label,
                op=action.op,
                amount=action.amount,
                now=at,
                source=event.platform,
            )

            def changed(results: list[Any]) -> dict[str, object]:
                variables["count"] = results[0].count
                self._tally_counts[action.tally_id] = results[0].count
                return variables

            return (command,), "tallies", changed
        if isinstance(action, ScoreAdd):
            title = self._board_titles.get(action.scoreboard_id)
            command = AddScore(
                creator_id=creator_id,
                scoreboard_id=action.scoreboard_id,
                title=title,
                label=action.label,
                points=action.points,
                now=at,
                source=event.platform,
            )

            def scored(results: list[Any]) -> dict[str, object]:
                (entry,) = results
                variables["score"] = entry.score
                variables["position"] = entry.position
                return variables

            return (command,), "scoreboards", scored
        if isinstance(action, ClipRequest):
            title = action.title or f"{self.creator.display_name} clip"
            command = CreateClip(
                creator_id=creator_id,
                title=title[:120],
                platform=event.platform,
                duration_seconds=action.duration_seconds,
                requested_by=self._pseudonym(action.user_id or "-"),
                source=f"{event.platform}:{event.channel}",
                now=at,
            )

            def requested(results: list[Any]) -> dict[str, object]:
                variables["clip"] = results[0].clip_id
                return variables

            return (command,), "clips", requested
        raise TypeError(f"no executor for {type(action).__name__}")

    # ------------------------------------------- points, timers, filters (issue #16)

    def _pseudonym(self, user_id: str) -> str:
        """`pseudonymize(user_id)` with this engine's key, remembered: a chatter's every
        message needs it (a keyed hash each time otherwise). Bounded: forgotten in bulk."""
        known = self._pseudonyms.get(user_id)
        if known is None:
            if len(self._pseudonyms) >= PSEUDONYMS_KEPT:
                self._pseudonyms.clear()
            known = self._pseudonyms[user_id] = pseudonymize(user_id, self._key)
        return known

    def _viewer(self, event: ChatEvent) -> Viewer:
        key = (event.platform, event.user_id)
        known = self._viewers.get(key)
        login = event.login
        display_name = event.display_name or login
        if known is None or known.login != login or known.display_name != display_name:
            if len(self._viewers) >= PSEUDONYMS_KEPT:
                self._viewers.clear()
            known = self._viewers[key] = Viewer(
                platform=event.platform,
                viewer_key=self._pseudonym(event.user_id),
                login=login,
                display_name=display_name,
            )
        return known

    def _paid(
        self,
        cost: int,
        event: ChatEvent,
        viewer: Viewer,
        ops: tuple[Command, ...],
        finish: Finish,
        *,
        at: int,
    ) -> tuple[tuple[Command, ...], Finish]:
        """`ops` (at most one command) behind a payment of `cost`: both commit or neither, so
        a refused payment runs nothing and a failed action is refunded by the rollback."""
        spend = SpendPoints(
            creator_id=self.creator.id,
            viewer=viewer,
            amount=cost,
            name=self.features.points_name,
            now=at,
        )
        assert len(ops) <= 1, "a paid action writes one command"
        paid = Paid(cost=spend, then=ops[0] if ops else None)

        def after(results: list[Any]) -> dict[str, object]:
            balance, value = results[0]
            variables = finish([value] if ops else [])
            variables["points"] = balance.balance
            return variables

        return (paid,), after

    def _with_extras(self, variables: dict[str, object]) -> dict[str, object]:
        """`variables` plus what any template may use: `{points_name}`, `{counter:<id>}`."""
        variables.setdefault("points_name", self.features.points_name)
        for tally_id, count in self._tally_counts.items():
            variables[f"counter:{tally_id}"] = count
        return variables

    def _filtered(self, event: ChatEvent, now: float) -> bool:
        """Run the filters (and `!permit`); True when the message is filtered."""
        text = event.text
        if (
            self.filters.permit_seconds is not None
            and text[:7].lower() == PERMIT_COMMAND
            and not event.roles.isdisjoint(("moderator", "broadcaster"))
        ):
            words = text.split()
            if len(words) > 1 and words[0].lower() == PERMIT_COMMAND:
                login = words[1].lstrip("@").rstrip(",.;:!?")
                seconds = self.filters.permit(event.platform, login, now)
                self._send(
                    event.platform,
                    f"@{login} may post links for the next {seconds:g} seconds.",
                    reply_to=event.message_id,
                    trigger_id="permit",
                )
                return False
        hit = self.filters.check(event, now)
        if hit is None:
            return False
        self._caught(event, hit, now)
        return True

    def _caught(self, event: ChatEvent, hit: FilterHit, now: float) -> None:
        rule = hit.filter
        self.filter_hits[rule.id] = self.filter_hits.get(rule.id, 0) + 1
        self._filter_last[rule.id] = datetime.fromtimestamp(now, UTC)
        self._pending_ops.append(
            RecordFilterHit(creator_id=self.creator.id, filter_id=rule.id, now=int(now * 1000))
        )
        self._want_flush()
        self.log.info("message filtered", filter=rule.id, reason=hit.reason)
        if rule.action in ("delete", "timeout"):
            moderate = Moderate(
                action=rule.action,
                message_id=event.message_id,
                user_id=event.user_id,
                login=event.login,
                seconds=rule.timeout_seconds if rule.action == "timeout" else None,
                reason=f"{rule.id}: {hit.reason}",
                filter_id=rule.id,
            )
            try:
                self._platform(event.platform).cast(moderate)
                self.moderations += 1
            except (MailboxFull, KeyError) as exc:
                self.errors += 1
                self.log.warning("moderation dropped", filter=rule.id, error=str(exc))
        if rule.response:
            variables = {
                "user": event.display_name or event.login,
                "login": event.login,
                "filter": rule.id,
                "reason": hit.reason,
                "seconds": rule.timeout_seconds,
            }
            self._send(
                event.platform,
                render(rule.response, self._with_extras(variables)),
                reply_to=None,
                trigger_id=f"filter:{rule.id}",
            )

    def _post_timers(self, domain: str, now: float) -> None:
        for post in self.timers.due(domain, now, self._live):
            text = render(
                post.timer.messages[post.message_index],
                self._with_extras({"creator": self.creator.display_name}),
            )
            for platform in post.platforms:
                self._send(platform, text, reply_to=None, trigger_id=f"timer:{post.timer.id}")
            self.timer_posts += 1
            posted = self._timer_posts.get(post.timer.id, (0, None))[0] + 1
            self._timer_posts[post.timer.id] = (posted, datetime.fromtimestamp(now, UTC))
            self._pending_ops.append(
                RecordTimerPost(
                    creator_id=self.creator.id,
                    timer_id=post.timer.id,
                    next_message=post.next_index,
                    now=int(now * 1000),
                )
            )
            self._want_flush()

    def _tick(self, now: float) -> None:
        """Timers and active-minute points of the live platforms run on the wall clock even
        when chat is quiet (every `TICK_SECONDS`, from `run`)."""
        if self.points:
            self.points.tick(LIVE_DOMAIN, now)
            if self.points.pending:
                # With the next flush, but not before they are due: a flush sooner would find
                # nothing to write (`run` wakes for this deadline: `_background` returns it).
                soonest = trio.current_time() + SIGNAL_FLUSH_SECONDS
                self._flush_at = min(self._flush_at, max(soonest, self._points_due))
        if self.timers:
            self._post_timers(LIVE_DOMAIN, now)

    def _persist(self, expiries: dict[str, int]) -> Command:
        """One command: the cooldowns that must survive, and the message ids seen so far
        (just the ids, `MarkSeen`, when no cooldown must survive)."""
        seen = self.seen.persist_op(int(self._clock() * 1000))
        if not expiries and seen is not None:
            return seen
        return SetCooldowns(expiries=tuple(expiries.items()), seen=seen, prune=self._prune())

    def _prune(self) -> PruneCooldowns | None:
        """Every `COOLDOWN_PRUNE_EVERY` writes of cooldowns, the creator's cooldowns that ended
        go with one of them: rows no restore reads back."""
        self._cooldown_writes += 1
        if self._cooldown_writes % COOLDOWN_PRUNE_EVERY:
            return None
        return PruneCooldowns(prefix=self._prefix, now=int(self._clock() * 1000))

    # ---------------------------------------------------------------------- signals

    def _signal(
        self,
        kind: SignalKind,
        at: datetime,
        *,
        entity_id: str,
        type: str,  # the signal field is named "type"
        source: str,
        summary: str,
    ) -> None:
        self._pending_signals.append(
            SignalRow(
                kind=kind,
                creator_id=self.creator.id,
                timestamp=from_datetime(at),
                entity_id=entity_id,
                type=type,
                source=source,
                summary=summary,
            )
        )
        self._want_flush()

    async def _flush(self) -> None:
        """Write the buffered chat signals and cooldowns in one transaction and wait for it
        (at a stop: `run` queues its flushes and takes the outcome when it arrives). A store
        whose mailbox is full refuses it (kept: `_defer`): this waits for room and queues it
        again, until it is written or fails (or the stop's bound cuts this off: counted)."""
        await self._flush_settled()
        while True:
            self._begin_flush(settle=True)  # the last: every active minute accrued is credited
            await self._flush_settled()
            if not self._deferred:
                return
            try:
                await self._store().wait_for_room()
            except (ActorFailed, KeyError):
                pass  # no store: the next try fails, and what it held is counted as lost

    async def _flush_settled(self) -> None:
        """Wait for the flush in flight (if any) to commit or fail."""
        while self._flush_reply is not None:
            if self._flush_reply[0].done:
                self._flush_done()
            else:
                self._flush_reply[0].notify(self._alarm.wake)
                self._alarm.deadline = self._flush_since + WRITE_TIMEOUT
                await self._alarm.wait()
                self._expire_writes(trio.current_time())

    def _begin_flush(self, *, settle: bool = False) -> None:
        """Queue the buffered writes as one `Write`; `_flush_done` takes its outcome. Unless
        `settle` (the last flush), earned points not yet due and active minutes still
        accruing wait."""
        taken = self._take_buffered(settle=settle)
        if taken is None:
            return
        ops, topic, flush = taken
        self._flush_since = trio.current_time()
        try:
            # No call timer entry: `run` fails it when due (`_wake_deadline`, `_expire_writes`).
            pending = self._store().request(Write(ops=tuple(ops), topic=topic), timeout=math.inf)
        except (MailboxFull, ActorFailed, KeyError) as exc:
            self._flush_since = math.inf
            self._flush_ended(flush, None if self._defer(ops, exc) else exc)
            return
        self._flush_reply = (pending, flush)
        pending.notify(self._flush_arrived)

    def _defer(self, ops: Sequence[Command], exc: BaseException) -> bool:
        """Keep the operations of a flush the store refused because its mailbox was full (an
        overload, not a failure) for the next write, and flush again within
        `SIGNAL_FLUSH_SECONDS`; whether they were kept (not: another refusal, or beyond
        `DEFERRED_LIMIT`, and they are lost, counted by the caller)."""
        if not isinstance(exc, MailboxFull) or len(ops) + len(self._deferred) > DEFERRED_LIMIT:
            return False
        self._deferred[:0] = ops  # (they were taken before anything buffered since)
        self.flushes_deferred += 1
        self._want_flush()
        return True

    def _take_buffered(self, *, settle: bool) -> tuple[list[Command], str, _Flush] | None:
        """Everything buffered (chat signals, cooldown copies, points, counts, seen ids, the
        commands riding with a flush) as the operations of one write, its topic and what it
        carries (counted in `_flushing` until `_flush_ended`); None when nothing is buffered.
        Unless `settle`, active minutes still accruing stay, and earned points stay until due
        (`_take_points`)."""
        signal_rows, self._pending_signals = self._pending_signals, []
        expiries, self._pending_cooldowns = self._pending_cooldowns, {}
        grants = self._take_points(settle=settle, now=trio.current_time())
        extra, self._pending_ops = self._pending_ops, []
        riders, self._riders = self._riders, {}
        deferred, self._deferred = self._deferred, []
        seen = self.seen.persist_op(int(self._clock() * 1000))
        if not (signal_rows or expiries or grants or extra or riders or deferred) and seen is None:
            return None

        carried = bool(deferred)  # a refused flush's operations: points among them, maybe
        ops: list[Command] = deferred  # first: what they set is older than the rest
        if expiries:
            ops.append(SetCooldowns(expiries=tuple(expiries.items()), prune=self._prune()))
        if signal_rows:
            ops.append(AppendSignals(rows=signal_rows))
        if grants:
            ops.append(GrantPoints(creator_id=self._creator_id, grants=grants))
        ops.extend(extra)
        if seen is not None:
            ops.append(seen)
        ops.extend(riders.values())  # after the ids: they commit together either way
        # Earned points change points.json; timer posts and filter hits only the counts.
        topic = "activity" if grants or extra or carried else "signals"
        self._flushing += 1
        return ops, topic, _Flush(len(signal_rows), len(expiries), riders, len(ops))

    def _take_points(self, *, settle: bool, now: float) -> list[PointsGrant]:
        """The earned points to hand over now (trio time `now`): all of them with `settle`,
        else those due if `POINTS_FLUSH_SECONDS` passed since the last hand-over."""
        if self.points is None or not (settle or now >= self._points_due):
            return []
        grants = self.points.take(settle=settle)
        if grants:
            self._points_due = now + POINTS_FLUSH_SECONDS
        return grants

    def _points_wait(self) -> float:
        """When the earnings a flush left waiting are due (trio time; inf: none wait): the
        flush is wanted then."""
        return self._points_due if self.points is not None and self.points.pending else math.inf

    def _flush_arrived(self) -> None:
        """The flush's commit (or failure) arrived: its outcome is taken in the task that
        delivered it, like an action's (`_commit_arrived`), so a failure is counted and
        logged at once and a quiet chat costs `run` no wake-up to take it."""
        alarm = self._alarm
        if self._stopping or not alarm.waiting:
            alarm.wake()  # (`run`, or the stop, takes it)
            return
        try:
            flush = self._flush_reply
            if flush is not None and flush[0].done:
                self._flush_done()
        except Exception as exc:
            self._completion_failed = exc
            alarm.wake()

    def _flush_done(self) -> None:
        assert self._flush_reply is not None
        pending, flush = self._flush_reply
        self._flush_reply = None
        self._flush_since = math.inf
        try:
            failure = _first_failure(pending.result_nowait())
        except Exception as exc:
            failure = exc
        self._flush_ended(flush, failure)

    def _flush_ended(self, flush: _Flush, failure: BaseException | None) -> None:
        self._flushing -= 1
        if self._write_done:
            self._write_done.unpark_all()
        if failure is not None:
            # Telemetry and cooldown copies: worth a warning, never a crash. The in-memory
            # cooldowns still hold; the signals of this second are lost and counted.
            self.errors += 1
            self.log.warning(
                "flush failed",
                signals=flush.signals,
                cooldowns=flush.cooldowns,
                riders=sorted(flush.riders),
                error=str(failure),
            )

    def snapshot(self) -> TriggerEngineStatistics:
        creator = self._creator_id
        return TriggerEngineStatistics(
            messages=self.messages,
            duplicates=self.duplicates,
            fired=self.fired,
            fired_by_platform=dict(sorted(self.fired_by_platform.items())),
            actions=self.actions,
            errors=self.errors,
            replies_dropped=self.replies_dropped,
            last_event_at=self.last_event_at,
            cooldowns=len(self.cooldowns),
            inflight=self._inflight,
            store_waits=self.store_waits,
            flushes_deferred=self.flushes_deferred,
            unflushed=(
                len(self._pending_signals)
                + len(self._pending_cooldowns)
                + len(self._pending_ops)
                + len(self._deferred)
                + len(self._riders)
                + (len(self.points.pending) if self.points else 0)
                + self._flushing
                - (self._flush_reply is not None and self._flush_reply[0].done)
            ),
            fired_at={(creator, tid): at for tid, at in self.last_fired.items()},
            filter_hits=dict(self.filter_hits),
            filters={
                (creator, fid): (hits, self._filter_last.get(fid))
                for fid, hits in self.filter_hits.items()
            },
            timers={(creator, tid): value for tid, value in self._timer_posts.items()},
            moderations=self.moderations,
            timer_posts=self.timer_posts,
        )


class _Flush(NamedTuple):
    """What a flush in flight carries, for the warning should it fail."""

    signals: int
    cooldowns: int
    riders: Mapping[str, Command]  # by key (named in the warning)
    #: Its operations: the first of a write's (an action's write carries the flush ahead of
    #: its own operations).
    ops: int


#: A write in flight (`TriggerEngine._completions`): the action, its reply, its `Finish`, the
#: flush it carries (`_take_buffered`; None), how many of its operations (after the flush's)
#: come ahead of the action's own, and when it was queued (trio clock).
_Completion = tuple[Action, PendingReply, Finish, _Flush | None, int, float]


def _remembered(lookup: Callable[[], ActorRef]) -> Callable[[], ActorRef]:
    """`lookup`, asked until it first answers: a ref is bound to its path, not an instance,
    so the same ref stays right across restarts (and skips a registry walk per message)."""
    found: list[ActorRef] = []

    def ref() -> ActorRef:
        if not found:
            found.append(lookup())
        return found[0]

    return ref


def _remembered_by_name(lookup: Callable[[str], ActorRef]) -> Callable[[str], ActorRef]:
    """`lookup` per name, remembered like `_remembered` (a name it does not know is asked
    again next time)."""
    found: dict[str, ActorRef] = {}

    def ref(name: str) -> ActorRef:
        known = found.get(name)
        if known is None:
            known = found[name] = lookup(name)
        return known

    return ref


def _first_failure(outcomes: Sequence[Any]) -> Exception | None:
    """The first error among a write's operation outcomes, or None."""
    for result in outcomes:
        try:
            result.unwrap()
        except Exception as exc:
            return exc
    return None


def _variables(action: Action) -> dict[str, object]:
    """The template variables of `action` when it has a response to render; none (an empty
    dict the plan's `Finish` may still fill) when it has not: most silent actions (votes,
    keyword tallies) then build no variables at all. Errors are said without them."""
    return action_variables(action) if action.response else {}


def _user_facing(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"Sorry, that did not work: {text}"[:200]
