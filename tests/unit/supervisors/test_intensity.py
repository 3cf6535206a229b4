"""Restart intensity, escalation through nested supervisors, and backoff delays."""

from __future__ import annotations

import random

import pytest
import trio

from actors import Actor, ActorFailed
from supervisors import Backoff, ChildSpec, Strategy, Supervisor, SupervisorGaveUp

NO_BACKOFF = Backoff(initial=0)


class CrashesOnStart(Actor):
    attempts: list[float]

    async def on_start(self) -> None:
        self.attempts.append(trio.current_time())
        raise ConnectionError("login refused")


def always_failing(attempts: list[float]):
    def start() -> CrashesOnStart:
        actor = CrashesOnStart()
        actor.attempts = attempts
        return actor

    return start


async def test_more_than_max_restarts_within_max_seconds_gives_up(
    autojump_clock, recorder, run_guarded
):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))], max_restarts=2, max_seconds=10)
    gave_up: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(run_guarded(sup, gave_up))
        for _ in range(2):
            with pytest.raises(ActorFailed):
                await sup.ref("a").call("crash")
            await trio.sleep(1)
        assert sup.statistics()["state"] == "running"
        with pytest.raises(ActorFailed):
            await sup.ref("a").call("crash")
    assert len(gave_up) == 1
    assert sup.statistics()["state"] == "failed"
    assert sup.which_children()[0].state == "stopped"


