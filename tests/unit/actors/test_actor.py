"""Refs, mailboxes, calls, dead letters and the registry."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from actors import QUEUE, Actor, ActorFailed, CallTimeout, MailboxFull, ReplyError
from actors._registry import DeadLetters
from supervisors import Backoff, ChildSpec, Restart, Strategy, Supervisor

NO_BACKOFF = Backoff(initial=0)


class Store(Actor):
    """Keeps what it is told; a 'gate' message blocks until released."""

    mailbox_size = 3
    generation = 0

    def __init__(self) -> None:
        Store.generation += 1
        self.generation = Store.generation
        self.items: list[Any] = []

    async def handle(self, message: Any) -> Any:
        match message:
            case ("gate", event):
                await event.wait()
            case "crash":
                raise ValueError("bad message")
            case "crash-secret":
                raise ValueError("login failed with oauth:abcdef0123456789 for daniel")
            case "slow":
                await trio.sleep(10)
            case "get":
                return (self.generation, list(self.items))
            case _:
                self.items.append(message)
        return None


@pytest.fixture(autouse=True)
def _reset_generation() -> None:
    Store.generation = 0


async def started(nursery: trio.Nursery, *specs: ChildSpec, **kwargs: Any) -> Supervisor:
    sup = Supervisor("root", list(specs), backoff=NO_BACKOFF, **kwargs)
    await nursery.start(sup.run)
    return sup


async def test_call_returns_the_handlers_value(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    ref.cast("a")
    await ref.send("b")
    assert await ref.call("get") == (1, ["a", "b"])
    await sup.stop()


async def test_call_times_out_with_calltimeout(autojump_clock, nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    with pytest.raises(CallTimeout) as info:
        await sup.ref("s").call("slow", timeout=2)
    assert trio.current_time() == 2
    assert info.value.path == "root/s"
    # The actor is unharmed: it answers once the slow message is done.
    assert await sup.ref("s").call("get", timeout=20) == (1, [])
    await sup.stop()


async def test_a_request_reply_can_be_taken_without_waiting_and_notifies_once_it_arrives(
    nursery,
):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    ref.cast("a")
    pending = ref.request("get")
    woken: list[str] = []
    pending.notify(lambda: woken.append("arrived"))
    assert not pending.done and woken == []
    with pytest.raises(RuntimeError):
        pending.result_nowait()
    await ref.call("get")  # handled after the request: its reply has arrived
    assert pending.done and woken == ["arrived"]
    assert pending.result_nowait() == (1, ["a"])
    failing = ref.request("crash")
    await ref.call("get")
    with pytest.raises(ActorFailed):
        failing.result_nowait()
    late: list[str] = []
    failing.notify(lambda: late.append("at once"))  # already arrived: called at once
    assert late == ["at once"]
    await sup.stop()


async def test_call_into_a_crashing_handler_raises_actorfailed_with_the_cause(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    with pytest.raises(ActorFailed) as info:
        await sup.ref("s").call("crash")
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "bad message"
    dead = sup.registry.dead_letters
    assert dead.count == 1 and dead.recent[-1].path == "root/s"
    assert dead.recent[-1].reason == "handler crashed"
    await sup.stop()


async def test_cast_to_a_full_mailbox_raises_mailboxfull_and_send_waits_for_room(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    gate = trio.Event()
    ref.cast(("gate", gate))
    await trio.testing.wait_all_tasks_blocked()  # the gate is being handled
    for i in range(3):
        ref.cast(i)
    with pytest.raises(MailboxFull):
        ref.cast("overflow")
    sent = trio.Event()

    async def sender() -> None:
        await ref.send("late")
        sent.set()

    nursery.start_soon(sender)
    await trio.testing.wait_all_tasks_blocked()
    assert not sent.is_set()  # backpressure: no room yet
    gate.set()
    await sent.wait()
    assert await ref.call("get") == (1, [0, 1, 2, "late"])
    child = sup.tree()[1]
    assert child.mailbox.peak == 3
    await sup.stop()


async def test_a_wait_for_room_for_several_ends_when_they_fit_and_never_holds_up_a_sender(
    nursery,
):
    from actors._mailbox import Mailbox

    box = Mailbox("root/s", capacity=3)
    for i in range(3):
        box.put_nowait(i)
    roomy, sent = trio.Event(), trio.Event()

    async def wait_for_two() -> None:
        await box.wait_for_room(2)
        roomy.set()

    async def send() -> None:
        await box.put("late")
        sent.set()

    nursery.start_soon(wait_for_two)
    await trio.testing.wait_all_tasks_blocked()
    nursery.start_soon(send)  # waits behind it
    await trio.testing.wait_all_tasks_blocked()
    assert box.take_nowait() == 0
    await trio.testing.wait_all_tasks_blocked()
    # Room for one: the sender's (the wait for two did not take its wake-up).
    assert sent.is_set() and not roomy.is_set()
    assert box.take_nowait() == 1
    await trio.testing.wait_all_tasks_blocked()
    assert not roomy.is_set()  # one place free
    assert box.take_nowait() == 2
    await trio.testing.wait_all_tasks_blocked()
    assert roomy.is_set() and box.depth == 1
    # More than the capacity fits an empty mailbox only; a closed one ends every wait.
    assert not box.has_room(4) and box.has_room(2)
    assert box.take_nowait() == "late" and box.has_room(4)
    box.put_nowait("again")
    closed = trio.Event()

    async def wait_for_four() -> None:
        await box.wait_for_room(4)
        closed.set()

    nursery.start_soon(wait_for_four)
    await trio.testing.wait_all_tasks_blocked()
    assert not closed.is_set()
    box.close()
    await trio.testing.wait_all_tasks_blocked()
    assert closed.is_set() and not box.has_room()


async def test_messages_sent_during_a_restart_reach_the_new_instance(autojump_clock, nursery):
    sup = Supervisor("root", [ChildSpec("s", Store)], backoff=Backoff(initial=5, jitter=0))
    await nursery.start(sup.run)
    ref = sup.ref("s")
    with pytest.raises(ActorFailed):
        await ref.call("crash")
    await trio.testing.wait_all_tasks_blocked()
    assert sup.which_children()[0].state == "restarting"
    ref.cast("x")
    await ref.send("y")
    assert await ref.call("get", timeout=10) == (2, ["x", "y"])
    await sup.stop()


async def test_a_ref_follows_restarts_of_nested_supervisors(autojump_clock, nursery):
    def creator() -> Supervisor:
        return Supervisor(
            "creator",
            [ChildSpec("triggers", Store), ChildSpec("twitch", Store)],
            strategy=Strategy.REST_FOR_ONE,
            backoff=NO_BACKOFF,
        )

    creators = lambda: Supervisor("creators", [ChildSpec("creator:daniel", creator)])  # noqa: E731
    sup = await started(nursery, ChildSpec("creators", creators), max_restarts=10)
    twitch = sup.lookup("creators/creator:daniel/twitch")
    twitch.cast("before")
    # Crash the creator's first child: rest_for_one restarts twitch too.
    with pytest.raises(ActorFailed):
        await sup.lookup("creators/creator:daniel/triggers").call("crash")
    await trio.testing.wait_all_tasks_blocked()
    generation, items = await twitch.call("get")
    assert items == []  # a new instance (state is per instance)...
    assert generation > 2
    # ...and a message queued while nobody was there is not lost.
    with pytest.raises(ActorFailed):
        await twitch.call("crash")
    twitch.cast("queued-during-restart")
    assert (await twitch.call("get"))[1] == ["queued-during-restart"]
    await sup.stop()


async def test_lookup_of_an_unknown_path_raises_keyerror(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    with pytest.raises(KeyError):
        sup.lookup("nope")
    with pytest.raises(KeyError):
        sup.lookup("s/deeper")
    with pytest.raises(KeyError):
        sup.ref("nope")
    await sup.stop()


async def test_terminate_child_removes_the_path_and_fails_its_refs(nursery):
    sup = await started(nursery, ChildSpec("s", Store), ChildSpec("t", Store))
    ref = sup.ref("s")
    await sup.terminate_child("s")
    assert [c.id for c in sup.which_children()] == ["t"]
    with pytest.raises(KeyError):
        sup.lookup("s")
    with pytest.raises(ActorFailed):
        await ref.call("get")
    with pytest.raises(KeyError):
        await sup.terminate_child("s")
    await sup.stop()


async def test_start_child_survives_a_restart_of_its_supervisor(autojump_clock, nursery):
    def dynamic() -> Supervisor:
        return Supervisor("creators", [], backoff=NO_BACKOFF)

    sup = await started(
        nursery,
        ChildSpec("creators", dynamic),
        ChildSpec("s", Store),
        strategy=Strategy.ONE_FOR_ALL,
    )
    with pytest.raises(TypeError, match="supervisors take no messages"):
        sup.lookup("creators").cast("x")
    child = sup.which_children()[0]
    inner = sup.child_supervisor("creators")
    ref = await inner.start_child(ChildSpec("creator:mia", Store))
    await ref.send("hello")
    with pytest.raises(ActorFailed):
        await sup.ref("s").call("crash")  # one_for_all: creators restarts too
    await trio.testing.wait_all_tasks_blocked()
    assert sup.which_children()[0].restarts == child.restarts + 1
    assert await sup.lookup("creators/creator:mia").call("get") == (3, [])
    await sup.stop()


async def test_start_child_with_a_duplicate_id_is_refused(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    with pytest.raises(ValueError, match="already has a child"):
        await sup.start_child(ChildSpec("s", Store))
    await sup.stop()


async def test_temporary_child_crash_removes_it_and_its_mailbox(nursery):
    sup = await started(nursery, ChildSpec("tmp", Store, restart=Restart.TEMPORARY))
    ref = sup.ref("tmp")
    with pytest.raises(ActorFailed):
        await ref.call("crash")
    await trio.testing.wait_all_tasks_blocked()
    assert sup.which_children() == []
    with pytest.raises(ActorFailed):
        ref.cast("x")
    await sup.stop()


async def test_statistics_report_state_restarts_errors_and_counts(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    ref.cast(1)
    ref.cast(2)
    await ref.call("get")
    with pytest.raises(ActorFailed):
        await ref.call("crash-secret")
    await ref.call("get")
    rows = {row.path: row for row in sup.tree()}
    child = rows["root/s"]
    assert child.kind == "actor" and child.state == "running"
    assert child.restarts == 1
    assert child.handled == 4  # the crashing message is not counted as handled
    assert child.last_error is not None
    assert child.last_error.startswith("ValueError: login failed with ")
    assert "abcdef0123456789" not in child.last_error
    assert child.started_at is not None
    assert rows["root"].kind == "supervisor" and rows["root"].state == "running"
    await sup.stop()
    assert sup.statistics()["state"] == "stopped"


async def test_calls_waiting_when_the_tree_stops_fail_instead_of_hanging(autojump_clock, nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    gate = trio.Event()
    ref.cast(("gate", gate))
    errors: list[BaseException] = []

    async def caller() -> None:
        try:
            await ref.call("get", timeout=100)
        except ActorFailed as exc:
            errors.append(exc)

    nursery.start_soon(caller)
    await trio.testing.wait_all_tasks_blocked()
    await sup.stop()  # the gate message is cut off after the 5 s grace period
    assert trio.current_time() == 5
    await trio.testing.wait_all_tasks_blocked()
    assert len(errors) == 1 and errors[0].__cause__ is None


async def test_completed_calls_do_not_accumulate_in_the_deadline_heap(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    for _ in range(20_000):
        await ref.call("get", timeout=3600)
    timer = sup.registry.timer
    assert timer is not None and len(timer) <= 8192  # compacted, not 20,000 stale entries
    assert timer.expired == 0
    await sup.stop()


async def test_a_call_waiting_for_room_still_times_out(autojump_clock, nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    gate = trio.Event()
    ref.cast(("gate", gate))
    await trio.testing.wait_all_tasks_blocked()
    for i in range(3):
        ref.cast(i)
    with pytest.raises(CallTimeout):
        await ref.call("get", timeout=2)
    assert trio.current_time() == 2
    gate.set()
    await sup.stop()


class Batcher(Actor):
    """Takes queued messages together; a batch containing 'crash' fails as a whole."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    async def handle_batch(self, messages: list[Any]) -> list[Any]:
        self.batches.append(list(messages))
        if "crash" in messages:
            raise RuntimeError("batch failed")
        return [m * 2 for m in messages]


