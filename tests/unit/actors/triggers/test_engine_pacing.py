"""`TriggerEngine` timing on trio's mock clock, with a recording store: when it flushes, what
rides in a flush, and how it slows down while the store lags."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import apsw
import attrs
import outcome
import pytest
import structlog
import trio
import trio.testing

import actors.triggers.engine as engine_module
from actors import Actor, MailboxFull, ReplyError, ticker_statistics
from actors.events import ChatEvent
from actors.store import Read, Write
from actors.triggers.engine import (
    FLUSH_WITH_CHAT_AFTER,
    MAX_WRITE_LAG,
    POINTS_FLUSH_SECONDS,
    SIGNAL_FLUSH_SECONDS,
    WRITE_TIMEOUT,
    CommitWithFlush,
    TriggerEngine,
)
from config.models import CreatorConfig, PointsConfig, TriggerConfig
from state.commands import AppendSignals, Command, SetCooldowns
from state.errors import StoreError
from supervisors import Backoff, ChildSpec, Supervisor
from tests.unit.actors.run_steps import RunSteps

CREATOR = CreatorConfig(id="daniel", display_name="Daniel")


class Store(Actor):
    """Records each `Write` with the trio time it came; refuses reads (the engine then starts
    fresh). While `held` is set, a write is answered only once it is set."""

    held: ClassVar[trio.Event | None] = None
    failing: ClassVar[bool] = False

    def __init__(self) -> None:
        self.writes: list[tuple[float, Write]] = []

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Read):
            raise ReplyError(StoreError("no database in this test"))
        assert isinstance(message, Write)
        self.writes.append((trio.current_time(), message))
        if Store.held is not None:
            await Store.held.wait()
        if Store.failing:
            return [outcome.Error(StoreError("disk full")) for _ in message.ops]
        return [outcome.Value(None) for _ in message.ops]


@attrs.frozen(kw_only=True)
class Mark(Command):
    """A command that stands for anything an actor asks the engine to commit with a flush."""

    touches_exports: ClassVar[bool] = False
    label: str

    def run(self, conn: apsw.Connection) -> None:
        raise AssertionError("the recording store runs nothing")


class Harness:
    def __init__(self, root: Supervisor) -> None:
        self.root = root
        self.engine = root.lookup("triggers")
        self.count = 0

    async def say(self, text: str = "hello") -> Any:
        return await self.engine.call(self.line(text), timeout=30)

    def line(self, text: str = "hello") -> ChatEvent:
        self.count += 1
        return ChatEvent(
            platform="twitch",
            channel="daniel",
            message_id=f"m-{self.count}",
            user_id="1001",
            login="viewer",
            display_name="Viewer",
            text=text,
            sent_at=datetime(2026, 11, 21, 18, 0, tzinfo=UTC),
            roles=frozenset(),
            raw_type="PRIVMSG",
        )

    async def writes(self) -> list[tuple[float, Write]]:
        await trio.lowlevel.checkpoint()
        store = self.root._by_id["store"].run.instance  # test-only peek (it may be busy)
        assert isinstance(store, Store)
        return list(store.writes)

    def instance(self) -> TriggerEngine:
        instance = self.root._by_id["triggers"].run.instance  # test-only peek
        assert isinstance(instance, TriggerEngine)
        return instance


@pytest.fixture
def creator() -> CreatorConfig:
    return CREATOR


@pytest.fixture
async def harness(nursery: trio.Nursery, creator: CreatorConfig) -> AsyncIterator[Harness]:
    Store.held = None
    root = await start_root(nursery, creator, Store)
    yield Harness(root)
    Store.held = None
    await root.stop()


async def start_root(
    nursery: trio.Nursery, creator: CreatorConfig, store: type[Store]
) -> Supervisor:
    """The engine under test beside `store`, started."""
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("store", store),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    creator,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name),
                    pseudonym_key=b"k" * 32,
                    clock=lambda: 1_800_000_000 + trio.current_time(),
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root


async def test_an_idle_engine_never_flushes_and_chat_is_flushed_once_signal_flush_seconds_later(
    autojump_clock, harness
):
    await trio.sleep(30)
    assert await harness.writes() == []  # idle: no flush, no timer of its own
    said_at = trio.current_time()
    await harness.say()
    await harness.say()
    await trio.sleep(30)
    writes = await harness.writes()
    assert len(writes) == 1  # both lines in one flush, and nothing after
    at, write = writes[0]
    assert SIGNAL_FLUSH_SECONDS <= at - said_at <= SIGNAL_FLUSH_SECONDS + 0.05 + 1e-9
    signals = [op for op in write.ops if isinstance(op, AppendSignals)]
    assert len(signals) == 1 and len(signals[0].rows) == 2


async def test_a_command_handed_to_the_engine_rides_in_its_next_flush_the_latest_per_key(
    autojump_clock, harness
):
    await harness.engine.call(CommitWithFlush(key="k", command=Mark(label="old")))
    await harness.engine.call(CommitWithFlush(key="k", command=Mark(label="new")))
    await harness.engine.call(CommitWithFlush(key="other", command=Mark(label="other")))
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    (_, write), *more = await harness.writes()
    assert not more
    assert sorted(op.label for op in write.ops if isinstance(op, Mark)) == ["new", "other"]


async def test_a_command_cast_to_an_idle_engine_is_taken_in_the_senders_step(
    autojump_clock, harness
):
    await harness.say()  # the restore is done
    await trio.testing.wait_all_tasks_blocked()

    def handled() -> int:
        return next(r for r in harness.root.tree() if r.path == "root/triggers").handled

    before = handled()
    harness.engine.cast(CommitWithFlush(key="k", command=Mark(label="cast")))
    assert handled() == before + 1  # taken before the engine's task ran again
    assert harness.root.registry.existing_mailbox("root/triggers").depth == 0
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    (_, write), *more = await harness.writes()
    assert not more  # it rode in the flush of the line said before it
    assert [op.label for op in write.ops if isinstance(op, Mark)] == ["cast"]


async def test_chat_waits_while_the_oldest_write_lags_and_goes_on_once_the_store_answers(
    autojump_clock, harness
):
    Store.held = trio.Event()
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # the flush is now with the (stuck) store
    assert len(await harness.writes()) == 1
    await harness.say()  # the flush lags less than MAX_WRITE_LAG: taken at once
    await trio.sleep(MAX_WRITE_LAG)
    answered = trio.Event()

    async def say() -> None:
        await harness.say()
        answered.set()

    known = len(harness.instance().seen)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(say)
        await trio.sleep(10)
        assert not answered.is_set()  # held back: the store is behind
        assert harness.instance().store_waits == 1
        # Its id is not remembered while it waits: no flush meanwhile can commit the id of
        # a line whose own writes are not made (its redelivery would be dropped).
        assert len(harness.instance().seen) == known
        Store.held.set()
        with trio.fail_after(1):
            await answered.wait()
    assert harness.instance().messages == 3
    assert len(harness.instance().seen) == known + 1


async def test_a_failed_flush_is_counted_as_it_fails_even_when_chat_goes_quiet(
    autojump_clock, harness
):
    Store.failing = True
    try:
        await harness.say()
        engine = harness.instance()
        errors = engine.errors  # the restore, refused by this store, counts as one
        await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.2)  # the failure is taken as it arrives
        assert len(await harness.writes()) == 1
        assert engine.errors == errors + 1  # the flush's outcome was taken without more chat
        assert engine.snapshot().unflushed == 0
        # The engine goes on: the next line is flushed again.
        await harness.say()
        await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
        assert len(await harness.writes()) == 2
    finally:
        Store.failing = False


async def test_a_chat_line_half_a_second_after_the_first_buffered_one_takes_the_flush_along(
    autojump_clock, harness
):
    await harness.say()
    await trio.sleep(FLUSH_WITH_CHAT_AFTER)
    said_at = trio.current_time()
    await harness.say()
    writes = await harness.writes()
    assert [at for at, _ in writes] == [said_at]  # with the line, not a second after the first
    signals = [op for op in writes[0][1].ops if isinstance(op, AppendSignals)]
    assert len(signals) == 1 and len(signals[0].rows) == 2
    await harness.say()  # a new second of buffering starts
    await trio.sleep(30)
    writes = await harness.writes()
    assert len(writes) == 2
    assert SIGNAL_FLUSH_SECONDS <= writes[1][0] - said_at <= SIGNAL_FLUSH_SECONDS + 0.05 + 1e-9


async def test_a_line_sooner_than_flush_with_chat_after_waits_for_the_flush_due_after_the_first(
    autojump_clock, harness
):
    said_at = trio.current_time()
    await harness.say()
    await trio.sleep(FLUSH_WITH_CHAT_AFTER - 0.1)
    await harness.say()
    assert await harness.writes() == []
    await trio.sleep(30)
    ((at, write),) = await harness.writes()
    assert SIGNAL_FLUSH_SECONDS <= at - said_at <= SIGNAL_FLUSH_SECONDS + 0.05 + 1e-9
    signals = [op for op in write.ops if isinstance(op, AppendSignals)]
    assert len(signals[0].rows) == 2


def granted(writes: list[tuple[float, Write]]) -> list[tuple[float, int]]:
    """(when written, amount) of every points grant the engine wrote."""
    return [
        (at, grant.amount)
        for at, write in writes
        for op in write.ops
        if type(op).__name__ == "GrantPoints"
        for grant in op.grants
    ]


def earning(**points: Any) -> Any:
    """Parametrize the harness's creator with these points settings."""
    creator = CreatorConfig(id="daniel", display_name="Daniel", points=PointsConfig(**points))
    return pytest.mark.parametrize("creator", [creator])


