"""`FakeYouTubeApi`: a local YouTube Data API v3 (the live-chat part) for tests.

An ASGI app. Serve it on a real socket with hypercorn (`await fake.serve(nursery)` returns
the base URL, e.g. `http://127.0.0.1:PORT/youtube/v3`), or in-process with
`fake.transport()` (an `httpx.ASGITransport`: no sockets, so trio's MockClock stays exact).

What it serves (shapes per `../shared/docs/platforms.md` section 5; the video and broadcast
resources are the real captures in `tests/conformance/data/youtube.jsonl`, re-labelled):

- `GET /videos?part=liveStreamingDetails&id=V` -> `youtube#videoListResponse`; the video has
  `liveStreamingDetails.activeLiveChatId` only while it is live (`go_live`/`end_stream`).
- `GET /liveBroadcasts?broadcastStatus=active` (Bearer token required) -> the live broadcasts.
- `GET /search?channelId=C&eventType=live&type=video` -> `youtube#searchListResponse`.
- `GET /liveChat/messages?liveChatId=L&pageToken=T` -> `youtube#liveChatMessageListResponse`:
  without a token the whole log (recent history), with one the messages after it;
  `nextPageToken`, `pollingIntervalMillis` (settable), `offlineAt` once ended (if
  `offline_at_on_end`), else 403 `liveChatEnded`; unknown chat -> 404 `liveChatNotFound`.
- `POST /liveChat/messages?part=snippet` (Bearer token required) -> the created message, also
  appended to the chat log.
- `DELETE /liveChat/messages?id=M` (Bearer token required) -> 204 (404
  `liveChatMessageNotFound` for an unknown or already deleted message);
  `POST /liveChat/bans?part=snippet` (Bearer token required) -> the ban resource (400 without
  a chat, type or channel id). Both are recorded in `moderation`.
- Authentication: an API key (`X-Goog-Api-Key` header or `key` parameter) from `api_keys`, or
  a Bearer token from `oauth_tokens`; else 400 `keyInvalid` / 401 `authError`.

Scripting: `fail(status, reason, times=1, path=None)` queues error answers (Google's error
envelope); `fail_raw(status, body)` queues a non-JSON answer; `stall(times=1)` makes requests
hang until the client gives up. Every request is recorded in `requests` (method, path, query,
headers, JSON body, trio time).
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx
import trio

from runtime.http import serve_http

CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "data" / "youtube.jsonl"
PREFIX = "/youtube/v3"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _templates() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        try:
            body = json.loads(record["raw"])
        except ValueError:
            continue
        if isinstance(body, dict):
            found.setdefault(body.get("kind") or "error", body)
    return found


_TEMPLATES = _templates()


@attrs.define
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    at: float

    @property
    def endpoint(self) -> str:
        """`METHOD /path` without the API prefix, e.g. `GET /liveChat/messages`."""
        return f"{self.method} {self.path.removeprefix(PREFIX)}"


@attrs.define
class _Chat:
    chat_id: str
    items: list[dict[str, Any]] = attrs.field(factory=list)
    ended: bool = False
    offline_at: str | None = None


@attrs.define
class _Video:
    video_id: str
    channel_id: str
    chat_id: str | None = None  # set while live


class FakeYouTubeApi:
    """A scriptable fake of the Data API's live-chat endpoints (see the module docs)."""

    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        oauth_tokens: set[str] | None = None,
        polling_interval_ms: int = 5000,
        offline_at_on_end: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_keys = set(api_keys or {"test-api-key"})
        self.oauth_tokens = set(oauth_tokens or ())
        self.polling_interval_ms = polling_interval_ms
        self.offline_at_on_end = offline_at_on_end
        self.clock = clock or (
            lambda: (
                datetime(2026, 11, 21, 20, 0, tzinfo=UTC) + timedelta(seconds=trio.current_time())
            )
        )
        self.videos: dict[str, _Video] = {}
        self.chats: dict[str, _Chat] = {}
        self.broadcasts_owner: str | None = None  # channel whose broadcasts the token sees
        self.requests: list[Recorded] = []
        self.moderation: list[dict[str, Any]] = []
        self._failures: deque[tuple[str | None, int, Any]] = deque()
        self._stalls = 0
        self._counter = 0
        self.changed = trio.Event()

    # ------------------------------------------------------------------ scripting

    def go_live(self, video_id: str, chat_id: str, *, channel_id: str = "UCfakechannel") -> None:
        """Make `video_id` live with chat `chat_id` (a new, empty chat if unknown)."""
        self.videos[video_id] = _Video(video_id=video_id, channel_id=channel_id, chat_id=chat_id)
        self.chats.setdefault(chat_id, _Chat(chat_id=chat_id))

    def add_video(self, video_id: str, *, channel_id: str = "UCfakechannel") -> None:
        """A video that exists but is not live."""
        self.videos[video_id] = _Video(video_id=video_id, channel_id=channel_id)

    def end_stream(self, video_id: str) -> None:
        """The stream is over: the video loses its chat id, the chat answers "ended"."""
        video = self.videos[video_id]
        if video.chat_id is not None:
            chat = self.chats[video.chat_id]
            chat.ended = True
            chat.offline_at = _iso(self.clock())
        video.chat_id = None

    def add_message(
        self,
        chat_id: str,
        text: str,
        *,
        author: str = "UCviewer0000000000000001",
        name: str = "Viewer One",
        owner: bool = False,
        moderator: bool = False,
        sponsor: bool = False,
        message_id: str | None = None,
    ) -> str:
        """Append a text message to the chat's log; returns its id."""
        self._counter += 1
        mid = message_id or f"LCC.fake{self._counter:06d}"
        self.chats[chat_id].items.append(
            _text_message(
                mid,
                chat_id,
                text,
                author=author,
                name=name,
                owner=owner,
                moderator=moderator,
                sponsor=sponsor,
                published=_iso(self.clock()),
            )
        )
        return mid

    def fail(self, status: int, reason: str, *, times: int = 1, path: str | None = None) -> None:
        """The next `times` requests (to `path`, e.g. "/liveChat/messages") get this error."""
        body = {
            "error": {
                "code": status,
                "message": f"The request failed: {reason}.",
                "errors": [{"domain": "youtube.liveChat", "reason": reason, "message": reason}],
            }
        }
        for _ in range(times):
            self._failures.append((path, status, body))

    def fail_raw(self, status: int, text: str, *, times: int = 1, path: str | None = None) -> None:
        """The next `times` requests get a non-JSON body (a proxy's HTML error page)."""
        for _ in range(times):
            self._failures.append((path, status, text))

    def stall(self, times: int = 1) -> None:
        """The next `times` requests never get an answer."""
        self._stalls += times

    def calls(self, endpoint: str) -> list[Recorded]:
        """Recorded requests to `endpoint` ("GET /liveChat/messages")."""
        return [r for r in self.requests if r.endpoint == endpoint]

    async def wait_for(self, endpoint: str, count: int = 1) -> list[Recorded]:
        """Wait until `count` requests to `endpoint` were received."""
        while len(self.calls(endpoint)) < count:
            await self.changed.wait()
        return self.calls(endpoint)

    # ------------------------------------------------------------------ serving

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport to this app (for `YouTubeChat(transport=...)`)."""
        return httpx.ASGITransport(app=self)  # type: ignore[arg-type]

    async def serve(self, nursery: trio.Nursery) -> str:
        """Serve on 127.0.0.1 (a free port) with hypercorn; returns the API base URL."""
        port = await nursery.start(partial(serve_http, self, host="127.0.0.1", port=0))  # type: ignore[arg-type]
        return f"http://127.0.0.1:{port}{PREFIX}"

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
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        record = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=query,
            headers=headers,
            json=payload,
            at=trio.current_time(),
        )
        self.requests.append(record)
        self.changed.set()
        self.changed = trio.Event()
        status, answer = await self._answer(record)
        if answer is None:  # 204 No Content
            data, ctype = b"", b"application/json; charset=UTF-8"
        elif isinstance(answer, str):
            data, ctype = answer.encode(), b"text/html"
        else:
            data, ctype = json.dumps(answer).encode(), b"application/json; charset=UTF-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _answer(self, r: Recorded) -> tuple[int, Any]:
        if self._stalls:
            self._stalls -= 1
            await trio.sleep_forever()
        path = r.path.removeprefix(PREFIX)
        for index, (only, status, body) in enumerate(self._failures):
            if only is None or only == path:
                del self._failures[index]
                return status, body
        bearer = r.headers.get("authorization", "")
        token = bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else None
        key = r.headers.get("x-goog-api-key") or r.query.get("key")
        if token is not None:
            if token not in self.oauth_tokens:
                return _error(401, "authError", "Invalid Credentials")
        elif key not in self.api_keys:
            return _error(400, "keyInvalid", "Bad Request")
        route = (r.method, path)
        if route == ("GET", "/videos"):
            return 200, self._videos(r.query.get("id", ""))
        if route == ("GET", "/liveBroadcasts"):
            if token is None:
                return _error(401, "authError", "Login Required")
            return 200, self._broadcasts()
        if route == ("GET", "/search"):
            return 200, self._search(r.query.get("channelId", ""))
        if route == ("GET", "/liveChat/messages"):
            return self._messages(r.query.get("liveChatId", ""), r.query.get("pageToken"))
        if route == ("POST", "/liveChat/messages"):
            if token is None:
                return _error(401, "authError", "Login Required")
            return self._insert(r.json)
        if route == ("DELETE", "/liveChat/messages"):
            if token is None:
                return _error(401, "authError", "Login Required")
            return self._delete(r.query.get("id", ""))
        if route == ("POST", "/liveChat/bans"):
            if token is None:
                return _error(401, "authError", "Login Required")
            return self._ban(r.json)
        return _error(404, "notFound", "Not Found")

    # ------------------------------------------------------------------ endpoints

    def _videos(self, ids: str) -> dict[str, Any]:
        items = []
        for video_id in filter(None, ids.split(",")):
            video = self.videos.get(video_id)
            if video is None:
                continue
            item = copy.deepcopy(_TEMPLATES["youtube#video"])
            item["id"] = video.video_id
            item["snippet"]["channelId"] = video.channel_id
            details = item["liveStreamingDetails"]
            if video.chat_id is not None:
                details["activeLiveChatId"] = video.chat_id
                item["snippet"]["liveBroadcastContent"] = "live"
            else:
                details.pop("activeLiveChatId", None)
                details.pop("concurrentViewers", None)
                details["actualEndTime"] = _iso(self.clock())
                item["snippet"]["liveBroadcastContent"] = "none"
            items.append(item)
        return {
            "kind": "youtube#videoListResponse",
            "etag": "fake-etag-videos",
            "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        }

    def _broadcasts(self) -> dict[str, Any]:
        body = copy.deepcopy(_TEMPLATES["youtube#liveBroadcastListResponse"])
        template = body["items"][0]
        items = []
        for video in self.videos.values():
            if video.chat_id is None or video.channel_id != (
                self.broadcasts_owner or video.channel_id
            ):
                continue
            item = copy.deepcopy(template)
            item["id"] = video.video_id
            item["snippet"]["liveChatId"] = video.chat_id
            item["snippet"]["channelId"] = video.channel_id
            item["status"] = {"lifeCycleStatus": "live", "privacyStatus": "public"}
            items.append(item)
        body["items"] = items
        body["pageInfo"] = {"totalResults": len(items), "resultsPerPage": 50}
        return body

    def _search(self, channel_id: str) -> dict[str, Any]:
        items = [
            {
                "kind": "youtube#searchResult",
                "etag": "fake-etag-search",
                "id": {"kind": "youtube#video", "videoId": v.video_id},
                "snippet": {
                    "channelId": v.channel_id,
                    "title": "live now",
                    "liveBroadcastContent": "live",
                },
            }
            for v in self.videos.values()
            if v.channel_id == channel_id and v.chat_id is not None
        ]
        return {
            "kind": "youtube#searchListResponse",
            "etag": "fake-etag-search",
            "regionCode": "US",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
            "items": items,
        }

    def _messages(self, chat_id: str, page_token: str | None) -> tuple[int, Any]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return _error(404, "liveChatNotFound", "The live chat was not found.")
        if chat.ended and not self.offline_at_on_end:
            return _error(403, "liveChatEnded", "The live chat is no longer live.")
        start = 0
        if page_token:
            try:
                start = int(page_token.removeprefix("tok"))
            except ValueError:
                return _error(400, "pageTokenInvalid", "Invalid page token.")
        items = chat.items[start:]
        body: dict[str, Any] = {
            "kind": "youtube#liveChatMessageListResponse",
            "etag": f"fake-etag-{len(chat.items)}",
            "pollingIntervalMillis": self.polling_interval_ms,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            "nextPageToken": f"tok{len(chat.items)}",
            "items": items,
        }
        if chat.ended and chat.offline_at is not None:
            body["offlineAt"] = chat.offline_at
        return 200, body

    def _insert(self, payload: Any) -> tuple[int, Any]:
        snippet = payload.get("snippet") if isinstance(payload, dict) else None
        if not isinstance(snippet, dict) or not snippet.get("liveChatId"):
            return _error(400, "liveChatIdRequired", "liveChatId is required.")
        text = (snippet.get("textMessageDetails") or {}).get("messageText")
        if not text:
            return _error(400, "messageTextRequired", "messageText is required.")
        if len(text) > 200:
            return _error(400, "messageTextInvalid", "The message is too long.")
        chat = self.chats.get(snippet["liveChatId"])
        if chat is None:
            return _error(404, "liveChatNotFound", "The live chat was not found.")
        if chat.ended:
            return _error(403, "liveChatEnded", "The live chat is no longer live.")
        mid = self.add_message(
            chat.chat_id, text, author="UCbotowner00000000000001", name="Owner", owner=True
        )
        return 200, chat.items[-1] if chat.items[-1]["id"] == mid else {}

    def _delete(self, message_id: str) -> tuple[int, Any]:
        deleted = {m["id"] for m in self.moderation if m["action"] == "delete"}
        for chat in self.chats.values():
            # Kept in the log (page tokens are offsets into it); a second delete is a 404.
            if message_id not in deleted and any(i.get("id") == message_id for i in chat.items):
                self.moderation.append({"action": "delete", "id": message_id})
                return 204, None
        return _error(404, "liveChatMessageNotFound", "The message was not found.")

    def _ban(self, payload: Any) -> tuple[int, Any]:
        snippet = payload.get("snippet") if isinstance(payload, dict) else None
        if not isinstance(snippet, dict) or snippet.get("liveChatId") not in self.chats:
            return _error(400, "liveChatIdRequired", "liveChatId is required.")
        banned = (snippet.get("bannedUserDetails") or {}).get("channelId")
        if snippet.get("type") not in ("temporary", "permanent") or not banned:
            return _error(400, "invalidValue", "type and bannedUserDetails are required.")
        self.moderation.append({"action": "ban", **snippet})
        self._counter += 1
        return 200, {"kind": "youtube#liveChatBan", "id": f"ban{self._counter}", "snippet": snippet}


def _error(status: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "youtube.liveChat", "reason": reason, "message": message}],
        }
    }


def _text_message(
    mid: str,
    chat_id: str,
    text: str,
    *,
    author: str,
    name: str,
    owner: bool,
    moderator: bool,
    sponsor: bool,
    published: str,
) -> dict[str, Any]:
    return {
        "kind": "youtube#liveChatMessage",
        "etag": f"etag-{mid}",
        "id": mid,
        "snippet": {
            "type": "textMessageEvent",
            "liveChatId": chat_id,
            "authorChannelId": author,
            "publishedAt": published,
            "hasDisplayContent": True,
            "displayMessage": text,
            "textMessageDetails": {"messageText": text},
        },
        "authorDetails": {
            "channelId": author,
            "channelUrl": f"http://www.youtube.com/channel/{author}",
            "displayName": name,
            "profileImageUrl": "https://yt3.ggpht.example/photo.jpg",
            "isVerified": False,
            "isChatOwner": owner,
            "isChatSponsor": sponsor,
            "isChatModerator": moderator,
        },
    }


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}Z"
    )
