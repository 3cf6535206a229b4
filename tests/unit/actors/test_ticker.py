"""Coarse sleeps: many sleepers of a run share the wake-ups of one task on a grid."""

from __future__ import annotations

import gc
import math
import random
from typing import Any

import pytest
import trio

from actors import Alarm, coarse_sleep, coarse_sleep_until, ticker_statistics
from actors._ticker import GRANULARITY, coarse_pace


async def test_a_coarse_sleep_ends_on_the_first_grid_step_at_or_after_its_deadline(
    autojump_clock,
):
    start = trio.current_time()
    await coarse_sleep(0.123)
    woke = trio.current_time()
    assert woke >= start + 0.123
    assert woke - (start + 0.123) <= GRANULARITY + 1e-9
    assert math.isclose(woke / GRANULARITY, round(woke / GRANULARITY), abs_tol=1e-6)


async def test_a_thousand_sleepers_share_at_most_one_wake_up_per_grid_step(autojump_clock):
    start = trio.current_time()
    woken: list[float] = []
    rng = random.Random(7)

    async def sleeper(seconds: float) -> None:
        await coarse_sleep(seconds)
        woken.append(trio.current_time() - start - seconds)

    before = ticker_statistics()
    async with trio.open_nursery() as nursery:
        for _ in range(1000):
            nursery.start_soon(sleeper, rng.uniform(0.0, 2.0))
    after = ticker_statistics()
    assert len(woken) == 1000
    assert all(-1e-9 <= late <= GRANULARITY + 1e-9 for late in woken)
    assert after.woken - before.woken == 1000
    # Two seconds of sleepers: at most one timer expiry per grid step, not one per sleeper.
    assert after.wakeups - before.wakeups <= 2.0 / GRANULARITY + 1
    assert after.sleeping == 0


async def test_cancelling_a_sleeping_actor_task_leaves_it_unwoken(autojump_clock):
    woken: list[str] = []

    async def sleeper(name: str, seconds: float, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await coarse_sleep(seconds)
            woken.append(name)

    async with trio.open_nursery() as nursery:
        stopped = await nursery.start(sleeper, "stopped", 1.0)
        await nursery.start(sleeper, "kept", 2.0)
        assert ticker_statistics().sleeping == 2
        await trio.sleep(0.5)
        stopped.cancel()
        await trio.lowlevel.checkpoint()
        assert ticker_statistics().sleeping == 1
    assert woken == ["kept"]


async def test_a_sooner_sleeper_wakes_on_time_while_the_ticker_waits_for_a_later_one(
    autojump_clock,
):
    start = trio.current_time()
    times: dict[str, float] = {}

    async def sleeper(name: str, seconds: float) -> None:
        await coarse_sleep(seconds)
        times[name] = trio.current_time() - start

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, "late", 10.0)
        await trio.sleep(1.0)
        nursery.start_soon(sleeper, "soon", 0.5)
    assert times["soon"] == pytest.approx(1.5, abs=GRANULARITY + 1e-9)
    assert times["late"] == pytest.approx(10.0, abs=GRANULARITY + 1e-9)


async def test_a_deadline_already_passed_returns_at_once_as_a_checkpoint(autojump_clock):
    before = ticker_statistics()
    start = trio.current_time()
    await coarse_sleep_until(start - 1.0)
    assert trio.current_time() == start
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await coarse_sleep(1.0)
    assert ticker_statistics().woken == before.woken


async def test_an_alarm_ends_on_its_deadline_or_at_once_when_woken(autojump_clock):
    alarm = Alarm()
    start = trio.current_time()
    alarm.deadline = start + 1.0
    await alarm.wait()
    assert trio.current_time() - start == pytest.approx(1.0, abs=GRANULARITY + 1e-9)

    async def wake_after(seconds: float) -> None:
        await trio.sleep(seconds)
        assert alarm.waiting
        alarm.wake()

    async with trio.open_nursery() as nursery:
        alarm.deadline = math.inf
        began = trio.current_time()
        nursery.start_soon(wake_after, 0.3)
        await alarm.wait()
        assert trio.current_time() - began == pytest.approx(0.3)
    assert not alarm.waiting
    alarm.wake()  # nobody waits: nothing happens, and no wake-up is kept for later
    alarm.deadline = trio.current_time() + 2.0
    began = trio.current_time()
    await alarm.wait()
    assert trio.current_time() - began == pytest.approx(2.0, abs=GRANULARITY + 1e-9)


async def test_an_alarm_moved_sooner_while_waiting_ends_at_the_new_deadline(autojump_clock):
    alarm = Alarm()
    start = trio.current_time()
    alarm.deadline = start + 10.0

    async def move() -> None:
        await trio.sleep(1.0)
        alarm.set(trio.current_time() + 0.5)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(move)
        await alarm.wait()
    assert trio.current_time() - start == pytest.approx(1.5, abs=GRANULARITY + 1e-9)
    # The old entry (10 s) is skipped when its step comes: it wakes nobody.
    woken = ticker_statistics().woken
    await trio.sleep(10.0)
    assert ticker_statistics().woken == woken


async def test_a_cancelled_alarm_wait_is_not_woken_later(autojump_clock):
    alarm = Alarm()
    with trio.move_on_after(0.2):
        alarm.deadline = trio.current_time() + 1.0
        await alarm.wait()
    assert not alarm.waiting
    alarm.wake()
    woken = ticker_statistics().woken
    await trio.sleep(2.0)
    assert ticker_statistics().woken == woken