@earning(per_minute_active=1, credit_every_minutes=1)
async def test_active_minutes_need_no_wall_clock_tick_until_a_live_platform_speaks(
    autojump_clock, harness
):
    """No live platform configured (a replay runs its points on its own chat): an idle
    engine wakes nobody; a live line that comes all the same starts the minutes."""
    await trio.sleep(1)
    before = ticker_statistics().wakeups
    await trio.sleep(120)
    assert ticker_statistics().wakeups == before
    await harness.say()  # a twitch line
    await trio.sleep(130)
    assert len(granted(await harness.writes())) == 2  # two whole minutes, paid by the tick


@earning(per_minute_active=2, credit_every_minutes=5)
async def test_watch_time_credited_every_five_minutes_is_one_grant_per_viewer(
    autojump_clock, harness
):
    """Five active minutes become one grant (one store row) instead of five; nothing is
    written for the minutes still accruing."""
    began = trio.current_time()
    await harness.say()  # the viewer is active from here on (per_message is 0: no grant)
    await trio.sleep(4 * 60 + 50)
    assert granted(await harness.writes()) == []  # four minutes accrued, none written
    await trio.sleep(30)
    ((at, amount),) = granted(await harness.writes())
    assert amount == 5 * 2
    assert 5 * 60 <= at - began <= 5 * 60 + 5 + SIGNAL_FLUSH_SECONDS + 0.05  # the tick's grid


