"""`FakeHelix`: a local Twitch Helix `/streams` and OAuth client-credentials server.

It follows `../shared/docs/platforms.md` sections 2 and 4: ``POST /oauth2/token`` (form
``client_id, client_secret, grant_type=client_credentials``) -> ``{access_token, expires_in,
token_type}``; ``GET /helix/streams`` with ``Authorization: Bearer`` and ``Client-Id``,
filters ``user_login``/``user_id``/``game_id`` repeated up to 100 times, ``first`` (1..100) and
an ``after`` cursor; only live streams come back; ``{"data": [...], "pagination": {"cursor"}}``
with no cursor on the last page; ``Ratelimit-Limit/-Remaining/-Reset`` (Unix seconds) on every
answer and a 429 when the bucket is empty; a 401 JSON error for an unknown or expired token.

Controls: `go_live(login, ...)`, `go_offline(login)`, `expire_tokens()`, `set_bucket(...)`,
`answer_raw(body)` (hostile or malformed answers).
Every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import parse_qsl

import attrs
import trio

from runtime.http import HttpApp, Request, Response, json_response, serve_http


@attrs.frozen(kw_only=True)
class HelixCall:
    """One request the fake received."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int


class FakeHelix:
    """See the module docs. ``fake = await nursery.start(FakeHelix().serve)``."""

    def __init__(
        self,
        *,
        client_id: str = "client-id",
        client_secret: str = "client-secret",
        token_seconds: int = 3600,
        bucket_limit: int = 800,
        bucket_window: float = 60.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_seconds = token_seconds
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.remaining = bucket_limit
        self.reset_at = time.time() + bucket_window
        self.streams: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.token_grants = 0
        self.requests: list[HelixCall] = []
        self.port = 0
        self._next_id = 1000
        self.raw_answers: list[bytes] = []

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        app = HttpApp(token=None)
        app.route("POST", "/oauth2/token", self._token, auth=False)
        app.route("GET", "/helix/streams", self._streams, auth=False)
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(
                lambda task_status: serve_http(
                    app, host="127.0.0.1", port=0, task_status=task_status
                )
            )
            task_status.started(self)

    @property
    def helix_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/helix"

    @property
    def oauth_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth2"

    # ------------------------------------------------------------------ controls

    def go_live(
        self,
        login: str,
        *,
        user_id: str | None = None,
        game_id: str = "509658",
        game_name: str = "Just Chatting",
        title: str = "live now",
        viewers: int = 10,
        started_at: str = "2026-11-21T20:00:00Z",
    ) -> None:
        self._next_id += 1
        self.streams[login.lower()] = {
            "id": str(40000000000 + self._next_id),
            "user_id": user_id or str(100000 + self._next_id),
            "user_login": login.lower(),
            "user_name": login,
            "game_id": game_id,
            "game_name": game_name,
            "type": "live",
            "title": title,
            "tags": ["English"],
            "viewer_count": viewers,
            "started_at": started_at,
            "language": "en",
            "thumbnail_url": (
                f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{login}-{{width}}x{{height}}.jpg"
            ),
            "tag_ids": [],
            "is_mature": False,
        }

    def answer_raw(self, body: bytes, *, times: int = 1) -> None:
        """Answer the next `times` authorised `/helix/streams` requests 200 with `body`."""
        self.raw_answers.extend([body] * times)

    def go_offline(self, login: str) -> None:
        self.streams.pop(login.lower(), None)

    def expire_tokens(self) -> None:
        """Every token issued so far is now invalid (401)."""
        self.tokens.clear()

    def set_bucket(self, *, remaining: int, reset_in: float) -> None:
        self.remaining = remaining
        self.reset_at = time.time() + reset_in

    def calls(self, path: str = "/helix/streams") -> list[HelixCall]:
        return [c for c in self.requests if c.path == path]

    # ------------------------------------------------------------------ handlers

    def _limit_headers(self) -> dict[str, str]:
        return {
            "Ratelimit-Limit": str(self.bucket_limit),
            "Ratelimit-Remaining": str(self.remaining),
            "Ratelimit-Reset": str(math.ceil(self.reset_at)),
        }

    def _record(self, request: Request, status: int) -> None:
        self.requests.append(
            HelixCall(
                method=request.method,
                path=request.path,
                params=tuple(request.query_items),
                status=status,
            )
        )

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        ok = (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
            and form.get("grant_type") == "client_credentials"
        )
        if not ok:
            self._record(request, 400)
            return json_response({"status": 400, "message": "invalid client"}, 400)
        self.token_grants += 1
        token = f"app-token-{self.token_grants}"
        self.tokens.add(token)
        self._record(request, 200)
        return json_response(
            {"access_token": token, "expires_in": self.token_seconds, "token_type": "bearer"}
        )

    async def _streams(self, request: Request) -> Response:
        now = time.time()
        if now >= self.reset_at:
            self.remaining = self.bucket_limit
            self.reset_at = now + self.bucket_window
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            self._record(request, 401)
            return json_response(
                {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"},
                401,
                headers=self._limit_headers(),
            )
        if request.headers.get("client-id") != self.client_id:
            self._record(request, 401)
            return json_response(
                {"error": "Unauthorized", "status": 401, "message": "Client ID mismatch"}, 401
            )
        if self.remaining <= 0:
            self._record(request, 429)
            return json_response(
                {"error": "Too Many Requests", "status": 429, "message": "rate limit"},
                429,
                headers=self._limit_headers(),
            )
        self.remaining -= 1
        if self.raw_answers:
            self._record(request, 200)
            return Response(status=200, body=self.raw_answers.pop(0), headers=self._limit_headers())
        logins = {v.lower() for k, v in request.query_items if k == "user_login"}
        ids = {v for k, v in request.query_items if k == "user_id"}
        games = {v for k, v in request.query_items if k == "game_id"}
        if max(len(logins), len(ids), len(games)) > 100:
            self._record(request, 400)
            return json_response({"error": "Bad Request", "status": 400, "message": "max 100"}, 400)
        first = int(request.query.get("first", "20"))
        offset = int(request.query.get("after", "0") or 0)
        live = [
            s
            for login, s in sorted(self.streams.items())
            if (not (logins or ids or games))
            or login in logins
            or s["user_id"] in ids
            or s["game_id"] in games
        ]
        page = live[offset : offset + first]
        cursor = str(offset + first) if offset + first < len(live) else None
        self._record(request, 200)
        body = {"data": page, "pagination": {"cursor": cursor} if cursor else {}}
        return Response(
            status=200,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers=self._limit_headers(),
        )
