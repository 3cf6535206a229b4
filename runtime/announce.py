"""`http.json` in the data folder: where this instance's HTTP server listens, while it does.

`runtime status` (and tests, and operators) read it to find the instance. It must never name
a closed port: the HTTP actor reports every bind and every stop here, so a restarted server
(on a new port when the configured one is 0) rewrites it, and a stopped one removes it.
The process enables it only once SIGTERM is handled, because whoever reads it may send one.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from exports.atomic import write_atomic


class HttpAnnouncement:
    """Keeps `path` equal to the bound address of the HTTP server, or absent."""

    def __init__(self, path: Path, *, host: str, pid: int, instance: str = "") -> None:
        self.path = path
        self.host = host
        self.pid = pid
        self.instance = instance  # this process's id: `runtime status` checks who answers
        self._port: int | None = None
        self._enabled = False
        self._lock = trio.Lock()

    @property
    def port(self) -> int | None:
        """The port the server listens on now, or None."""
        return self._port

    async def listening(self, port: int) -> None:
        """The server bound `port` (written at once if enabled, else when enabled)."""
        self._port = port
        await self._sync()

    async def closed(self) -> None:
        """The server stopped listening: the file goes away."""
        self._port = None
        await self._sync()

    async def enable(self) -> None:
        """Start publishing (the process handles SIGTERM from now on)."""
        self._enabled = True
        await self._sync()

    def remove(self) -> None:
        """The process is exiting: remove the file for good."""
        self._enabled = False
        self.path.unlink(missing_ok=True)

    async def _sync(self) -> None:
        async with self._lock:
            port = self._port
            if not self._enabled:
                return
            if port is None:
                self.path.unlink(missing_ok=True)
                return
            body = json.dumps(
                {"host": self.host, "port": port, "pid": self.pid, "instance": self.instance}
            ).encode()
            # An fsync-ing write: off the event loop, like every other file write.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(write_atomic, self.path, body)
