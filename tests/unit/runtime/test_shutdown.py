"""`stop_tree`: the process's stop within its deadline, on trio's mock clock."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from actors import Actor
from runtime.app import _stamp_arrivals
from runtime.shutdown import Backstop, StopPlan, not_stopped, stop_tree
from supervisors import ChildSpec, Supervisor


class Stops(Actor):
    """Records when its `on_stop` began and ended; takes `seconds` to finish it."""

    def __init__(self, name: str, journal: list[tuple[str, str, float]], seconds: float) -> None:
        self.name = name
        self.journal = journal
        self.seconds = seconds

    async def on_stop(self) -> None:
        self.journal.append(("on_stop", self.name, trio.current_time()))
        await trio.sleep(self.seconds)
        self.journal.append(("stopped", self.name, trio.current_time()))


def tree(journal: list[tuple[str, str, float]]) -> Supervisor:
    """store (state, quick to stop) and creators (a producer whose engine flushes for 60 s
    within a 30 s grace period, the case that overran the deadline)."""
    engine = Supervisor(
        "creators", [ChildSpec("engine", lambda: Stops("engine", journal, 60.0), shutdown=30.0)]
    )
    return Supervisor(
        "root",
        [
            ChildSpec("store", lambda: Stops("store", journal, 0.5), shutdown=30.0),
            ChildSpec("creators", lambda: engine, shutdown=30.0),
        ],
    )


def test_the_plan_keeps_a_share_for_the_state_children_and_for_the_exit() -> None:
    assert StopPlan.within(10.0, now=100.0) == StopPlan(
        producers_by=107.5, tree_by=109.5, exit_by=109.75
    )
    assert StopPlan.within(1.0, now=0.0) == StopPlan(producers_by=0.55, tree_by=0.8, exit_by=0.9)


async def test_the_whole_stop_shielded_on_stop_included_ends_within_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal: list[tuple[str, str, float]] = []
    root = tree(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        began = trio.current_time()
        in_time = await stop_tree(root, 10.0, state_children={"store"})
        took = trio.current_time() - began
    assert in_time
    assert took <= 10.0 - 0.5  # the exit's share is left
    times = {(event, name): at - began for event, name, at in journal}
    # The producer's on_stop is cut off early enough for the store to stop in its own time.
    assert times[("on_stop", "engine")] == pytest.approx(0.0)
    assert ("stopped", "engine") not in times
    assert times[("on_stop", "store")] == pytest.approx(7.5)
    assert times[("stopped", "store")] == pytest.approx(8.0)


async def test_a_stop_that_cannot_finish_is_cut_at_the_deadline_and_says_so(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal: list[tuple[str, str, float]] = []
    root = Supervisor(
        "root", [ChildSpec("store", lambda: Stops("store", journal, 100.0), shutdown=30.0)]
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        began = trio.current_time()
        in_time = await stop_tree(root, 4.0, state_children={"store"})
        assert trio.current_time() - began == pytest.approx(4.0 - 0.5)
        nursery.cancel_scope.cancel()
    assert not in_time
    assert trio.current_time() - began == pytest.approx(4.0 - 0.5)


async def test_the_deadline_runs_from_when_the_stop_began_not_from_the_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal: list[tuple[str, str, float]] = []
    root = Supervisor(
        "root", [ChildSpec("store", lambda: Stops("store", journal, 100.0), shutdown=30.0)]
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        signalled = trio.current_time()
        await trio.sleep(3.0)  # a busy event loop ran the stop this much after the signal
        in_time = await stop_tree(root, 10.0, state_children={"store"}, began=signalled)
        assert trio.current_time() - signalled == pytest.approx(10.0 - 0.5)
        nursery.cancel_scope.cancel()
    assert not in_time


async def test_many_stops_cut_off_at_the_deadline_are_reported_in_one_warning_naming_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal: list[tuple[str, str, float]] = []

    def engine(name: str) -> ChildSpec:
        return ChildSpec(name, lambda: Stops(name, journal, 60.0))

    engines = [engine(f"engine{n:02d}") for n in range(30)]
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: Stops("store", journal, 0.5), shutdown=30.0),
            ChildSpec(
                "creators", lambda: Supervisor("creators", engines, independent=True), shutdown=30.0
            ),
        ],
    )
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(root.run)
            assert await stop_tree(root, 10.0, state_children={"store"})
    cut = [e for e in logs if e["event"].startswith("on_stop cut off")]
    assert len(cut) == 1
    assert cut[0]["log_level"] == "warning" and cut[0]["count"] == 30
    assert cut[0]["paths"] == [*(f"root/creators/engine{n:02d}" for n in range(20)), "..."]


class Shielded(Actor):
    """An `on_stop` that no deadline cuts (as the store's wait for its writer thread)."""

    async def on_stop(self) -> None:
        with trio.CancelScope(shield=True):
            await trio.sleep(6.0)


async def test_what_a_stop_past_its_deadline_leaves_running_is_named(
    autojump_clock: trio.testing.MockClock,
) -> None:
    root = Supervisor(
        "root",
        [
            ChildSpec("store", Shielded, shutdown=30.0),
            ChildSpec("creators", lambda: Supervisor("creators", [ChildSpec("e", Shielded)])),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        assert not await stop_tree(root, 4.0, state_children={"store"})
        assert not_stopped(root) == ["root/store", "root/creators (1 of 1 children)"]


def test_the_backstop_acts_from_its_own_thread_unless_cancelled() -> None:
    fired = threading.Event()
    threads: list[str] = []

    def action() -> None:
        threads.append(threading.current_thread().name)
        fired.set()

    Backstop(action).start(0.0)
    assert fired.wait(timeout=60)  # an event, not a timing: it fires at once
    assert threads and threads[0] != threading.current_thread().name
    cancelled = Backstop(action)
    cancelled.start(3600.0)
    cancelled.cancel()
    assert cancelled._timer is not None
    cancelled._timer.join(timeout=60)
    assert not cancelled._timer.is_alive() and len(threads) == 1


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signal")
def test_a_signals_arrival_is_stamped_and_the_installed_handler_still_runs() -> None:
    received: list[int] = []

    def handler(number: int, frame: Any) -> None:
        received.append(number)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        arrived = _stamp_arrivals([signal.SIGUSR1])
        signal.raise_signal(signal.SIGUSR1)
        assert received == [signal.SIGUSR1]
        assert set(arrived) == {signal.SIGUSR1}
    finally:
        signal.signal(signal.SIGUSR1, previous)