async def test_handle_batch_gets_everything_queued_and_replies_in_order(nursery):
    sup = await started(nursery, ChildSpec("b", Batcher))
    ref = sup.ref("b")
    results: dict[int, Any] = {}

    async def caller(n: int) -> None:
        results[n] = await ref.call(n)

    async with trio.open_nursery() as callers:
        for n in range(10):
            callers.start_soon(caller, n)
    assert results == {n: n * 2 for n in range(10)}
    assert sup.tree()[1].handled == 10
    await sup.stop()


class SlowDrainer(Actor):
    """One message a batch, a second each; handles what is queued when it is stopped."""

    max_batch = 1
    drain_on_stop = True

    def __init__(self, handled: list[Any]) -> None:
        self.handled = handled

    async def handle_batch(self, messages: list[Any]) -> list[Any]:
        await trio.sleep(1.0)
        self.handled.extend(messages)
        return [None] * len(messages)


async def test_a_draining_actor_handles_every_message_queued_before_its_stop(
    autojump_clock, nursery
):
    handled: list[Any] = []
    sup = await started(nursery, ChildSpec("d", lambda: SlowDrainer(handled), shutdown=30.0))
    for n in range(5):
        sup.ref("d").cast(n)
    await sup.stop()
    assert handled == [0, 1, 2, 3, 4]


