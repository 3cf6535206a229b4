"""Property: under any crash schedule, no task leaks and no message to a healthy actor is lost."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorFailed
from supervisors import Backoff, ChildSpec, Strategy, Supervisor

CHILDREN = ("a", "b", "c", "d")

operation = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(CHILDREN)),
    st.tuples(st.just("crash"), st.sampled_from(CHILDREN)),
    st.tuples(st.just("sleep"), st.sampled_from([0.0, 0.01, 0.1, 1.0])),
)


class Counter(Actor):
    """Appends every numbered message to the shared log of its path."""

    def __init__(self, log: dict[str, list[int]], name: str) -> None:
        self.journal = log
        self.name = name

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("scheduled crash")
        self.journal[self.name].append(message)


@settings(max_examples=60, deadline=None)
@given(
    strategy=st.sampled_from(list(Strategy)),
    schedule=st.lists(operation, max_size=60),
    jitter=st.sampled_from([0.0, 0.1]),
)
def test_random_crash_schedules_lose_no_message_and_leak_no_task(
    strategy: Strategy, schedule: list[tuple[str, Any]], jitter: float
) -> None:
    log: dict[str, list[int]] = {name: [] for name in CHILDREN}
    sent: dict[str, list[int]] = {name: [] for name in CHILDREN}

    def spec(name: str) -> ChildSpec:
        return ChildSpec(name, lambda: Counter(log, name))

    async def main() -> None:
        tasks_before = trio.lowlevel.current_statistics().tasks_living
        sup = Supervisor(
            "root",
            [spec(name) for name in CHILDREN],
            strategy=strategy,
            max_restarts=1000,
            max_seconds=1,
            backoff=Backoff(initial=0.01, maximum=0.5, jitter=jitter),
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            number = 0
            for op, arg in schedule:
                if op == "send":
                    number += 1
                    sent[arg].append(number)
                    await sup.ref(arg).send(number)
                elif op == "crash":
                    try:
                        await sup.ref(arg).call("crash", timeout=60)
                    except ActorFailed:
                        pass
                else:
                    await trio.sleep(arg)
            # Everything sent must be handled, in order, by some instance.
            for name in CHILDREN:
                await sup.ref(name).call("flush-marker", timeout=60)
            await sup.stop()
        await trio.testing.wait_all_tasks_blocked()
        assert trio.lowlevel.current_statistics().tasks_living == tasks_before

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    for name in CHILDREN:
        assert log[name] == [*sent[name], "flush-marker"]
