"""Ordered start and stop, grace periods, on_stop failures, what is never a crash."""

from __future__ import annotations

import math
from typing import Any

import pytest
import structlog.testing
import trio
import trio.testing

from actors import Actor, ActorFailed, SnapshotFailed
from actors._errors import leaves
from supervisors import Backoff, ChildSpec, Supervisor
from tests.unit.supervisors.conftest import Recorder


async def test_children_start_in_order_and_start_returns_after_the_last_on_start(
    autojump_clock, journal, recorder
):
    class SlowStart(Recorder):
        async def on_start(self) -> None:
            await trio.sleep(2)
            await super().on_start()

    sup = Supervisor("root", [ChildSpec(n, recorder(n, SlowStart)) for n in "abc"])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert journal.events("start") == ["a", "b", "c"]
        assert [t for *_, t in journal] == [2, 4, 6]
        assert trio.current_time() == 6
        await sup.stop()
    assert journal.events("stop") == ["c", "b", "a"]


async def test_stop_gives_each_child_its_grace_period_then_cancels_it(
    autojump_clock, journal, recorder
):
    sup = Supervisor(
        "root",
        [
            ChildSpec("a", recorder("a"), shutdown=3),
            ChildSpec("b", recorder("b"), shutdown=0),
            ChildSpec("c", recorder("c"), shutdown=5),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for name in "abc":
            sup.ref(name).cast("slow")  # each is busy for 100 s
        await trio.testing.wait_all_tasks_blocked()
        t0 = trio.current_time()
        await sup.stop()
    stops = [(n, t - t0) for e, n, _, t in journal if e == "stop"]
    # Reverse order; c gets 5 s, b is cancelled at once, a gets 3 s.
    assert stops == [("c", 5), ("b", 5), ("a", 8)]
    assert [c.state for c in sup.which_children()] == ["stopped"] * 3


async def test_a_child_finishing_its_message_stops_before_the_grace_period_ends(
    autojump_clock, journal, recorder
):
    class Brief(Recorder):
        async def handle(self, message):
            await trio.sleep(1)
            return await super().handle(message)

    sup = Supervisor("root", [ChildSpec("a", recorder("a", Brief), shutdown=10)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.ref("a").cast("work")
        await trio.testing.wait_all_tasks_blocked()
        await sup.stop()
    assert ("handled", "a", 1, "work") in journal
    assert trio.current_time() == 1


async def test_infinite_grace_waits_for_the_handler(autojump_clock, journal, recorder):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"), shutdown=math.inf)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.ref("a").cast("slow")
        await trio.testing.wait_all_tasks_blocked()
        await sup.stop()
    assert ("handled", "a", 1, "slow") in journal
    assert trio.current_time() == 100


async def test_a_call_interrupted_by_the_grace_deadline_fails_instead_of_hanging(
    autojump_clock, recorder
):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"), shutdown=1)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        failures = []

        async def caller() -> None:
            try:
                await sup.ref("a").call("slow", timeout=1000)
            except ActorFailed as exc:
                failures.append(exc)

        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        await sup.stop()
    assert len(failures) == 1 and failures[0].__cause__ is None
    assert sup.registry.dead_letters.count == 1


async def test_a_crash_in_on_stop_does_not_block_the_shutdown_of_siblings(
    autojump_clock, journal, recorder
):
    class BadStop(Recorder):
        async def on_stop(self) -> None:
            await super().on_stop()
            raise RuntimeError("cleanup failed")

    class HangingStop(Recorder):
        async def on_stop(self) -> None:
            await super().on_stop()
            await trio.sleep_forever()

    sup = Supervisor(
        "root",
        [
            ChildSpec("a", recorder("a")),
            ChildSpec("b", recorder("b", BadStop)),
            ChildSpec("c", recorder("c", HangingStop), shutdown=2),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await sup.stop()
    assert journal.events("stop") == ["c", "b", "a"]
    assert trio.current_time() == 2  # the hanging on_stop was cut at its grace deadline


async def test_on_stop_runs_after_a_crash(autojump_clock, journal, recorder):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))], backoff=Backoff(initial=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        with pytest.raises(ActorFailed):
            await sup.ref("a").call("crash")
        await sup.ref("a").call("ping")
        assert [(e, i) for e, n, i, *_ in journal if e in ("start", "stop")] == [
            ("start", 1),
            ("stop", 1),
            ("start", 2),
        ]
        await sup.stop()


async def test_background_task_failure_is_unwrapped_from_its_exception_group(
    autojump_clock, journal
):
    class Background(Recorder):
        async def on_start(self) -> None:
            await super().on_start()
            if self.instance == 1:
                self.nursery.start_soon(self.fail_later)

        async def fail_later(self) -> None:
            await trio.sleep(1)
            raise ValueError("socket closed")

    count = 0

    def start() -> Background:
        nonlocal count
        count += 1
        return Background("bg", journal, count)

    sup = Supervisor("root", [ChildSpec("bg", start)], backoff=Backoff(initial=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(2)
        child = sup.which_children()[0]
        assert child.last_error == "ValueError: socket closed"
        assert child.restarts == 1 and child.state == "running"
        await sup.stop()


def test_keyboard_interrupt_in_an_actor_is_never_a_crash() -> None:
    starts = []

    class Interrupted(Actor):
        async def on_start(self) -> None:
            starts.append(1)

        async def handle(self, message):
            raise KeyboardInterrupt

    async def main() -> None:
        sup = Supervisor("root", [ChildSpec("k", Interrupted)], backoff=Backoff(initial=0))
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            sup.ref("k").cast("go")
            await trio.sleep(1)

    with pytest.raises(BaseException) as info:
        trio.run(main)
    assert any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves(info.value))
    assert starts == [1]  # not restarted


async def test_cancelling_the_parent_scope_is_not_a_crash(autojump_clock, journal, recorder):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))])
    with trio.move_on_after(5):
        await sup.run()
    assert journal.events("start") == ["a"]
    assert journal.events("stop") == ["a"]  # on_stop still ran
    assert sup.which_children()[0].restarts == 0
    assert sup.which_children()[0].last_error is None


async def test_stop_during_a_backoff_wait_returns_promptly(autojump_clock, recorder):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))], backoff=Backoff(initial=20, jitter=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        with pytest.raises(ActorFailed):
            await sup.ref("a").call("crash")
        await trio.testing.wait_all_tasks_blocked()
        assert sup.which_children()[0].state == "restarting"
        await sup.stop()
    assert trio.current_time() < 1


async def test_factory_that_returns_something_else_is_a_crash(autojump_clock):
    sup = Supervisor("root", [ChildSpec("x", lambda: object())], max_restarts=1)
    from supervisors import SupervisorGaveUp

    async with trio.open_nursery() as nursery:
        with pytest.raises(SupervisorGaveUp) as info:
            await nursery.start(sup.run)
    assert isinstance(info.value.__cause__, TypeError)


async def test_restart_child_replaces_the_instance_without_counting_as_a_crash(
    autojump_clock, journal, recorder
):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))], max_restarts=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for _ in range(3):  # max_restarts=0: a crash would have made it give up at once
            await sup.restart_child("a")
        assert [(e, i) for e, _, i, *_ in journal] == [
            ("start", 1),
            ("stop", 1),
            ("start", 2),
            ("stop", 2),
            ("start", 3),
            ("stop", 3),
            ("start", 4),
        ]
        assert sup.statistics()["state"] == "running"
        assert sup.find_supervisor("") is sup
        with pytest.raises(KeyError):
            sup.find_supervisor("a")  # an actor, not a supervisor
        await sup.stop()