async def test_a_draining_actor_is_still_cut_off_at_the_end_of_its_grace_period(
    autojump_clock, nursery
):
    handled: list[Any] = []
    sup = await started(nursery, ChildSpec("d", lambda: SlowDrainer(handled), shutdown=2.5))
    for n in range(5):
        sup.ref("d").cast(n)
    began = trio.current_time()
    await sup.stop()
    assert trio.current_time() - began == pytest.approx(2.5)
    assert handled == [0, 1]
    assert sup.registry is not None
    letters = [(d.message_type, d.reason) for d in sup.registry.dead_letters.recent]
    assert letters[0] == ("int", "stopped while handling")  # the third, cut off


async def test_a_crashing_batch_fails_every_call_in_it_and_dead_letters_each(nursery):
    sup = await started(nursery, ChildSpec("b", Batcher))
    ref = sup.ref("b")
    failures: list[BaseException] = []

    async def caller(message: Any) -> None:
        try:
            await ref.call(message)
        except ActorFailed as exc:
            failures.append(exc)

    # The three calls are queued before the actor runs again: one batch.
    async with trio.open_nursery() as callers:
        for message in (1, "crash", 3):
            callers.start_soon(caller, message)
    assert len(failures) == 3
    assert all(isinstance(f.__cause__, RuntimeError) for f in failures)
    assert sup.registry.dead_letters.count == 3
    await sup.stop()


