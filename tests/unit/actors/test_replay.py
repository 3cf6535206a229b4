"""`ReplayChat`: plays a JSONL chat log into the trigger engine at a speed factor."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio

from actors import QUEUE, Actor, ActorRef, ticker_statistics
from actors._ticker import GRANULARITY
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent
from actors.replay import ReplayChat
from actors.replay.actor import MAX_GAP_SECONDS
from supervisors import Backoff, ChildSpec, Supervisor
from tests.unit.actors.run_steps import RunSteps

T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


class Engine(Actor):
    """Stands in for the trigger engine: records each event with the trio time it arrived."""

    def __init__(self) -> None:
        self.events: list[tuple[float, ChatEvent]] = []

    async def handle(self, message: Any) -> Any:
        if message == "get":
            return list(self.events)
        self.events.append((trio.current_time(), message))
        return None


def line(number: int, at: datetime, text: str = "hi") -> str:
    """One valid chat log line sent at `at`."""
    return json.dumps(
        {
            "platform": "replay",
            "channel": "daniel",
            "message_id": f"rp-{number}",
            "user_id": str(4000 + number),
            "login": f"user{number}",
            "display_name": f"User{number}",
            "text": text,
            "sent_at": at.isoformat().replace("+00:00", "Z"),
            "roles": [],
            "raw_type": "PRIVMSG",
        }
    )


async def start(nursery: trio.Nursery, file: Path, **kwargs: Any) -> Supervisor:
    """root: the recording engine, then the replay feeding it."""
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("triggers", Engine),
            ChildSpec(
                "replay",
                lambda: ReplayChat(
                    creator_id="daniel",
                    file=file,
                    triggers=lambda: root.lookup("triggers"),
                    **kwargs,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root


def replay_of(root: Supervisor) -> ReplayChat:
    """The live replay instance (to read its counters)."""
    instance = root._by_id["replay"].run.instance  # test-only peek at the live instance
    assert isinstance(instance, ReplayChat)
    return instance


async def wait_finished(root: Supervisor) -> ReplayChat:
    """Wait until the replay has played its whole file."""
    replay = replay_of(root)
    with trio.fail_after(30):
        while True:
            if replay.finished:
                return replay
            await trio.sleep(0.01)


@pytest.fixture
def chatlog(tmp_path: Path) -> Path:
    """Three lines 10 s and 20 s apart (recorded)."""
    path = tmp_path / "chat.jsonl"
    path.write_text(
        "\n".join(
            [
                line(1, T0),
                line(2, T0 + timedelta(seconds=10)),
                line(3, T0 + timedelta(seconds=30)),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


async def test_gaps_are_divided_by_the_speed_factor(autojump_clock, nursery, chatlog):
    root = await start(nursery, chatlog, speed=4.0)
    await wait_finished(root)
    events = await root.lookup("triggers").call("get")
    times = [at for at, _ in events]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [2.5, 5.0]
    await root.stop()


async def test_a_long_recorded_gap_is_capped(autojump_clock, nursery, tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(line(1, T0) + "\n" + line(2, T0 + timedelta(hours=2)) + "\n")
    root = await start(nursery, path, speed=1.0)
    await wait_finished(root)
    (first, _), (second, _) = await root.lookup("triggers").call("get")
    assert second - first == pytest.approx(MAX_GAP_SECONDS)
    await root.stop()


async def test_events_keep_their_recorded_time_and_are_sent_as_replay_chat(
    autojump_clock, nursery, chatlog
):
    played_at = datetime(2030, 1, 1, tzinfo=UTC)
    root = await start(nursery, chatlog, speed=100.0, clock=lambda: played_at)
    replay = await wait_finished(root)
    events = [e for _, e in await root.lookup("triggers").call("get")]
    assert [e.message_id for e in events] == ["rp-1#1", "rp-2#1", "rp-3#1"]
    assert all(e.platform == "replay" for e in events)
    seconds = [(e.sent_at - T0).total_seconds() for e in events]
    assert seconds == [0, 10, 30]
    assert replay.messages == 3 and replay.last_event_at == T0 + timedelta(seconds=30)
    assert replay.snapshot().status == "inactive"
    await root.stop()


async def test_bad_lines_are_rejected_counted_and_skipped(autojump_clock, nursery, tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(
        "\n".join(
            [
                "# a comment",
                line(1, T0),
                "{not json",
                json.dumps({"platform": "replay"}),  # missing keys
                "",
                line(2, T0 + timedelta(seconds=1)),
            ]
        )
        + "\n"
    )
    root = await start(nursery, path, speed=10.0)
    replay = await wait_finished(root)
    assert replay.messages == 2
    assert replay.rejected == 2
    assert replay.snapshot().errors == 2
    events = await root.lookup("triggers").call("get")
    assert [e.message_id for _, e in events] == ["rp-1#1", "rp-2#1"]
    await root.stop()


async def test_replies_are_recorded_and_counted(autojump_clock, nursery, chatlog):
    root = await start(nursery, chatlog, speed=100.0)
    ref = root.lookup("replay")
    await ref.send(SendChat(text="pong, User1!", reply_to="rp-1", trigger_id="ping"))
    await ref.send(SendChat(text="Deaths: 1", trigger_id="death"))
    replay = await wait_finished(root)
    assert [r.text for r in replay.replies] == ["pong, User1!", "Deaths: 1"]
    assert replay.reply_count == 2
    assert replay.snapshot().actions == 2
    await root.stop()


async def test_replies_and_moderations_are_recorded_in_the_senders_step(
    autojump_clock, nursery, chatlog
):
    # Taken inline: no task of the replay runs for them (its mailbox is served on demand).
    root = await start(nursery, chatlog, speed=100.0)
    replay = await wait_finished(root)
    ref = root.lookup("replay")
    ref.cast(SendChat(text="pong", trigger_id="ping"))
    ref.cast(Moderate(action="delete", message_id="rp-2", user_id="u2", login="user2"))
    assert [r.text for r in replay.replies] == ["pong"]
    assert [m.message_id for m in replay.moderations] == ["rp-2"]
    assert replay.snapshot().moderations == 1
    await root.stop()


async def test_a_missing_file_fails_the_start(nursery, tmp_path):
    def no_triggers() -> ActorRef:
        raise AssertionError("a replay that cannot start sends nothing")

    replay = ReplayChat(creator_id="daniel", file=tmp_path / "absent.jsonl", triggers=no_triggers)
    with pytest.raises(FileNotFoundError):
        await replay.on_start()


async def test_a_looping_replay_without_a_valid_line_stops_instead_of_spinning(
    autojump_clock, nursery, tmp_path
):
    path = tmp_path / "chat.jsonl"
    path.write_text("# only a comment\n{not json\n", encoding="utf-8")
    root = await start(nursery, path, loop=True)
    replay = await wait_finished(root)
    assert replay.messages == 0 and replay.rejected == 1
    await root.stop()


async def test_each_pass_of_a_looping_replay_has_its_own_message_ids(
    autojump_clock, nursery, chatlog
):
    root = await start(nursery, chatlog, speed=100.0, loop=True)
    with trio.fail_after(30):
        while len(await root.lookup("triggers").call("get")) < 7:  # noqa: ASYNC110
            await trio.sleep(0.5)
    events = [e for _, e in await root.lookup("triggers").call("get")]
    assert [e.message_id for e in events[:7]] == [
        "rp-1#1",
        "rp-2#1",
        "rp-3#1",
        "rp-1#2",
        "rp-2#2",
        "rp-3#2",
        "rp-1#3",
    ]
    await root.stop()


def test_replays_of_one_unchanged_log_share_its_parsed_lines(tmp_path: Path) -> None:
    import os

    from actors.replay.actor import _read_log

    log = tmp_path / "chat.jsonl"

    def line(message_id: str, at: str) -> str:
        return json.dumps(
            {"platform": "replay", "channel": "c", "message_id": message_id, "user_id": "1",
             "login": "ann", "display_name": "Ann", "text": "hi", "sent_at": at, "roles": [],
             "raw_type": "PRIVMSG"}
        )  # fmt: skip

    log.write_text(
        line("a", "2026-11-21T18:00:00Z") + "\n\n" + line("b", "2026-11-21T18:00:09Z")
        + "\nnot json\n",
        "utf-8",
    )  # fmt: skip
    first, second = _read_log(log), _read_log(log)
    assert first is second  # a thousand creators, one copy
    assert [type(e).__name__ for e in first.entries] == [
        "mappingproxy",
        "NoneType",
        "mappingproxy",
        "str",
    ]
    assert first.span.total_seconds() == 10  # 9 s between the lines, plus a second
    log.write_text(log.read_text("utf-8") + "\n", "utf-8")
    os.utime(log, ns=(1, 1))
    assert _read_log(log) is not first  # a changed file is read again


async def test_lines_due_at_one_wake_up_are_all_delivered_at_it_in_order(
    autojump_clock, nursery, tmp_path
):
    path = tmp_path / "chat.jsonl"
    recorded = [
        T0,
        T0 + timedelta(seconds=1),
        *(T0 + timedelta(seconds=1.01 + n / 1000) for n in range(3)),
    ]
    path.write_text("\n".join(line(n + 1, at) for n, at in enumerate(recorded)) + "\n")
    before = ticker_statistics()
    root = await start(nursery, path, speed=1.0)
    await wait_finished(root)
    events = await root.lookup("triggers").call("get")
    assert [e.message_id for _, e in events] == [f"rp-{n}#1" for n in range(1, 6)]
    times = [at for at, _ in events]
    # Lines 3 to 5 fall due within one grid step: one wake-up delivers them, in order.
    assert times[2] == times[3] == times[4]
    assert 0 < times[2] - times[1] <= GRANULARITY + 1e-9
    assert ticker_statistics().wakeups - before.wakeups <= 4
    await root.stop()


async def test_a_thousand_replays_share_at_most_one_timer_wake_up_per_grid_step(
    autojump_clock, nursery, tmp_path
):
    path = tmp_path / "chat.jsonl"
    # A line every 0.37 s (recorded), looping: each replay sleeps about 2.7 times a second.
    path.write_text(
        "\n".join(line(n, T0 + timedelta(seconds=0.37 * n)) for n in range(1, 40)) + "\n"
    )

    class Sink(Actor):
        """Takes every line (a thousand replays' worth of mailbox) and keeps none."""

        mailbox_size = 5000

        async def handle(self, message: Any) -> Any:
            return None

    replays = [
        ChildSpec(
            f"replay{n}",
            lambda: ReplayChat(
                creator_id="daniel", file=path, triggers=lambda: root.lookup("triggers"), loop=True
            ),
        )
        for n in range(1000)
    ]
    root: Supervisor = Supervisor("root", [ChildSpec("triggers", Sink), *replays])
    await nursery.start(root.run)
    await trio.sleep(1)  # every replay under way
    before = ticker_statistics()
    await trio.sleep(10)
    after = ticker_statistics()
    assert after.woken - before.woken >= 1000 * 10 * 2  # the replays did sleep, many times
    assert after.wakeups - before.wakeups <= 10 / GRANULARITY + 1  # one timer, not thousands
    await root.stop()


async def test_a_line_the_engine_never_answers_fails_the_replay_after_the_delivery_timeout(
    autojump_clock, nursery, chatlog
):
    from actors.replay.actor import DELIVERY_TIMEOUT

    class Stuck(Actor):
        """Takes the first line and never answers it."""

        async def handle(self, message: Any) -> Any:
            await trio.sleep_forever()

    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("triggers", Stuck),
            ChildSpec(
                "replay",
                lambda: ReplayChat(
                    creator_id="daniel", file=chatlog, triggers=lambda: root.lookup("triggers")
                ),
            ),
        ],
        backoff=Backoff(initial=0),
        max_restarts=100,
    )
    await nursery.start(root.run)
    start = trio.current_time()
    with trio.fail_after(10 * DELIVERY_TIMEOUT):
        while root.which_children()[1].restarts == 0:  # noqa: ASYNC110
            await trio.sleep(1.0)
    # Line 2 is due 10 s after line 1; the wait for line 1's reply then times out.
    assert trio.current_time() - start >= DELIVERY_TIMEOUT
    assert "no reply from root/triggers within 60 s" in (root.which_children()[1].last_error or "")
    await root.stop()


