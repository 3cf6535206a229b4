"""Twitch Helix and its app (client-credentials) token, sans-IO: request descriptions in, parsed
responses out. User tokens (device flow, refresh, validation) live in `actors.accounts.oauth`.

Nothing here opens a socket. Builders return `HelixRequest` values (method, url, params,
headers, form or JSON body) that the HTTP actor hands to httpx; parsers take what came back as
``(status, headers, body)`` and return frozen values or raise. Secrets (tokens, client secrets)
are kept out of every `repr`.

Facts used (../shared/docs/platforms.md §2, §4, §1.6): base ``https://api.twitch.tv/helix``;
every call sends ``Authorization: Bearer`` and ``Client-Id``; `/streams` takes at most 100
values per filter, repeated as query parameters; pages are ``{"data": [...], "pagination":
{"cursor": ...}}`` with the cursor absent or empty on the last page; rate limits come in
``Ratelimit-Limit/-Remaining/-Reset`` headers (reset = Unix seconds); errors are ``{"error",
"status", "message"}``; clip creation returns 202 with ``{id, edit_url}`` and is asynchronous.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import attrs

from actors.ratelimit import RateLimit
from actors.twitch.eventsub import parse_timestamp
from config.untrusted_json import describe, loads_untrusted

__all__ = [
    "BAN_MAX_SECONDS",
    "CLIP_CAPTURE_WINDOW_SECONDS",
    "CLIP_DEFAULT_SECONDS",
    "CLIP_MAX_SECONDS",
    "CLIP_MIN_SECONDS",
    "CLIP_POLL_TIMEOUT_SECONDS",
    "HELIX_BASE",
    "MAX_IDS_PER_REQUEST",
    "OAUTH_BASE",
    "AppAccessToken",
    "ChatMessageResult",
    "Clip",
    "CreatedClip",
    "CustomReward",
    "HelixApiError",
    "HelixError",
    "HelixParseError",
    "HelixRequest",
    "HelixResponse",
    "RateLimit",
    "Redemption",
    "RedemptionsPage",
    "Stream",
    "StreamsPage",
    "app_token_request",
    "ban_user_request",
    "clip_is_overdue",
    "create_clip_request",
    "create_eventsub_subscription_request",
    "create_reward_request",
    "custom_rewards_request",
    "delete_chat_message_request",
    "get_clips_request",
    "helix_request",
    "next_page",
    "parse_app_token",
    "parse_clips",
    "parse_create_clip",
    "parse_custom_rewards",
    "parse_error",
    "parse_rate_limit",
    "parse_redemptions",
    "parse_response",
    "parse_send_chat_message",
    "parse_streams_page",
    "parse_user_ids",
    "rebase_url",
    "redemptions_request",
    "send_chat_message_request",
    "streams_requests",
    "update_redemption_request",
    "update_reward_request",
    "users_request",
]

HELIX_BASE = "https://api.twitch.tv/helix"
OAUTH_BASE = "https://id.twitch.tv/oauth2"
#: Per-filter limit of `/streams`, `/users`, `/games`, `/clips` ids.
MAX_IDS_PER_REQUEST = 100

#: Create Clip: `duration` accepts 5..60 seconds; without it the last 30 s are published.
CLIP_MIN_SECONDS = 5
CLIP_MAX_SECONDS = 60
CLIP_DEFAULT_SECONDS = 30
#: Ban User: a timeout lasts 1 second to 2 weeks; without `duration` the ban is permanent.
BAN_MAX_SECONDS = 1_209_600
#: Twitch cuts a ban reason at 500 characters.
BAN_REASON_MAX = 500
#: Twitch captures about 90 s around the call.
CLIP_CAPTURE_WINDOW_SECONDS = 90
#: Creation is asynchronous; a clip still absent from `GET /clips` after 15 s has failed.
CLIP_POLL_TIMEOUT_SECONDS = 15.0

Pairs = tuple[tuple[str, str], ...]


class HelixParseError(ValueError):
    """A response body is not what the endpoint documents."""


class HelixApiError(Exception):
    """Helix (or OAuth) answered with an error status."""

    def __init__(self, error: HelixError) -> None:
        super().__init__(f"HTTP {error.status} {error.error}: {error.message}")
        self.error = error

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.error.status


@attrs.frozen(kw_only=True)
class HelixRequest:
    """A request to make: `url` without query, `params` as ordered pairs (repeats allowed)."""

    method: str
    url: str
    params: Pairs = ()
    headers: Pairs = attrs.field(default=(), repr=False)  # carries the bearer token
    form: Pairs | None = attrs.field(default=None, repr=False)  # may carry client secrets
    json: Mapping[str, Any] | None = None

    @property
    def full_url(self) -> str:
        """`url` with the query string encoded (for logs only when it carries no secret)."""
        return f"{self.url}?{urlencode(self.params)}" if self.params else self.url

    def with_params(self, **replace: str | None) -> HelixRequest:
        """A copy with the named single-valued params replaced (None removes them)."""
        kept = tuple((k, v) for k, v in self.params if k not in replace)
        added = tuple((k, v) for k, v in replace.items() if v is not None)
        return attrs.evolve(self, params=kept + added)


@attrs.frozen(kw_only=True)
class HelixError:
    """An error body: ``{"error", "status", "message"}``."""

    status: int
    error: str
    message: str

    @property
    def token_invalid(self) -> bool:
        """401: the token is invalid or expired; refresh it (or re-authorize)."""
        return self.status == 401

    @property
    def rate_limited(self) -> bool:
        """429: over the bucket; wait until `RateLimit.reset`."""
        return self.status == 429


@attrs.frozen(kw_only=True)
class HelixResponse:
    """Any Helix response, endpoint-agnostic."""

    status: int
    data: list[Any] | Mapping[str, Any] | None
    cursor: str | None
    total: int | None
    rate_limit: RateLimit | None
    error: HelixError | None
    body: Mapping[str, Any] | None

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


@attrs.frozen(kw_only=True)
class Stream:
    """One live stream from `GET /streams`."""

    id: str
    user_id: str
    user_login: str
    user_name: str
    game_id: str
    game_name: str
    type: str
    title: str
    tags: tuple[str, ...]
    viewer_count: int
    started_at: datetime | None
    language: str
    thumbnail_url: str
    is_mature: bool


@attrs.frozen(kw_only=True)
class StreamsPage:
    """One page of `GET /streams`; `cursor` is None on the last page."""

    streams: tuple[Stream, ...]
    cursor: str | None


@attrs.frozen(kw_only=True)
class AppAccessToken:
    """Client-credentials token (no refresh token: request a new one when it expires)."""

    access_token: str = attrs.field(repr=False)
    expires_in: int
    token_type: str

    def expires_at(self, obtained_at: float) -> float:
        """When it expires, on the clock `obtained_at` was read from."""
        return obtained_at + self.expires_in


@attrs.frozen(kw_only=True)
class CreatedClip:
    """Create Clip answer: the clip exists only once `GET /clips?id=` returns it."""

    id: str
    edit_url: str


@attrs.frozen(kw_only=True)
class Clip:
    """A clip from `GET /clips` (the fields the runtime uses)."""

    id: str
    url: str
    broadcaster_id: str
    creator_id: str | None
    title: str
    duration: float | None
    created_at: datetime | None
    thumbnail_url: str | None


@attrs.frozen(kw_only=True)
class ChatMessageResult:
    """Send Chat Message answer. A dropped message has `is_sent` False and a drop reason."""

    message_id: str
    is_sent: bool
    drop_code: str | None = None
    drop_message: str | None = None


# --------------------------------------------------------------------------- low level


def _auth_headers(client_id: str, token: str) -> Pairs:
    if not client_id or not token:
        raise ValueError("client_id and token are required")
    return (("Authorization", f"Bearer {token}"), ("Client-Id", client_id))


def helix_request(
    method: str,
    path: str,
    params: Iterable[tuple[str, str]] = (),
    *,
    client_id: str,
    token: str,
    json_body: Mapping[str, Any] | None = None,
) -> HelixRequest:
    """Any Helix call: `path` like ``/streams``; `params` are ordered (repeats allowed)."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    headers = _auth_headers(client_id, token)
    if json_body is not None:
        headers += (("Content-Type", "application/json"),)
    return HelixRequest(
        method=method.upper(),
        url=HELIX_BASE + path,
        params=tuple((str(k), str(v)) for k, v in params),
        headers=headers,
        json=json_body,
    )