@earning(per_message=5, message_cooldown_seconds=0)
async def test_earnings_are_handed_over_at_most_every_points_flush_seconds_and_none_is_left(
    autojump_clock, harness
):
    """Chat flushes its signals and ids every few seconds; the earnings ride with a
    flush only once `POINTS_FLUSH_SECONDS` passed since the last hand-over, as one grant for
    the viewer: every one is written, none later than that and a flush after it was earned,
    and the last ones with no chat after them."""
    earned = []
    for _ in range(12):
        earned.append(trio.current_time())
        await harness.say()  # each line earns 5
        await trio.sleep(3)
    await trio.sleep(POINTS_FLUSH_SECONDS + SIGNAL_FLUSH_SECONDS)
    writes = await harness.writes()
    handed = granted(writes)
    times = [at for at, _ in handed]
    assert times == sorted(set(times))  # a grant per hand-over: the viewer's earnings summed
    assert all(later - at >= POINTS_FLUSH_SECONDS for at, later in itertools.pairwise(times))
    assert len(writes) > len(handed)  # the flushes between hand-overs went without earnings
    so_far = 0
    for at, amount in handed:  # everything earned before it (a line of its instant, maybe)
        so_far += amount
        assert 5 * sum(w < at for w in earned) <= so_far <= 5 * sum(w <= at for w in earned)
    assert sum(amount for _, amount in handed) == 5 * len(earned)
    totals = list(itertools.accumulate(amount for _, amount in handed))
    for count, when in enumerate(earned, 1):  # the first hand-over that includes it
        first = next(at for at, total in zip(times, totals, strict=True) if total >= 5 * count)
        assert first - when <= POINTS_FLUSH_SECONDS + SIGNAL_FLUSH_SECONDS + 0.05


