"""Coarse sleeps: many sleepers of a run share the wake-ups of one task on a grid."""

from __future__ import annotations

import math
import random

import pytest
import trio

from actors import coarse_sleep, coarse_sleep_until, ticker_statistics
from actors._ticker import GRANULARITY


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