def rebase_url(url: str, *, helix_base: str = HELIX_BASE, oauth_base: str = OAUTH_BASE) -> str:
    """`url` moved from Twitch's bases onto others (a local fake, a relay)."""
    if url.startswith(HELIX_BASE):
        return helix_base.rstrip("/") + url[len(HELIX_BASE) :]
    if url.startswith(OAUTH_BASE):
        return oauth_base.rstrip("/") + url[len(OAUTH_BASE) :]
    return url


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


def _decode_body(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """JSON object or None for an empty body; raises HelixParseError otherwise."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    if not body.strip():
        return None
    try:
        obj = loads_untrusted(body)
    except ValueError as exc:
        raise HelixParseError(f"body is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise HelixParseError("body is not a JSON object")
    return obj


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """`RateLimit` from the ``Ratelimit-*`` headers (any case); None when absent or garbled."""
    values = []
    for name in ("Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"):
        raw = _header(headers, name)
        if raw is None:
            return None
        try:
            values.append(int(raw.strip()))
        except (AttributeError, ValueError):  # a value that is not text, or not a number
            return None
    limit, remaining, reset = values
    return RateLimit(limit=limit, remaining=remaining, reset=reset)


def parse_error(status: int, body: bytes | str | Mapping[str, Any] | None) -> HelixError:
    """The error body of a non-2xx response; tolerant of non-JSON bodies (proxies, 5xx)."""
    try:
        obj = _decode_body(body) or {}
    except HelixParseError:
        obj = {}
    return HelixError(
        status=_int(obj.get("status")) or status,
        error=_str(obj.get("error")) or "",
        message=_str(obj.get("message")) or "",
    )


def parse_response(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> HelixResponse:
    """Parse any Helix response: data, cursor, total, rate limit, error.

    An empty body (204) gives ``data=None``. Raises `HelixParseError` for a 2xx body that is
    not a JSON object.
    """
    rate_limit = parse_rate_limit(headers)
    if not 200 <= status < 300:
        return HelixResponse(
            status=status,
            data=None,
            cursor=None,
            total=None,
            rate_limit=rate_limit,
            error=parse_error(status, body),
            body=None,
        )
    obj = _decode_body(body)
    if obj is None:
        return HelixResponse(
            status=status,
            data=None,
            cursor=None,
            total=None,
            rate_limit=rate_limit,
            error=None,
            body=None,
        )
    data = obj.get("data")
    pagination = obj.get("pagination")
    cursor = _str(pagination.get("cursor")) if isinstance(pagination, Mapping) else None
    return HelixResponse(
        status=status,
        data=data if isinstance(data, list | Mapping) else None,
        cursor=cursor or None,  # "" also means: last page
        total=_int(obj.get("total")),
        rate_limit=rate_limit,
        error=None,
        body=obj,
    )


def _ok_body(status: int, body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not 200 <= status < 300:
        raise HelixApiError(parse_error(status, body))
    obj = _decode_body(body)
    if obj is None:
        raise HelixParseError(f"HTTP {status} with an empty body")
    return obj


def _data_list(obj: Mapping[str, Any]) -> list[Any]:
    data = obj.get("data")
    if not isinstance(data, list):
        raise HelixParseError("`data` is not a list")
    return data


def _require(item: Mapping[str, Any], key: str, kind: type) -> Any:
    value = item.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise HelixParseError(f"`{key}` missing or not {kind.__name__}: {describe(value)}")
    return value


def _opt_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------- streams


def _batches(values: Iterable[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(values))  # dedupe, keep order: the watchlist order is stable
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def streams_requests(
    *,
    client_id: str,
    token: str,
    user_logins: Iterable[str] = (),
    user_ids: Iterable[str] = (),
    game_ids: Iterable[str] = (),
    first: int = 100,
) -> list[HelixRequest]:
    """`GET /streams` requests covering a whole watchlist, at most 100 values per request.

    Each request carries one kind of filter: what Twitch does with mixed filters is not
    documented, and one kind per request keeps every batch at the limit. Logins are
    lowercased (they are case-insensitive) and duplicates dropped. With no filter at all, one
    unfiltered request (the top live streams). Follow pages with `next_page`.
    """
    if not 1 <= first <= 100:
        raise ValueError("first must be within 1..100")
    groups: list[tuple[str, list[str]]] = []
    for param, values in (
        ("user_login", [_clean(v).lower() for v in user_logins]),
        ("user_id", [_clean(v) for v in user_ids]),
        ("game_id", [_clean(v) for v in game_ids]),
    ):
        groups += [(param, batch) for batch in _batches(values, MAX_IDS_PER_REQUEST)]
    if not groups:
        return [
            helix_request(
                "GET", "/streams", [("first", str(first))], client_id=client_id, token=token
            )
        ]
    return [
        helix_request(
            "GET",
            "/streams",
            [(param, v) for v in batch] + [("first", str(first))],
            client_id=client_id,
            token=token,
        )
        for param, batch in groups
    ]


def _clean(value: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError(f"not a valid id or login: {value!r}")
    return value.strip()


def next_page(request: HelixRequest, cursor: str | None) -> HelixRequest | None:
    """The request for the page after `cursor`, or None when there is none."""
    if not cursor:
        return None
    return request.with_params(after=cursor, before=None)


def _stream(item: Mapping[str, Any]) -> Stream:
    tags = item.get("tags")
    return Stream(
        id=_require(item, "id", str),
        user_id=_require(item, "user_id", str),
        user_login=_require(item, "user_login", str),
        user_name=_str(item.get("user_name")) or "",
        game_id=_str(item.get("game_id")) or "",
        game_name=_str(item.get("game_name")) or "",
        type=_str(item.get("type")) or "",
        title=_str(item.get("title")) or "",
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        viewer_count=_int(item.get("viewer_count")) or 0,
        started_at=_opt_time(item.get("started_at")),
        language=_str(item.get("language")) or "",
        thumbnail_url=_str(item.get("thumbnail_url")) or "",
        is_mature=item.get("is_mature") is True,
    )


def parse_streams_page(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> StreamsPage:
    """Parse a `GET /streams` page. Raises `HelixApiError` / `HelixParseError`."""
    obj = _ok_body(status, body)
    streams = tuple(_stream(item) for item in _data_list(obj) if isinstance(item, Mapping))
    pagination = obj.get("pagination")
    cursor = _str(pagination.get("cursor")) if isinstance(pagination, Mapping) else None
    return StreamsPage(streams=streams, cursor=cursor or None)


# --------------------------------------------------------------------------- OAuth


def app_token_request(client_id: str, client_secret: str) -> HelixRequest:
    """Client-credentials grant: ``POST /oauth2/token`` (form body)."""
    return HelixRequest(
        method="POST",
        url=f"{OAUTH_BASE}/token",
        form=(
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("grant_type", "client_credentials"),
        ),
    )


def parse_app_token(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> AppAccessToken:
    """Parse a client-credentials response. Raises `HelixApiError` / `HelixParseError`."""
    obj = _ok_body(status, body)
    return AppAccessToken(
        access_token=_require(obj, "access_token", str),
        expires_in=_require(obj, "expires_in", int),
        token_type=_str(obj.get("token_type")) or "bearer",
    )


# --------------------------------------------------------------------------- clips


def create_clip_request(
    broadcaster_id: str,
    *,
    client_id: str,
    token: str,
    title: str | None = None,
    duration: float | None = None,
) -> HelixRequest:
    """``POST /clips`` (user token with ``clips:edit``; the broadcaster must be live).

    `duration` must be within 5..60 s (Twitch's documented range); None = Twitch's default
    (the last 30 s).
    """
    params = [("broadcaster_id", _clean(broadcaster_id))]
    if title is not None:
        if not title.strip():
            raise ValueError("title must not be blank")
        params.append(("title", title))
    if duration is not None:
        if not (math.isfinite(duration) and CLIP_MIN_SECONDS <= duration <= CLIP_MAX_SECONDS):
            raise ValueError(f"duration must be within {CLIP_MIN_SECONDS}..{CLIP_MAX_SECONDS} s")
        params.append(("duration", f"{duration:g}"))
    return helix_request("POST", "/clips", params, client_id=client_id, token=token)


def parse_create_clip(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> CreatedClip:
    """Parse the 202 answer of Create Clip. Raises `HelixApiError` / `HelixParseError`."""
    data = _data_list(_ok_body(status, body))
    if not data or not isinstance(data[0], Mapping):
        raise HelixParseError("create clip answer has no data")
    return CreatedClip(id=_require(data[0], "id", str), edit_url=_require(data[0], "edit_url", str))


def get_clips_request(clip_ids: Sequence[str], *, client_id: str, token: str) -> HelixRequest:
    """``GET /clips?id=...`` for up to 100 clip ids (poll after Create Clip)."""
    ids = list(dict.fromkeys(_clean(i) for i in clip_ids))
    if not 1 <= len(ids) <= MAX_IDS_PER_REQUEST:
        raise ValueError(f"between 1 and {MAX_IDS_PER_REQUEST} clip ids per request")
    params = [("id", i) for i in ids]
    return helix_request("GET", "/clips", params, client_id=client_id, token=token)


def parse_clips(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> tuple[Clip, ...]:
    """Parse `GET /clips`. An empty tuple while a new clip is still being made."""
    clips = []
    for item in _data_list(_ok_body(status, body)):
        if not isinstance(item, Mapping):
            continue
        duration = item.get("duration")
        clips.append(
            Clip(
                id=_require(item, "id", str),
                url=_str(item.get("url")) or "",
                broadcaster_id=_str(item.get("broadcaster_id")) or "",
                creator_id=_str(item.get("creator_id")),
                title=_str(item.get("title")) or "",
                duration=float(duration)
                if isinstance(duration, int | float) and not isinstance(duration, bool)
                else None,
                created_at=_opt_time(item.get("created_at")),
                thumbnail_url=_str(item.get("thumbnail_url")),
            )
        )
    return tuple(clips)


def clip_is_overdue(requested_at: float, now: float) -> bool:
    """Whether a created clip still missing from `GET /clips` should count as failed."""
    return now - requested_at > CLIP_POLL_TIMEOUT_SECONDS


# --------------------------------------------------------------------------- chat


def send_chat_message_request(
    broadcaster_id: str,
    sender_id: str,
    message: str,
    *,
    client_id: str,
    token: str,
    reply_parent_message_id: str | None = None,
) -> HelixRequest:
    """``POST /chat/messages`` (scope ``user:write:chat``)."""
    if not message:
        raise ValueError("message must not be empty")
    body: dict[str, str] = {
        "broadcaster_id": _clean(broadcaster_id),
        "sender_id": _clean(sender_id),
        "message": message,
    }
    if reply_parent_message_id is not None:
        body["reply_parent_message_id"] = _clean(reply_parent_message_id)
    return helix_request("POST", "/chat/messages", client_id=client_id, token=token, json_body=body)


def parse_send_chat_message(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> ChatMessageResult:
    """Parse Send Chat Message. A 200 can still mean "dropped": check `is_sent`.

    Unknown `drop_reason.code` values are kept as they are (Twitch adds codes).
    """
    data = _data_list(_ok_body(status, body))
    if not data or not isinstance(data[0], Mapping):
        raise HelixParseError("send chat message answer has no data")
    item = data[0]
    drop = item.get("drop_reason")
    drop = drop if isinstance(drop, Mapping) else {}
    return ChatMessageResult(
        message_id=_str(item.get("message_id")) or "",
        is_sent=_require(item, "is_sent", bool),
        drop_code=_str(drop.get("code")),
        drop_message=_str(drop.get("message")),
    )


# --------------------------------------------------------------------------- EventSub, rewards


def create_eventsub_subscription_request(
    body: Mapping[str, Any], *, client_id: str, token: str
) -> HelixRequest:
    """``POST /eventsub/subscriptions`` with a `SubscriptionSpec.body` (user token for sockets)."""
    return helix_request(
        "POST", "/eventsub/subscriptions", client_id=client_id, token=token, json_body=body
    )


@attrs.frozen(kw_only=True)
class CustomReward:
    """A channel-points reward from ``GET /channel_points/custom_rewards``."""

    id: str
    title: str
    cost: int
    prompt: str
    is_enabled: bool


#: Reward settings Twitch accepts: title at most 45 characters, prompt at most 200, cost >= 1.
REWARD_TITLE_MAX = 45
REWARD_PROMPT_MAX = 200


def custom_rewards_request(
    broadcaster_id: str, *, client_id: str, token: str, only_manageable: bool = False
) -> HelixRequest:
    """``GET /channel_points/custom_rewards`` (all rewards, or only those our client made)."""
    params = [("broadcaster_id", _clean(broadcaster_id))]
    if only_manageable:
        params.append(("only_manageable_rewards", "true"))
    return helix_request(
        "GET", "/channel_points/custom_rewards", params, client_id=client_id, token=token
    )


def create_reward_request(
    broadcaster_id: str, settings: Mapping[str, Any], *, client_id: str, token: str
) -> HelixRequest:
    """``POST /channel_points/custom_rewards`` (scope ``channel:manage:redemptions``)."""
    return helix_request(
        "POST",
        "/channel_points/custom_rewards",
        [("broadcaster_id", _clean(broadcaster_id))],
        client_id=client_id,
        token=token,
        json_body=dict(settings),
    )


def update_reward_request(
    broadcaster_id: str,
    reward_id: str,
    settings: Mapping[str, Any],
    *,
    client_id: str,
    token: str,
) -> HelixRequest:
    """``PATCH /channel_points/custom_rewards?id=`` (only rewards our client id created)."""
    return helix_request(
        "PATCH",
        "/channel_points/custom_rewards",
        [("broadcaster_id", _clean(broadcaster_id)), ("id", _clean(reward_id))],
        client_id=client_id,
        token=token,
        json_body=dict(settings),
    )


def parse_custom_rewards(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> tuple[CustomReward, ...]:
    """Parse a custom rewards answer (list, create or update). Raises on errors."""
    rewards = []
    for item in _data_list(_ok_body(status, body)):
        if not isinstance(item, Mapping):
            continue
        rewards.append(
            CustomReward(
                id=_require(item, "id", str),
                title=_str(item.get("title")) or "",
                cost=_int(item.get("cost")) or 0,
                prompt=_str(item.get("prompt")) or "",
                is_enabled=item.get("is_enabled") is not False,
            )
        )
    return tuple(rewards)


@attrs.frozen(kw_only=True)
class Redemption:
    """A redemption from ``GET /channel_points/custom_rewards/redemptions``."""

    id: str
    reward_id: str
    reward_title: str
    reward_cost: int | None
    user_id: str | None
    user_login: str | None
    user_name: str | None
    user_input: str
    status: str
    redeemed_at: datetime | None


@attrs.frozen(kw_only=True)
class RedemptionsPage:
    """One page of redemptions; `cursor` is None on the last page."""

    redemptions: tuple[Redemption, ...]
    cursor: str | None


def redemptions_request(
    broadcaster_id: str,
    reward_id: str,
    *,
    client_id: str,
    token: str,
    status: str = "UNFULFILLED",
    first: int = 50,
) -> HelixRequest:
    """``GET /channel_points/custom_rewards/redemptions`` of one reward (oldest first)."""
    params = [
        ("broadcaster_id", _clean(broadcaster_id)),
        ("reward_id", _clean(reward_id)),
        ("status", status),
        ("sort", "OLDEST"),
        ("first", str(first)),
    ]
    return helix_request(
        "GET",
        "/channel_points/custom_rewards/redemptions",
        params,
        client_id=client_id,
        token=token,
    )


def parse_redemptions(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> RedemptionsPage:
    """Parse a redemptions page (also the answer of a status update)."""
    obj = _ok_body(status, body)
    found = []
    for item in _data_list(obj):
        if not isinstance(item, Mapping):
            continue
        reward = item.get("reward")
        reward = reward if isinstance(reward, Mapping) else {}
        found.append(
            Redemption(
                id=_require(item, "id", str),
                reward_id=_require(reward, "id", str),
                reward_title=_str(reward.get("title")) or "",
                reward_cost=_int(reward.get("cost")),
                user_id=_str(item.get("user_id")),
                user_login=_str(item.get("user_login")),
                user_name=_str(item.get("user_name")),
                user_input=_str(item.get("user_input")) or "",
                status=_str(item.get("status")) or "",
                redeemed_at=_opt_time(item.get("redeemed_at")),
            )
        )
    pagination = obj.get("pagination")
    cursor = _str(pagination.get("cursor")) if isinstance(pagination, Mapping) else None
    return RedemptionsPage(redemptions=tuple(found), cursor=cursor or None)


def update_redemption_request(
    broadcaster_id: str,
    reward_id: str,
    redemption_ids: Sequence[str],
    status: str,
    *,
    client_id: str,
    token: str,
) -> HelixRequest:
    """``PATCH .../redemptions`` to ``FULFILLED`` or ``CANCELED`` (refund), up to 50 ids."""
    if status not in ("FULFILLED", "CANCELED"):
        raise ValueError("status must be FULFILLED or CANCELED")
    ids = list(dict.fromkeys(_clean(i) for i in redemption_ids))
    if not 1 <= len(ids) <= 50:
        raise ValueError("between 1 and 50 redemption ids per request")
    params = [("broadcaster_id", _clean(broadcaster_id)), ("reward_id", _clean(reward_id))]
    params += [("id", i) for i in ids]
    return helix_request(
        "PATCH",
        "/channel_points/custom_rewards/redemptions",
        params,
        client_id=client_id,
        token=token,
        json_body={"status": status},
    )


def users_request(logins: Sequence[str], *, client_id: str, token: str) -> HelixRequest:
    """``GET /users?login=...`` for up to 100 logins."""
    names = list(dict.fromkeys(_clean(login).lower() for login in logins))
    if not 1 <= len(names) <= MAX_IDS_PER_REQUEST:
        raise ValueError(f"between 1 and {MAX_IDS_PER_REQUEST} logins per request")
    return helix_request(
        "GET", "/users", [("login", n) for n in names], client_id=client_id, token=token
    )


def parse_user_ids(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> dict[str, str]:
    """Parse ``GET /users``: lowercased login -> user id."""
    found = {}
    for item in _data_list(_ok_body(status, body)):
        if isinstance(item, Mapping):
            found[_require(item, "login", str).lower()] = _require(item, "id", str)
    return found


# --------------------------------------------------------------------------- moderation


def delete_chat_message_request(
    broadcaster_id: str, moderator_id: str, message_id: str, *, client_id: str, token: str
) -> HelixRequest:
    """``DELETE /moderation/chat`` of one message (scope ``moderator:manage:chat_messages``;
    `moderator_id` is the token's user, the broadcaster or one of their moderators). 204 when
    deleted."""
    params = [
        ("broadcaster_id", _clean(broadcaster_id)),
        ("moderator_id", _clean(moderator_id)),
        ("message_id", _clean(message_id)),
    ]
    return helix_request("DELETE", "/moderation/chat", params, client_id=client_id, token=token)


def ban_user_request(
    broadcaster_id: str,
    moderator_id: str,
    user_id: str,
    *,
    client_id: str,
    token: str,
    duration_seconds: int | None = None,
    reason: str = "",
) -> HelixRequest:
    """``POST /moderation/bans`` (scope ``moderator:manage:banned_users``): a timeout of
    `duration_seconds` (1 s to 2 weeks), or a permanent ban when it is None. 200 when done."""
    data: dict[str, Any] = {"user_id": _clean(user_id)}
    if duration_seconds is not None:
        if isinstance(duration_seconds, bool) or not 1 <= duration_seconds <= BAN_MAX_SECONDS:
            raise ValueError(f"a timeout lasts 1..{BAN_MAX_SECONDS} seconds")
        data["duration"] = int(duration_seconds)
    if reason:
        data["reason"] = reason[:BAN_REASON_MAX]
    params = [("broadcaster_id", _clean(broadcaster_id)), ("moderator_id", _clean(moderator_id))]
    return helix_request(
        "POST",
        "/moderation/bans",
        params,
        client_id=client_id,
        token=token,
        json_body={"data": data},
    )
