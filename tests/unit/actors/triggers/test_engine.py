"""`TriggerEngine` with a real `StateStore` on a temporary database and a recording platform.

The store works in a worker thread, so these run on the real clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw
import attrs
import pytest
import structlog.testing
import trio

from actors import Actor, ActorFailed
from actors.chat import SendChat
from actors.events import ChatEvent
from actors.store import Read, StateStore, Write
from actors.triggers.engine import STORE_FAILURE_REPLY, TriggerEngine, TriggerEngineStatistics
from config.models import CreatorConfig, ScoreboardConfig, TallyConfig, TriggerConfig
from state import clips, cooldowns, counters, polls
from state.seen import recent_seen
from supervisors import Backoff, ChildSpec, Supervisor

TRIGGERS = (
    TriggerConfig(id="ping", pattern="!ping", response="pong, {user}!", cooldown_user=60),
    TriggerConfig(
        id="poll-open",
        pattern="!poll",
        action="poll_open",
        permission="moderator",
        response="Poll: {question} {options}",
    ),
    TriggerConfig(id="vote", pattern="!vote", action="poll_vote", response="vote {option}"),
    TriggerConfig(
        id="poll-close",
        pattern="!endpoll",
        action="poll_close",
        permission="moderator",
        response="{winner} wins with {votes} of {total_votes} votes",
    ),
    TriggerConfig(
        id="death",
        pattern="!death",
        action="tally_increment",
        tally="deaths",
        response="Deaths: {count}",
    ),
    TriggerConfig(
        id="undeath",
        pattern="!undeath",
        action="tally_decrement",
        tally="deaths",
        response="Deaths: {count}",
    ),
    TriggerConfig(
        id="point",
        pattern="!point",
        action="score_add",
        scoreboard="trivia",
        points=2,
        response="{target} has {score}",
    ),
    TriggerConfig(id="clip", pattern="!clip", action="clip", duration=20, response="clip {clip}"),
)
CREATOR = CreatorConfig(
    id="daniel",
    display_name="Daniel",
    tallies=(TallyConfig(id="deaths", label="Deaths"),),
    scoreboards=(ScoreboardConfig(id="trivia", title="Trivia"),),
    triggers=TRIGGERS,
)
MOD = frozenset({"moderator"})


class Platform(Actor):
    """Records the replies (`SendChat`) the engine sends; `"get"` answers their texts."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def handle(self, message: Any) -> Any:
        if message == "get":
            return list(self.texts)
        assert isinstance(message, SendChat)
        self.texts.append(message.text)
        return None


class Harness:
    """root: store, replay (the recording platform), triggers (the engine)."""

    def __init__(self, root: Supervisor) -> None:
        self.root = root
        self.engine = root.lookup("triggers")
        self.store = root.lookup("store")
        self.count = 0

    async def say(
        self,
        text: str,
        *,
        user: str = "1001",
        roles: frozenset[str] = frozenset(),
        message_id: str | None = None,
        platform: str = "replay",
    ):
        """Send one chat line to the engine and wait until it is handled."""
        self.count += 1
        event = ChatEvent(
            platform=platform,
            channel="daniel",
            message_id=message_id or f"m-{self.count}",
            user_id=user,
            login=f"user{user}",
            display_name=f"User{user}",
            text=text,
            sent_at=datetime.now(UTC),
            roles=roles,
            raw_type="PRIVMSG",
        )
        return await self.engine.call(event, timeout=10)

    async def settled(self) -> None:
        """Wait until the engine has no action waiting for its commit (replies are sent
        once the store committed, after `say` returned)."""
        with trio.fail_after(10):
            while (d := self.engine_detail()) is not None and d.inflight:  # noqa: ASYNC110
                await trio.sleep(0.005)

    async def replies(self) -> list[str]:
        """Every reply so far (the engine's casts are queued ahead of this call)."""
        await self.settled()
        return await self.root.lookup("replay").call("get")

    async def read(self, fn: Callable[[apsw.Connection], Any]) -> Any:
        return await self.store.call(Read(fn=fn), timeout=10)

    def engine_detail(self) -> TriggerEngineStatistics | None:
        """The engine's statistics in the tree (None while it is not running)."""
        detail = {r.path: r for r in self.root.tree()}["root/triggers"].detail
        return detail if isinstance(detail, TriggerEngineStatistics) else None


