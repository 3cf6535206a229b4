"""Coarse sleeps shared by every task of a trio run: many sleepers, one timer.

A trio sleep is a cancel scope whose deadline expires; the expiry costs trio about 40 us
(cancel the scope, raise `Cancelled` into the task, catch it again). A thousand creators each
sleeping between replayed lines, before a flush and between timer ticks made hundreds of such
expiries a second. Here a sleeper parks in one shared table instead, and one task per run
wakes on a grid of `GRANULARITY` seconds and reschedules every sleeper whose grid step has
come: one expiry per grid step that has sleepers due, plus a plain reschedule per sleeper.

A coarse sleep ends on the first grid step at or after its deadline: at most `GRANULARITY`
late, never early. Cancellation works as for any trio sleep (a cancelled sleeper is dropped
from the table, never woken), so an actor that is stopped or restarted is never woken by it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
import outcome
import trio

#: The grid of wake-ups, in seconds: the most a coarse sleep ends late.
GRANULARITY = 0.05


@attrs.frozen(kw_only=True)
class TickerStatistics:
    """What the run's ticker did so far."""

    #: Times the ticker task woke from its own timer (at most one per grid step).
    wakeups: int
    #: Sleepers it woke (each a plain reschedule, no timer of its own).
    woken: int
    #: Sleepers parked now (cancelled ones drop out lazily).
    sleeping: int


class Ticker:
    """The parked sleepers of one run, and the task that wakes them."""

    def __init__(self, granularity: float = GRANULARITY) -> None:
        self.granularity = granularity
        # The parked sleepers by grid step (step `i` is at `i * granularity`), and a heap of
        # the steps that have some: parking is an append to the step's list, and a wake-up
        # walks a list, with no per-sleeper heap order to keep. A slot is a one-element list
        # emptied (None) on cancellation, left in its list and skipped when its step comes.
        # A slot holds a task to reschedule, or a pacing step to call (`pace`).
        self._due: dict[int, list[list[Any]]] = {}
        self._steps: list[int] = []
        self._scope: trio.CancelScope | None = None
        self._wake_at = math.inf
        self.wakeups = 0
        self.woken = 0

    def statistics(self) -> TickerStatistics:
        """Counters for tests and benchmarks."""
        return TickerStatistics(
            wakeups=self.wakeups,
            woken=self.woken,
            sleeping=sum(
                1 for slots in self._due.values() for slot in slots if slot[0] is not None
            ),
        )

    def park(self, task: Any, deadline: float) -> list[Any]:
        """Put `task` (about to wait in `wait_task_rescheduled`) in the table, to be woken on
        the first grid step at or after `deadline` (never, for `math.inf`). Returns its slot:
        whoever empties the slot (`slot[0] = None`) first owns the wake-up."""
        if math.isinf(deadline):
            return [task]
        return self._park_at(task, math.ceil(deadline / self.granularity))

    def _park_at(self, task: Any, step: int) -> list[Any]:
        slot: list[Any] = [task]
        slots = self._due.get(step)
        if slots is not None:
            slots.append(slot)
            return slot
        self._due[step] = [slot]
        heapq.heappush(self._steps, step)
        due = step * self.granularity
        if due < self._wake_at:
            self._wake_at = due
            if self._scope is not None:
                self._scope.deadline = due
        return slot

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the first grid step at or after `deadline` (trio clock)."""
        step = math.ceil(deadline / self.granularity)
        if step * self.granularity <= trio.current_time():
            await trio.lowlevel.checkpoint()
            return
        # No `checkpoint_if_cancelled` first: trio delivers a pending cancellation to a task
        # as it parks (through `abort`), so a cancelled sleeper never waits.
        slot = self._park_at(trio.lowlevel.current_task(), step)

        def abort(_: object) -> trio.lowlevel.Abort:
            slot[0] = None  # left in its list, skipped when its step comes
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def reached(self, deadline: float, now: float) -> bool:
        """Whether a sleep until `deadline` would end at once at trio time `now`."""
        return math.ceil(deadline / self.granularity) * self.granularity <= now

    async def pace(self, deadline: float, step: Callable[[float], Any]) -> Any:
        """`step(now)` at `deadline` on the grid, again at each deadline it returns (a float),
        until it returns anything else, which `pace` returns. The steps run in the ticker's
        own step (a callback: no wake-up of this task each); one already due runs here,
        after a checkpoint. An exception of `step` is raised here. Cancellation ends the
        pacing between two steps (a cancelled pacer's next step never runs)."""
        while self.reached(deadline, trio.current_time()):
            await trio.lowlevel.checkpoint()  # a cancellation lands between two steps
            result = step(trio.current_time())
            if type(result) is not float:
                return result
            deadline = result
        pacer = _Pacer(self, trio.lowlevel.current_task(), step)
        pacer.slot = self._park_at(pacer, math.ceil(deadline / self.granularity))

        def abort(_: object) -> trio.lowlevel.Abort:
            pacer.slot[0] = None  # left in its list, skipped when its step comes
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)

    async def run(self) -> None:
        """Wake the due sleepers at each grid step that has some (run the due pacing steps:
        `pace`); runs for the whole run."""
        due = self._due
        steps = self._steps
        granularity = self.granularity
        pop = heapq.heappop
        reschedule = trio.lowlevel.reschedule
        task_type = trio.lowlevel.Task
        while True:
            now = trio.current_time()
            while steps and steps[0] * granularity <= now:
                woken = 0
                for slot in due.pop(pop(steps)):
                    task = slot[0]
                    if task is not None:
                        slot[0] = None
                        woken += 1
                        if type(task) is task_type:
                            reschedule(task)
                        else:
                            task()  # a pacing step (`pace`): it never raises
                self.woken += woken
            self._wake_at = steps[0] * granularity if steps else math.inf
            with trio.CancelScope(deadline=self._wake_at) as self._scope:
                await trio.sleep_forever()
            self._scope = None
            self.wakeups += 1