@earning(per_message=5, message_cooldown_seconds=0)
async def test_the_stop_writes_the_earnings_not_yet_due(autojump_clock, harness):
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # the first earning is handed over
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # flushed, without the second
    assert [amount for _, amount in granted(await harness.writes())] == [5]
    await harness.root.stop()
    store = harness.root._by_id["store"].run.instance  # stopped after the engine: kept
    assert [amount for _, amount in granted(store.writes)] == [5, 5]


@earning(per_minute_active=2, credit_every_minutes=5)
async def test_the_stop_credits_the_watch_time_still_accruing(autojump_clock, harness):
    await harness.say()
    await trio.sleep(2 * 60 + 10)
    assert granted(await harness.writes()) == []
    await harness.root.stop()
    store = harness.root._by_id["store"].run.instance  # stopped after the engine: kept
    assert [amount for _, amount in granted(store.writes)] == [2 * 2]


async def test_a_chat_line_requested_of_an_idle_engine_is_answered_in_the_senders_step(
    autojump_clock, harness
):
    await harness.say()  # the restore is done
    await trio.testing.wait_all_tasks_blocked()
    engine = harness.instance()
    line = harness.line()
    pending = harness.engine.request(line)
    # Taken in this step (no wake-up of the engine's mailbox loop), and counted.
    assert pending.done and pending.result_nowait() == []
    assert engine.messages == 2
    again = harness.engine.request(line)  # the same line again: dropped, in this step too
    assert again.done and again.result_nowait() == []
    assert engine.duplicates == 1 and engine.messages == 2
    # The store falls behind: a line is queued, and waits in `handle` like a call.
    Store.held = trio.Event()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + MAX_WRITE_LAG + 0.1)
    behind = harness.engine.request(harness.line(), timeout=30)
    assert not behind.done
    await trio.sleep(10)
    assert not behind.done and engine.store_waits == 1
    Store.held.set()
    with trio.fail_after(1):
        assert await behind.result() == []
    assert engine.messages == 3
    tree = harness.root.tree()
    assert next(row for row in tree if row.path == "root/triggers").handled == 4


#: A reply whose cooldown is long enough to be committed before the reply: an action that
#: writes.
PING = CreatorConfig(
    id="daniel",
    display_name="Daniel",
    triggers=(TriggerConfig(id="ping", pattern="!ping", response="pong", cooldown_user=60),),
)


@pytest.mark.parametrize("creator", [PING])
async def test_every_so_many_writes_of_cooldowns_one_forgets_the_creators_cooldowns_that_ended(
    autojump_clock, harness, monkeypatch
):
    monkeypatch.setattr(engine_module, "COOLDOWN_PRUNE_EVERY", 2)
    for user in ("1001", "1002", "1003"):  # a user cooldown each: written with the reply
        line = attrs.evolve(harness.line("!ping"), user_id=user)
        await harness.engine.call(line, timeout=30)
        await trio.sleep(30)
    cooldowns = [
        op
        for _, write in await harness.writes()
        for op in write.ops
        if isinstance(op, SetCooldowns)
    ]
    assert [[scope for scope, _ in op.expiries] for op in cooldowns] == [
        ["daniel/user:ping:1001"],
        ["daniel/user:ping:1002"],
        ["daniel/user:ping:1003"],
    ]
    prunes = [op.prune for op in cooldowns]
    assert prunes[0] is None and prunes[2] is None
    assert prunes[1] is not None and prunes[1].prefix == "daniel/"