@pytest.fixture
async def harness(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Harness]:
    root: Supervisor
    database = tmp_path / "runtime.sqlite3"
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(database)),
            ChildSpec("replay", Platform),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    CREATOR,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name),
                    pseudonym_key=b"k" * 32,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    yield Harness(root)
    await root.stop()


async def test_ping_replies_through_the_platform_it_came_from(harness):
    await harness.say("!ping")
    assert await harness.replies() == ["pong, User1001!"]


async def test_poll_open_vote_change_and_close_are_committed(harness):
    await harness.say("!poll Next boon? | Zeus | Artemis", roles=MOD)
    await harness.say("!vote 1", user="2001")
    await harness.say("!vote 2", user="2002")
    await harness.say("!vote 2", user="2001")  # changes the vote: still one vote per user
    await harness.say("!vote zeus", user="2003")  # an option by its label
    open_polls = await harness.read(lambda c: polls.list_polls(c, state="open"))
    assert [o.votes for o in open_polls[0].options] == [1, 2]
    await harness.say("!endpoll", roles=MOD)
    (closed,) = await harness.read(lambda c: polls.list_polls(c))
    assert closed.poll.state == "closed"
    assert closed.poll.question == "Next boon?"
    assert [(o.label, o.votes) for o in closed.options] == [("Zeus", 1), ("Artemis", 2)]
    replies = await harness.replies()
    assert replies[0] == "Poll: Next boon? 1) Zeus, 2) Artemis"
    assert replies[-1] == "Artemis wins with 2 of 3 votes"


async def test_tally_increment_and_decrement_reply_with_the_count(harness):
    await harness.say("!death")
    await harness.say("!death")
    await harness.say("!undeath")
    assert await harness.replies() == ["Deaths: 1", "Deaths: 2", "Deaths: 1"]
    tally = await harness.read(lambda c: counters.get_tally(c, "daniel", "deaths"))
    assert tally.count == 1


async def test_score_add_gives_the_configured_points(harness):
    await harness.say("!point @PixelPanda")
    await harness.say("!point @PixelPanda")
    (board,) = await harness.read(lambda c: counters.list_scoreboards(c))
    assert [(e.label, e.score) for e in board.entries] == [("PixelPanda", 4)]
    assert (await harness.replies())[-1] == "PixelPanda has 4"


async def test_clip_request_creates_a_queued_clip(harness):
    await harness.say("!clip what a play")
    (clip,) = await harness.read(lambda c: clips.list_clips(c))
    assert clip.state == "queued"
    assert clip.creator_id == "daniel"
    assert clip.title == "what a play"
    assert clip.duration_seconds == 20
    assert clip.requested_by != "1001"  # pseudonymized
    assert await harness.replies() == [f"clip {clip.clip_id}"]


async def test_cooldowns_survive_an_engine_restart(harness):
    await harness.say("!ping")
    await harness.root.restart_child("triggers")
    await harness.say("!ping")  # the same user within cooldown_user = 60 s: blocked
    await harness.say("!ping", user="1002")  # another user is not
    assert await harness.replies() == ["pong, User1001!", "pong, User1002!"]


async def test_bad_arguments_get_an_error_reply(harness):
    await harness.say("!poll only a question", roles=MOD)
    await harness.say("!point")
    replies = await harness.replies()
    assert len(replies) == 2
    assert "options" in replies[0]
    assert "Who gets the points?" in replies[1]
    assert await harness.read(lambda c: polls.list_polls(c)) == []


