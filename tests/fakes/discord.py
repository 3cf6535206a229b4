"""`FakeDiscord`: a local Discord gateway (trio-websocket) and REST API (ASGI on hypercorn).

It speaks what `../shared/docs/platforms.md` section 7 documents, replaying the real frames of
`tests/conformance/data/discord.jsonl` where they exist (HELLO, the slash-command interaction,
the 429 body) and building the documented shapes where the corpus has none (READY, RESUMED).

Gateway: HELLO on connect; IDENTIFY with a known token -> READY (session id, resume URL =
this server) then a GUILD_CREATE per guild; an unknown token -> close 4004; RESUME of a known
session -> RESUMED; op 1 -> op 11 (unless `stop_acks()` silenced that connection).
Controls: `send_reconnect()` (op 7), `send_invalid_session(resumable)` (op 9),
`close_all(code)`, `drop()` (abrupt), `stop_acks()`, `dispatch(t, d)`, `send_interaction(...)`.

REST (``/api/v10``): guild command bulk overwrite, interaction callbacks, editing the original
response, webhook execution and channel messages. Every request is recorded (`requests`);
`fail_next(route_part, status, count, retry_after)` answers the next matching requests with a
429 (the corpus body with its `retry_after` replaced) or another status; `slow_callbacks`
delays interaction callbacks. X-RateLimit-* headers are sent on every answer.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import trio
import trio_websocket

from runtime.http import HttpApp, Request, Response, json_response, serve_http

_CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "data" / "discord.jsonl"
APPLICATION_ID = "461618159171141643"
GUILD_ID = "290926798626357999"
BOT_USER_ID = "461618159171141643"
ADMIN_PERMISSIONS = "2147483647"  # the corpus member: every permission bit
NO_PERMISSIONS = "1024"  # VIEW_CHANNEL only


def _corpus() -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    with open(_CORPUS, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                entries[entry["test"]] = entry
    return entries


_FRAMES = _corpus()


def corpus_hello(interval_ms: int) -> dict[str, Any]:
    """The corpus HELLO with its `heartbeat_interval` replaced."""
    frame = json.loads(_FRAMES["Example Hello"]["raw"])
    frame["d"]["heartbeat_interval"] = interval_ms
    return frame


def corpus_interaction(
    *,
    name: str = "status",
    options: list[dict[str, Any]] | None = None,
    permissions: str = ADMIN_PERMISSIONS,
    user_id: str | None = None,
    guild_id: str = GUILD_ID,
) -> dict[str, Any]:
    """The corpus slash-command interaction, with a fresh id/token and the given command."""
    d = json.loads(_FRAMES["Slash Command Interaction"]["raw"])
    d["id"] = str(786008729715212338 + uuid.uuid4().int % 10**6)
    d["token"] = "tok-" + uuid.uuid4().hex
    d["application_id"] = APPLICATION_ID
    d["guild_id"] = guild_id
    d["data"]["name"] = name
    d["data"]["options"] = options or []
    d["member"]["permissions"] = permissions
    if user_id is not None:
        d["member"]["user"]["id"] = user_id
    return d


def corpus_429(retry_after: float) -> dict[str, Any]:
    """The corpus 429 body with `retry_after` replaced."""
    body = json.loads(_FRAMES["Example Exceeded User Rate Limit Response"]["raw"])
    body["retry_after"] = retry_after
    return body


@attrs.frozen(kw_only=True)
class Sent:
    """A gateway payload a client sent: when (trio time), on which connection, what."""

    at: float
    connection: int
    payload: dict[str, Any]

    @property
    def op(self) -> int:
        return int(self.payload.get("op", -1))


@attrs.frozen(kw_only=True)
class RestCall:
    """One REST request the fake received."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int


@attrs.define
class _Failure:
    part: str
    status: int
    count: int
    retry_after: float


class _Conn:
    def __init__(self, number: int, ws: trio_websocket.WebSocketConnection) -> None:
        self.number = number
        self.ws = ws
        self.seq = 0
        self.closed = False
        self.ack = True