async def test_pacing_steps_run_at_each_deadline_they_return_in_the_tickers_step(autojump_clock):
    start = trio.current_time()
    pacer = trio.lowlevel.current_task()
    ran: list[tuple[float, float, bool]] = []  # (deadline, when it ran, in the pacing task)
    deadline = start + 0.12

    def step(now: float) -> float | str:
        nonlocal deadline
        ran.append((deadline, now, trio.lowlevel.current_task() is pacer))
        deadline = now + 0.3
        return "done" if len(ran) == 3 else deadline

    assert await coarse_pace(deadline, step) == "done"
    assert len(ran) == 3
    for due, at, in_pacer in ran:
        assert due - 1e-9 <= at <= due + GRANULARITY + 1e-9  # on the grid, never early
        assert math.isclose(at / GRANULARITY, round(at / GRANULARITY), abs_tol=1e-6)
        assert not in_pacer  # the pacing task was not woken for it


async def test_a_pacing_step_already_due_runs_in_the_pacing_task_after_a_checkpoint(
    autojump_clock,
):
    pacer = trio.lowlevel.current_task()
    where: list[bool] = []

    def step(now: float) -> str:
        where.append(trio.lowlevel.current_task() is pacer)
        return "done"

    assert await coarse_pace(trio.current_time() - 1.0, step) == "done"
    assert where == [True]


async def test_an_error_of_a_pacing_step_is_raised_in_the_pacing_task(autojump_clock):
    def step(now: float) -> float:
        raise LookupError("no such line")

    with pytest.raises(LookupError, match="no such line"):
        await coarse_pace(trio.current_time() + 1.0, step)
    await coarse_sleep(1.0)  # the ticker itself goes on


async def test_a_cancelled_pacer_runs_no_further_step(autojump_clock):
    ran: list[float] = []

    def step(now: float) -> float:
        ran.append(now)
        return now + 1.0

    with trio.move_on_after(2.5):
        await coarse_pace(trio.current_time() + 1.0, step)
    assert len(ran) == 2
    await trio.sleep(5)
    assert len(ran) == 2
    assert ticker_statistics().sleeping == 0


async def test_an_alarm_paced_task_runs_its_steps_at_the_deadlines_without_waking(
    autojump_clock, nursery
):
    alarm = Alarm()
    start = trio.current_time()
    pacer: list[trio.lowlevel.Task] = []
    steps: list[tuple[float, bool]] = []  # (when, in the pacing task)
    ended = trio.Event()

    def step(now: float) -> float:
        steps.append((now - start, trio.lowlevel.current_task() is pacer[0]))
        return now + 1.0 if len(steps) < 3 else math.inf

    async def paced() -> None:
        pacer.append(trio.lowlevel.current_task())
        alarm.deadline = start + 1.0
        await alarm.pace(step)
        ended.set()

    nursery.start_soon(paced)
    await trio.sleep(3.5)
    assert [round(at) for at, _ in steps] == [1, 2, 3]
    assert not any(in_pacer for _, in_pacer in steps)
    assert alarm.waiting and not ended.is_set()  # no deadline: waits for `set` or `wake`
    alarm.set(trio.current_time() + 0.5)  # moved, like a wait
    await trio.sleep(1.0)
    assert len(steps) == 4
    alarm.wake()
    await ended.wait()


async def test_an_error_of_an_alarm_pacing_step_is_raised_in_the_pacing_task(autojump_clock):
    alarm = Alarm()
    alarm.deadline = trio.current_time() + 1.0

    def step(now: float) -> float:
        raise LookupError("no flush")

    with pytest.raises(LookupError, match="no flush"):
        await alarm.pace(step)
    assert not alarm.waiting


def _garbage_from_collection() -> list[object]:
    """What the collector finds unreachable now (kept for inspection, then dropped)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = list(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return found


async def test_pacings_that_end_leave_no_reference_cycle_for_the_collector(autojump_clock):
    # A replay ends a pacing each time the engine is busy: at a thousand creators, hundreds
    # a second. Reference counting alone must free what each one made.
    alarm = Alarm()
    left: list[int] = []

    def step(now: float) -> Any:
        left[0] -= 1
        return now + 0.2 if left[0] > 0 else "done"

    def alarm_step(now: float) -> float:
        return now + 0.2

    _garbage_from_collection()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(20):
            left[:] = [3]
            assert await coarse_pace(trio.current_time() + 0.2, step) == "done"
            async with trio.open_nursery() as nursery:
                alarm.deadline = trio.current_time() + 0.2
                nursery.start_soon(alarm.pace, alarm_step)
                await trio.sleep(0.7)
                alarm.wake()
        with trio.move_on_after(0.5):  # and one cancelled while parked
            await coarse_pace(trio.current_time() + 0.2, lambda now: now + 0.2)
        garbage = _garbage_from_collection()
    finally:
        if was_enabled:
            gc.enable()

    # Only what pacing makes (other tests' leftovers may turn to garbage meanwhile).
    def of_pacing(o: object) -> bool:
        if type(o).__qualname__ in ("_Pacer", "_AlarmPacer"):
            return True
        name = getattr(getattr(o, "__func__", o), "__qualname__", "")
        return callable(o) and isinstance(name, str) and (".pace" in name or "run_step" in name)

    def cell_of_pacing(o: object) -> bool:
        try:
            return type(o).__name__ == "cell" and of_pacing(o.cell_contents)  # type: ignore[attr-defined]
        except ValueError:  # an empty cell
            return False

    made = [o for o in garbage if of_pacing(o) or cell_of_pacing(o)]
    assert not made, made[:5]