class Picky(Actor):
    async def handle(self, message: Any) -> Any:
        if message == "bad":
            raise ReplyError(ValueError("not that one"))
        return message


async def test_reply_error_answers_the_caller_without_a_crash(nursery):
    sup = await started(nursery, ChildSpec("p", Picky))
    ref = sup.ref("p")
    with pytest.raises(ValueError, match="not that one"):
        await ref.call("bad")
    ref.cast("bad")  # nobody waits: logged and counted, still no crash
    assert await ref.call("good") == "good"
    assert sup.which_children()[0].restarts == 0
    assert sup.registry.dead_letters.count == 0
    await sup.stop()


class Recorder(Actor):
    """Takes ("note", x) casts inline while idle; anything else goes through `handle`."""

    def __init__(self) -> None:
        self.notes: list[Any] = []
        self.handled_by: list[str] = []

    def handle_nowait(self, message: object) -> bool:
        if message == ("note", "explode"):
            raise RuntimeError("inline handler failed")
        if isinstance(message, tuple) and message[0] == "note":
            self.notes.append(message[1])
            self.handled_by.append("inline")
            return True
        return False

    async def handle(self, message: Any) -> Any:
        match message:
            case ("gate", event):
                await event.wait()
            case ("note", value):
                self.notes.append(value)
                self.handled_by.append("loop")
            case "get":
                return list(self.notes)
        return None