class FakeDiscord:
    """See the module docs. Start with ``fake = await nursery.start(FakeDiscord().serve)``."""

    def __init__(
        self,
        *,
        token: str = "bot-token",
        heartbeat_interval_ms: int = 200,
        guilds: dict[str, str] | None = None,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.guild_names = guilds if guilds is not None else {GUILD_ID: "Test Guild"}
        self.sent: list[Sent] = []
        self.connections = 0
        self.close_codes: list[int | None] = []
        self.requests: list[RestCall] = []
        self.slow_callbacks = 0.0
        self.ws_port = 0
        self.http_port = 0
        self._conns: list[_Conn] = []
        self._sessions: dict[str, int] = {}
        self._failures: list[_Failure] = []
        self._changed = trio.Event()
        self._messages = 0

    # ------------------------------------------------------------------ serving

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                trio_websocket.serve_websocket, self._ws_handler, "127.0.0.1", 0, None
            )
            self.ws_port = server.port
            self.http_port = await nursery.start(
                lambda task_status: serve_http(
                    self._app(), host="127.0.0.1", port=0, task_status=task_status
                )
            )
            task_status.started(self)

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/v10"

    def webhook_url(
        self,
        webhook_id: str = "223704706495545344",
        token: str = "wh-secret",
        *,
        versioned: bool = True,
    ) -> str:
        """The webhook's URL; `versioned=False` gives the `/api/webhooks/...` form Discord
        shows users."""
        base = self.api_base if versioned else f"http://127.0.0.1:{self.http_port}/api"
        return f"{base}/webhooks/{webhook_id}/{token}"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(
        self, predicate: Callable[[FakeDiscord], bool], *, give_up_after: float = 20
    ) -> None:
        """Wait until `predicate(self)` holds."""
        with trio.fail_after(give_up_after):
            while not predicate(self):
                await self._changed.wait()

    # ------------------------------------------------------------------ gateway

    async def _ws_handler(self, request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        self.connections += 1
        conn = _Conn(self.connections, ws)
        self._conns.append(conn)
        self._notify()
        try:
            await self._send(conn, corpus_hello(self.heartbeat_interval_ms))
            while not conn.closed:
                text = await ws.get_message()
                payload = json.loads(text)
                self.sent.append(
                    Sent(at=trio.current_time(), connection=conn.number, payload=payload)
                )
                self._notify()
                await self._on_payload(conn, payload)
        except trio_websocket.ConnectionClosed as exc:
            self.close_codes.append(exc.reason.code if exc.reason else None)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.close_codes.append(None)
        finally:
            conn.closed = True
            if conn in self._conns:
                self._conns.remove(conn)
            self._notify()

    async def _send(self, conn: _Conn, frame: dict[str, Any]) -> None:
        if conn.closed:
            return
        try:
            await conn.ws.send_message(json.dumps(frame))
        except (
            trio_websocket.ConnectionClosed,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ):
            conn.closed = True

    async def _dispatch_to(self, conn: _Conn, t: str, d: Any) -> None:
        conn.seq += 1
        await self._send(conn, {"op": 0, "t": t, "s": conn.seq, "d": d})

    async def _on_payload(self, conn: _Conn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            if conn.ack:
                await self._send(conn, {"op": 11})
        elif op == 2:
            if not isinstance(d, dict) or d.get("token") != self.token:
                await self._close(conn, 4004, "Authentication failed.")
                return
            session_id = uuid.uuid4().hex
            self._sessions[session_id] = 0
            await self._dispatch_to(
                conn,
                "READY",
                {
                    "v": 10,
                    "user": {"id": BOT_USER_ID, "username": "streamsuites", "bot": True},
                    "guilds": [{"id": g, "unavailable": True} for g in self.guild_names],
                    "session_id": session_id,
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": APPLICATION_ID, "flags": 0},
                },
            )
            for guild_id, name in self.guild_names.items():
                await self._dispatch_to(conn, "GUILD_CREATE", {"id": guild_id, "name": name})
        elif op == 6:
            if not isinstance(d, dict) or d.get("token") != self.token:
                await self._close(conn, 4004, "Authentication failed.")
            elif d.get("session_id") in self._sessions:
                conn.seq = int(d.get("seq") or 0)
                await self._dispatch_to(conn, "RESUMED", None)
            else:
                await self._send(conn, {"op": 9, "d": False})

    async def _close(self, conn: _Conn, code: int, reason: str) -> None:
        conn.closed = True
        with trio.move_on_after(1):
            await conn.ws.aclose(code=code, reason=reason)

    # controls

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def stop_acks(self) -> None:
        """Stop answering heartbeats with op 11 on the open connections (new ones answer)."""
        for conn in self._conns:
            conn.ack = False

    async def send_reconnect(self) -> None:
        """Op 7 to every connection."""
        for conn in list(self._conns):
            await self._send(conn, {"op": 7, "d": None})

    async def send_invalid_session(self, resumable: bool) -> None:
        """Op 9 to every connection."""
        for conn in list(self._conns):
            await self._send(conn, {"op": 9, "d": resumable})

    async def close_all(self, code: int, reason: str = "") -> None:
        """Close every connection with `code` (e.g. 4004)."""
        for conn in list(self._conns):
            await self._close(conn, code, reason)

    async def drop(self) -> None:
        """Abrupt close: the TCP stream goes, no close frame."""
        for conn in list(self._conns):
            conn.closed = True
            await conn.ws._stream.aclose()

    async def dispatch(self, t: str, d: Any) -> None:
        """A dispatch to every connection."""
        for conn in list(self._conns):
            await self._dispatch_to(conn, t, d)

    async def send_interaction(self, **kwargs: Any) -> dict[str, Any]:
        """An INTERACTION_CREATE built by `corpus_interaction(**kwargs)`; returns its `d`."""
        d = corpus_interaction(**kwargs)
        await self.dispatch("INTERACTION_CREATE", d)
        return d

    def ops(self, op: int) -> list[Sent]:
        return [s for s in self.sent if s.op == op]

    # ------------------------------------------------------------------ REST

    def fail_next(
        self, part: str, *, status: int = 429, count: int = 1, retry_after: float = 0.05
    ) -> None:
        """Answer the next `count` requests whose path contains `part` with `status`."""
        self._failures.append(
            _Failure(part=part, status=status, count=count, retry_after=retry_after)
        )

    def calls(self, method: str | None = None, part: str = "") -> list[RestCall]:
        return [
            c for c in self.requests if (method is None or c.method == method) and part in c.path
        ]

    def _app(self) -> HttpApp:
        app = HttpApp(token=None)
        app.route(
            "PUT", "/api/v10/applications/{app}/guilds/{guild}/commands", self._rest, auth=False
        )
        app.route("POST", "/api/v10/interactions/{id}/{token}/callback", self._rest, auth=False)
        app.route(
            "PATCH", "/api/v10/webhooks/{app}/{token}/messages/@original", self._rest, auth=False
        )
        app.route("POST", "/api/v10/webhooks/{id}/{token}", self._rest, auth=False)
        app.route("POST", "/api/webhooks/{id}/{token}", self._rest, auth=False)
        app.route("POST", "/api/v10/channels/{id}/messages", self._rest, auth=False)
        return app

    async def _rest(self, request: Request) -> Response:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        status, response = 200, self._answer(request, body)
        for failure in self._failures:
            if failure.count > 0 and failure.part in request.path:
                failure.count -= 1
                status = failure.status
                response = (
                    corpus_429(failure.retry_after)
                    if status == 429
                    else {"message": "fake failure", "code": 0}
                )
                break
        if status == 200 and "/callback" in request.path and self.slow_callbacks:
            await trio.sleep(self.slow_callbacks)
        if status == 200 and "/callback" in request.path:
            status = 204
        self.requests.append(
            RestCall(
                at=trio.current_time(),
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
                status=status,
            )
        )
        self._notify()
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "1.0",
            "X-RateLimit-Bucket": "fakebucket",
        }
        if status == 429:
            headers.update(
                {
                    "Retry-After": "1",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": "0.05",
                    "X-RateLimit-Scope": "user",
                }
            )
        if status == 204:
            return Response(status=204, body=b"", headers=headers)
        return json_response(response, status, headers=headers)

    def _answer(self, request: Request, body: Any) -> Any:
        if request.method == "PUT":
            return [
                dict(c, id=str(10**17 + i), application_id=APPLICATION_ID)
                for i, c in enumerate(body or [])
            ]
        self._messages += 1
        message = {"id": str(10**18 + self._messages), "type": 0}
        if isinstance(body, dict):
            message.update(
                copy.deepcopy({k: v for k, v in body.items() if k in ("content", "embeds")})
            )
        return message
