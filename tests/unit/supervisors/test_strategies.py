"""Strategies and restart types."""

from __future__ import annotations

import pytest
import trio

from actors import ActorFailed
from supervisors import Backoff, ChildSpec, Restart, Strategy, Supervisor
from tests.unit.supervisors.conftest import Recorder

NO_BACKOFF = Backoff(initial=0)


async def crash(sup: Supervisor, child: str) -> None:
    with pytest.raises(ActorFailed):
        await sup.ref(child).call("crash")
    await trio.testing.wait_all_tasks_blocked()


def three(recorder, strategy: Strategy) -> Supervisor:
    return Supervisor(
        "root",
        [ChildSpec(n, recorder(n)) for n in ("a", "b", "c")],
        strategy=strategy,
        backoff=NO_BACKOFF,
    )


async def test_one_for_one_restarts_only_the_crashed_child(nursery, journal, recorder):
    sup = three(recorder, Strategy.ONE_FOR_ONE)
    await nursery.start(sup.run)
    journal.clear()
    await crash(sup, "b")
    assert [(e, n, i) for e, n, i, *_ in journal if e != "handled"] == [
        ("stop", "b", 1),
        ("start", "b", 2),
    ]
    assert [c.restarts for c in sup.which_children()] == [0, 1, 0]
    assert await sup.ref("b").call("hi") == ("b", 2, "hi")
    await sup.stop()


async def test_one_for_all_stops_siblings_in_reverse_then_starts_all_in_order(
    nursery, journal, recorder
):
    sup = three(recorder, Strategy.ONE_FOR_ALL)
    await nursery.start(sup.run)
    journal.clear()
    await crash(sup, "b")
    assert [(e, n) for e, n, *_ in journal] == [
        ("stop", "b"),  # the crashed instance's on_stop
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]
    assert [c.restarts for c in sup.which_children()] == [1, 1, 1]
    await sup.stop()


async def test_rest_for_one_restarts_the_crashed_child_and_those_after_it(
    nursery, journal, recorder
):
    sup = three(recorder, Strategy.REST_FOR_ONE)
    await nursery.start(sup.run)
    journal.clear()
    await crash(sup, "b")
    assert [(e, n) for e, n, *_ in journal] == [
        ("stop", "b"),
        ("stop", "c"),
        ("start", "b"),
        ("start", "c"),
    ]
    assert [c.restarts for c in sup.which_children()] == [0, 1, 1]
    await sup.stop()


async def test_one_restart_decision_counts_once_toward_intensity(nursery, journal, recorder):
    # Three children restarted together twice must not exhaust max_restarts=2.
    sup = Supervisor(
        "root",
        [ChildSpec(n, recorder(n)) for n in ("a", "b", "c")],
        strategy=Strategy.ONE_FOR_ALL,
        max_restarts=2,
        backoff=NO_BACKOFF,
    )
    await nursery.start(sup.run)
    await crash(sup, "a")
    await crash(sup, "c")
    assert sup.statistics()["state"] == "running"
    await sup.stop()


def exiting(*, fail: bool):
    class Exiting(Recorder):
        async def run(self) -> None:
            if self.instance > 1:
                await trio.sleep_forever()
            await trio.sleep(1)
            if fail:
                raise ValueError("run failed")

    return Exiting


@pytest.mark.parametrize(
    ("restart", "fail", "restarted", "present"),
    [
        (Restart.PERMANENT, False, True, True),
        (Restart.PERMANENT, True, True, True),
        (Restart.TRANSIENT, False, False, True),
        (Restart.TRANSIENT, True, True, True),
        (Restart.TEMPORARY, False, False, False),
        (Restart.TEMPORARY, True, False, False),
    ],
)
async def test_restart_types_after_normal_exit_and_crash(
    nursery, autojump_clock, journal, recorder, restart, fail, restarted, present
):
    cls = exiting(fail=fail)
    sup = Supervisor(
        "root", [ChildSpec("x", recorder("x", cls), restart=restart)], backoff=NO_BACKOFF
    )
    await nursery.start(sup.run)
    await trio.sleep(5)
    assert len(journal.events("start")) == (2 if restarted else 1)
    ids = [c.id for c in sup.which_children()]
    assert ids == (["x"] if present else [])
    if present and not restarted:
        assert sup.which_children()[0].state == "stopped"
    if not present:
        with pytest.raises(KeyError):
            sup.lookup("x")
    await sup.stop()


async def test_permanent_normal_exits_count_toward_intensity(
    nursery, autojump_clock, journal, recorder
):
    class QuitsAtOnce(Recorder):
        async def run(self) -> None:
            return

    from supervisors import SupervisorGaveUp

    sup = Supervisor(
        "root", [ChildSpec("q", recorder("q", QuitsAtOnce))], max_restarts=3, backoff=NO_BACKOFF
    )
    with pytest.raises(SupervisorGaveUp):
        await sup.run()
    assert len(journal.events("start")) == 4
