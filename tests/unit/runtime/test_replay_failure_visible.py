"""A creator's chat replay that cannot run shows as an error in the exports' platforms, with
the reason, instead of vanishing from them."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from actors.publisher import PublishNow
from tests.unit.runtime.booting import example_tree


async def test_a_replay_whose_log_is_missing_shows_in_the_snapshot_as_a_platform_in_error(
    tmp_path: Path,
) -> None:
    root, paths = example_tree(tmp_path, file=tmp_path / "gone.jsonl")
    async with trio.open_nursery() as nursery:
        # Not `start`: the creator's start fails over and over, so the tree's never ends.
        nursery.start_soon(root.run)
        with trio.fail_after(30):
            while not any(r.path.endswith("/publisher") for r in root.tree()):  # noqa: ASYNC110
                await trio.sleep(0.01)
            while True:  # until a snapshot shows the replay actor down (it restarts)
                await root.lookup("publisher").call(PublishNow(), timeout=30)
                snapshot = json.loads((paths.exports / "runtime_snapshot.json").read_bytes())
                rows = [a for a in snapshot["actors"] if a["path"].endswith("/replay")]
                if rows and rows[0]["state"] not in ("running", "starting"):
                    break
                await trio.sleep(0.01)
        await root.stop()
    replay = [p for p in snapshot["platforms"] if p["platform"] == "replay"]
    assert len(replay) == 1, snapshot["platforms"]
    assert replay[0]["status"] == "error"
    assert "gone.jsonl" in replay[0]["error"]
    assert snapshot["replay"]["active"] is False