class _Pacer:
    """The parked step of one `Ticker.pace`: an object the ticker calls, not a closure.

    A closure that parks itself again names itself, a reference cycle that outlives the
    pacing: only the collector frees it, and a thousand replays end a pacing hundreds of
    times a second (each waits for the engine now and then). The garbage piled up between
    the collector's passes, about 9 MiB at 1,000 creators. This holds no reference to itself
    once its slot is emptied, which the ticker does before calling it and `abort` does too.
    """

    __slots__ = ("slot", "step", "task", "ticker")

    def __init__(self, ticker: Ticker, task: trio.lowlevel.Task, step: Callable[[float], Any]):
        self.ticker = ticker
        self.task = task
        self.step = step
        self.slot: list[Any] = _EMPTY_SLOT

    def __call__(self) -> None:
        try:
            result = self.step(trio.current_time())
        except Exception as exc:  # raised in the pacing task, never in the ticker
            trio.lowlevel.reschedule(self.task, outcome.Error(exc))
            return
        if type(result) is float:
            ticker = self.ticker
            self.slot = ticker._park_at(self, math.ceil(result / ticker.granularity))
        else:
            trio.lowlevel.reschedule(self.task, outcome.Value(result))


class _AlarmPacer:
    """The parked step of one `Alarm.pace` (an object, not a closure: see `_Pacer`)."""

    __slots__ = ("alarm", "step", "task")

    def __init__(self, alarm: Alarm, task: trio.lowlevel.Task, step: Callable[[float], float]):
        self.alarm = alarm
        self.task = task
        self.step = step

    def __call__(self) -> None:
        alarm = self.alarm
        try:
            deadline = self.step(trio.current_time())
        except Exception as exc:  # raised in the pacing task, never in the ticker
            alarm._slot = None
            trio.lowlevel.reschedule(self.task, outcome.Error(exc))
            return
        alarm.deadline = deadline
        alarm._slot = _ticker().park(self, deadline)


#: What a pacer's slot is before it is first parked (never in the ticker's table).
_EMPTY_SLOT: list[Any] = [None]


_TICKER: trio.lowlevel.RunVar[Ticker] = trio.lowlevel.RunVar("actors.ticker")


def _ticker() -> Ticker:
    try:
        return _TICKER.get()
    except LookupError:
        ticker = Ticker()
        _TICKER.set(ticker)
        # A system task: it serves every tree of the run and ends with the run.
        trio.lowlevel.spawn_system_task(ticker.run, name="actors.ticker")
        return ticker


def coarse_sleep(seconds: float) -> Coroutine[Any, Any, None]:
    """Like `trio.sleep` (await it), ending on the shared grid (at most `GRANULARITY` late):
    for the periodic waits of many actors (replay pacing, flushes, ticks), which then share
    wake-ups. A plain function returning the ticker's coroutine: no frame of its own for each
    of a thousand sleepers."""
    return _ticker().sleep_until(trio.current_time() + seconds)


