"""Run the clip subsystem (store + ClipSupervisor) as its own process, for crash tests.

    python clip_runtime.py CONFIG.toml DATA_DIR [--slow]

`--slow` makes ffmpeg read its input at a fraction of real time, so the test can kill the
process while a clip is encoding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from actors.clips import ClipSupervisor
from actors.store import StateStore
from config import load_config
from supervisors import ChildSpec, Supervisor


async def main(config_path: str, data_dir: str, slow: bool) -> None:
    config = load_config(config_path, environ={})
    data = Path(data_dir)
    extra = ["-readrate", "0.25"] if slow else []
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(data / "state.sqlite3")),
            ChildSpec(
                "clips",
                lambda: ClipSupervisor(
                    config=config,
                    data_dir=data,
                    store=lambda: root.ref("store"),
                    extra_input_args=extra,
                ),
            ),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        print("started", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], "--slow" in sys.argv[3:])
