"""`TriggerEngine`: one per creator; chat events in, actions executed for real.

Matching and cooldown decisions are the sans-IO `evaluate`; this actor executes what it
decides: replies go to the platform actor the message came from, polls, tallies, scores and
clip requests are committed through the store before the reply says they happened, and the
cooldowns that must survive a restart are persisted. Chat signals for the dashboard are
buffered and written in one transaction per second, so chat volume never means a commit per
message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import apsw
import trio

from actors import Actor, ActorFailed, ActorRef, CallTimeout, MailboxFull, PendingReply
from actors.chat import SendChat
from actors.events import ChatEvent, PlatformEvent, RedemptionEvent
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
    event_name,
    matching_triggers,
    redemption_decision,
    template_fields,
)
from actors.triggers.cooldowns import CooldownTable
from actors.triggers.evaluate import evaluate
from actors.triggers.rules import TriggerRules
from actors.triggers.templates import action_variables, render
from config.models import CreatorConfig
from exports.redact import pseudonymize
from state import StoreError, clips, cooldowns, counters, polls, signals
from state.errors import InvalidArgument
from state.timeutil import from_datetime

SIGNAL_FLUSH_SECONDS = 1.0
#: Cooldowns at least this long are committed before the reply; shorter ones within a second.
DURABLE_COOLDOWN_SECONDS = 30.0

#: Turns the results of an action's operations into its reply's template variables.
Finish = Callable[[list[Any]], dict[str, object]]
#: What an action writes: operations (none for a plain reply), store topic, and `Finish`.
Plan = tuple[tuple[Callable[[apsw.Connection], Any], ...], str, Finish]
STORE_FAILURE_REPLY = "Sorry, that did not work this time; please try again later."


class TriggerEngine(Actor):
    """Runs one creator's triggers."""

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
    ) -> None:
        self.creator = creator
        self._store = store
        self._platform = platform
        self._key = pseudonym_key
        self._clock = clock
        self.rules = TriggerRules.from_config(creator, self_logins=self_logins)
        self.cooldowns = CooldownTable()
        self._prefix = f"{creator.id}/"
        self._pending_signals: list[dict[str, Any]] = []
        self._pending_cooldowns: dict[str, int] = {}
        self._pending = trio.Event()
        # Writes are awaited in the order they were queued, so replies keep chat order.
        self._completions_send, self._completions = trio.open_memory_channel[
            tuple[Action, PendingReply, Finish]
        ](math.inf)
        self._inflight = 0
        self._current: tuple[Action, PendingReply, Finish] | None = None
        self.messages = 0
        self.fired = 0
        self.fired_by_platform: dict[str, int] = {}  # the platform of the triggering message
        self.actions = 0
        self.errors = 0
        self.last_event_at: datetime | None = None
        self.last_fired: dict[tuple[str, str], datetime] = {}

    async def on_start(self) -> None:
        # The restore runs beside the mailbox so a hundred creators start without waiting
        # for each other's reads; `handle` waits for it, so no message can skip a cooldown.
        self._ready = trio.Event()
        self.nursery.start_soon(self._restore)

    async def _restore(self) -> None:
        now_ms = int(self._clock() * 1000)
        creator = self.creator

        def restore(conn: apsw.Connection) -> tuple[dict[str, float], set[str]]:
            rows = cooldowns.active_cooldowns(conn, now=now_ms, prefix=self._prefix)
            absent = {
                t.id for t in creator.tallies if counters.get_tally(conn, creator.id, t.id) is None
            }
            return {r.scope[len(self._prefix) :]: r.expires_at / 1000 for r in rows}, absent

        try:
            expiries, absent = await self._store().call(Read(fn=restore), timeout=30)
        except (apsw.Error, StoreError, CallTimeout, ActorFailed) as exc:
            # Chat keeps working with fresh cooldowns rather than not at all; said loudly.
            self.errors += 1
            self.log.error("cooldowns not restored", error=str(exc))
            self._ready.set()
            return
        self.cooldowns.load(expiries)
        self._ready.set()
        # Read first: a restart (or a start with nothing new) costs no commit and no fsync.
        if not absent:
            return

        def declare(conn: apsw.Connection) -> None:
            for tally in creator.tallies:
                if tally.id in absent and counters.get_tally(conn, creator.id, tally.id) is None:
                    counters.set_tally(
                        conn,
                        creator_id=creator.id,
                        tally_id=tally.id,
                        value=0,
                        label=tally.label,
                        now=now_ms,
                    )

        try:
            await write(self._store(), declare, topic="tallies")
        except (apsw.Error, StoreError, CallTimeout, ActorFailed) as exc:
            # The tallies appear with their first change instead; not worth a crash.
            self.errors += 1
            self.log.error("tallies not declared", error=str(exc))

    async def run(self) -> None:
        self.nursery.start_soon(self._complete_in_order)
        # Wake only when there is something to write: an idle creator costs no timer at all.
        while True:
            await self._pending.wait()
            await trio.sleep(SIGNAL_FLUSH_SECONDS)
            self._pending = trio.Event()
            await self._flush()

    async def on_stop(self) -> None:
        # Actions whose writes are already queued still get their reply (within the grace
        # period): the write happens whatever we do, so the chat should hear about it.
        if self._current is not None:
            await self._complete(*self._current)
        while True:
            try:
                item = self._completions.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            await self._complete(*item)
        await self._flush()

    async def handle(self, message: Any) -> Any:
        if not self._ready.is_set():
            await self._ready.wait()
        if isinstance(message, ChatEvent):
            return await self._on_chat(message)
        if isinstance(message, ChannelEvent):
            return await self._on_channel_event(message)
        if isinstance(message, PlatformEvent):
            self.messages += 1
            self.last_event_at = message.sent_at
            return None
        raise TypeError(f"TriggerEngine takes chat events, got {type(message).__name__}")

    # ------------------------------------------------------------------------- chat

    async def _on_chat(self, event: ChatEvent) -> list[Action]:
        self.messages += 1
        self.last_event_at = event.sent_at
        self._signal(
            "chat",
            event.sent_at,
            entity_id=event.message_id or "-",
            type="chat_message",
            source=event.platform,
            summary=f"message from {pseudonymize(event.user_id, self._key)}",
        )
        now = self._clock()
        result = evaluate(self.rules, self.cooldowns, event, now=now)
        if result.ignored or not (result.actions or result.errors):
            return []
        # The in-memory table enforces cooldowns at once. Those long enough to matter after a
        # restart are committed before the reply that acknowledges the trigger (they ride in
        # its write); short ones are copied with the next flush, within a second.
        durable: dict[str, int] = {}
        for key, expiry in result.cooldowns_started.items():
            scope, expires_ms = self._prefix + key, int(expiry * 1000)
            if expiry - now >= DURABLE_COOLDOWN_SECONDS:
                durable[scope] = expires_ms
            else:
                self._pending_cooldowns[scope] = expires_ms
                self._pending.set()
        for error in result.errors:
            self._say(error, error.text)
        for action in result.actions:
            self.fired += 1
            self.fired_by_platform[event.platform] = (
                self.fired_by_platform.get(event.platform, 0) + 1
            )
            self.last_fired[(self.creator.id, action.trigger_id)] = datetime.now(UTC)
            ops, topic, finish = self._plan(action, event)
            if durable:
                ops, finish = (_persist_cooldowns(durable), *ops), _skip_first(finish)
                topic = topic or "cooldowns"
                durable = {}
            if not ops:
                self._succeeded(action, finish([]))
                continue
            try:
                # Queued now, in message order; the commit is awaited in the background so
                # the next chat message is not held up by this one's fsync (and writes from
                # a busy chat share commits in the store).
                pending = self._store().request(Write(ops=ops, topic=topic), timeout=30.0)
            except (MailboxFull, ActorFailed, KeyError) as exc:
                self._store_failed(action, exc)
                continue
            self._inflight += 1
            self._completions_send.send_nowait((action, pending, finish))
        return list(result.actions)

    async def _complete_in_order(self) -> None:
        async for item in self._completions:
            self._current = item
            await self._complete(*item)
            self._current = None

    async def _complete(self, action: Action, pending: PendingReply, finish: Finish) -> None:
        """Wait for an action's commit, then reply (or say why it did not work)."""
        # Counted down only once done: a completion cut off by a stop is finished (and
        # counted) by on_stop.
        await self._finish(action, pending, finish)
        self._inflight -= 1

    async def _finish(self, action: Action, pending: PendingReply, finish: Finish) -> None:
        try:
            results = [r.unwrap() for r in await pending.result()]
            variables = finish(results)
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
            self._say(action, render(action.response, variables))

    def _store_failed(self, action: Action, exc: BaseException) -> None:
        # SQLite itself failed, or the store did not answer: this action failed, the engine
        # is fine (restarting it would restart the creator's platforms too). The chat gets
        # no internal details.
        self.errors += 1
        self.log.error("action failed in the store", trigger=action.trigger_id, error=str(exc))
        self._say(action, STORE_FAILURE_REPLY)

    def _say(self, action: Action, text: str) -> None:
        if not text:
            return
        try:
            self._platform(action.platform).cast(
                SendChat(text=text, reply_to=action.message_id, trigger_id=action.trigger_id)
            )
        except (MailboxFull, KeyError) as exc:
            self.errors += 1
            self.log.warning("reply dropped", trigger=action.trigger_id, error=str(exc))

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
            summary=f"{name or event.raw_type} by {pseudonymize(who, self._key) if who else '-'}",
        )
        fired = matching_triggers(self.creator.triggers, message)
        fields = template_fields(event)
        failed: dict[str, bool] = {}
        for trigger in fired:
            self.fired += 1
            self.last_fired[(self.creator.id, trigger.id)] = datetime.now(UTC)
            try:
                action = build_event_action(trigger, event, self.creator.id)
                ops, topic, finish = self._plan(action, event)
                results = await write(self._store(), *ops, topic=topic) if ops else []
                variables = {**finish(results), **fields}
            except (StoreError, ValueError, apsw.Error, CallTimeout, ActorFailed) as exc:
                failed[trigger.id] = True
                self.errors += 1
                self.log.warning("event action failed", trigger=trigger.id, error=str(exc))
                continue
            self.actions += 1
            if action.response:
                self._say(action, render(action.response, variables))
        return ChannelEventOutcome(
            event=name,
            fired=tuple(t.id for t in fired),
            failed=tuple(sorted(failed)),
            redemption=redemption_decision(fired, failed, manageable=message.manageable)
            if isinstance(event, RedemptionEvent)
            else None,
        )

    # -------------------------------------------------------------------- execution

    def _plan(self, action: Action, event: PlatformEvent) -> Plan:
        """What `action` writes (operations, topic) and how its reply variables follow from
        the operations' results. Nothing is written here: the caller queues the write."""
        variables = action_variables(action)
        creator_id = self.creator.id
        at = from_datetime(event.sent_at)
        if isinstance(action, Reply | ErrorReply):
            return (), "", lambda _results: variables
        if isinstance(action, PollOpen):
            poll_id = f"{creator_id}-{at}"

            def open_(conn: apsw.Connection) -> None:
                for current in polls.list_polls(conn, creator_id=creator_id, state="open"):
                    polls.close_poll(conn, poll_id=current.poll.poll_id, now=at)
                polls.open_poll(
                    conn,
                    poll_id=poll_id,
                    creator_id=creator_id,
                    question=action.question,
                    options=action.options,
                    now=at,
                )

            def opened(_results: list[Any]) -> dict[str, object]:
                variables["poll"] = poll_id
                return variables

            return (open_,), "polls", opened
        if isinstance(action, PollVote):
            voter = pseudonymize(action.user_id, self._key)

            def vote(conn: apsw.Connection) -> polls.VoteResult:
                current = polls.list_polls(conn, creator_id=creator_id, state="open")
                if not current:
                    raise InvalidArgument("there is no open poll")
                poll_id = current[0].poll.poll_id
                option = polls.resolve_option(conn, poll_id, action.option)
                if option is None:
                    raise InvalidArgument(f"no option {action.option!r} in this poll")
                result = polls.vote(
                    conn, poll_id=poll_id, voter_key=voter, option_id=option, now=at
                )
                signals.append_signal(
                    conn,
                    kind="poll_vote",
                    creator_id=creator_id,
                    timestamp=at,
                    entity_id=poll_id,
                    type="vote",
                    source=event.platform,
                    summary=f"{voter} voted for option {option}",
                )
                return result

            def voted(results: list[Any]) -> dict[str, object]:
                (result,) = results
                variables["option"] = result.option_id
                variables["votes"] = result.results.total_votes
                return variables

            return (vote,), "polls", voted
        if isinstance(action, PollClose):

            def close(conn: apsw.Connection) -> polls.PollResults:
                current = polls.list_polls(conn, creator_id=creator_id, state="open")
                if not current:
                    raise InvalidArgument("there is no open poll")
                return polls.close_poll(conn, poll_id=current[0].poll.poll_id, now=at)

            def closed_(results: list[Any]) -> dict[str, object]:
                (closed,) = results
                best = max(closed.options, key=lambda o: (o.votes, -o.position), default=None)
                variables["winner"] = best.label if best and best.votes else "nobody"
                # "{winner} wins with {votes} votes": the winner's votes; the poll's total apart.
                variables["votes"] = best.votes if best else 0
                variables["total_votes"] = closed.total_votes
                variables["question"] = closed.poll.question
                return variables

            return (close,), "polls", closed_
        if isinstance(action, TallyChange):
            label = next((t.label for t in self.creator.tallies if t.id == action.tally_id), None)

            def change(conn: apsw.Connection) -> counters.Tally:
                kw = {"creator_id": creator_id, "tally_id": action.tally_id, "label": label}
                if action.op == "increment":
                    tally = counters.increment_tally(conn, by=action.amount, now=at, **kw)
                elif action.op == "decrement":
                    tally = counters.decrement_tally(conn, by=action.amount, now=at, **kw)
                else:
                    tally = counters.set_tally(conn, value=0, now=at, **kw)
                signals.append_signal(
                    conn,
                    kind="tally",
                    creator_id=creator_id,
                    timestamp=at,
                    entity_id=action.tally_id,
                    type=action.op,
                    source=event.platform,
                    summary=f"{action.tally_id} is now {tally.count}",
                )
                return tally

            def changed(results: list[Any]) -> dict[str, object]:
                variables["count"] = results[0].count
                return variables

            return (change,), "tallies", changed
        if isinstance(action, ScoreAdd):
            title = next(
                (b.title for b in self.creator.scoreboards if b.id == action.scoreboard_id), None
            )

            def score(conn: apsw.Connection) -> counters.RankedEntry:
                entry = counters.add_points(
                    conn,
                    creator_id=creator_id,
                    scoreboard_id=action.scoreboard_id,
                    label=action.label,
                    points=action.points,
                    title=title,
                    now=at,
                )
                signals.append_signal(
                    conn,
                    kind="score",
                    creator_id=creator_id,
                    timestamp=at,
                    entity_id=action.scoreboard_id,
                    type="points",
                    source=event.platform,
                    summary=f"{action.points:+d} points, now {entry.score}",
                )
                return entry

            def scored(results: list[Any]) -> dict[str, object]:
                (entry,) = results
                variables["score"] = entry.score
                variables["position"] = entry.position
                return variables

            return (score,), "scoreboards", scored
        if isinstance(action, ClipRequest):
            title = action.title or f"{self.creator.display_name} clip"

            def request(conn: apsw.Connection) -> clips.Clip:
                return clips.create_clip(
                    conn,
                    creator_id=creator_id,
                    title=title[:120],
                    platform=event.platform,
                    duration_seconds=action.duration_seconds,
                    requested_by=pseudonymize(action.user_id or "-", self._key),
                    source=f"{event.platform}:{event.channel}",
                    now=at,
                )

            def requested(results: list[Any]) -> dict[str, object]:
                variables["clip"] = results[0].clip_id
                return variables

            return (request,), "clips", requested
        raise TypeError(f"no executor for {type(action).__name__}")

    # ---------------------------------------------------------------------- signals

    def _signal(self, kind: str, at: datetime, **fields: Any) -> None:
        self._pending_signals.append(
            {"kind": kind, "creator_id": self.creator.id, "timestamp": from_datetime(at), **fields}
        )
        self._pending.set()

    async def _flush(self) -> None:
        """Write the buffered chat signals and cooldowns in one transaction."""
        signal_rows, self._pending_signals = self._pending_signals, []
        expiries, self._pending_cooldowns = self._pending_cooldowns, {}
        if not signal_rows and not expiries:
            return

        def append(conn: apsw.Connection) -> None:
            for scope, expires_at in expiries.items():
                cooldowns.set_cooldown(conn, scope=scope, expires_at=expires_at)
            if signal_rows:
                signals.append_signals(conn, signal_rows)

        try:
            await write(self._store(), append, topic="signals")
        except Exception as exc:
            # Telemetry and cooldown copies: worth a warning, never a crash. The in-memory
            # cooldowns still hold; the signals of this second are lost and counted.
            self.errors += 1
            self.log.warning(
                "flush failed", signals=len(signal_rows), cooldowns=len(expiries), error=str(exc)
            )

    def snapshot(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "fired": self.fired,
            "fired_by_platform": dict(sorted(self.fired_by_platform.items())),
            "actions": self.actions,
            "errors": self.errors,
            "last_event_at": self.last_event_at,
            "cooldowns": len(self.cooldowns),
            "inflight": self._inflight,
            "fired_at": dict(self.last_fired),
        }


def _persist_cooldowns(expiries: dict[str, int]) -> Callable[[apsw.Connection], None]:
    def persist(conn: apsw.Connection) -> None:
        for scope, expires_at in expiries.items():
            cooldowns.set_cooldown(conn, scope=scope, expires_at=expires_at)

    return persist


def _skip_first(finish: Finish) -> Finish:
    return lambda results: finish(results[1:])


def _user_facing(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"Sorry, that did not work: {text}"[:200]
