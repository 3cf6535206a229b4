"""A replay and its trigger engine restarted many times on one database count the log once.

Each run is a fresh tree (store, trigger engine, replay) on the same database file, stopped
after a few more lines, as a process restart would: the tallies and polls must come out as the
log says, however often it restarts. Real store, real clock (the store works in a thread).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import trio

from actors.replay import ReplayChat
from actors.replay.actor import SAVE_EVERY_LINES
from actors.store import StateStore
from actors.triggers.engine import TriggerEngine
from config.models import CreatorConfig, TallyConfig, TriggerConfig
from state import open_database
from state.counters import get_tally
from state.polls import list_polls
from state.replays import get_replay_position
from supervisors import Backoff, ChildSpec, Supervisor

T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
CREATOR = CreatorConfig(
    id="daniel",
    display_name="Daniel",
    tallies=(TallyConfig(id="deaths", label="Deaths"),),
    triggers=(
        TriggerConfig(
            id="death",
            pattern="!death",
            action="tally_increment",
            tally="deaths",
            response="Deaths: {count}",
        ),
        TriggerConfig(
            id="poll-open",
            pattern="!poll",
            action="poll_open",
            permission="moderator",
            response="Poll {poll}: {question}",
        ),
        TriggerConfig(id="vote", pattern="!vote", action="poll_vote", response="vote {option}"),
    ),
)


def chat_log(path: Path, count: int) -> list[str]:
    """`count` lines a second apart: chatter, deaths, three poll openings with votes, and a
    few lines without a message id. Returns the texts, in order."""
    texts, lines = [], []
    for n in range(1, count + 1):
        roles: list[str] = []
        if n in (20, count // 2, count - 15):
            text, roles = f"!poll Round {n}? | yes | no", ["moderator"]
        elif n % 7 == 3:
            text = "!death"
        elif n % 5 == 1:
            text = "!vote 1"
        else:
            text = f"chatter {n}"
        texts.append(text)
        lines.append(
            json.dumps(
                {
                    "platform": "replay",
                    "channel": "daniel",
                    "message_id": None if n % 11 == 0 else f"rp-{n}",
                    "user_id": str(1000 + n % 13),
                    "login": f"user{n % 13}",
                    "display_name": f"User{n % 13}",
                    "text": text,
                    "sent_at": (T0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
                    "roles": roles,
                    "raw_type": "PRIVMSG",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return texts


def counts(texts: list[str]) -> tuple[int, int]:
    """(deaths, poll openings) in these texts."""
    return texts.count("!death"), sum(t.startswith("!poll") for t in texts)


class Run:
    """One process lifetime: store, trigger engine, replay on the shared database."""

    def __init__(self, database: Path, log: Path, *, loop: bool, resume: bool = True) -> None:
        self.root: Supervisor
        self.root = Supervisor(
            "root",
            [
                ChildSpec("store", lambda: StateStore(database)),
                ChildSpec(
                    "triggers",
                    lambda: TriggerEngine(
                        CREATOR,
                        store=lambda: self.root.lookup("store"),
                        platform=lambda name: self.root.lookup(name),
                        pseudonym_key=b"k" * 32,
                    ),
                ),
                ChildSpec(
                    "replay",
                    lambda: ReplayChat(
                        creator_id="daniel",
                        file=log,
                        triggers=lambda: self.root.lookup("triggers"),
                        speed=1000.0,
                        loop=loop,
                        store=(lambda: self.root.lookup("store")) if resume else None,
                    ),
                ),
            ],
            backoff=Backoff(initial=0),
        )

    def replay(self) -> ReplayChat:
        instance = self.root._by_id["replay"].run.instance  # test-only peek at the live instance
        assert isinstance(instance, ReplayChat)
        return instance

    async def play(self, nursery: trio.Nursery, lines: int | None) -> int:
        """Start, let `lines` more lines through (all when None), stop; lines delivered."""
        await nursery.start(self.root.run)
        replay = self.replay()
        with trio.fail_after(60):
            while not replay.finished and (lines is None or replay.messages < lines):  # noqa: ASYNC110
                await trio.sleep(0.002)
        await self.root.stop()
        return replay.messages


def database_state(database: Path) -> tuple[int, int, Any]:
    """(deaths tally, polls opened, replay position) as stored."""
    with open_database(database) as db:
        conn = db.connection
        tally = get_tally(conn, "daniel", "deaths")
        return (
            tally.count if tally else 0,
            len(list_polls(conn, creator_id="daniel")),
            get_replay_position(conn, "daniel"),
        )


async def test_thirty_restarts_count_the_log_once(nursery, tmp_path):
    log, database = tmp_path / "chat.jsonl", tmp_path / "runtime.sqlite3"
    texts = chat_log(log, 160)
    rng = random.Random(12)
    delivered = 0
    for _ in range(30):
        delivered += await Run(database, log, loop=False).play(nursery, rng.randint(1, 40))
    delivered += await Run(database, log, loop=False).play(nursery, None)
    deaths, polls, position = database_state(database)
    assert (deaths, polls) == counts(texts) == (22, 3)
    assert delivered == len(texts)  # each line handed over once: the replay resumed
    assert (position.pass_number, position.lines_done) == (1, len(texts))
    # Finished: a further start plays nothing and counts nothing.
    assert await Run(database, log, loop=False).play(nursery, None) == 0
    assert database_state(database)[:2] == (22, 3)


async def test_a_replay_that_starts_over_thirty_times_is_counted_once_by_the_engine(
    nursery, tmp_path
):
    """Without its position (no store given to the replay) every start plays the log from the
    top: the trigger engine's persisted seen ids alone keep each line from counting twice."""
    log, database = tmp_path / "chat.jsonl", tmp_path / "runtime.sqlite3"
    texts = chat_log(log, 160)
    rng = random.Random(12)
    delivered = 0
    for _ in range(30):
        run = Run(database, log, loop=False, resume=False)
        delivered += await run.play(nursery, rng.randint(1, 40))
    delivered += await Run(database, log, loop=False, resume=False).play(nursery, None)
    assert delivered > 2 * len(texts)  # the log was played again and again
    assert database_state(database)[:2] == counts(texts) == (22, 3)


