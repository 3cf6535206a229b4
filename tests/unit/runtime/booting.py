"""A `Booted` for tests that drive `runtime.app.serve` in-process: the configuration's data
folder with an empty database, a PID file, a fixed pseudonym key and no secrets; and the
bundled example's tree, built in-process on a data folder of the test's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from config.loading import load_config, loads_config
from runtime.app import Booted
from runtime.pidfile import PidFile
from runtime.tree import RuntimePaths, build_tree
from state import open_database
from supervisors import Supervisor

ROOT = Path(__file__).resolve().parents[3]


def booted_for(config_text: str) -> Booted:
    """What `boot` would give for `config_text` (TOML), without its checks and console."""
    config = loads_config(config_text)
    paths = RuntimePaths.from_config(config)
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    open_database(paths.database).close()
    return Booted(
        config=config,
        paths=paths,
        pid_file=PidFile(paths.pid_file),
        pseudonym_key=b"k" * 32,
        secrets=frozenset(),
    )


def example_tree(data_dir: Path, **replay: Any) -> tuple[Supervisor, RuntimePaths]:
    """The tree of `config/example.toml` (not started) with its data and exports in
    `data_dir`, no HTTP server, a fixed start time and pseudonym key, and the `replay`
    fields changed in the creator `daniel`'s replay (e.g. `speed`, `file`)."""
    config = load_config(ROOT / "config" / "example.toml")
    daniel = config.creator("daniel")
    assert daniel.replay is not None
    changed = attrs.evolve(daniel, replay=attrs.evolve(daniel.replay, **replay))
    config = attrs.evolve(
        config,
        runtime=attrs.evolve(config.runtime, data_dir=data_dir),
        http=attrs.evolve(config.http, enabled=False),
        exports=attrs.evolve(config.exports, root=data_dir / "exports"),
        creators=tuple(changed if c.id == "daniel" else c for c in config.creators),
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
    return root, paths
