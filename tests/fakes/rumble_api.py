"""`FakeRumbleApi`: a local Rumble Live Stream API (`/-livestream-api/get-data?key=...`).

An ASGI app, served on a real socket with hypercorn (`await fake.serve(nursery)` returns the
streamer's API URL with its key) or in-process with `fake.transport()`.

The response has the shape of Rumble's published example output (see
`actors/rumble/livestream.py`): `now`, `type`, `user_id`, `username`, `channel_id`,
`channel_name`, `since`, `max_num_results`, `followers`, `subscribers`, `gifted_subs` and
`livestreams[]` with `id`, `title`, `created_on`, `is_live`, `categories`, `stream_key`,
`likes`, `dislikes`, `watching_now` and `chat{latest_message, recent_messages[],
latest_rant, recent_rants[]}`; the chat lists hold the last `max_num_results` entries.
A wrong key gets 401 [assumed: Rumble's answer to a revoked key is not documented].

Scripting: `go_live(stream_id)`, `end_stream(stream_id)`, `say(stream_id, username, text)`,
`rant(...)`, `fail(status, times)`, `fail_raw(...)`, `stall(times)`. Requests are recorded in
`requests` (path, query, trio time).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx
import trio

from runtime.http import serve_http

PATH = "/-livestream-api/get-data"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@attrs.define
class Recorded:
    """One request as the fake saw it."""

    path: str
    query: dict[str, str]
    at: float


@attrs.define
class _Stream:
    id: str
    title: str
    created_on: str
    is_live: bool = True
    messages: list[dict[str, Any]] = attrs.field(factory=list)
    rants: list[dict[str, Any]] = attrs.field(factory=list)
    watching_now: int = 12


class FakeRumbleApi:
    """A scriptable fake of one streamer's Live Stream API (see the module docs)."""

    def __init__(
        self,
        *,
        key: str = "fake-rumble-key-0123456789",
        max_num_results: int = 50,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.key = key
        self.max_num_results = max_num_results
        self.clock = clock or (
            lambda: (
                datetime(2026, 11, 21, 20, 0, tzinfo=UTC) + timedelta(seconds=trio.current_time())
            )
        )
        self.streams: dict[str, _Stream] = {}
        self.requests: list[Recorded] = []
        self._failures: deque[tuple[int, Any]] = deque()
        self._stalls = 0
        self.changed = trio.Event()

    # ------------------------------------------------------------------ scripting

    def url(self, base: str = "http://rumble.test") -> str:
        """The streamer's API URL (with the key) on `base`."""
        return f"{base}{PATH}?key={self.key}"

    def go_live(self, stream_id: str, title: str = "Live now") -> None:
        self.streams[stream_id] = _Stream(
            id=stream_id, title=title, created_on=_rumble_time(self.clock())
        )

    def end_stream(self, stream_id: str) -> None:
        self.streams[stream_id].is_live = False

    def say(
        self,
        stream_id: str,
        username: str,
        text: str,
        *,
        badges: tuple[str, ...] = (),
        at: datetime | None = None,
    ) -> None:
        self.streams[stream_id].messages.append(
            {
                "username": username,
                "badges": list(badges),
                "text": text,
                "created_on": _rumble_time(at or self.clock()),
            }
        )

    def rant(self, stream_id: str, username: str, text: str, cents: int) -> None:
        now = self.clock()
        self.streams[stream_id].rants.append(
            {
                "username": username,
                "badges": [],
                "text": text,
                "created_on": _rumble_time(now),
                "expires_on": _rumble_time(now + timedelta(minutes=2)),
                "amount_cents": cents,
                "amount_dollars": cents / 100,
            }
        )

    def fail(self, status: int, *, times: int = 1) -> None:
        for _ in range(times):
            self._failures.append((status, {"success": False, "error": f"HTTP {status}"}))

    def fail_raw(self, status: int, text: str, *, times: int = 1) -> None:
        for _ in range(times):
            self._failures.append((status, text))

    def stall(self, times: int = 1) -> None:
        self._stalls += times

    async def wait_requests(self, count: int) -> None:
        while len(self.requests) < count:
            await self.changed.wait()

    # ------------------------------------------------------------------ serving

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self)  # type: ignore[arg-type]

    async def serve(self, nursery: trio.Nursery) -> str:
        """Serve on 127.0.0.1 with hypercorn; returns the API URL (with the key)."""
        port = await nursery.start(partial(serve_http, self, host="127.0.0.1", port=0))  # type: ignore[arg-type]
        return self.url(f"http://127.0.0.1:{port}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.requests.append(Recorded(path=scope["path"], query=query, at=trio.current_time()))
        self.changed.set()
        self.changed = trio.Event()
        status, answer = await self._answer(scope["path"], query)
        if isinstance(answer, str):
            data, ctype = answer.encode(), b"text/html"
        else:
            data, ctype = json.dumps(answer).encode(), b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if self._stalls:
            self._stalls -= 1
            await trio.sleep_forever()
        if self._failures:
            return self._failures.popleft()
        if path != PATH:
            return 404, "<html>Not Found</html>"
        if query.get("key") != self.key:
            return 401, {"success": False, "error": "Invalid key"}
        return 200, self._body()

    def _body(self) -> dict[str, Any]:
        n = self.max_num_results
        now = self.clock()
        streams = []
        for s in self.streams.values():
            # Newest first, as the example output lists them.
            messages = list(reversed(s.messages[-n:]))
            rants = list(reversed(s.rants[-n:]))
            streams.append(
                {
                    "id": s.id,
                    "title": s.title,
                    "created_on": s.created_on,
                    "is_live": s.is_live,
                    "categories": {
                        "primary": {"slug": "gaming", "title": "Gaming"},
                        "secondary": None,
                    },
                    "stream_key": "live-stream-key-not-for-logs",
                    "likes": 3,
                    "dislikes": 0,
                    "watching_now": s.watching_now,
                    "chat": {
                        "latest_message": messages[0] if messages else None,
                        "recent_messages": messages,
                        "latest_rant": rants[0] if rants else None,
                        "recent_rants": rants,
                    },
                }
            )
        return {
            "now": int(now.timestamp()),
            "type": "user",
            "user_id": "u123456",
            "username": "FakeStreamer",
            "channel_id": None,
            "channel_name": None,
            "since": None,
            "max_num_results": n,
            "followers": {
                "num_followers": 165,
                "num_followers_total": 362,
                "latest_follower": None,
                "recent_followers": [],
            },
            "subscribers": {
                "num_subscribers": 0,
                "num_subscribers_total": 0,
                "latest_subscriber": None,
                "recent_subscribers": [],
            },
            "gifted_subs": {
                "num_gifted_subs": 0,
                "latest_gifted_sub": None,
                "recent_gifted_subs": [],
            },
            "livestreams": [s for s in streams if s["is_live"]],
        }


def _rumble_time(when: datetime) -> str:
    # Rumble writes local offsets like "2023-09-17T20:43:56-04:00"; any offset reads the same.
    return when.astimezone(UTC).isoformat(timespec="seconds")