async def test_each_pass_of_a_looping_replay_counts_and_restarts_resume_in_their_pass(
    nursery, tmp_path
):
    log, database = tmp_path / "chat.jsonl", tmp_path / "runtime.sqlite3"
    texts = chat_log(log, 40)
    rng = random.Random(3)
    for _ in range(12):
        await Run(database, log, loop=True).play(nursery, rng.randint(5, 25))
    deaths, polls, position = database_state(database)
    assert position.pass_number >= 3  # the restarts went through several passes
    full_deaths, full_polls = counts(texts)
    partial_deaths, partial_polls = counts(texts[: position.lines_done])
    assert deaths == (position.pass_number - 1) * full_deaths + partial_deaths
    assert polls == (position.pass_number - 1) * full_polls + partial_polls


async def test_a_replay_killed_between_saves_resumes_at_its_last_save_and_skips_no_line(
    nursery, tmp_path
):
    """A hard kill leaves the last periodic save (no stop-time save): never ahead of what the
    engine took, so the restarted replay skips nothing, and the lines sent again since that
    save are dropped as seen. A periodic save rides in the engine's next flush, so the kill is
    taken once one has been committed, while the replay is still playing."""
    log, database, killed = tmp_path / "chat.jsonl", tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    texts = chat_log(log, 5000)
    run = Run(database, log, loop=False)
    await nursery.start(run.root.run)
    replay = run.replay()
    with trio.fail_after(60):
        while database_state(database)[2] is None:  # noqa: ASYNC110
            await trio.sleep(0.005)
    # What a kill at this moment leaves on disk: the committed state, copied from a reader.
    source = apsw.Connection(str(database), flags=apsw.SQLITE_OPEN_READONLY)
    target = apsw.Connection(str(killed))
    with target.backup("main", source, "main") as copy:
        copy.step(-1)
    target.close()
    source.close()
    delivered = replay.messages
    await run.root.stop()
    position = database_state(killed)[2]
    assert position is not None
    assert SAVE_EVERY_LINES <= position.lines_done <= delivered < len(texts)
    assert position.lines_done < delivered  # some lines will be sent again
    await Run(killed, log, loop=False).play(nursery, None)
    deaths, polls, position = database_state(killed)
    assert (deaths, polls) == counts(texts)
    assert position is not None and position.lines_done == len(texts)
