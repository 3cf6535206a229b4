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

User-token endpoints (accounts-and-events.md §2): `add_user(login, user_id, token)` makes a
user token; ``GET /helix/users?login=``; ``POST /helix/eventsub/subscriptions`` (answered by the
attached `FakeEventSub`: 202, 409, 429, 400); custom rewards ``GET`` (``only_manageable_rewards``),
``POST`` (400 for a duplicate title), ``PATCH ?id=`` (403 for a reward another client made);
redemptions ``GET`` (by reward and status, oldest first, ``first``/``after`` pages; 403 for a
reward another client made) and ``PATCH`` (``FULFILLED``/``CANCELED``, only UNFULFILLED ones of
our rewards); ``POST /helix/chat/messages`` (`chat_limited` answers the next ones 429 with a
``Ratelimit-Reset``; `drop_next` makes the next one dropped with a
reason). `hand_made_reward(...)` adds a reward made in Twitch's UI; `redeem(...)` records a
redemption (the test sends its notification through the fake EventSub).

Moderation: ``DELETE /helix/moderation/chat?broadcaster_id&moderator_id&message_id`` (204) and
``POST /helix/moderation/bans?broadcaster_id&moderator_id`` with ``{"data": {user_id,
duration?, reason?}}`` (200), each recorded in `moderation`; the ``moderator_id`` must be the
token's user (else 403), and `moderation_answers` (statuses, e.g. 401, 403, 429) answer the
next moderation calls instead (a 429 says the bucket refills in `moderation_reset_in` s).
"""

from __future__ import annotations

import json
import math
import time
import uuid
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
        self.user_tokens: dict[str, tuple[str, str]] = {}  # token -> (user id, login)
        self.eventsub: Any = None  # a FakeEventSub answering subscription requests
        self.rewards: dict[str, dict[str, Any]] = {}
        self.reward_owner: dict[str, str] = {}  # reward id -> client id that made it
        self.redemptions: dict[str, dict[str, Any]] = {}
        self.chat_messages: list[dict[str, Any]] = []
        self.drop_next: dict[str, str] | None = None
        # The next chat sends answered 429, Ratelimit-Reset this many seconds ahead.
        self.chat_limited: list[float] = []
        self.chat_times: list[float] = []  # trio time each chat message was accepted
        self.page_size = 50
        self.raw_answers: list[bytes] = []
        self.moderation: list[dict[str, Any]] = []
        self.moderation_answers: list[int] = []
        self.moderation_reset_in = 1.0

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        app = HttpApp(token=None)
        app.route("POST", "/oauth2/token", self._token, auth=False)
        app.route("GET", "/helix/streams", self._streams, auth=False)
        app.route("GET", "/helix/users", self._users, auth=False)
        app.route("POST", "/helix/eventsub/subscriptions", self._subscribe, auth=False)
        app.route("GET", "/helix/channel_points/custom_rewards", self._list_rewards, auth=False)
        app.route("POST", "/helix/channel_points/custom_rewards", self._create_reward, auth=False)
        app.route("PATCH", "/helix/channel_points/custom_rewards", self._update_reward, auth=False)
        app.route(
            "GET",
            "/helix/channel_points/custom_rewards/redemptions",
            self._list_redemptions,
            auth=False,
        )
        app.route(
            "PATCH", "/helix/channel_points/custom_rewards/redemptions", self._settle, auth=False
        )
        app.route("POST", "/helix/chat/messages", self._chat, auth=False)
        app.route("DELETE", "/helix/moderation/chat", self._moderate, auth=False)
        app.route("POST", "/helix/moderation/bans", self._moderate, auth=False)
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
        if not auth.startswith("Bearer ") or (
            auth[7:] not in self.tokens and auth[7:] not in self.user_tokens
        ):
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

    # ------------------------------------------------------------------ user-token endpoints

    def add_user(self, login: str, user_id: str, token: str) -> None:
        """A user whose token `token` Helix accepts."""
        self.user_tokens[token] = (user_id, login.lower())

    def hand_made_reward(self, title: str, cost: int = 100) -> str:
        """A reward made in Twitch's UI (not by our client id); returns its id."""
        reward_id = f"hand-{len(self.rewards) + 1}"
        self.rewards[reward_id] = _reward(reward_id, title, cost, "", True)
        self.reward_owner[reward_id] = "twitch-ui"
        return reward_id

    def redeem(
        self, reward_id: str, *, user_id: str, login: str, user_input: str = ""
    ) -> dict[str, Any]:
        """Record an UNFULFILLED redemption; returns the EventSub event for it."""
        reward = self.rewards[reward_id]
        redemption_id = str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.redemptions[redemption_id] = {
            "id": redemption_id,
            "broadcaster_id": "b",
            "user_id": user_id,
            "user_login": login,
            "user_name": login.capitalize(),
            "user_input": user_input,
            "status": "UNFULFILLED",
            "redeemed_at": stamp,
            "reward": {k: reward[k] for k in ("id", "title", "prompt", "cost")},
        }
        return {
            "id": redemption_id,
            "broadcaster_user_id": "b",
            "broadcaster_user_login": "daniel",
            "broadcaster_user_name": "Daniel",
            "user_id": user_id,
            "user_login": login,
            "user_name": login.capitalize(),
            "user_input": user_input,
            "status": "unfulfilled",
            "reward": {k: reward[k] for k in ("id", "title", "prompt", "cost")},
            "redeemed_at": stamp,
        }

    def _user(self, request: Request) -> tuple[str, str] | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or request.headers.get("client-id") != self.client_id:
            return None
        return self.user_tokens.get(auth[7:])

    def _unauthorized(self, request: Request) -> Response:
        self._record(request, 401)
        return json_response(
            {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}, 401
        )

    def _answer(self, request: Request, status: int, body: Any) -> Response:
        self._record(request, status)
        return json_response(body, status)

    async def _users(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        wanted = {v.lower() for k, v in request.query_items if k == "login"}
        data = [
            {"id": user_id, "login": login, "display_name": login}
            for user_id, login in self.user_tokens.values()
            if login in wanted
        ]
        return self._answer(request, 200, {"data": data})

    async def _subscribe(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized(request)
        status, body = self.eventsub.subscribe(request.json(), user[0])
        return self._answer(request, status, body)

    async def _list_rewards(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        only = request.query.get("only_manageable_rewards") == "true"
        data = [
            r
            for rid, r in sorted(self.rewards.items())
            if not only or self.reward_owner[rid] == self.client_id
        ]
        return self._answer(request, 200, {"data": data})

    async def _create_reward(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        body = request.json()
        title = body.get("title", "")
        if any(r["title"].casefold() == title.casefold() for r in self.rewards.values()):
            return self._answer(
                request, 400, {"error": "Bad Request", "status": 400, "message": "DUPLICATE_REWARD"}
            )
        reward_id = str(uuid.uuid4())
        self.rewards[reward_id] = _reward(
            reward_id,
            title,
            body.get("cost", 1),
            body.get("prompt", ""),
            body.get("is_enabled", True),
        )
        self.reward_owner[reward_id] = self.client_id
        return self._answer(request, 200, {"data": [self.rewards[reward_id]]})

    async def _update_reward(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        reward_id = request.query.get("id", "")
        if reward_id not in self.rewards:
            return self._answer(request, 404, {"error": "Not Found", "status": 404, "message": ""})
        if self.reward_owner[reward_id] != self.client_id:
            return self._answer(
                request, 403, {"error": "Forbidden", "status": 403, "message": "not your reward"}
            )
        self.rewards[reward_id].update(request.json())
        return self._answer(request, 200, {"data": [self.rewards[reward_id]]})

    async def _list_redemptions(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        reward_id = request.query.get("reward_id", "")
        if self.reward_owner.get(reward_id) != self.client_id:
            return self._answer(
                request, 403, {"error": "Forbidden", "status": 403, "message": "not your reward"}
            )
        status = request.query.get("status", "UNFULFILLED")
        matching = [
            r
            for r in self.redemptions.values()
            if r["reward"]["id"] == reward_id and r["status"] == status
        ]
        first = min(int(request.query.get("first", "20")), self.page_size)
        offset = int(request.query.get("after", "0") or 0)
        page = matching[offset : offset + first]
        cursor = str(offset + first) if offset + first < len(matching) else None
        return self._answer(
            request, 200, {"data": page, "pagination": {"cursor": cursor} if cursor else {}}
        )

    async def _settle(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        reward_id = request.query.get("reward_id", "")
        if self.reward_owner.get(reward_id) != self.client_id:
            return self._answer(
                request, 403, {"error": "Forbidden", "status": 403, "message": "not your reward"}
            )
        status = request.json().get("status")
        done = []
        for _k, redemption_id in [kv for kv in request.query_items if kv[0] == "id"]:
            redemption = self.redemptions.get(redemption_id)
            if redemption is not None and redemption["status"] == "UNFULFILLED":
                redemption["status"] = status
                done.append(redemption)
        if not done:
            return self._answer(request, 404, {"error": "Not Found", "status": 404, "message": ""})
        return self._answer(request, 200, {"data": done})

    async def _chat(self, request: Request) -> Response:
        if self._user(request) is None:
            return self._unauthorized(request)
        if self.chat_limited:
            reset_in = self.chat_limited.pop(0)
            self._record(request, 429)
            headers = {
                "Ratelimit-Limit": "20",
                "Ratelimit-Remaining": "0",
                "Ratelimit-Reset": str(math.ceil(time.time() + reset_in)),
            }
            body429 = {"error": "Too Many Requests", "status": 429, "message": "slow down"}
            return json_response(body429, 429, headers=headers)
        body = request.json()
        self.chat_messages.append(body)
        self.chat_times.append(trio.current_time())
        drop, self.drop_next = self.drop_next, None
        item: dict[str, Any] = {"message_id": str(uuid.uuid4()), "is_sent": drop is None}
        if drop is not None:
            item["drop_reason"] = drop
        return self._answer(request, 200, {"data": [item]})

    async def _moderate(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return self._unauthorized(request)
        if self.moderation_answers:
            status = self.moderation_answers.pop(0)
            headers = {}
            if status == 429:
                headers = {
                    "Ratelimit-Limit": str(self.bucket_limit),
                    "Ratelimit-Remaining": "0",
                    "Ratelimit-Reset": str(math.ceil(time.time() + self.moderation_reset_in)),
                }
            self._record(request, status)
            message = {401: "Invalid OAuth token", 403: "Missing scope", 429: "rate limit"}
            return json_response(
                {"error": "Error", "status": status, "message": message.get(status, "")},
                status,
                headers=headers,
            )
        if request.query.get("moderator_id") != user[0]:
            return self._answer(
                request,
                403,
                {
                    "error": "Forbidden",
                    "status": 403,
                    "message": "moderator_id must match the user in the token",
                },
            )
        call: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "broadcaster_id": request.query.get("broadcaster_id"),
            "moderator_id": request.query.get("moderator_id"),
        }
        if request.method == "DELETE":
            call["message_id"] = request.query.get("message_id")
            self.moderation.append(call)
            self._record(request, 204)
            return Response(status=204, body=b"")
        data = request.json().get("data", {})
        call.update(data)
        self.moderation.append(call)
        return self._answer(request, 200, {"data": [{"user_id": data.get("user_id")}]})


def _reward(reward_id: str, title: str, cost: int, prompt: str, enabled: bool) -> dict[str, Any]:
    return {
        "id": reward_id,
        "title": title,
        "cost": cost,
        "prompt": prompt,
        "is_enabled": enabled,
        "broadcaster_id": "b",
    }