async def test_a_viewers_mistake_is_refused_in_chat_not_counted_as_an_error(harness):
    with structlog.testing.capture_logs() as logs:
        await harness.say("!vote 1")  # no open poll: the store refuses it
        await harness.say("!poll Q? | A | B", roles=MOD)
        await harness.say("!vote 7")  # no such option
        replies = await harness.replies()
    assert replies[0] == "There is no open poll."
    assert replies[2] == "There is no option '7' in this poll."
    # A refusal, not a fault: neither the engine's errors nor a warning in the log.
    assert (d := harness.engine_detail()) is not None and d.errors == 0
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == []
    await harness.say("!ping")
    assert (await harness.replies())[-1] == "pong, User1001!"


async def test_a_store_write_failure_is_an_error_reply_not_a_crash(harness):
    # A first tally change succeeds (and proves the engine's start-up writes are done).
    await harness.say("!death")
    assert await harness.replies() == ["Deaths: 1"]

    # Break the tallies table under the engine: the store's transaction fails.
    def drop(conn: apsw.Connection) -> None:
        conn.execute("DROP TABLE tallies")

    (result,) = await harness.store.call(Write(ops=(drop,), topic="test"))
    result.unwrap()
    await harness.say("!death")
    replies = await harness.replies()
    assert replies == ["Deaths: 1", STORE_FAILURE_REPLY]  # no SQLite details in the chat
    assert (d := harness.engine_detail()) is not None and d.errors == 1
    row = {r.path: r for r in harness.root.tree()}["root/triggers"]
    assert row.restarts == 0 and row.state == "running"


async def test_cooldowns_survive_an_engine_crash(harness):
    await harness.say("!ping")
    with pytest.raises(ActorFailed):
        await harness.engine.call("not a chat event", timeout=10)  # TypeError: a crash
    await harness.say("!ping")  # the restarted engine restored the cooldown
    assert await harness.replies() == ["pong, User1001!"]
    row = {r.path: r for r in harness.root.tree()}["root/triggers"]
    assert row.restarts == 1


async def test_a_long_cooldown_is_committed_before_the_reply(harness):
    """`ping` has a 60 s per-user cooldown: by the time its reply is out, the cooldown is in
    the database (a kill right after the reply cannot forget it)."""
    await harness.say("!ping")
    assert await harness.replies() == ["pong, User1001!"]
    scopes = await harness.read(lambda c: [r.scope for r in cooldowns.active_cooldowns(c, now=0)])
    assert scopes == ["daniel/user:ping:1001"]


async def test_a_message_id_is_applied_once_per_platform_across_restarts_and_crashes(harness):
    await harness.say("!death", message_id="a")
    await harness.say("!death", message_id="a")  # a reconnect delivered it again
    await harness.root.restart_child("triggers")
    await harness.say("!death", message_id="a")
    with pytest.raises(ActorFailed):
        await harness.engine.call("not a chat event", timeout=10)  # a crash
    await harness.say("!death", message_id="a")
    await harness.say("!death", message_id="a", platform="twitch")  # another platform's "a"
    tally = await harness.read(lambda c: counters.get_tally(c, "daniel", "deaths"))
    assert tally.count == 2
    d = harness.engine_detail()
    assert d is not None and d.duplicates == 1  # this instance's; 3 over all


async def test_the_id_of_a_message_that_changed_something_is_committed_with_the_change(
    harness,
):
    await harness.say("!death", message_id="d-1")
    assert await harness.replies() == ["Deaths: 1"]  # committed, the reply says so
    stored = await harness.read(lambda c: recent_seen(c, scope="daniel", limit=10))
    assert ("replay", "d-1") in stored


async def test_replies_to_committed_actions_keep_chat_order_while_chat_goes_on(harness):
    for _ in range(5):
        await harness.say("!death")
    assert await harness.replies() == [f"Deaths: {n}" for n in range(1, 6)]


