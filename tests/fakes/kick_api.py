"""`FakeKickApi`: Kick's public chat endpoint (`POST /public/v1/chat`) as an httpx transport.

It answers like `../shared/docs/platforms.md` section 6.3 documents: 200
`{"data": {"is_sent": true, "message_id": ...}, "message": "OK"}` for a request with a known
bearer token, 401 for an unknown one. Tests script other answers with `respond(status,
headers=..., json=...)` (one per request, in order, before falling back to the default).
Every request is recorded with its trio time in `requests`; `wait_requests(n)` waits for them.

Moderation (KickEngineering/KickDevDocs apis/moderation.md and its OpenAPI document):
``DELETE /public/v1/chat/<message_id>`` -> 204 and ``POST /public/v1/moderation/bans``
``{broadcaster_user_id, user_id, duration?, reason?}`` -> 200, each recorded in `moderation`;
`respond(401/403/429, ...)` scripts refusals as for chat.

Use it with `KickChat(..., send_api=FakeKickApi.BASE, transport=fake.transport)`.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import attrs
import httpx
import trio


@attrs.frozen(kw_only=True)
class Request:
    """One request the client made."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@attrs.frozen(kw_only=True)
class Scripted:
    """One scripted answer."""

    status: int
    headers: dict[str, str] = attrs.field(factory=dict)
    json: Any = None
    content: bytes | None = None


class FakeKickApi:
    """A fake `https://api.kick.com/public/v1` chat endpoint (see the module docs)."""

    BASE = "https://api.kick.test/public/v1"

    def __init__(self, *, tokens: frozenset[str] = frozenset({"tok"})) -> None:
        self.tokens = tokens
        self.requests: list[Request] = []
        self.moderation: list[dict[str, Any]] = []
        self._script: deque[Scripted] = deque()
        self._changed = trio.Event()
        self.transport = httpx.MockTransport(self._handle)

    def respond(
        self,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> None:
        """Answer the next unscripted request with this status (FIFO); `content` gives raw
        body bytes instead of `json`."""
        self._script.append(
            Scripted(status=status, headers=dict(headers or {}), json=json, content=content)
        )

    async def wait_requests(self, count: int) -> list[Request]:
        """Wait until `count` requests were made."""
        while len(self.requests) < count:
            event = self._changed
            await event.wait()
        return self.requests

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body: Any
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            body = request.content
        self.requests.append(
            Request(
                at=trio.current_time(),
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        self._changed.set()
        self._changed = trio.Event()
        if self._script:
            answer = self._script.popleft()
            if answer.content is not None:
                return httpx.Response(answer.status, headers=answer.headers, content=answer.content)
            return httpx.Response(answer.status, headers=answer.headers, json=answer.json)
        auth = request.headers.get("authorization", "")
        known = auth.startswith("Bearer ") and auth.removeprefix("Bearer ") in self.tokens
        path = request.url.path
        if request.method == "DELETE" and path.startswith("/public/v1/chat/"):
            if not known:
                return httpx.Response(401, json={"message": "Unauthorized"})
            self.moderation.append({"delete": path.removeprefix("/public/v1/chat/")})
            return httpx.Response(204)
        if request.method == "POST" and path == "/public/v1/moderation/bans":
            if not known:
                return httpx.Response(401, json={"message": "Unauthorized"})
            if not isinstance(body, dict) or not all(
                isinstance(body.get(k), int) for k in ("broadcaster_user_id", "user_id")
            ):
                return httpx.Response(400, json={"message": "Bad Request"})
            self.moderation.append(body)
            return httpx.Response(200, json={"data": {}, "message": "OK"})
        if request.method != "POST" or path != "/public/v1/chat":
            return httpx.Response(404, json={"message": "Not Found"})
        if not known:
            return httpx.Response(401, json={"message": "Unauthorized"})
        number = len(self.requests)
        return httpx.Response(
            200,
            json={"data": {"is_sent": True, "message_id": f"msg-{number}"}, "message": "OK"},
        )
