"""`TriggerEngine` timing on trio's mock clock, with a recording store: when it flushes, what
rides in a flush, and how it slows down while the store lags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import apsw
import attrs
import outcome
import pytest
import trio

from actors import Actor, ReplyError
from actors.events import ChatEvent
from actors.store import Read, Write
from actors.triggers.engine import (
    FLUSH_CHECK_SECONDS,
    MAX_WRITE_LAG,
    SIGNAL_FLUSH_SECONDS,
    CommitWithFlush,
    TriggerEngine,
)
from config.models import CreatorConfig
from state.commands import AppendSignals, Command
from state.errors import StoreError
from supervisors import Backoff, ChildSpec, Supervisor

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
        self.count += 1
        event = ChatEvent(
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
        return await self.engine.call(event, timeout=30)

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
async def harness(nursery: trio.Nursery) -> AsyncIterator[Harness]:
    Store.held = None
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("store", Store),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    CREATOR,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name),
                    pseudonym_key=b"k" * 32,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    yield Harness(root)
    Store.held = None
    await root.stop()


async def test_an_idle_engine_never_flushes_and_chat_is_flushed_once_about_a_second_later(
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
    await trio.sleep(5)
    (_, write), *more = await harness.writes()
    assert not more
    assert sorted(op.label for op in write.ops if isinstance(op, Mark)) == ["new", "other"]


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

    async with trio.open_nursery() as nursery:
        nursery.start_soon(say)
        await trio.sleep(10)
        assert not answered.is_set()  # held back: the store is behind
        assert harness.instance().store_waits == 1
        Store.held.set()
        with trio.fail_after(1):
            await answered.wait()
    assert harness.instance().messages == 3


async def test_a_failed_flush_is_counted_within_a_few_seconds_even_when_chat_goes_quiet(
    autojump_clock, harness
):
    Store.failing = True
    try:
        await harness.say()
        engine = harness.instance()
        errors = engine.errors  # the restore, refused by this store, counts as one
        await trio.sleep(SIGNAL_FLUSH_SECONDS + FLUSH_CHECK_SECONDS + 0.2)
        assert len(await harness.writes()) == 1
        assert engine.errors == errors + 1  # the flush's outcome was taken without more chat
        assert engine.snapshot()["unflushed"] == 0
        # The engine goes on: the next line is flushed again.
        await harness.say()
        await trio.sleep(SIGNAL_FLUSH_SECONDS + 0.1)
        assert len(await harness.writes()) == 2
    finally:
        Store.failing = False