async def test_an_unexpected_error_replying_to_a_commit_crashes_the_engine_not_the_store(
    harness, monkeypatch
):
    """The reply to a committed action is made in the store's step (no wake-up of the
    engine's background task): a bug there must still be the engine's crash."""
    await harness.say("!death")
    assert await harness.replies() == ["Deaths: 1"]

    def broken(self, action, variables):
        raise RuntimeError("a bug in a reply")

    monkeypatch.setattr(TriggerEngine, "_succeeded", broken)
    await harness.say("!death")
    with trio.fail_after(10):
        while {r.path: r for r in harness.root.tree()}["root/triggers"].restarts == 0:  # noqa: ASYNC110
            await trio.sleep(0.005)
    monkeypatch.undo()
    rows = {r.path: r for r in harness.root.tree()}
    assert rows["root/store"].restarts == 0 and rows["root/store"].state == "running"
    await harness.say("!death")
    tally = await harness.read(lambda c: counters.get_tally(c, "daniel", "deaths"))
    assert tally.count == 3 and (await harness.replies())[-1] == "Deaths: 3"


def _line(text: str, message_id: str, user: str = "1001", platform: str = "replay") -> ChatEvent:
    return ChatEvent(
        platform=platform,
        channel="daniel",
        message_id=message_id,
        user_id=user,
        login=f"user{user}",
        display_name=f"User{user}",
        text=text,
        sent_at=datetime.now(UTC),
        roles=frozenset(),
        raw_type="PRIVMSG",
    )


async def test_a_chat_line_sent_to_an_idle_engine_is_handled_in_the_senders_step(harness):
    """Live platforms `send` their chat lines: an idle engine takes each one at once (no
    wake-up of its mailbox loop per line), once per message id."""
    await harness.say("!death", message_id="warm-up")  # restored and running
    await harness.settled()
    await trio.testing.wait_all_tasks_blocked()
    instance = harness.root._by_id["triggers"].run.instance  # test-only peek
    before = instance.messages
    harness.engine.cast(_line("!death", "live-1"))
    harness.engine.cast(_line("!death", "live-1"))  # a reconnect delivered it again
    # Handled in this step: counted before the engine's own tasks ran again.
    assert instance.messages == before + 1 and instance.duplicates == 1
    assert await harness.replies() == ["Deaths: 1", "Deaths: 2"]


async def test_a_live_platforms_chat_line_is_handled_in_the_senders_step_once_per_id(
    harness,
):
    """A line of a live platform (not the replay: judged on the engine's own clock) takes the
    same inline path as the replay's, once per message id."""
    await harness.say("!death", message_id="warm-up")
    await harness.settled()
    await trio.testing.wait_all_tasks_blocked()
    instance = harness.root._by_id["triggers"].run.instance  # test-only peek
    before, duplicates = instance.messages, instance.duplicates
    line = attrs.evolve(
        _line("hello there", "tw-1", platform="twitch"), sent_at=datetime(2001, 1, 1, tzinfo=UTC)
    )
    harness.engine.cast(line)
    harness.engine.cast(line)  # delivered again by a reconnect
    assert instance.messages == before + 1 and instance.duplicates == duplicates + 1
    assert instance.last_event_at == line.sent_at


async def test_a_chat_line_whose_handling_fails_in_the_senders_step_crashes_the_engine(
    harness, monkeypatch
):
    await harness.say("hello", message_id="warm-up")
    await trio.testing.wait_all_tasks_blocked()

    def broken(self, event, clock):
        raise RuntimeError("a bug in a chat line")

    monkeypatch.setattr(TriggerEngine, "_chat_line", broken)
    harness.engine.cast(_line("!death", "live-2"))  # the sender never sees the failure
    with trio.fail_after(10):
        while {r.path: r for r in harness.root.tree()}["root/triggers"].restarts == 0:  # noqa: ASYNC110
            await trio.sleep(0.005)
    row = {r.path: r for r in harness.root.tree()}["root/triggers"]
    assert "a bug in a chat line" in (row.last_error or "")
    assert harness.root.registry.dead_letters.count == 1
    monkeypatch.undo()
    await harness.say("!death", message_id="live-3")
    assert (await harness.replies())[-1] == "Deaths: 1"