async def test_restarts_spread_beyond_the_window_never_give_up(autojump_clock, recorder):
    sup = Supervisor("root", [ChildSpec("a", recorder("a"))], max_restarts=1, max_seconds=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for _ in range(6):
            with pytest.raises(ActorFailed):
                await sup.ref("a").call("crash")
            await trio.sleep(6)
        assert sup.statistics()["state"] == "running"
        assert sup.which_children()[0].restarts == 6
        await sup.stop()


async def test_on_start_that_always_fails_gives_up_from_nursery_start(autojump_clock):
    attempts: list[float] = []
    sup = Supervisor(
        "root",
        [ChildSpec("login", always_failing(attempts))],
        max_restarts=3,
        max_seconds=5,
        backoff=Backoff(initial=0.1, multiplier=2, jitter=0),
    )
    async with trio.open_nursery() as nursery:
        with pytest.raises(SupervisorGaveUp) as info:
            await nursery.start(sup.run)
    assert isinstance(info.value.__cause__, ConnectionError)
    # First try plus three retries, spaced by backoff: never a spin.
    assert attempts == pytest.approx([0.0, 0.1, 0.3, 0.7])


async def test_failed_first_start_is_retried_and_later_children_wait_for_it(
    autojump_clock, journal, recorder
):
    tries: list[float] = []

    class FailsTwice(Actor):
        async def on_start(self) -> None:
            tries.append(trio.current_time())
            if len(tries) <= 2:
                raise OSError("not yet")
            journal.append(("start", "flaky", len(tries), trio.current_time()))

    sup = Supervisor(
        "root",
        [ChildSpec("flaky", FailsTwice), ChildSpec("after", recorder("after"))],
        backoff=Backoff(initial=1, jitter=0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert [(e, n) for e, n, *_ in journal] == [("start", "flaky"), ("start", "after")]
        assert tries == [0, 1, 3]
        await sup.stop()


async def test_escalation_through_three_levels(autojump_clock, journal, recorder, run_guarded):
    """leaf gives up -> mid restarts leaf until mid gives up -> root restarts mid ... -> root
    gives up. Every level stops its children before raising."""
    leaf_starts: list[float] = []

    def leaf() -> Supervisor:
        leaf_starts.append(trio.current_time())
        return Supervisor(
            "leaf", [ChildSpec("worker", recorder("worker"))], max_restarts=0, backoff=NO_BACKOFF
        )

    def mid() -> Supervisor:
        return Supervisor(
            "mid",
            [ChildSpec("leaf", leaf), ChildSpec("sibling", recorder("sibling"))],
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=1,
            backoff=NO_BACKOFF,
        )

    root = Supervisor(
        "root",
        [ChildSpec("bystander", recorder("bystander")), ChildSpec("mid", mid)],
        max_restarts=1,
        backoff=NO_BACKOFF,
    )
    gave_up: list[BaseException] = []
    crashes = 0
    async with trio.open_nursery() as nursery:
        await nursery.start(run_guarded(root, gave_up))
        worker = root.lookup("mid/leaf/worker")
        while not gave_up:
            with pytest.raises(ActorFailed):
                await worker.call("crash")
            crashes += 1
            await trio.testing.wait_all_tasks_blocked()
    assert isinstance(gave_up[0], SupervisorGaveUp) and gave_up[0].path == "root"
    assert isinstance(gave_up[0].__cause__, SupervisorGaveUp)
    assert gave_up[0].__cause__.path == "root/mid"
    assert crashes == 4
    # Each crash makes leaf give up; mid tolerates one restart, root tolerates one of mid.
    # mid #1: leaf crash 1 (mid restarts), crash 2 (mid gives up) -> root restarts mid.
    # mid #2: crashes 3 and 4 -> mid gives up again -> root gives up.
    assert len(leaf_starts) == 4
    assert journal.events("stop")[-1] == "bystander"
    assert root.statistics()["state"] == "failed"
    with pytest.raises(ActorFailed):
        await worker.call("hello")  # the tree is gone for good


async def test_backoff_delays_are_exact_and_reset_after_a_stable_run(
    autojump_clock, journal, recorder
):
    sup = Supervisor(
        "root",
        [ChildSpec("a", recorder("a"))],
        max_restarts=100,
        max_seconds=1000,
        backoff=Backoff(initial=1.0, multiplier=2.0, maximum=4.0, jitter=0.0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        crash_times = []
        for _ in range(4):
            crash_times.append(trio.current_time())
            with pytest.raises(ActorFailed):
                await sup.ref("a").call("crash")
            await sup.ref("a").call("ping")  # waits in the mailbox for the new instance
        starts = [t for e, _, _, t in journal if e == "start"][1:]
        assert [s - c for s, c in zip(starts, crash_times, strict=True)] == [1, 2, 4, 4]
        # Up for `maximum` seconds: the streak is forgotten.
        await trio.sleep(4)
        before = trio.current_time()
        with pytest.raises(ActorFailed):
            await sup.ref("a").call("crash")
        await sup.ref("a").call("ping")
        assert [t for e, _, _, t in journal if e == "start"][-1] - before == 1
        await sup.stop()


def test_backoff_jitter_stays_within_its_band() -> None:
    backoff = Backoff(initial=1.0, multiplier=3.0, maximum=100.0, jitter=0.25)
    rng = random.Random(7)
    for attempt in range(1, 8):
        base = min(100.0, 3.0 ** (attempt - 1))
        for _ in range(50):
            assert base * 0.75 <= backoff.delay(attempt, rng) <= base * 1.25


def test_backoff_never_overflows_on_long_streaks() -> None:
    assert Backoff(initial=0.05, maximum=30, jitter=0).delay(10_000) == 30


async def test_restart_uses_the_crashed_childs_streak_under_one_for_all(
    autojump_clock, journal, recorder
):
    sup = Supervisor(
        "root",
        [ChildSpec("a", recorder("a")), ChildSpec("b", recorder("b"))],
        strategy=Strategy.ONE_FOR_ALL,
        max_restarts=10,
        max_seconds=100,
        backoff=Backoff(initial=2.0, multiplier=2.0, maximum=60, jitter=0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for expected in (2, 4):
            t0 = trio.current_time()
            with pytest.raises(ActorFailed):
                await sup.ref("b").call("crash")
            await trio.testing.wait_all_tasks_blocked()
            await sup.ref("a").call("ping")
            assert trio.current_time() - t0 == expected
        t0 = trio.current_time()
        with pytest.raises(ActorFailed):
            await sup.ref("a").call("crash")  # a's own streak starts at 1
        await trio.testing.wait_all_tasks_blocked()
        await sup.ref("a").call("ping")
        assert trio.current_time() - t0 == 2
        await sup.stop()


def test_supervisors_given_no_rng_share_one_jitter_generator_and_one_given_keeps_its_own():
    # A generator each (~2.9 KiB) was a thousand creator supervisors' biggest single object.
    first, second = Supervisor("a"), Supervisor("b")
    assert first._rng is second._rng  # test-only peek
    own = random.Random(7)
    assert Supervisor("c", rng=own)._rng is own