@pytest.mark.parametrize("creator", [PING])
async def test_an_action_write_carries_the_buffered_chat_and_leaves_no_flush_of_its_own(
    autojump_clock, harness
):
    await harness.say()  # buffered: its chat signal and its id
    await trio.sleep(0.2)
    await harness.say("!ping")
    await trio.sleep(30)
    ((_, write),) = await harness.writes()  # one write: the flush rode with the action
    (signals,) = [op for op in write.ops if isinstance(op, AppendSignals)]
    assert [row.entity_id for row in signals.rows] == ["m-1", "m-2"]
    (cooldown,) = [op for op in write.ops if isinstance(op, SetCooldowns)]
    assert [scope for scope, _ in cooldown.expiries] == ["daniel/user:ping:1001"]
    assert cooldown.seen is not None
    assert [key for _, key in cooldown.seen.keys] == ["m-1", "m-2"]
    assert write.topic == "cooldowns+signals"
    assert harness.instance().snapshot().unflushed == 0


@pytest.mark.parametrize("creator", [PING])
async def test_a_failed_flush_carried_by_an_action_write_counts_both_and_the_engine_goes_on(
    autojump_clock, harness
):
    await harness.say()
    engine = harness.instance()
    errors = engine.errors  # the restore, refused by this store, counts as one
    Store.failing = True
    try:
        await harness.say("!ping")
        await trio.sleep(1)
    finally:
        Store.failing = False
    assert len(await harness.writes()) == 1
    # The flush it carried failed (its signals are lost, counted) and so did the action's
    # cooldown (counted, and an error reply: dropped here, no platform actor, counted too).
    assert engine.replies_dropped == 1
    assert engine.errors == errors + 2 + 1
    assert engine.snapshot().unflushed == 0 and engine.snapshot().inflight == 0
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    assert len(await harness.writes()) == 2


async def test_a_timed_flush_runs_in_the_tickers_step_and_wakes_no_task_of_the_engine(
    autojump_clock, harness
):
    await harness.say()
    await trio.sleep(30)
    steps = RunSteps(harness.instance())
    trio.lowlevel.add_instrument(steps)
    try:
        said_at = trio.current_time()
        await harness.say()
        await trio.sleep(30)
    finally:
        trio.lowlevel.remove_instrument(steps)
    writes = await harness.writes()
    assert len(writes) == 2
    assert SIGNAL_FLUSH_SECONDS <= writes[1][0] - said_at <= SIGNAL_FLUSH_SECONDS + 0.05 + 1e-9
    assert steps.steps == 0
    assert harness.instance().snapshot().unflushed == 0  # its commit was taken too


@pytest.mark.parametrize("creator", [PING])
async def test_an_action_write_the_store_never_answers_fails_after_the_write_timeout_and_is_said(
    autojump_clock, harness
):
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # flushed: nothing of the engine in flight
    engine = harness.instance()
    errors, dropped = engine.errors, engine.replies_dropped
    Store.held = trio.Event()
    await harness.say("!ping")  # its cooldown is committed before the reply: a write
    assert engine.snapshot().inflight == 1
    await trio.sleep(WRITE_TIMEOUT - 0.1)
    assert engine.snapshot().inflight == 1 and engine.replies_dropped == dropped
    await trio.sleep(0.2)
    # Failed as a call's timeout would: the action (its failure reply: dropped here, there
    # is no platform actor) and the flush it carried, each counted.
    assert engine.snapshot().inflight == 0 and engine.snapshot().unflushed == 0
    assert engine.replies_dropped == dropped + 1
    assert engine.errors == errors + 3
    Store.held.set()  # the late answer changes nothing
    await trio.sleep(1)
    assert engine.snapshot().inflight == 0 and engine.errors == errors + 3
    await harness.say()  # chat goes on
    assert engine.messages == 3


