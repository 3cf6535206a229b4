"""The control API (the tree, one actor's own figures, restarts), and `http.json` following the
HTTP server, over real sockets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing

from actors import Actor, ActorStatistics, TreeRow
from actors.connection import ConnectionState
from runtime.announce import HttpAnnouncement
from runtime.http_api import HTTP_ID, HttpServer, HttpServerStatistics, build_app
from supervisors import Backoff, ChildSpec, Supervisor

TOKEN = "control-token-" + "0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Idle(Actor):
    async def handle(self, message: Any) -> Any:
        return message


@attrs.frozen(kw_only=True, slots=True)
class ShownStatistics(ActorStatistics):
    """A typed snapshot with every kind of value `GET /actors/{path}` turns into JSON."""

    at: datetime
    state: ConnectionState
    fired: Mapping[tuple[str, str], int]
    scopes: frozenset[str]
    note: str


class Showing(Idle):
    def snapshot(self) -> ShownStatistics:
        return ShownStatistics(
            at=datetime(2026, 12, 7, 20, 0, tzinfo=UTC),
            state=ConnectionState.CONNECTED,
            fired={("daniel", "hello"): 3},
            scopes=frozenset({"chat:read", "chat:edit"}),
            note="leaked oauth:abcdefghijklmnop0123 here",
        )


async def start_root(nursery: trio.Nursery, announce: HttpAnnouncement) -> Supervisor:
    """root: an idle actor and the HTTP server (on a free port) with the control API."""
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("idle", Idle),
            ChildSpec("showing", Showing),
            ChildSpec(
                HTTP_ID,
                lambda: HttpServer(
                    lambda: build_app(root, token=TOKEN, version="test"),
                    host="127.0.0.1",
                    port=0,
                    announce=announce,
                ),
                shutdown=2.0,
            ),
        ],
        backoff=Backoff(initial=0.01),
    )
    await nursery.start(root.run)
    await announce.enable()
    return root


class WatchedAnnouncement(HttpAnnouncement):
    """`bound[n]` is set once the server bound a port for the n-th time."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, host="127.0.0.1", pid=1, instance="test-instance")
        self.bound = {n: trio.Event() for n in (1, 2, 3)}
        self.binds = 0

    async def listening(self, port: int) -> None:
        await super().listening(port)
        self.binds += 1
        self.bound[self.binds].set()


def child(root: Supervisor, child_id: str) -> TreeRow:
    return {r.path: r for r in root.tree()}[f"root/{child_id}"]


def _port(row: TreeRow) -> int | None:
    """The port the HTTP server's snapshot says it bound."""
    assert isinstance(row.detail, HttpServerStatistics)
    return row.detail.port


