"""The bundled example, replayed through the whole tree: every feature shows in the exports,
and two runs from fresh data folders (same pseudonym key and start time) write byte-identical
export files, all but the runtime snapshot's heartbeat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from actors.publisher import PublishNow
from actors.replay import ReplayChat
from actors.replay import actor as replay_actor
from actors.triggers.engine import TriggerEngine
from tests.unit.runtime.booting import example_tree

FEATURE_FILES = (
    "points.json",
    "quotes.json",
    "giveaways.json",
    "chat_triggers.json",
    "tallies.json",
    "polls.json",
    "scoreboards.json",
)


def _instance(root: Any, path: str) -> Any:
    """The live actor at `path` (test-only peek through the supervisors)."""
    *parents, leaf = path.split("/")
    node = root
    for part in parents:
        node = node._by_id[part].run.instance
    return node._by_id[leaf].run.instance


async def replay_example(data_dir: Path) -> dict[str, bytes]:
    root, paths = example_tree(data_dir, speed=1000.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        replay: ReplayChat = _instance(root, "creators/creator:daniel/replay")
        engine: TriggerEngine = _instance(root, "creators/creator:daniel/triggers")
        with trio.fail_after(60):
            while not replay.finished or engine.messages < replay.messages:  # noqa: ASYNC110
                await trio.sleep(0.02)
            while engine.snapshot().inflight or engine.snapshot().unflushed:  # noqa: ASYNC110
                await trio.sleep(0.02)
        replies = sorted(r.text for r in replay.replies)  # replies without a write go first
        moderations = [(m.action, m.message_id) for m in replay.moderations]
        await root.lookup("publisher").call(PublishNow(), timeout=30)
        await root.stop()
    # Every file but the liveness ones, stamped with the wall clock's heartbeat so the
    # dashboard never calls a running process stale: the runtime snapshot and telemetry.
    files = {
        path.relative_to(paths.exports).as_posix(): path.read_bytes()
        for path in sorted(paths.exports.rglob("*.json"))
        if path.name != "runtime_snapshot.json" and path.parent.name != "telemetry"
    }
    assert set(FEATURE_FILES) <= set(files)
    files["replies"] = "\n".join(replies).encode()
    files["moderations"] = repr(moderations).encode()
    return files


async def test_the_example_shows_every_feature_and_replays_identically(tmp_path, monkeypatch):
    # Every reply of the pass is checked: the replays keep them all (20 by default).
    monkeypatch.setattr(replay_actor, "RECORDED", 100)
    first = await replay_example(tmp_path / "one")
    replies = first["replies"].decode().splitlines()
    assert "Added quote #1." in replies
    assert any(r.startswith("Quote #1: The hydra clipped me") for r in replies)
    assert any(r.startswith("The winner of A Hades poster is ") for r in replies)
    assert "Enjoying the run? Follow Daniel for the next one." in replies  # the timer
    assert "Nova_K, please ask a moderator before posting links (!permit)." in replies
    assert first["moderations"] == b"[('delete', 'rp-0063#1')]"  # line 63, first pass

    points = json.loads(first["points.json"])
    [daniel] = points["creators"]
    assert daniel["entries"][0]["position"] == 1 and daniel["entries"][0]["balance"] > 0
    assert "user_id" not in first["points.json"].decode()
    quotes = json.loads(first["quotes.json"])["quotes"]
    assert [q["number"] for q in quotes] == [1]
    [giveaway] = json.loads(first["giveaways.json"])["giveaways"]
    assert giveaway["state"] == "closed" and giveaway["entrants"] == 3
    assert len(giveaway["winners"]) == 1
    triggers = json.loads(first["chat_triggers.json"])
    assert triggers["timers"][0]["posts"] >= 1
    assert {f["filter_id"]: f["hits"] for f in triggers["filters"]}["links"] == 1

    second = await replay_example(tmp_path / "two")
    assert second == first
