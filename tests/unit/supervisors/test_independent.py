"""Independent children (`Supervisor(..., independent=True)`): started and stopped together."""

from __future__ import annotations

import pytest
import trio

from supervisors import Backoff, ChildSpec, Strategy, Supervisor, SupervisorGaveUp
from tests.unit.supervisors.conftest import Recorder


async def test_independent_children_start_together_and_stop_together(
    autojump_clock, journal, recorder
):
    class Slow(Recorder):
        async def on_start(self) -> None:
            await trio.sleep(2)
            await super().on_start()

        async def on_stop(self) -> None:
            await trio.sleep(3)
            await super().on_stop()

    names = [f"c{n}" for n in range(50)]
    sup = Supervisor("root", [ChildSpec(n, recorder(n, Slow)) for n in names], independent=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert trio.current_time() == 2  # not 100: the slowest start, not the sum
        assert sorted(journal.events("start")) == sorted(names)
        assert [c.state for c in sup.which_children()] == ["running"] * 50
        t0 = trio.current_time()
        await sup.stop()
        assert trio.current_time() - t0 == 3  # not 150
    assert sorted(journal.events("stop")) == sorted(names)


async def test_an_independent_child_failing_to_start_is_retried_alone_with_backoff(
    autojump_clock, journal, recorder
):
    failures = {"b": 2}

    class Flaky(Recorder):
        async def on_start(self) -> None:
            if failures.get(self.name, 0) > 0:
                failures[self.name] -= 1
                raise RuntimeError(f"{self.name} not yet")
            await super().on_start()

    sup = Supervisor(
        "root",
        [ChildSpec(n, recorder(n, Flaky)) for n in "abc"],
        independent=True,
        backoff=Backoff(initial=1.0, jitter=0.0),
        max_restarts=5,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        # a and c started at once; b failed twice, retried after 1 s then 2 s.
        started = journal.events("start")
        assert sorted(started[:2]) == ["a", "c"] and started[2:] == ["b"]
        assert trio.current_time() == 3
        assert {c.id: c.restarts for c in sup.which_children()} == {"a": 0, "b": 2, "c": 0}
        await sup.stop()


async def test_independent_children_that_keep_failing_exhaust_the_intensity(
    autojump_clock, recorder
):
    class Broken(Recorder):
        async def on_start(self) -> None:
            raise RuntimeError("never starts")

    sup = Supervisor(
        "root",
        [ChildSpec(n, recorder(n, Broken)) for n in "abcd"],
        independent=True,
        max_restarts=2,
        backoff=Backoff(initial=0.01),
    )
    async with trio.open_nursery() as nursery:
        with pytest.raises(SupervisorGaveUp):
            await nursery.start(sup.run)


def test_independent_children_need_one_for_one() -> None:
    with pytest.raises(ValueError, match="one_for_one"):
        Supervisor("root", [], strategy=Strategy.REST_FOR_ONE, independent=True)