class InlineEngine(Engine):
    """A stand-in engine that answers every line in the caller's step, as an idle
    `TriggerEngine` does (`call_nowait`)."""

    def call_nowait(self, message: object) -> Any:
        if isinstance(message, ChatEvent):
            self.events.append((trio.current_time(), message))
            return []
        return QUEUE


def test_replays_of_one_log_in_the_same_pass_play_one_event_per_line(chatlog: Path) -> None:
    from actors.replay.actor import EVENTS_SHARED, _read_log

    log = _read_log(chatlog)
    first = log.event(2, timedelta(0), "#1")
    assert log.event(2, timedelta(0), "#1") is first  # made once for every replay
    assert first.message_id == "rp-2#1" and first.sent_at == T0 + timedelta(seconds=10)
    later = log.event(2, log.span, "#2")
    assert later.message_id == "rp-2#2" and later.sent_at == first.sent_at + log.span
    for pass_number in range(3, 3 + EVENTS_SHARED):  # bounded, however many passes
        log.event(1, log.span * (pass_number - 1), f"#{pass_number}")
    assert len(log._events) == EVENTS_SHARED
    assert log.event(2, timedelta(0), "#1") == first  # made again: equal


async def test_lines_an_idle_engine_takes_cost_the_replay_task_no_wake_up_each(
    autojump_clock, nursery, tmp_path
):
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(line(n, T0 + timedelta(seconds=n)) for n in range(1, 41)) + "\n")
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("triggers", InlineEngine),
            ChildSpec(
                "replay",
                lambda: ReplayChat(
                    creator_id="daniel",
                    file=path,
                    triggers=lambda: root.lookup("triggers"),
                    speed=2.0,
                ),
            ),
        ],
    )
    await nursery.start(root.run)
    steps = RunSteps(replay_of(root))
    trio.lowlevel.add_instrument(steps)
    try:
        replay = await wait_finished(root)
    finally:
        trio.lowlevel.remove_instrument(steps)
    events = await root.lookup("triggers").call("get")
    assert replay.messages == 40 and len(events) == 40
    times = [at for at, _ in events]
    # Paced (half a second apart at speed 2), on the grid.
    assert all(0.45 <= b - a <= 0.55 for a, b in itertools.pairwise(times))
    assert steps.steps <= 4, steps.steps  # the lines were delivered in the ticker's steps
    await root.stop()