async def test_a_flush_the_store_never_answers_fails_after_the_write_timeout_and_chat_goes_on(
    autojump_clock, harness
):
    await harness.say()
    engine = harness.instance()
    errors = engine.errors
    Store.held = trio.Event()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # the flush is with the (stuck) store
    assert len(await harness.writes()) == 1
    await trio.sleep(MAX_WRITE_LAG)
    answered = trio.Event()

    async def say() -> None:
        await harness.say()  # held back while the flush lags (MAX_WRITE_LAG)
        answered.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(say)
        await trio.sleep(WRITE_TIMEOUT - MAX_WRITE_LAG - 1)
        assert not answered.is_set() and engine.store_waits == 1
        with trio.fail_after(2):
            await answered.wait()  # the flush failed (counted): chat goes on
    assert engine.errors == errors + 1 and engine.messages == 2


class FullStore:
    """A store reference whose every write is refused as by a full mailbox, though it says it
    has room (as when others filled it between the engine's look and its write): what is
    left to happen to a flush, which waits for no room (`_defer`)."""

    def has_room(self, room: int = 1) -> bool:
        return True

    def request(self, message: Any, timeout: float | None = None) -> Any:
        raise MailboxFull("root/store", 1)


def chat_ids(writes: list[tuple[float, Write]]) -> list[str]:
    return [
        row.entity_id
        for _at, write in writes
        for op in write.ops
        if isinstance(op, AppendSignals)
        for row in op.rows
    ]


async def test_flushes_a_full_store_refuses_are_kept_and_written_in_order_once_it_takes_them(
    autojump_clock, harness
):
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    engine = harness.instance()
    before, errors = len(await harness.writes()), engine.errors
    store = engine._store
    engine._store = lambda: FullStore()
    try:
        await harness.say("one")
        await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # refused: kept
        await harness.say("two")
        await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # refused again, with the first
    finally:
        engine._store = store
    assert engine.flushes_deferred >= 2 and engine.errors == errors  # an overload, no failure
    assert engine.snapshot().unflushed > 0
    assert len(await harness.writes()) == before
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    assert chat_ids((await harness.writes())[before:]) == ["m-2", "m-3"]
    assert engine.snapshot().unflushed == 0 and engine.errors == errors


async def test_a_full_store_refusing_for_too_long_loses_what_is_beyond_the_limit_counted(
    autojump_clock, harness, monkeypatch
):
    monkeypatch.setattr(engine_module, "DEFERRED_LIMIT", 1)
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
    engine = harness.instance()
    errors = engine.errors
    engine._store = lambda: FullStore()
    await harness.say("one")
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # a signal and a seen id: beyond the limit
    assert engine.flushes_deferred == 0 and engine.errors == errors + 1


@pytest.mark.parametrize("creator", [PING])
async def test_the_writes_of_an_engine_hold_no_call_timer_entry_and_still_time_out(
    autojump_clock, harness
):
    # The engine watches its writes' deadline itself (oldest first): a thousand engines
    # writing every second cost the tree's call timer nothing.
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # a flush, committed
    engine = harness.instance()
    timer = harness.root._registry.timer  # test-only peek
    assert timer is not None
    held = len(timer)
    Store.held = trio.Event()
    await harness.say("!ping")  # an action's write, with the store stuck
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # and a flush, queued behind it
    assert engine.snapshot().inflight == 1 and engine.snapshot().unflushed > 0
    assert len(await harness.writes()) == 2
    assert len(timer) == held
    errors = engine.errors
    await trio.sleep(WRITE_TIMEOUT)
    # Both failed as a call's timeout would: each counted, the action's failure said.
    assert engine.snapshot().inflight == 0 and engine.snapshot().unflushed == 0
    assert engine.errors >= errors + 3
    Store.held.set()