def coarse_pace(deadline: float, step: Callable[[float], Any]) -> Coroutine[Any, Any, Any]:
    """Run `step(now)` on the shared grid at `deadline` and at each later deadline it returns
    (a float), in the ticker's step: no wake-up of the calling task per step; returns (await
    it) what `step` returned that is not a float, or raises what it raised (see
    `Ticker.pace`). For a task that does a little work at each of many deadlines (a replay
    delivering lines), most of which needs no waiting."""
    return _ticker().pace(deadline, step)


def ticker_reached(deadline: float, now: float) -> bool:
    """Whether a coarse sleep until `deadline` would end at once at trio time `now`."""
    return _ticker().reached(deadline, now)


def coarse_sleep_until(deadline: float) -> Coroutine[Any, Any, None]:
    """Like `trio.sleep_until` (await it), ending on the shared grid (at most `GRANULARITY`
    late)."""
    return _ticker().sleep_until(deadline)


class Alarm:
    """One task's wait for a deadline on the shared grid (like `coarse_sleep_until`) that
    other tasks can move (`set`) or cut short (`wake`) while it waits: how an actor's
    background task waits for "the next of several things" (a flush, a tick, a reply) with no
    event, channel or task per thing. A wake-up that comes while nobody waits is not kept:
    the waiter checks its own state before each `wait`.
    """

    __slots__ = ("_slot", "_task", "deadline")

    def __init__(self) -> None:
        self.deadline = math.inf
        # What waits: the task itself (`wait`), or the step it paces with (`pace`).
        self._slot: list[Any] | None = None
        self._task: trio.lowlevel.Task | None = None  # the waiting task

    @property
    def waiting(self) -> bool:
        """Whether a task waits in `wait` and nothing has woken it yet."""
        slot = self._slot
        return slot is not None and slot[0] is not None

    def set(self, deadline: float) -> None:
        """End the wait on the grid step at or after `deadline` (also a wait in progress)."""
        self.deadline = deadline
        slot = self._slot
        if slot is not None and slot[0] is not None:
            waiter, slot[0] = slot[0], None  # the old entry is skipped when due
            self._slot = _ticker().park(waiter, deadline)

    def wake(self) -> None:
        """End a wait in progress now (nothing, when nobody waits)."""
        slot = self._slot
        if slot is not None and slot[0] is not None:
            slot[0] = None
            assert self._task is not None  # set while anything is parked
            trio.lowlevel.reschedule(self._task)

    async def wait(self) -> None:
        """Wait until `deadline` (on the grid) or a `wake`; a checkpoint like any trio wait."""
        task = trio.lowlevel.current_task()
        await self._park(task, task)

    async def pace(self, step: Callable[[float], float]) -> None:
        """Wait like `wait`, but at the deadline `step(now)` runs in the ticker's step (a
        callback: no wake-up of this task) and returns the next deadline (`set` moves it as
        for `wait`); the wait ends at a `wake`, or raises what `step` raised. For a
        background task whose work at its deadlines is synchronous (a flush, a tick)."""
        task = trio.lowlevel.current_task()
        await self._park(task, _AlarmPacer(self, task, step))

    async def _park(self, task: trio.lowlevel.Task, waiter: Any) -> None:
        """Park `waiter` (the task, or a pacing step) until `deadline`, and `task` until a
        `wake` (or, when `waiter` is the task, the deadline)."""
        ticker = _ticker()
        deadline = self.deadline
        if deadline == math.inf:
            self._slot = [waiter]
        else:
            step = math.ceil(deadline / ticker.granularity)
            if step * ticker.granularity <= trio.current_time():
                await trio.lowlevel.checkpoint()
                return
            # Parked without `checkpoint_if_cancelled` first, as in `sleep_until`.
            self._slot = ticker._park_at(waiter, step)
        self._task = task

        def abort(_: object) -> trio.lowlevel.Abort:
            if self._slot is not None:
                self._slot[0] = None
            return trio.lowlevel.Abort.SUCCEEDED

        try:
            await trio.lowlevel.wait_task_rescheduled(abort)
        finally:
            self._slot = None
            self._task = None


def ticker_statistics() -> TickerStatistics:
    """The current run's ticker counters (zeros before anyone slept coarsely)."""
    try:
        return _TICKER.get().statistics()
    except LookupError:
        return TickerStatistics(wakeups=0, woken=0, sleeping=0)
