"""`FakeEventSub`: a local Twitch EventSub WebSocket server (trio-websocket on 127.0.0.1).

It behaves as ../shared/docs/platforms.md §3.4 and accounts-and-events.md §2 describe:

- ``/ws?keepalive_timeout_seconds=N`` (10..600, default 10; `keepalive_override` lets a test
  announce a shorter time) answers a ``session_welcome`` with a new session id, then a
  ``session_keepalive`` after each N seconds without other traffic (unless `silence` is set).
- A session with no subscription N seconds after its welcome is closed with 4003; a client
  data frame closes with 4001.
- Subscriptions come from `FakeHelix` (``POST /helix/eventsub/subscriptions``) via `subscribe`:
  409 for an identical enabled one, 429 past 300 per session or 3 sessions with subscriptions
  per user, 400 for an unknown session. A session that ends without a handover disables its
  subscriptions (status ``websocket_disconnected``).
- `reconnect(session)` sends ``session_reconnect`` with a URL; a connection to it gets a welcome
  (new session id) and takes the old session's subscriptions over; notifications keep going to
  the old socket until that welcome. If the client does not close the old socket within
  `reconnect_grace` seconds, the server closes it with 4004.
- `notify(type, event)` sends a notification to the session holding an enabled subscription of
  that type (with a fresh message id unless one is given); `revoke(type, status)` sends a
  revocation and removes the subscription; `close(code)` closes every socket with a code.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio
import trio_websocket


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.define
class FakeSubscription:
    id: str
    type: str
    version: str
    condition: dict[str, str]
    user_id: str
    session_id: str
    status: str = "enabled"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "type": self.type,
            "version": self.version,
            "cost": 0,
            "condition": dict(self.condition),
            "transport": {"method": "websocket", "session_id": self.session_id},
            "created_at": _stamp(),
        }


@attrs.define(eq=False)
class FakeSession:
    id: str
    ws: trio_websocket.WebSocketConnection
    keepalive: float
    welcomed_at: float
    last_sent: float
    handed_over: bool = False
    closed: bool = False
    reconnect_from: str | None = None


class FakeEventSub:
    """See the module docs. ``fake = await nursery.start(FakeEventSub().serve)``."""

    def __init__(
        self,
        *,
        keepalive_override: float | None = None,
        reconnect_grace: float = 30.0,
        unused_timeout: float | None = None,
    ) -> None:
        self.keepalive_override = keepalive_override
        self.reconnect_grace = reconnect_grace
        self.unused_timeout = unused_timeout
        self.port = 0
        self.sessions: dict[str, FakeSession] = {}
        self.subscriptions: list[FakeSubscription] = []
        self.silence = False
        self.connections = 0
        self.sent: list[dict[str, Any]] = []
        self.close_codes: list[int] = []
        self._ids = itertools.count(1)
        self._nursery: trio.Nursery | None = None
        self.welcomed = trio.Event()

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            server = await nursery.start(
                trio_websocket.serve_websocket, self._handler, "127.0.0.1", 0, None
            )
            self.port = server.port
            task_status.started(self)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    # ------------------------------------------------------------------ queries

    def active_sessions(self) -> list[FakeSession]:
        return [s for s in self.sessions.values() if not s.closed]

    def enabled(self, sub_type: str | None = None) -> list[FakeSubscription]:
        return [
            s
            for s in self.subscriptions
            if s.status == "enabled" and (sub_type is None or s.type == sub_type)
        ]

    # ------------------------------------------------------------------ Helix side

    def subscribe(self, body: dict[str, Any], user_id: str) -> tuple[int, dict[str, Any]]:
        """What ``POST /eventsub/subscriptions`` answers (status, body)."""
        transport = body.get("transport") or {}
        session = self.sessions.get(transport.get("session_id", ""))
        if transport.get("method") != "websocket" or session is None or session.closed:
            return 400, _error(
                400, "Bad Request", "The value specified in the 'session_id' field is not valid"
            )
        sub_type, version = body.get("type"), body.get("version")
        condition = body.get("condition") or {}
        if not isinstance(sub_type, str) or not isinstance(version, str):
            return 400, _error(400, "Bad Request", "type and version are required")
        for existing in self.enabled():
            if (existing.type, existing.version, existing.condition) == (
                sub_type,
                version,
                condition,
            ) and existing.user_id == user_id:
                return 409, _error(409, "Conflict", "subscription already exists")
        if len([s for s in self.enabled() if s.session_id == session.id]) >= 300:
            return 429, _error(
                429, "Too Many Requests", "maximum subscriptions with type and condition exceeded"
            )
        sockets = {s.session_id for s in self.enabled() if s.user_id == user_id}
        if session.id not in sockets and len(sockets) >= 3:
            return 429, _error(
                429, "Too Many Requests", "number of websocket transports limit exceeded"
            )
        sub = FakeSubscription(
            id=str(uuid.uuid4()),
            type=sub_type,
            version=version,
            condition=dict(condition),
            user_id=user_id,
            session_id=session.id,
        )
        self.subscriptions.append(sub)
        return 202, {"data": [sub.as_json()], "total": 1, "total_cost": 0, "max_total_cost": 10}

    # ------------------------------------------------------------------ controls

    async def notify(
        self, sub_type: str, event: dict[str, Any], *, message_id: str | None = None
    ) -> str:
        """Send a notification of `sub_type`; returns its message id."""
        subs = self.enabled(sub_type)
        if not subs:
            raise AssertionError(f"nobody is subscribed to {sub_type}")
        sub = subs[0]
        message_id = message_id or str(uuid.uuid4())
        await self._send(
            self.sessions[sub.session_id],
            {
                "metadata": {
                    "message_id": message_id,
                    "message_type": "notification",
                    "message_timestamp": _stamp(),
                    "subscription_type": sub.type,
                    "subscription_version": sub.version,
                },
                "payload": {"subscription": sub.as_json(), "event": event},
            },
        )
        return message_id

    async def reconnect(self, session_id: str | None = None) -> str:
        """Ask the (only) session to reconnect; returns the reconnect URL."""
        session = self.sessions[session_id] if session_id else self.active_sessions()[-1]
        url = f"{self.url}?reconnect_from={session.id}"
        await self._send(
            session,
            {
                "metadata": self._meta("session_reconnect"),
                "payload": {
                    "session": {
                        "id": session.id,
                        "status": "reconnecting",
                        "keepalive_timeout_seconds": None,
                        "reconnect_url": url,
                        "connected_at": _stamp(),
                    }
                },
            },
        )
        return url

    async def revoke(self, sub_type: str, status: str = "authorization_revoked") -> None:
        for sub in self.enabled(sub_type):
            sub.status = status
            await self._send(
                self.sessions[sub.session_id],
                {
                    "metadata": {
                        **self._meta("revocation"),
                        "subscription_type": sub.type,
                        "subscription_version": sub.version,
                    },
                    "payload": {"subscription": sub.as_json()},
                },
            )

    async def close(self, code: int, reason: str = "") -> None:
        """Close every open socket with `code` (its subscriptions are disabled)."""
        for session in self.active_sessions():
            await self._close(session, code, reason)

    # ------------------------------------------------------------------ internals

    def _meta(self, message_type: str) -> dict[str, Any]:
        return {
            "message_id": str(uuid.uuid4()),
            "message_type": message_type,
            "message_timestamp": _stamp(),
        }

    async def _send(self, session: FakeSession, frame: dict[str, Any]) -> None:
        session.last_sent = trio.current_time()
        self.sent.append(frame)
        try:
            await session.ws.send_message(json.dumps(frame))
        except trio_websocket.ConnectionClosed:
            pass

    async def _close(self, session: FakeSession, code: int, reason: str) -> None:
        self.close_codes.append(code)
        self._end(session)
        await session.ws.aclose(code, reason)

    def _end(self, session: FakeSession) -> None:
        if session.closed:
            return
        session.closed = True
        if not session.handed_over:
            for sub in self.subscriptions:
                if sub.session_id == session.id and sub.status == "enabled":
                    sub.status = "websocket_disconnected"

    async def _handler(self, request: trio_websocket.WebSocketRequest) -> None:
        query = parse_qs(urlsplit(request.path).query)
        keepalive = int(query.get("keepalive_timeout_seconds", ["10"])[0])
        if not 10 <= keepalive <= 600:
            await request.reject(400, body=b"keepalive_timeout_seconds must be 10..600")
            return
        ws = await request.accept()
        self.connections += 1
        announced = self.keepalive_override or keepalive
        now = trio.current_time()
        session = FakeSession(
            id=f"session-{next(self._ids)}",
            ws=ws,
            keepalive=announced,
            welcomed_at=now,
            last_sent=now,
            reconnect_from=query.get("reconnect_from", [None])[0],
        )
        self.sessions[session.id] = session
        old = self.sessions.get(session.reconnect_from or "")
        await self._send(
            session,
            {
                "metadata": self._meta("session_welcome"),
                "payload": {
                    "session": {
                        "id": session.id,
                        "status": "connected",
                        "keepalive_timeout_seconds": int(announced) or 1,
                        "reconnect_url": None,
                        "connected_at": _stamp(),
                    }
                },
            },
        )
        if old is not None:
            # The handover: subscriptions move to the new session once it is welcomed.
            old.handed_over = True
            for sub in self.subscriptions:
                if sub.session_id == old.id and sub.status == "enabled":
                    sub.session_id = session.id
        self.welcomed.set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keepalives, session)
            nursery.start_soon(self._unused_check, session)
            if old is not None and not old.closed:
                nursery.start_soon(self._reconnect_grace, old)
            try:
                while True:
                    await ws.get_message()
                    await self._close(session, 4001, "client sent inbound traffic")
                    break
            except trio_websocket.ConnectionClosed:
                pass
            self._end(session)
            nursery.cancel_scope.cancel()

    async def _keepalives(self, session: FakeSession) -> None:
        while not session.closed:
            due = session.last_sent + session.keepalive
            if trio.current_time() < due:
                await trio.sleep_until(due)
                continue
            if self.silence:
                await trio.sleep(0.05)
                continue
            await self._send(session, {"metadata": self._meta("session_keepalive"), "payload": {}})

    async def _unused_check(self, session: FakeSession) -> None:
        if session.reconnect_from is not None:
            return
        await trio.sleep(self.unused_timeout or session.keepalive)
        if not session.closed and not any(s.session_id == session.id for s in self.enabled()):
            await self._close(session, 4003, "connection unused")

    async def _reconnect_grace(self, old: FakeSession) -> None:
        await trio.sleep(self.reconnect_grace)
        if not old.closed:
            await self._close(old, 4004, "reconnect grace time expired")


def _error(status: int, error: str, message: str) -> dict[str, Any]:
    return {"error": error, "status": status, "message": message}