class SmallStore(Store):
    """The recording store with room for four queued messages."""

    mailbox_size = 4


@pytest.mark.parametrize("creator", [PING])
async def test_a_burst_of_commands_waits_for_room_in_the_stores_mailbox_and_none_is_refused(
    autojump_clock, nursery, creator, monkeypatch
):
    """Many lines at once, each with a write (at a thousand creators, a poll's votes in one
    burst): once the store's mailbox is nearly full, chat waits for room instead of having
    the writes beyond its capacity refused (each an action failed, said in chat)."""
    monkeypatch.setattr(engine_module, "STORE_HEADROOM", 2)
    Store.held = trio.Event()
    root = await start_root(nursery, creator, SmallStore)
    harness = Harness(root)
    try:
        await harness.say()  # the restore is done
        engine = harness.instance()
        errors, dropped = engine.errors, engine.replies_dropped
        answered: list[int] = []

        async def ping(n: int) -> None:
            line = attrs.evolve(harness.line("!ping"), user_id=f"u{n}", login=f"viewer{n}")
            await harness.engine.call(line, timeout=60)
            answered.append(n)

        with structlog.testing.capture_logs() as logs:
            async with trio.open_nursery() as pings:
                for n in range(10):
                    pings.start_soon(ping, n)
                await trio.sleep(5)
                # One write with the stuck store, its mailbox filled up to the headroom;
                # the other lines wait (no write of theirs was made, none refused).
                box = root.registry.existing_mailbox("root/store")
                assert box.depth == SmallStore.mailbox_size - 2 + 1
                assert len(answered) < 10 and engine.store_waits >= 1
                assert engine.errors == errors
                Store.held.set()
        assert sorted(answered) == list(range(10))
        await trio.testing.wait_all_tasks_blocked()  # the last writes reach the store
        assert not [e for e in logs if e["event"] == "action failed in the store"]
        cooldowns = [
            w
            for _at, w in await harness.writes()
            if any(isinstance(o, SetCooldowns) for o in w.ops)
        ]
        assert len(cooldowns) == 10  # every line's action write reached the store
        # Nothing else counted: each "pong" was dropped (no twitch actor in this tree).
        assert engine.errors - errors == engine.replies_dropped - dropped == 10
    finally:
        Store.held = None
        await root.stop()


class FullForAWhile:
    """The store's reference, refusing the first `refusals` writes as a full mailbox does
    (though it says it has room: others fill it between the engine's look and its write),
    then passing them on; records what it passed on."""

    def __init__(self, store: Any, refusals: int) -> None:
        self.store = store
        self.refusals = refusals
        self.passed: list[Write] = []
        self.waits = 0

    def has_room(self, room: int = 1) -> bool:
        return True

    async def wait_for_room(self, room: int = 1) -> None:
        self.waits += 1
        await trio.sleep(1)  # the store takes what it has queued meanwhile

    def request(self, message: Any, timeout: float | None = None) -> Any:
        if self.refusals:
            self.refusals -= 1
            raise MailboxFull("root/store", 1)
        self.passed.append(message)
        return self.store.request(message, timeout=timeout)


async def test_the_last_flush_at_a_stop_waits_for_room_in_a_full_store_and_is_written(
    autojump_clock, harness
):
    await harness.say()
    await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)  # flushed
    engine = harness.instance()
    errors = engine.errors
    store = FullForAWhile(engine._store(), refusals=2)
    engine._store = lambda: store
    await harness.say("the last line")  # buffered: the stop's flush takes it
    with structlog.testing.capture_logs() as logs:
        await harness.root.stop()
    # Refused twice (kept, not lost), then written before the engine stopped.
    assert engine.flushes_deferred == 2 and store.waits == 2
    assert chat_ids([(0.0, write) for write in store.passed]) == ["m-2"]
    assert engine.errors == errors
    assert not [e for e in logs if e["event"] in ("flush failed", "on_stop cut off")]
