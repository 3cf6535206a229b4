"""How `build_tree` specifies the creators' subtrees."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors.publisher import SnapshotPublisher
from actors.replay import ReplayChat
from actors.triggers.engine import TriggerEngine
from config.loading import loads_config
from runtime.tree import RuntimePaths, build_tree
from supervisors import Supervisor

CONFIG = """
[http]
enabled = false

[[creators]]
id = "a"

[[creators]]
id = "b"
"""


def built(config: Any) -> Supervisor:
    """The root supervisor `build_tree` makes of `config` (not started)."""
    return build_tree(
        config,
        RuntimePaths.from_config(config),
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        pseudonym_key=b"k" * 32,
        secrets=frozenset(),
        version="0.1.0",
    )


def _child_spec(supervisor: Supervisor, child_id: str) -> Any:
    """The spec of a child (test-only peek: the supervisor has not started)."""
    return next(spec for spec in supervisor._specs if spec.id == child_id)


def test_creator_supervisors_share_one_jitter_generator(tmp_path: Path) -> None:
    folder = f"[runtime]\ndata_dir = '{tmp_path}'\n"
    config = loads_config(folder + CONFIG)
    root = built(config)
    creators = _child_spec(root, "creators").start()
    a = _child_spec(creators, "creator:a").start()
    b = _child_spec(creators, "creator:b").start()
    again = _child_spec(creators, "creator:a").start()  # a restart builds a fresh supervisor
    assert a is not again
    assert a._rng is b._rng is again._rng
    assert a.backoff.delay(1, a._rng) > 0


def test_each_start_of_a_creator_builds_fresh_children(tmp_path: Path) -> None:
    chat = tmp_path / "chat.jsonl"
    chat.write_text("", encoding="utf-8")
    config = loads_config(
        f"[runtime]\ndata_dir = '{tmp_path}'\n"
        f"[[creators]]\nid = \"a\"\n[creators.replay]\nfile = '{chat}'\n"
    )
    root = built(config)
    spec = _child_spec(_child_spec(root, "creators").start(), "creator:a")
    first, second = spec.start(), spec.start()
    assert first is not second
    assert [s.id for s in first._specs] == [s.id for s in second._specs] == ["triggers", "replay"]
    engines = [_child_spec(sup, "triggers").start() for sup in (first, second)]
    replays = [_child_spec(sup, "replay").start() for sup in (first, second)]
    assert engines[0] is not engines[1] and replays[0] is not replays[1]
    assert isinstance(engines[0], TriggerEngine) and isinstance(replays[0], ReplayChat)


def test_the_publisher_writes_a_file_at_most_at_the_configured_rate(tmp_path: Path) -> None:
    folder = f"[runtime]\ndata_dir = '{tmp_path}'\n[exports]\nfile_mib_per_second = 0.5\n"
    config = loads_config(folder + CONFIG)
    root = built(config)
    publisher = _child_spec(root, "publisher").start()
    assert isinstance(publisher, SnapshotPublisher)
    assert publisher._file_rate == 512 * 1024
