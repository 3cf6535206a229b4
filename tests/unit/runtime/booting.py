"""A `Booted` for tests that drive `runtime.app.serve` in-process: the configuration's data
folder with an empty database, a PID file, a fixed pseudonym key and no secrets."""

from __future__ import annotations

from config.loading import loads_config
from runtime.app import Booted
from runtime.pidfile import PidFile
from runtime.tree import RuntimePaths
from state import open_database


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