async def test_casts_to_an_idle_actor_with_handle_nowait_are_taken_in_order_without_a_wake_up(
    nursery,
):
    sup = await started(nursery, ChildSpec("r", Recorder))
    ref = sup.ref("r")
    instance = sup._by_id["r"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    ref.cast(("note", 1))
    # Taken in the sender's step: recorded before the actor's task ran again.
    assert instance.notes == [1] and instance.handled_by == ["inline"]
    # A busy actor: casts queue behind the message it handles, and keep their order.
    gate = trio.Event()
    ref.cast(("gate", gate))
    ref.cast(("note", 2))
    ref.cast(("note", 3))
    await trio.testing.wait_all_tasks_blocked()
    ref.cast(("note", 4))
    assert instance.notes == [1]
    gate.set()
    assert await ref.call("get") == [1, 2, 3, 4]
    assert instance.handled_by == ["inline", "loop", "loop", "loop"]
    assert sup.tree()[1].handled == 6
    assert sup.registry.existing_mailbox("root/r").received == 6
    await sup.stop()


async def test_a_failing_handle_nowait_crashes_the_actor_with_its_error_not_the_sender(nursery):
    sup = await started(nursery, ChildSpec("r", Recorder))
    ref = sup.ref("r")
    await trio.testing.wait_all_tasks_blocked()
    ref.cast(("note", "explode"))  # the sender never sees the inline failure
    await trio.testing.wait_all_tasks_blocked()  # the loop raised it: a crash, a restart
    child = sup.which_children()[0]
    assert child.restarts == 1 and "inline handler failed" in (child.last_error or "")
    assert [d.message_type for d in sup.registry.dead_letters.recent] == ["tuple"]
    # The restarted instance takes casts inline again.
    ref.cast(("note", 5))
    assert await ref.call("get") == [5]
    assert sup._by_id["r"].run.instance.handled_by == ["inline"]  # test-only peek
    await sup.stop()


class Answerer(Actor):
    """Answers ("double", n) calls inline while idle; ("later", n) and casts go through
    `handle`; ("refuse",) is refused inline, ("explode",) fails inline."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.handled_by: list[str] = []

    def call_nowait(self, message: Any) -> Any:
        match message:
            case ("double", n):
                self.seen.append(n)
                self.handled_by.append("inline")
                return 2 * n
            case ("refuse",):
                raise ReplyError(ValueError("not now"))
            case ("explode",):
                raise RuntimeError("inline answer failed")
        return QUEUE

    async def handle(self, message: Any) -> Any:
        match message:
            case ("gate", event):
                await event.wait()
            case ("double", n) | ("later", n):
                self.seen.append(n)
                self.handled_by.append("loop")
                return 2 * n
        return None


async def test_calls_to_an_idle_actor_with_call_nowait_are_answered_in_the_callers_step(
    nursery,
):
    sup = await started(nursery, ChildSpec("a", Answerer))
    ref = sup.ref("a")
    instance = sup._by_id["a"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    pending = ref.request(("double", 1))
    # Answered in this step: the reply is there before the actor's task ran again.
    assert pending.done and pending.result_nowait() == 2
    assert instance.handled_by == ["inline"]
    timer = sup.registry.timer
    assert timer is not None and len(timer) == 0  # answered already: no deadline to watch
    # Declined (QUEUE): queued for `handle`; while it is busy, calls queue behind it in order.
    gate = trio.Event()
    ref.cast(("gate", gate))
    first = ref.request(("double", 2))
    second = ref.request(("later", 3))
    assert not first.done and not second.done
    gate.set()
    assert await first.result() == 4 and await second.result() == 6
    await trio.testing.wait_all_tasks_blocked()
    assert await ref.call(("later", 4)) == 8  # declined while idle: through `handle`
    assert instance.seen == [1, 2, 3, 4]
    assert instance.handled_by == ["inline", "loop", "loop", "loop"]
    with pytest.raises(ValueError, match="not now"):  # refused inline: no crash
        await ref.call(("refuse",))
    assert sup.tree()[1].handled == 6
    assert sup.registry.existing_mailbox("root/a").received == 6
    assert sup.which_children()[0].restarts == 0
    await sup.stop()


async def test_a_failing_call_nowait_crashes_the_actor_not_the_caller(nursery):
    sup = await started(nursery, ChildSpec("a", Answerer))
    ref = sup.ref("a")
    await trio.testing.wait_all_tasks_blocked()
    pending = ref.request(("explode",))  # the caller's step never sees the failure
    with pytest.raises(ActorFailed) as failed:
        await pending.result()
    assert isinstance(failed.value.__cause__, RuntimeError)
    assert "inline answer failed" in (sup.which_children()[0].last_error or "")
    assert sup.registry.dead_letters.count == 1
    with trio.fail_after(5):
        while sup.which_children()[0].restarts == 0:  # noqa: ASYNC110
            await trio.sleep(0.01)
    # The restarted instance answers inline again.
    await trio.testing.wait_all_tasks_blocked()
    assert ref.request(("double", 5)).result_nowait() == 10
    assert sup._by_id["a"].run.instance.handled_by == ["inline"]  # test-only peek
    await sup.stop()


def test_a_dead_lettered_inline_failure_fails_the_call_it_stands_for() -> None:
    from actors._mailbox import Call, InlineFailure
    from actors._registry import DeadLetters

    letters = DeadLetters()
    call = Call(("explode",))
    letters.record("root/a", InlineFailure(call, RuntimeError("boom")), "stopped for good", None)
    with pytest.raises(ActorFailed) as failed:  # its caller is told, not left waiting
        call.result_nowait()
    assert isinstance(failed.value.__cause__, RuntimeError)
    assert [(d.message_type, d.reason) for d in letters.recent] == [("tuple", "stopped for good")]


async def test_a_failure_left_by_an_instance_that_stopped_fails_its_caller_not_the_next_instance(
    nursery,
):
    sup = await started(nursery, ChildSpec("a", Answerer))
    ref = sup.ref("a")
    box = sup.registry.existing_mailbox("root/a")
    await trio.testing.wait_all_tasks_blocked()
    reply, pending = ref.request_now(("explode",), timeout=math.inf)
    assert reply is None and pending is not None
    box.request_stop()  # an orderly stop in the same step: its loop never takes the failure
    with trio.fail_after(5), pytest.raises(ActorFailed) as failed:
        await pending.result()
    assert isinstance(failed.value.__cause__, RuntimeError)
    await trio.testing.wait_all_tasks_blocked()
    # The next instance runs, never crashed of the failure of the one before.
    assert "inline answer failed" not in (sup.which_children()[0].last_error or "")
    assert ref.request(("double", 5)).result_nowait() == 10
    await sup.stop()


async def test_request_now_answers_an_idle_actor_in_the_callers_step_and_queues_the_rest_once(
    nursery,
):
    sup = await started(nursery, ChildSpec("a", Answerer))
    ref = sup.ref("a")
    instance = sup._by_id["a"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    # Answered now: the reply itself, no pending reply, nothing for the call timer to watch.
    assert ref.request_now(("double", 1)) == (2, None)
    timer = sup.registry.timer
    assert timer is not None and len(timer) == 0
    # Declined (QUEUE) while idle: queued for `handle`, offered inline once only.
    reply, pending = ref.request_now(("later", 2))
    assert reply is None and pending is not None and not pending.done
    assert await pending.result() == 4
    # Busy: queued behind the message it handles, in order.
    gate = trio.Event()
    ref.cast(("gate", gate))
    _, first = ref.request_now(("double", 3))
    _, second = ref.request_now(("later", 4))
    assert first is not None and second is not None and not first.done
    gate.set()
    assert await first.result() == 6 and await second.result() == 8
    assert instance.seen == [1, 2, 3, 4]
    assert instance.handled_by == ["inline", "loop", "loop", "loop"]
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(ValueError, match="not now"):  # refused inline: raised, no crash
        ref.request_now(("refuse",))
    assert sup.tree()[1].handled == 6
    assert sup.registry.existing_mailbox("root/a").received == 6
    assert sup.which_children()[0].restarts == 0
    await sup.stop()


async def test_request_now_of_a_failing_inline_answer_crashes_the_actor_not_the_caller(nursery):
    sup = await started(nursery, ChildSpec("a", Answerer))
    ref = sup.ref("a")
    await trio.testing.wait_all_tasks_blocked()
    reply, pending = ref.request_now(("explode",))  # the caller's step never sees it fail
    assert reply is None and pending is not None
    with pytest.raises(ActorFailed) as failed:
        await pending.result()
    assert isinstance(failed.value.__cause__, RuntimeError)
    assert sup.registry.dead_letters.count == 1
    with trio.fail_after(5):
        while sup.which_children()[0].restarts == 0:  # noqa: ASYNC110
            await trio.sleep(0.01)
    await trio.testing.wait_all_tasks_blocked()
    assert ref.request_now(("double", 5)) == (10, None)  # the new instance answers inline
    await sup.stop()


async def test_an_actors_log_is_bound_to_its_path_only_when_first_used(nursery):
    sup = await started(nursery, ChildSpec("s", Store))
    instance = sup._by_id["s"].run.instance  # test-only peek
    assert "log" not in vars(instance)  # nothing bound for an actor that never logs
    assert instance.log._context == {"path": "root/s"}
    assert vars(instance)["log"] is instance.log  # bound once
    await sup.stop()


async def full_store(nursery: trio.Nursery) -> tuple[Supervisor, Any, trio.Event]:
    """A `Store` busy until `gate` is set, its mailbox full (0, 1, 2 queued)."""
    sup = await started(nursery, ChildSpec("s", Store))
    ref = sup.ref("s")
    gate = trio.Event()
    ref.cast(("gate", gate))
    await trio.testing.wait_all_tasks_blocked()
    for n in range(Store.mailbox_size):
        ref.cast(n)
    return sup, ref, gate


async def test_an_actor_whose_full_mailbox_refuses_messages_is_overloaded_until_it_keeps_up(
    autojump_clock, nursery
):
    from exports.health import OVERLOAD_SECONDS, status_report, telemetry_errors

    sup, ref, gate = await full_store(nursery)
    with pytest.raises(MailboxFull):
        ref.cast("one too many")
    report = status_report(sup.tree(details=False))
    assert report.status == "degraded"
    (store,) = [c for c in report.degraded if c.path == "root/s"]
    assert store.reason is not None and store.reason.startswith("overloaded: its mailbox of 3")
    assert "1 refused so far" in store.reason
    errors = telemetry_errors(sup.tree(details=False), root_name="root", now=datetime.now(UTC))
    assert [e.active for e in errors if e.message.startswith("overloaded")] == [True]
    gate.set()
    assert await ref.call("get") == (1, [0, 1, 2])
    await trio.sleep(OVERLOAD_SECONDS)  # nothing refused for a minute: no longer degraded
    report = status_report(sup.tree(details=False))
    assert report.ok
    errors = telemetry_errors(sup.tree(details=False), root_name="root", now=datetime.now(UTC))
    assert [e.active for e in errors if e.message.startswith("overloaded")] == [False]
    await sup.stop()


async def test_an_actor_its_senders_wait_for_is_backed_up_until_it_keeps_up(
    autojump_clock, nursery
):
    """Backpressure refuses nothing, so only the waits can say that an actor cannot keep up
    (chat waiting for a store): /status and the telemetry's errors say so, and the rows the
    publisher reads for the telemetry include it."""
    from exports.health import (
        OVERLOAD_SECONDS,
        components,
        reporting_rows,
        status_report,
        telemetry_errors,
    )

    sup, ref, gate = await full_store(nursery)
    nursery.start_soon(ref.send, "late")  # waits for room
    await trio.sleep(5)

    def errors() -> list[Any]:
        rows = components(reporting_rows(sup.tree(details=False)))  # as the publisher reads
        found = telemetry_errors(rows, root_name="root", now=datetime.now(UTC))
        return [e for e in found if e.message.startswith("backed up")]

    report = status_report(sup.tree(details=False))
    assert report.status == "degraded"
    (store,) = [c for c in report.degraded if c.path == "root/s"]
    assert store.reason is not None and store.reason.startswith("backed up: its mailbox of 3")
    assert "senders waited for room 1 times, the last 5 s ago" in store.reason
    assert [e.active for e in errors()] == [True]
    row = next(r for r in sup.tree(details=False) if r.path == "root/s")
    assert row.mailbox.as_json()["held_back"] == 1 and "refused" not in row.mailbox.as_json()
    gate.set()
    await trio.testing.wait_all_tasks_blocked()  # the waiting sender queued "late"
    assert await ref.call("get") == (1, [0, 1, 2, "late"])  # nothing refused, nothing lost
    await trio.sleep(OVERLOAD_SECONDS)  # nobody waited for a minute: no longer degraded
    assert status_report(sup.tree(details=False)).ok
    assert [e.active for e in errors()] == [False]
    await sup.stop()


class RunningRecorder(Recorder):
    """A `Recorder` with a `run` of its own: waits for ("finish",) to return, counts when it
    is cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.finish = trio.Event()
        self.run_cancelled = 0

    def handle_nowait(self, message: object) -> bool:
        if message == ("finish",):
            self.finish.set()
            return True
        return super().handle_nowait(message)

    async def run(self) -> None:
        try:
            await self.finish.wait()
        except trio.Cancelled:
            self.run_cancelled += 1
            raise


async def test_an_idle_actor_with_run_and_inline_handling_keeps_no_task_waiting_for_messages(
    nursery,
):
    # `run` goes on in the instance's own task; a task for queued messages runs only while
    # some are queued (a task fewer per such actor: a thousand engines and replays).
    sup = await started(nursery, ChildSpec("r", RunningRecorder))
    ref = sup.ref("r")
    instance = sup._by_id["r"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    assert len(instance.nursery.child_tasks) == 0
    ref.cast(("note", 1))
    assert instance.handled_by == ["inline"]
    # Busy with a queued message: what comes meanwhile queues behind it, in order.
    gate = trio.Event()
    ref.cast(("gate", gate))
    ref.cast(("note", 2))
    await trio.testing.wait_all_tasks_blocked()
    assert len(instance.nursery.child_tasks) == 1
    ref.cast(("note", 3))
    gate.set()
    assert await ref.call("get") == [1, 2, 3]
    assert instance.handled_by == ["inline", "loop", "loop"]
    await trio.testing.wait_all_tasks_blocked()
    assert len(instance.nursery.child_tasks) == 0  # drained: the task ended
    assert sup.registry.existing_mailbox("root/r")._queue == ()  # test-only peek: no deque
    ref.cast(("note", 4))
    assert instance.handled_by[-1] == "inline"  # idle again: taken inline
    assert sup.tree()[1].handled == 6
    await sup.stop()
    assert instance.run_cancelled == 1  # the stop ended `run`


async def test_a_stop_lets_the_queued_message_being_handled_finish_then_ends_run(nursery):
    sup = await started(nursery, ChildSpec("r", RunningRecorder, shutdown=math.inf))
    ref = sup.ref("r")
    instance = sup._by_id["r"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    gate = trio.Event()
    ref.cast(("gate", gate))
    ref.cast(("note", "left"))
    await trio.testing.wait_all_tasks_blocked()
    async with trio.open_nursery() as stopping:
        stopping.start_soon(sup.stop)
        await trio.testing.wait_all_tasks_blocked()
        assert instance.run_cancelled == 0  # waits for the message being handled
        gate.set()
    assert instance.run_cancelled == 1
    assert instance.notes == []  # nothing queued behind it was taken
    assert sup.registry.dead_letters.count == 1  # the note left in the mailbox


async def test_run_returning_stops_an_actor_with_inline_handling_and_a_crash_in_handle_restarts(
    nursery,
):
    sup = await started(nursery, ChildSpec("r", RunningRecorder, restart=Restart.TRANSIENT))
    ref = sup.ref("r")
    first = sup._by_id["r"].run.instance  # test-only peek
    await trio.testing.wait_all_tasks_blocked()
    ref.cast(("note", "explode"))  # taken inline, fails: a crash, queued for the loop
    await trio.testing.wait_all_tasks_blocked()
    child = sup.which_children()[0]
    assert child.restarts == 1 and "inline handler failed" in (child.last_error or "")
    second = sup._by_id["r"].run.instance  # test-only peek
    assert second is not first and first.run_cancelled == 1
    ref.cast(("finish",))  # `run` returns: a normal exit, not restarted (TRANSIENT)
    await trio.testing.wait_all_tasks_blocked()
    assert sup.which_children()[0].state == "stopped" and second.run_cancelled == 0
    await sup.stop()


def test_dead_letters_of_many_actors_at_a_stop_are_reported_in_one_line() -> None:
    letters = DeadLetters()
    letters.summarize = True
    for n in range(25):
        letters.record(f"root/c{n:02d}", "hello", "actor stopped for good", None)
    letters.record("root/c00", 1, "stopped while handling", None)
    with structlog.testing.capture_logs() as logs:
        letters.report()
    assert [(e["event"], e["actors"], e["count"]) for e in logs] == [
        ("dead letters during the stop", 25, 26)
    ]
    assert logs[0]["messages"] == {
        "int: stopped while handling": 1,
        "str: actor stopped for good": 25,
    }
    assert logs[0]["paths"] == [*(f"root/c{n:02d}" for n in range(20)), "..."]
