"""Drive a creator's trigger engine with replayed chat: store, engine and `ReplayChat` under a
supervisor, as the runtime wires them. Used by the feature tests (points, quotes, giveaways,
filters, timers, the replay clock)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio

from actors.replay import ReplayChat
from actors.replay.actor import RecordedReplies
from actors.store import Read, StateStore
from actors.triggers.engine import TriggerEngine
from config.models import CreatorConfig
from supervisors import Backoff, ChildSpec, Supervisor

_LOGS = itertools.count(1)
T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def chat_line(
    number: int,
    seconds: float,
    text: str,
    *,
    user: str | None = None,
    roles: Sequence[str] = (),
) -> str:
    """One chat log line `seconds` after `T0` (recorded time)."""
    name = user or f"user{number}"
    return json.dumps(
        {
            "platform": "replay",
            "channel": "daniel",
            "message_id": f"rp-{number}",
            "user_id": f"id-{name}",
            "login": name.lower(),
            "display_name": name,
            "text": text,
            "sent_at": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
            "roles": list(roles),
            "raw_type": "PRIVMSG",
        }
    )


class Replayed:
    """A running store + engine + replay; `replies()` once the replay has finished."""

    def __init__(self, root: Supervisor) -> None:
        self.root = root

    def replay(self) -> ReplayChat:
        instance = self.root._by_id["replay"].run.instance  # test-only peek at the instance
        assert isinstance(instance, ReplayChat)
        return instance

    def engine(self) -> TriggerEngine:
        instance = self.root._by_id["triggers"].run.instance  # test-only peek
        assert isinstance(instance, TriggerEngine)
        return instance

    async def finished(self) -> ReplayChat:
        """Wait until every line was played and every action's reply was sent."""
        replay = self.replay()
        with trio.fail_after(60):
            while not replay.finished:  # noqa: ASYNC110 - test polling
                await trio.sleep(0.01)
            # Sent is not handled: wait until the engine has taken every line.
            while self.engine().messages < replay.messages:  # noqa: ASYNC110 - test polling
                await trio.sleep(0.01)
            while self.engine().snapshot().inflight:  # noqa: ASYNC110 - test polling
                await trio.sleep(0.01)
            # Replies are cast: one more round trip through the replay's mailbox.
            await self.root.lookup("replay").call(RecordedReplies(), timeout=10)
        return replay

    async def replies(self) -> list[str]:
        replay = await self.finished()
        return [r.text for r in replay.replies]

    async def read(self, fn: Any) -> Any:
        return await self.root.lookup("store").call(Read(fn=fn), timeout=10)


async def start_replay(
    nursery: trio.Nursery,
    tmp_path: Path,
    creator: CreatorConfig,
    lines: Sequence[str],
    *,
    speed: float = 1.0,
    database: Path | None = None,
) -> Replayed:
    """Start store, engine and a replay of `lines` for `creator`."""
    log = tmp_path / f"chat-{next(_LOGS)}.jsonl"
    await trio.Path(log).write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = database or tmp_path / "runtime.sqlite3"
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(path)),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    creator,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name),
                    pseudonym_key=b"k" * 32,
                ),
            ),
            ChildSpec(
                "replay",
                lambda: ReplayChat(
                    creator_id=creator.id,
                    file=log,
                    triggers=lambda: root.lookup("triggers"),
                    speed=speed,
                    replies_kept=100,  # the checks read a whole pass of the example's replies
                ),
            ),
        ],
        backoff=Backoff(initial=0),
        max_restarts=100,
    )
    await nursery.start(root.run)
    return Replayed(root)