def announced(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None


async def test_restarting_the_http_server_through_itself_answers_and_brings_it_back(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    announce = WatchedAnnouncement(tmp_path / "http.json")
    root = await start_root(nursery, announce)
    first = _port(child(root, HTTP_ID))
    assert announced(announce.path) == {
        "host": "127.0.0.1",
        "port": first,
        "pid": 1,
        "instance": "test-instance",
    }

    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(f"http://127.0.0.1:{first}/actors/http/restart", headers=AUTH)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"restarting": "root/http"}

        with trio.fail_after(10):
            await announce.bound[2].wait()  # the second bind after the first
        await trio.testing.wait_all_tasks_blocked()
        row = child(root, HTTP_ID)
        assert (row.state, row.restarts) == ("running", 1)
        assert row.last_error is None
        port = _port(row)
        # http.json names the server that listens now, and that server answers.
        assert announced(announce.path) == {
            "host": "127.0.0.1",
            "port": port,
            "pid": 1,
            "instance": "test-instance",
        }
        status = await client.get(f"http://127.0.0.1:{port}/status")
        assert status.status_code == 200
        assert status.json()["status"] == "ok"
        # Any other child: the answer comes once the restart is done.
        done = await client.post(f"http://127.0.0.1:{port}/actors/idle/restart", headers=AUTH)
        assert (done.status_code, done.json()) == (200, {"restarted": "root/idle"})
        assert child(root, "idle").restarts == 1
    await root.stop()
    # A stopped server is named nowhere.
    assert announced(announce.path) is None


async def test_actors_lists_every_row_of_the_tree_as_json_without_detail_or_health(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    root = await start_root(nursery, WatchedAnnouncement(tmp_path / "http.json"))
    port = _port(child(root, HTTP_ID))
    await root.lookup("idle").call("ping")
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(f"http://127.0.0.1:{port}/actors", headers=AUTH)
    assert answer.status_code == 200, answer.text
    rows = {row["path"]: row for row in answer.json()["actors"]}
    assert list(rows) == ["root", "root/idle", "root/showing", f"root/{HTTP_ID}"]
    assert rows["root"] == {
        "path": "root",
        "kind": "supervisor",
        "state": "running",
        "restarts": 0,
        "last_error": None,
        "started_at": rows["root"]["started_at"],
        "mailbox": {"depth": 0, "peak": 0},
        "handled": 0,
    }
    idle = rows["root/idle"]
    assert set(idle) == {
        "path", "kind", "state", "restarts", "last_error", "started_at", "mailbox", "handled"
    }  # fmt: skip
    assert (idle["kind"], idle["state"], idle["restarts"], idle["handled"]) == (
        "actor",
        "running",
        0,
        1,
    )
    assert idle["mailbox"]["depth"] == 0 and idle["mailbox"]["capacity"] > 0
    # Times as ISO 8601 in UTC, as every file we publish writes them.
    assert idle["started_at"].endswith("Z") and rows["root"]["started_at"].endswith("Z")
    await root.stop()


async def test_one_actor_shows_its_row_snapshot_and_health_as_json_with_secrets_masked(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    root = await start_root(nursery, WatchedAnnouncement(tmp_path / "http.json"))
    port = _port(child(root, HTTP_ID))
    base = f"http://127.0.0.1:{port}/actors"
    async with httpx.AsyncClient(timeout=5) as client:
        shown = await client.get(f"{base}/showing", headers=AUTH)
        named = await client.get(f"{base}/root/showing", headers=AUTH)
        server = await client.get(f"{base}/{HTTP_ID}", headers=AUTH)
        supervisor = await client.get(f"{base}/root", headers=AUTH)
        unknown = await client.get(f"{base}/nobody", headers=AUTH)
        anonymous = await client.get(f"{base}/showing")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["path"], body["kind"], body["state"]) == ("root/showing", "actor", "running")
    assert body["detail"] == {
        "at": "2026-12-07T20:00:00Z",
        "state": "connected",
        "fired": {"daniel/hello": 3},
        "scopes": ["chat:edit", "chat:read"],
        "note": "leaked [redacted] here",
    }
    assert body["health"] is None
    assert named.json() == body  # the root's name may lead the path
    assert server.json()["detail"] == {"host": "127.0.0.1", "port": port, "telemetry_errors": []}
    assert supervisor.json()["kind"] == "supervisor" and supervisor.json()["detail"] is None
    assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]
    assert anonymous.status_code == 401
    await root.stop()


async def test_http_json_is_written_only_once_enabled_and_removed_for_good(tmp_path: Path) -> None:
    announce = HttpAnnouncement(tmp_path / "http.json", host="::1", pid=7, instance="i7")
    await announce.listening(8080)
    assert announced(announce.path) is None  # SIGTERM not handled yet
    await announce.enable()
    assert announced(announce.path) == {"host": "::1", "port": 8080, "pid": 7, "instance": "i7"}
    await announce.closed()
    assert announced(announce.path) is None
    await announce.listening(8081)
    info = announced(announce.path)
    assert info is not None and info["port"] == 8081
    announce.remove()
    await announce.listening(8082)  # a server restarting while the process exits
    assert announced(announce.path) is None


async def test_showing_one_actor_takes_that_actors_snapshot_alone(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    shown = Showing.snapshot

    def counted(self: Showing) -> ShownStatistics:
        taken.append("showing")
        return shown(self)

    monkeypatch.setattr(Showing, "snapshot", counted)
    root = await start_root(nursery, WatchedAnnouncement(tmp_path / "http.json"))
    base = f"http://127.0.0.1:{_port(child(root, HTTP_ID))}/actors"
    taken.clear()  # finding the port walked the tree with every snapshot
    async with httpx.AsyncClient(timeout=5) as client:
        # Another actor's row: the whole tree is walked, but no other snapshot is taken (at
        # 1,000 creators that would be thousands of them).
        idle = await client.get(f"{base}/idle", headers=AUTH)
        assert idle.status_code == 200 and idle.json()["path"] == "root/idle"
        assert taken == []
        showing = await client.get(f"{base}/showing", headers=AUTH)
    assert showing.json()["detail"]["state"] == "connected"
    assert taken == ["showing"]
    await root.stop()