async def test_a_restart_asked_for_from_inside_the_child_completes(
    autojump_clock, journal, recorder
):
    class RestartsItself(Recorder):
        """On 'restart me', asks the supervisor to restart it from a task of its own nursery
        (as an HTTP handler runs inside the server it restarts)."""

        async def handle(self, message: Any) -> Any:
            if message == "restart me":
                self.nursery.start_soon(self._restart)
                return None
            return await super().handle(message)

        async def _restart(self) -> None:
            try:
                await sup.restart_child(self.name)
            finally:
                self.journal.append(("asker finished", self.name, self.instance))

    sup = Supervisor("root", [ChildSpec("a", recorder("a", RestartsItself))], max_restarts=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await sup.ref("a").call("restart me")
        await trio.testing.wait_all_tasks_blocked()
        # The asker was cancelled with the instance it ran in; the restart went on.
        assert [e[:3] for e in journal] == [
            ("start", "a", 1),
            ("asker finished", "a", 1),
            ("stop", "a", 1),
            ("start", "a", 2),
        ]
        (child,) = sup.which_children()
        assert (child.state, child.restarts, child.last_error) == ("running", 1, None)
        assert await sup.ref("a").call("hello") == ("a", 2, "hello")
        await sup.stop()


async def test_a_fresh_instance_that_fails_to_start_is_shown_and_retried(
    autojump_clock, journal, recorder
):
    class FailsSecondStart(Recorder):
        async def on_start(self) -> None:
            await super().on_start()
            if self.instance == 2:
                raise OSError("port 8080 on 127.0.0.1 is in use")

    sup = Supervisor(
        "root",
        [ChildSpec("a", recorder("a", FailsSecondStart))],
        backoff=Backoff(initial=1.0, jitter=0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.request_restart("a")
        await trio.sleep(0.5)  # mock clock: inside the backoff wait after the failed start
        (child,) = sup.which_children()
        assert child.state == "restarting"
        assert child.last_error == "OSError: port 8080 on 127.0.0.1 is in use"
        row = {r.path: r for r in sup.tree()}["root/a"]
        assert (row.state, row.last_error) == (child.state, child.last_error)
        await trio.sleep(1.0)
        (child,) = sup.which_children()
        assert (child.state, child.restarts) == ("running", 2)
        with pytest.raises(KeyError):
            sup.request_restart("nobody")
        await sup.stop()


async def test_a_shutdown_bound_cuts_even_a_shielded_on_stop_already_running(
    autojump_clock, journal, recorder
):
    class SlowStop(Recorder):
        async def on_stop(self) -> None:
            await super().on_stop()
            await trio.sleep(100)  # its grace period is 30 s

    sup = Supervisor("root", [ChildSpec("a", recorder("a", SlowStop), shutdown=30.0)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        nursery.start_soon(sup.stop)
        await trio.sleep(1)
        assert journal.events("stop") == ["a"]  # on_stop is running, shielded
        # The process's deadline: also a cancel of the whole tree would not reach it.
        sup.registry.bound_stops(trio.current_time() + 1)
        nursery.cancel_scope.cancel()
    assert trio.current_time() == pytest.approx(2)


async def test_a_shutdown_bound_shortens_grace_periods_below_a_path(autojump_clock, recorder):
    class Busy(Actor):
        async def handle(self, message: Any) -> Any:
            await trio.sleep(100)

    sup = Supervisor(
        "root",
        [
            ChildSpec("kept", recorder("kept"), shutdown=30.0),
            ChildSpec("busy", Busy, shutdown=30.0),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.ref("busy").cast("work")
        await trio.testing.wait_all_tasks_blocked()
        sup.registry.bound_stops(trio.current_time() + 3, under="root/busy")
        sup.registry.bound_stops(trio.current_time() + 5)
        await sup.stop()
    assert trio.current_time() == pytest.approx(3)
    assert sup.registry.stop_deadline("root/kept") == pytest.approx(5)
    assert sup.registry.stop_deadline("root/busybody") == pytest.approx(5)


async def test_messages_dropped_during_a_shutdown_are_logged_once_per_actor(autojump_clock):
    class Sink(Actor):
        async def handle(self, message: Any) -> Any:
            await trio.sleep(100)

    sup = Supervisor("root", [ChildSpec("sink", Sink, shutdown=1.0)])
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            sup.registry.bound_stops(trio.current_time() + 10)
            for n in range(500):
                sup.ref("sink").cast(n)
            await trio.testing.wait_all_tasks_blocked()
            await sup.stop()
    dropped = [e for e in logs if "dead letter" in e["event"]]
    assert len(dropped) == 1, dropped
    assert dropped[0]["path"] == "root/sink"
    assert dropped[0]["count"] == 500
    assert dropped[0]["messages"] == {
        "int: actor stopped for good": 499,
        "int: stopped while handling": 1,
    }
    assert sup.registry.dead_letters.count == 500


async def test_a_snapshot_that_raises_shows_as_snapshot_failed_and_the_walk_goes_on(
    autojump_clock,
):
    class Broken(Actor):
        def snapshot(self) -> Any:
            raise KeyError("token=abc123 missing")

    class Plain(Actor):
        pass

    sup = Supervisor("root", [ChildSpec("broken", Broken), ChildSpec("plain", Plain)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        rows = {r.path: r for r in sup.tree()}
        broken = rows["root/broken"].detail
        assert isinstance(broken, SnapshotFailed)
        assert broken.error.startswith("KeyError: ")
        assert "missing" in broken.error and "abc123" not in broken.error  # masked
        # An actor with nothing of its own to show, and the supervisor: no detail.
        assert rows["root/plain"].detail is None and rows["root"].detail is None
        # A walk without details takes none, not even the failing one; but the one asked for.
        assert all(r.detail is None for r in sup.tree(details=False))
        one = {r.path: r.detail for r in sup.tree(details=False, detail_of="root/broken")}
        assert isinstance(one["root/broken"], SnapshotFailed) and one["root/plain"] is None
        await sup.stop()
