"""`CallTimer`: each watched call fails with `CallTimeout` exactly at its deadline, whatever
mix of timeouts is in use, and calls that were answered are forgotten."""

from __future__ import annotations

import outcome
import trio

from actors import CallTimeout
from actors._mailbox import Call
from actors._timer import _QUEUED_TIMEOUTS, CallTimer


async def test_each_call_times_out_at_its_own_deadline_with_many_distinct_timeouts(
    autojump_clock, nursery
):
    timer = CallTimer()
    nursery.start_soon(timer.run)
    await trio.testing.wait_all_tasks_blocked()
    # More distinct timeouts than get a queue of their own, added out of deadline order.
    timeouts = [float(n % 7 + 1) + n / 1000 for n in range(_QUEUED_TIMEOUTS * 3)]
    calls = [Call(n) for n in range(len(timeouts))]
    failed_at: dict[int, float] = {}

    async def wait(n: int) -> None:
        try:
            await calls[n].wait()
        except CallTimeout:
            failed_at[n] = trio.current_time()

    began = trio.current_time()
    for n, timeout in enumerate(timeouts):
        timer.add(calls[n], f"p{n}", timeout)
        nursery.start_soon(wait, n)
    answered = calls[5]
    answered.resolve(outcome.Value("done"))
    await trio.sleep(20)
    assert answered.done and 5 not in failed_at
    assert failed_at == {n: began + t for n, t in enumerate(timeouts) if n != 5}
    assert len(timer) == 0 and timer.expired == len(timeouts) - 1


async def test_answered_calls_are_dropped_and_a_new_deadline_sooner_wakes_the_watcher(
    autojump_clock, nursery
):
    timer = CallTimer()
    nursery.start_soon(timer.run)
    await trio.testing.wait_all_tasks_blocked()
    slow = Call("slow")
    timer.add(slow, "slow", 3600)
    for n in range(10_000):
        call = Call(n)
        timer.add(call, "quick", 60)
        call.resolve(outcome.Value(n))
    assert len(timer) <= 8192  # compacted as it grows
    soon = Call("soon")
    timer.add(soon, "soon", 1)
    await trio.sleep(1.5)
    assert soon.done and slow.resolved is False
    assert timer.expired == 1
