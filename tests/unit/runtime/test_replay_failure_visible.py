"""A creator's chat replay that cannot run shows as an error in the exports' platforms, with
the reason, instead of vanishing from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio

from actors.publisher import PublishNow
from config.loading import load_config
from runtime.tree import RuntimePaths, build_tree
from state import open_database

ROOT = Path(__file__).resolve().parents[3]


async def test_a_replay_whose_log_is_missing_shows_in_the_snapshot_as_a_platform_in_error(
    tmp_path: Path,
) -> None:
    config = load_config(ROOT / "config" / "example.toml")
    daniel = config.creator("daniel")
    assert daniel.replay is not None
    missing = tmp_path / "gone.jsonl"
    broken = attrs.evolve(daniel, replay=attrs.evolve(daniel.replay, file=missing))
    config = attrs.evolve(
        config,
        runtime=attrs.evolve(config.runtime, data_dir=tmp_path),
        http=attrs.evolve(config.http, enabled=False),
        exports=attrs.evolve(config.exports, root=tmp_path / "exports"),
        creators=(broken,),
    )
    paths = RuntimePaths.from_config(config)
    paths.database.parent.mkdir(parents=True)
    open_database(paths.database).close()
    root = build_tree(
        config,
        paths,
        started_at=datetime(2026, 11, 21, 17, 0, tzinfo=UTC),
        pseudonym_key=b"k" * 32,
        secrets=frozenset(),
        version="0.1.0",
    )
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
