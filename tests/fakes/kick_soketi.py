"""A real soketi (Pusher-protocol server) for the Kick tests and benchmark, plus its HTTP API.

soketi is installed from `tests/servers/soketi/package.json` (npm `overrides` map its
GitHub-hosted uWebSockets.js dependency to a registry build; see `shared/recipes.md` section
2) by `.ci/run`, never by the tests: `Soketi.require_installed()` raises `SoketiUnavailable`
(the tests skip with its reason) when it is not there. `Soketi(...).start()` launches it on
loopback with an app id, key and secret from the environment (no config file), waits for
`GET /ready`, and `stop()` terminates it. `restart()` stops and starts it again on the same port.

Events are triggered through soketi's HTTP API (`POST /apps/{id}/events`) with a request we
sign ourselves (platforms.md section 8): the query string `auth_key, auth_timestamp,
auth_version=1.0, body_md5` sorted by key, and `auth_signature` = hex HMAC-SHA256(secret,
"POST\\n/apps/{id}/events\\n" + query). soketi answers a bad signature with HTTP 200 and an
error body, so the body is checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

SOKETI_DIR = Path(__file__).resolve().parents[1] / "servers" / "soketi"
SERVER_JS = SOKETI_DIR / "node_modules" / "@soketi" / "soketi" / "bin" / "server.js"


class SoketiUnavailable(RuntimeError):
    """soketi is not installed, or node is missing, so it cannot run here (tests skip)."""


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign_query(secret: str, method: str, path: str, params: dict[str, str]) -> dict[str, str]:
    """`params` plus `auth_signature`, as Pusher's HTTP API wants them."""
    query = "&".join(f"{k}={params[k]}" for k in sorted(params, key=str.lower))
    signature = hmac.new(
        secret.encode(), f"{method}\n{path}\n{query}".encode(), hashlib.sha256
    ).hexdigest()
    return {**params, "auth_signature": signature}


class Soketi:
    """One soketi process on 127.0.0.1 (see the module docs)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        app_id: str = "123456",
        key: str = "app-key",
        secret: str = "app-secret",
        max_connections: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.metrics_port = free_port()
        self.app_id = app_id
        self.key = key
        self.secret = secret
        self.max_connections = max_connections
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # ------------------------------------------------------------------ install

    @staticmethod
    def require_installed() -> None:
        """Raise `SoketiUnavailable` (tests skip with its reason) unless soketi is installed
        under tests/servers/soketi and node is on PATH. Never installs: `.ci/run` does, so a
        plain `pytest` needs no registry and writes nothing into the checkout."""
        if not SERVER_JS.exists():
            raise SoketiUnavailable(
                f"soketi is not installed: run `npm install --no-audit --no-fund` in "
                f"{SOKETI_DIR} (.ci/run does)"
            )
        if shutil.which("node") is None:
            raise SoketiUnavailable("soketi is installed but node is not on PATH")

    # ------------------------------------------------------------------ process

    @property
    def base_url(self) -> str:
        """The HTTP API base (`http://127.0.0.1:<port>`)."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, key: str | None = None) -> str:
        """The websocket URL for the app key (or another `key`)."""
        return (
            f"ws://127.0.0.1:{self.port}/app/{key or self.key}"
            "?protocol=7&client=js&version=8.4.0-rc2&flash=false"
        )

    def start(self, timeout: float = 60.0) -> None:
        """Launch soketi and wait until `GET /ready` answers."""
        node = shutil.which("node")
        if node is None:
            raise SoketiUnavailable("node is not on PATH")
        env = dict(
            os.environ,
            SOKETI_DEFAULT_APP_ID=self.app_id,
            SOKETI_DEFAULT_APP_KEY=self.key,
            SOKETI_DEFAULT_APP_SECRET=self.secret,
            SOKETI_HOST="127.0.0.1",
            SOKETI_PORT=str(self.port),
            SOKETI_METRICS_ENABLED="false",
            SOKETI_METRICS_HOST="127.0.0.1",
            SOKETI_METRICS_SERVER_PORT=str(self.metrics_port),
            SOKETI_SHUTDOWN_GRACE_PERIOD="0",
        )
        if self.max_connections is not None:
            env["SOKETI_DEFAULT_APP_MAX_CONNS"] = str(self.max_connections)
        self.process = subprocess.Popen(
            [node, str(SERVER_JS), "start"],
            cwd=SOKETI_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"soketi exited with {self.process.returncode} at start")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"soketi did not become ready within {timeout} s")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate soketi (SIGTERM, then SIGKILL after `timeout`)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    def rss_bytes(self) -> int | None:
        """soketi's resident set size (Linux /proc), for benchmarks."""
        if self.process is None:
            return None
        return _rss(self.process.pid)

    # ------------------------------------------------------------------ HTTP API

    def trigger_request(
        self, channel: str, event: str, data: Any
    ) -> tuple[str, dict[str, str], bytes]:
        """URL, query params and body of a signed `POST /apps/{id}/events`.

        `data` that is not a string is JSON-encoded, so subscribers get it double-encoded
        as from Kick.
        """
        payload = data if isinstance(data, str) else json.dumps(data)
        body = json.dumps({"name": event, "channels": [channel], "data": payload}).encode()
        path = f"/apps/{self.app_id}/events"
        params = sign_query(
            self.secret,
            "POST",
            path,
            {
                "auth_key": self.key,
                "auth_timestamp": str(int(time.time())),
                "auth_version": "1.0",
                "body_md5": hashlib.md5(body).hexdigest(),
            },
        )
        return f"{self.base_url}{path}", params, body

    async def trigger(self, client: httpx.AsyncClient, channel: str, event: str, data: Any) -> None:
        """Trigger `event` on `channel`; raises when soketi did not accept it."""
        url, params, body = self.trigger_request(channel, event, data)
        response = await client.post(
            url, params=params, content=body, headers={"Content-Type": "application/json"}
        )
        answer = response.json()
        if response.status_code != 200 or answer.get("ok") is not True:
            raise RuntimeError(f"soketi refused the trigger: {response.status_code} {answer}")


def _rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
