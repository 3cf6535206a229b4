"""YouTube Live Chat (Data API v3): sans-IO response parsing, error policy and request builders.

The YouTube actor does the HTTP (httpx) and the waiting; this module turns response bodies
into normalized events and decisions, and describes the requests to make. No I/O here.

Wire facts (``shared/docs/platforms.md`` section 5): chat is polled with
``liveChatMessages.list``, honouring ``pollingIntervalMillis``; every call costs quota from a
10,000 units/day budget that resets at midnight Pacific time; ``uint64`` fields such as
``amountMicros`` and ``banDurationSeconds`` are JSON *strings*.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from actors.events import (
    AnyEvent,
    ChatEvent,
    GiftEvent,
    ModerationEvent,
    NoticeEvent,
    PaidMessageEvent,
    SubscriptionEvent,
)
from config.untrusted_json import describe

__all__ = [
    "API_BASE",
    "MAX_MESSAGE_LENGTH",
    "QUOTA_COSTS",
    "ApiRequest",
    "Broadcast",
    "BroadcastList",
    "ErrorAction",
    "LiveChatPage",
    "LiveChatParseError",
    "LiveStreamingDetails",
    "YouTubeError",
    "error_action",
    "live_broadcasts_list",
    "live_chat_bans_insert",
    "live_chat_messages_delete",
    "live_chat_messages_insert",
    "live_chat_messages_list",
    "next_quota_reset",
    "parse_active_chat_id",
    "parse_broadcasts",
    "parse_error",
    "parse_live_streaming_details",
    "parse_messages",
    "parse_time",
    "search_live",
    "videos_list",
]

API_BASE = "https://www.googleapis.com/youtube/v3"

#: Quota units each method costs against the default 10,000 units/day project budget.
QUOTA_COSTS: Mapping[str, int] = {
    "liveChatMessages.list": 5,
    "liveChatMessages.streamList": 5,
    "liveChatMessages.insert": 20,  # the often-quoted 50 is outdated
    # Moderation: what a filter's delete and timeout cost.
    "liveChatMessages.delete": 50,
    "liveChatBans.insert": 200,
    "videos.list": 1,
    "channels.list": 1,
    # Newer docs move search.list to a separate bucket of 100 calls/day; we charge the older
    # 100 units so a tracker that only knows the main bucket stays on the safe side.
    "search.list": 100,
    # [unverified] in platforms.md; list methods cost 1 elsewhere.
    "liveBroadcasts.list": 1,
}

#: Text limit of liveChatMessages.insert [obs].
MAX_MESSAGE_LENGTH = 200

_QUOTA_TZ = "America/Los_Angeles"


class LiveChatParseError(ValueError):
    """A response body whose overall shape is not a liveChatMessages.list response."""


# --------------------------------------------------------------------------------------------
# Small readers that never raise


_TS_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string, else ``None``.

    Accepts fractional seconds of any length (truncated to microseconds: Google sends 3, 6 or
    9 digits) and ``Z`` or a ``±HH:MM`` offset; a time without an offset is read as UTC.
    """
    if not isinstance(value, str):
        return None
    m = _TS_RE.fullmatch(value.strip())
    if m is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
        micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
        tz = UTC
        if m.group(9):
            offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
            tz = timezone(-offset if m.group(9) == "-" else offset)
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


_INT_RE = re.compile(r"-?[0-9]{1,30}")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _nonempty(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    """An int from a JSON number or a decimal string (Google encodes 64-bit ints as strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _INT_RE.fullmatch(value):
        value = int(value)
    # Google's numbers are 64-bit: anything larger is hostile data, not a count.
    return value if isinstance(value, int) and value.bit_length() < 64 else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --------------------------------------------------------------------------------------------
# liveChatMessages.list


@attrs.frozen(kw_only=True)
class LiveChatPage:
    """One ``liveChatMessages.list`` response.

    - ``events``: one normalized event per item, in response order;
    - ``next_page_token``: pass it as ``pageToken`` on the next call (``None`` when absent);
    - ``polling_interval_ms``: wait at least this long before the next call;
    - ``offline_at``: set once the stream went offline;
    - ``skipped``: items dropped because they were not readable (no id, snippet, type, chat
      id, or an unreadable amount); counted so the actor can log them, never fatal, because
      one odd item must not cost the page token.
    """

    events: tuple[AnyEvent, ...] = ()
    next_page_token: str | None = None
    polling_interval_ms: int | None = None
    offline_at: datetime | None = None
    etag: str | None = None
    total_results: int | None = None
    results_per_page: int | None = None
    skipped: int = 0

    @property
    def chat_ended(self) -> bool:
        """Whether this page says the chat is over (``offlineAt`` or a ``chatEndedEvent``)."""
        return self.offline_at is not None or any(
            isinstance(e, NoticeEvent) and e.kind == "chatEndedEvent" for e in self.events
        )


class _Skip(Exception):
    """An item that cannot be mapped; counted in ``LiveChatPage.skipped``."""


@attrs.frozen(kw_only=True)
class _Common:
    message_id: str
    channel: str
    sent_at: datetime
    raw_type: str
    user_id: str | None
    display_name: str | None
    roles: frozenset[str]
    display_message: str | None
    snippet: dict[str, Any]


def _common(item: Any, now: datetime) -> _Common:
    item = _obj(item)
    snippet = _obj(item.get("snippet"))
    author = _obj(item.get("authorDetails"))
    message_id = _nonempty(item.get("id"))
    kind = _nonempty(snippet.get("type"))
    channel = _nonempty(snippet.get("liveChatId"))
    if message_id is None or kind is None or channel is None:
        raise _Skip
    roles = set()
    if author.get("isChatOwner") is True:
        roles.add("broadcaster")
    if author.get("isChatModerator") is True:
        roles.add("moderator")
    if author.get("isChatSponsor") is True:
        roles.add("member")
    return _Common(
        message_id=message_id,
        channel=channel,
        sent_at=parse_time(snippet.get("publishedAt")) or now,
        raw_type=kind,
        user_id=_nonempty(snippet.get("authorChannelId")) or _nonempty(author.get("channelId")),
        display_name=_str(author.get("displayName")),
        roles=frozenset(roles),
        display_message=_str(snippet.get("displayMessage")),
        snippet=snippet,
    )


def _base(c: _Common) -> dict[str, Any]:
    return {
        "platform": "youtube",
        "channel": c.channel,
        "message_id": c.message_id,
        "sent_at": c.sent_at,
        "raw_type": c.raw_type,
    }


def _who(c: _Common) -> dict[str, Any]:
    # YouTube has no login name: the channel id is the only stable, unique handle (display
    # names are often "@handles" but can change and are not unique), so login = channel id.
    return {"user_id": c.user_id, "login": c.user_id, "display_name": c.display_name}


def _paid(c: _Common, details: dict[str, Any], text: str | None) -> PaidMessageEvent:
    amount = _int(details.get("amountMicros"))
    currency = _nonempty(details.get("currency"))
    if amount is None or currency is None:
        raise _Skip
    return PaidMessageEvent(
        **_base(c),
        **_who(c),
        amount_micros=amount,
        currency=currency,
        text=text,
        amount_display=_str(details.get("amountDisplayString")),
    )


def _map_item(item: Any, now: datetime) -> AnyEvent:
    c = _common(item, now)
    s = c.snippet
    kind = c.raw_type
    if kind == "textMessageEvent":
        if c.user_id is None:
            raise _Skip
        text = _str(_obj(s.get("textMessageDetails")).get("messageText"))
        return ChatEvent(
            **_base(c),
            user_id=c.user_id,
            login=c.user_id,
            display_name=c.display_name or c.user_id,
            text=text if text is not None else c.display_message or "",
            roles=c.roles,
        )
    if kind == "superChatEvent":
        details = _obj(s.get("superChatDetails"))
        return _paid(c, details, _str(details.get("userComment")))
    if kind == "superStickerEvent":
        details = _obj(s.get("superStickerDetails"))
        sticker = _obj(details.get("superStickerMetadata"))
        return _paid(c, details, _str(sticker.get("altText")))
    if kind == "fanFundingEvent":  # the pre-Super Chat form, kept for old chats
        details = _obj(s.get("fanFundingEventDetails"))
        return _paid(c, details, _str(details.get("userComment")))
    if kind == "newSponsorEvent":
        details = _obj(s.get("newSponsorDetails"))
        return SubscriptionEvent(
            **_base(c), **_who(c), tier=_str(details.get("memberLevelName")), months=None
        )
    if kind == "memberMilestoneChatEvent":
        details = _obj(s.get("memberMilestoneChatDetails"))
        return SubscriptionEvent(
            **_base(c),
            **_who(c),
            tier=_str(details.get("memberLevelName")),
            months=_int(details.get("memberMonth")),
            text=_str(details.get("userComment")),
        )
    if kind == "membershipGiftingEvent":
        details = _obj(s.get("membershipGiftingDetails"))
        count = _int(details.get("giftMembershipsCount"))
        return GiftEvent(
            **_base(c),
            **_who(c),
            count=count if count is not None and count > 0 else 1,
            tier=_str(details.get("giftMembershipsLevelName")),
        )
    if kind == "giftMembershipReceivedEvent":
        # The author is the recipient; the gifter is named by channel id only. Each recipient
        # gets one of these besides the gifter's membershipGiftingEvent, so consumers that
        # count gifts should count the membershipGiftingEvent.
        details = _obj(s.get("giftMembershipReceivedDetails"))
        gifter = _nonempty(details.get("gifterChannelId"))
        return GiftEvent(
            **_base(c),
            user_id=gifter,
            login=gifter,
            display_name=None,
            count=1,
            tier=_str(details.get("memberLevelName")),
            recipient_user_id=c.user_id,
            recipient_login=c.user_id,
        )
    if kind in ("messageDeletedEvent", "messageRetractedEvent"):
        if kind == "messageDeletedEvent":
            target = _obj(s.get("messageDeletedDetails")).get("deletedMessageId")
        else:
            target = _obj(s.get("messageRetractedDetails")).get("retractedMessageId")
        return ModerationEvent(**_base(c), action="delete", target_message_id=_nonempty(target))
    if kind == "userBannedEvent":
        details = _obj(s.get("userBannedDetails"))
        banned = _obj(details.get("bannedUserDetails"))
        target = _nonempty(banned.get("channelId"))
        duration = _int(details.get("banDurationSeconds"))
        temporary = details.get("banType") == "temporary"
        return ModerationEvent(
            **_base(c),
            action="timeout" if temporary else "ban",
            target_user_id=target,
            target_login=target,
            duration_seconds=duration if temporary else None,
        )
    # chatEndedEvent, sponsorOnlyMode{Started,Ended}Event, tombstone, pollEvent and any type
    # YouTube adds later: a notice named after the type, never an error.
    return NoticeEvent(**_base(c), kind=kind, text=c.display_message, **_who(c))


#: Longest polling interval believed: Google asks for seconds; a larger value is hostile or
#: broken data, and obeying it would stall the chat silently.
MAX_POLLING_INTERVAL_MS = 3_600_000


def parse_messages(body: Mapping[str, Any], *, now: datetime | None = None) -> LiveChatPage:
    """Parse a ``liveChatMessages.list`` response body into a :class:`LiveChatPage`.

    Item mapping (``channel`` is always the ``liveChatId``, ``raw_type`` the snippet type):

    - ``textMessageEvent`` -> :class:`ChatEvent`; ``user_id`` and ``login`` are the author's
      channel id (YouTube has no login name; the channel id is the stable unique handle),
      ``display_name`` from ``authorDetails``; roles ``isChatOwner`` -> broadcaster,
      ``isChatModerator`` -> moderator, ``isChatSponsor`` -> member;
    - ``superChatEvent``, ``superStickerEvent`` (text = sticker alt text), ``fanFundingEvent``
      -> :class:`PaidMessageEvent` (``amountMicros`` string -> int);
    - ``newSponsorEvent``, ``memberMilestoneChatEvent`` -> :class:`SubscriptionEvent`
      (tier = member level name, months = ``memberMonth``);
    - ``membershipGiftingEvent`` -> :class:`GiftEvent` (the gifter, ``count``);
      ``giftMembershipReceivedEvent`` -> :class:`GiftEvent` with count 1 and the author as
      recipient;
    - ``messageDeletedEvent``, ``messageRetractedEvent`` -> ``ModerationEvent(action="delete")``;
    - ``userBannedEvent`` -> ``ModerationEvent`` ``ban`` (permanent) or ``timeout`` with
      ``banDurationSeconds``;
    - anything else (``chatEndedEvent``, ``sponsorOnlyModeStartedEvent``, ``tombstone``,
      unknown types) -> :class:`NoticeEvent` with ``kind`` = the type.

    ``publishedAt`` gives ``sent_at``; ``now`` (default: the current time, the only clock
    read) stands in when it is missing or unreadable. Unreadable items are skipped and counted.
    Raises :class:`LiveChatParseError` (a ``ValueError``) only when the body itself is not an
    object, ``items`` is present but not a list, or a paging field has the wrong type.
    """
    if not isinstance(body, Mapping):
        raise LiveChatParseError(f"response body is not an object but {type(body).__name__}")
    items = body.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise LiveChatParseError("'items' is not a list")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise LiveChatParseError("'nextPageToken' is not a string")
    interval = body.get("pollingIntervalMillis")
    polling = _int(interval)
    if interval is not None and (polling is None or not 0 <= polling <= MAX_POLLING_INTERVAL_MS):
        raise LiveChatParseError(
            f"'pollingIntervalMillis' is not a count of at most an hour: {describe(interval)}"
        )
    when = now if now is not None else datetime.now(UTC)
    events: list[AnyEvent] = []
    skipped = 0
    for item in items:
        try:
            events.append(_map_item(item, when))
        except _Skip:
            skipped += 1
    page_info = _obj(body.get("pageInfo"))
    return LiveChatPage(
        events=tuple(events),
        next_page_token=token or None,
        polling_interval_ms=polling,
        offline_at=parse_time(body.get("offlineAt")),
        etag=_str(body.get("etag")),
        total_results=_int(page_info.get("totalResults")),
        results_per_page=_int(page_info.get("resultsPerPage")),
        skipped=skipped,
    )


# --------------------------------------------------------------------------------------------
# Errors


@attrs.frozen(kw_only=True)
class YouTubeError:
    """A Google API error response: HTTP ``status`` and the first ``errors[]`` entry."""

    status: int
    reason: str | None = None
    message: str | None = None
    domain: str | None = None
    code: int | None = None  # error.code in the body (normally equal to status)
    reasons: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


def parse_error(status: int, body: Mapping[str, Any] | None) -> YouTubeError:
    """Read ``{"error": {"code", "message", "errors": [{domain, reason, message}]}}``.

    Never raises: a missing or odd body gives an error with only ``status`` set.
    """
    error = _obj(body.get("error")) if isinstance(body, Mapping) else {}
    entries = [e for e in error.get("errors") or () if isinstance(e, dict)]
    reasons = tuple(r for e in entries if (r := _nonempty(e.get("reason"))) is not None)
    domains = tuple(d for e in entries if (d := _nonempty(e.get("domain"))) is not None)
    first = entries[0] if entries else {}
    return YouTubeError(
        status=status,
        reason=_nonempty(first.get("reason")),
        message=_str(error.get("message")) or _str(first.get("message")),
        domain=_nonempty(first.get("domain")),
        code=_int(error.get("code")),
        reasons=reasons,
        domains=domains,
    )


class ErrorAction(enum.Enum):
    """What the YouTube actor does after an error response.

    - ``WAIT_FOR_QUOTA_RESET``: the daily budget is spent (``quotaExceeded``,
      ``dailyLimitExceeded``); sleep until :func:`next_quota_reset`.
    - ``BACKOFF``: polled too fast or the server failed (``rateLimitExceeded``,
      ``userRateLimitExceeded``, ``backendError``, 5xx, 429); retry with growing delays.
    - ``REDISCOVER``: this chat is over or gone (``liveChatEnded``, ``liveChatNotFound``,
      ``liveChatDisabled``); stop polling it and look for the channel's next live chat.
    - ``REAUTHENTICATE``: the token was rejected (401, ``authError``); refresh it, then retry.
    - ``FAIL``: retrying cannot help (``forbidden``, ``insufficientPermissions``, invalid key
      or request); go to an error state and wait for a configuration change.
    """

    WAIT_FOR_QUOTA_RESET = "wait_for_quota_reset"
    BACKOFF = "backoff"
    REDISCOVER = "rediscover"
    REAUTHENTICATE = "reauthenticate"
    FAIL = "fail"


_REASON_ACTIONS = {
    "quotaExceeded": ErrorAction.WAIT_FOR_QUOTA_RESET,
    "dailyLimitExceeded": ErrorAction.WAIT_FOR_QUOTA_RESET,
    "rateLimitExceeded": ErrorAction.BACKOFF,
    "userRateLimitExceeded": ErrorAction.BACKOFF,
    "backendError": ErrorAction.BACKOFF,
    "internalError": ErrorAction.BACKOFF,
    "liveChatEnded": ErrorAction.REDISCOVER,
    "liveChatNotFound": ErrorAction.REDISCOVER,
    "liveChatDisabled": ErrorAction.REDISCOVER,
    "authError": ErrorAction.REAUTHENTICATE,
    "forbidden": ErrorAction.FAIL,
    "insufficientPermissions": ErrorAction.FAIL,
}


def error_action(err: YouTubeError) -> ErrorAction:
    """Classify an error: by the first known reason, else by HTTP status.

    Status fallbacks: 5xx and 429 -> ``BACKOFF``; 401 -> ``REAUTHENTICATE``; 404 ->
    ``REDISCOVER``; any other 4xx -> ``FAIL``; anything else -> ``BACKOFF``.
    """
    for reason in (err.reason, *err.reasons):
        if reason in _REASON_ACTIONS:
            return _REASON_ACTIONS[reason]
    status = err.status
    if status >= 500 or status == 429:
        return ErrorAction.BACKOFF
    if status == 401:
        return ErrorAction.REAUTHENTICATE
    if status == 404:
        return ErrorAction.REDISCOVER
    if 400 <= status < 500:
        return ErrorAction.FAIL
    return ErrorAction.BACKOFF


def next_quota_reset(now: datetime) -> datetime:
    """The next midnight Pacific time (when the daily quota resets) after ``now``, in UTC."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(ZoneInfo(_QUOTA_TZ))
    tomorrow = (local + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=local.tzinfo)
    return midnight.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Requests


@attrs.frozen(kw_only=True)
class ApiRequest:
    """One Data API call to make: ``method`` + ``API_BASE`` + ``path``, query ``params``,
    optional JSON body, and the ``QUOTA_COSTS`` key it is charged to."""

    http_method: str
    path: str
    params: dict[str, str]
    json: dict[str, Any] | None = None
    quota_method: str

    @property
    def url(self) -> str:
        """The absolute URL without the query string."""
        return f"{API_BASE}{self.path}"

    @property
    def quota_cost(self) -> int:
        """Units this call costs."""
        return QUOTA_COSTS[self.quota_method]


def videos_list(
    video_ids: str | list[str], *, parts: tuple[str, ...] = ("liveStreamingDetails",)
) -> ApiRequest:
    """``GET /videos?part=liveStreamingDetails&id=...``: is a video live, and its chat id."""
    ids = [video_ids] if isinstance(video_ids, str) else list(video_ids)
    if not ids or not all(ids):
        raise ValueError("at least one video id is required")
    return ApiRequest(
        http_method="GET",
        path="/videos",
        params={"part": ",".join(parts), "id": ",".join(ids)},
        quota_method="videos.list",
    )


_BROADCAST_STATUSES = frozenset({"all", "active", "upcoming", "completed"})


def live_broadcasts_list(
    *,
    mine: bool = False,
    broadcast_status: str | None = None,
    ids: list[str] | None = None,
    broadcast_type: str = "all",
    parts: tuple[str, ...] = ("snippet", "status"),
    max_results: int | None = None,
) -> ApiRequest:
    """``GET /liveBroadcasts``: the creator's own broadcasts and their ``liveChatId``.

    Exactly one of ``mine``, ``broadcast_status`` and ``ids`` (the API's mutually exclusive
    filters). ``broadcast_type`` defaults to ``all`` so persistent broadcasts are included.
    """
    filters = sum((mine, broadcast_status is not None, bool(ids)))
    if filters != 1:
        raise ValueError("give exactly one of mine, broadcast_status and ids")
    params = {"part": ",".join(parts), "broadcastType": broadcast_type}
    if mine:
        params["mine"] = "true"
    if broadcast_status is not None:
        if broadcast_status not in _BROADCAST_STATUSES:
            raise ValueError(f"broadcast_status must be one of {sorted(_BROADCAST_STATUSES)}")
        params["broadcastStatus"] = broadcast_status
    if ids:
        params["id"] = ",".join(ids)
    if max_results is not None:
        if not 0 <= max_results <= 50:
            raise ValueError("max_results must be within 0..50")
        params["maxResults"] = str(max_results)
    return ApiRequest(
        http_method="GET", path="/liveBroadcasts", params=params, quota_method="liveBroadcasts.list"
    )


def search_live(channel_id: str) -> ApiRequest:
    """``GET /search?part=snippet&channelId=...&eventType=live&type=video``: a live video id."""
    if not channel_id:
        raise ValueError("channel_id is required")
    return ApiRequest(
        http_method="GET",
        path="/search",
        params={"part": "snippet", "channelId": channel_id, "eventType": "live", "type": "video"},
        quota_method="search.list",
    )


def live_chat_messages_list(
    live_chat_id: str,
    *,
    page_token: str | None = None,
    max_results: int | None = None,
    profile_image_size: int | None = None,
    hl: str | None = None,
) -> ApiRequest:
    """``GET /liveChat/messages?liveChatId=...&part=snippet,authorDetails[&pageToken=...]``."""
    if not live_chat_id:
        raise ValueError("live_chat_id is required")
    params = {"liveChatId": live_chat_id, "part": "snippet,authorDetails"}
    if page_token:
        params["pageToken"] = page_token
    if max_results is not None:
        if not 200 <= max_results <= 2000:
            raise ValueError("max_results must be within 200..2000")
        params["maxResults"] = str(max_results)
    if profile_image_size is not None:
        if not 16 <= profile_image_size <= 720:
            raise ValueError("profile_image_size must be within 16..720")
        params["profileImageSize"] = str(profile_image_size)
    if hl:
        params["hl"] = hl
    return ApiRequest(
        http_method="GET",
        path="/liveChat/messages",
        params=params,
        quota_method="liveChatMessages.list",
    )


def live_chat_messages_insert(live_chat_id: str, text: str) -> ApiRequest:
    """``POST /liveChat/messages?part=snippet`` sending ``text`` (1..200 characters)."""
    if not live_chat_id:
        raise ValueError("live_chat_id is required")
    if not text or not text.strip():
        raise ValueError("message text is empty")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValueError(f"message text is longer than {MAX_MESSAGE_LENGTH} characters")
    body = {
        "snippet": {
            "liveChatId": live_chat_id,
            "type": "textMessageEvent",
            "textMessageDetails": {"messageText": text},
        }
    }
    return ApiRequest(
        http_method="POST",
        path="/liveChat/messages",
        params={"part": "snippet"},
        json=body,
        quota_method="liveChatMessages.insert",
    )


def live_chat_messages_delete(message_id: str) -> ApiRequest:
    """``DELETE /liveChat/messages?id=...`` (OAuth, the chat's owner or a moderator; 204)."""
    if not message_id or not message_id.strip():
        raise ValueError("message id is required")
    return ApiRequest(
        http_method="DELETE",
        path="/liveChat/messages",
        params={"id": message_id},
        quota_method="liveChatMessages.delete",
    )


def live_chat_bans_insert(live_chat_id: str, channel_id: str, seconds: int) -> ApiRequest:
    """``POST /liveChat/bans?part=snippet``: a temporary ban (a timeout) of the author
    `channel_id` for `seconds` (OAuth, the chat's owner or a moderator)."""
    if not live_chat_id or not channel_id:
        raise ValueError("live_chat_id and channel_id are required")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError("a timeout lasts at least 1 second")
    body = {
        "snippet": {
            "liveChatId": live_chat_id,
            "type": "temporary",
            "banDurationSeconds": str(seconds),  # a uint64: a JSON string in Google's APIs
            "bannedUserDetails": {"channelId": channel_id},
        }
    }
    return ApiRequest(
        http_method="POST",
        path="/liveChat/bans",
        params={"part": "snippet"},
        json=body,
        quota_method="liveChatBans.insert",
    )


# --------------------------------------------------------------------------------------------
# Discovery responses


def _first_video(body: Any) -> dict[str, Any]:
    # Accept a videos.list response or a bare video resource (as cached by some callers).
    body = _obj(body)
    items = body.get("items")
    if isinstance(items, list):
        return _obj(items[0]) if items else {}
    return body


def parse_active_chat_id(videos_list_body: Mapping[str, Any]) -> str | None:
    """``liveStreamingDetails.activeLiveChatId`` of the first video, or ``None``.

    Takes a ``videos.list`` response (or one video resource). ``None`` means the video is not
    live (the field exists only while it is) or the body has no such video; never raises.
    """
    details = _obj(_first_video(videos_list_body).get("liveStreamingDetails"))
    return _nonempty(details.get("activeLiveChatId"))


@attrs.frozen(kw_only=True)
class LiveStreamingDetails:
    """The live part of a video resource (``videos.list?part=liveStreamingDetails``)."""

    video_id: str | None
    active_live_chat_id: str | None = None
    scheduled_start_time: datetime | None = None
    actual_start_time: datetime | None = None
    actual_end_time: datetime | None = None
    concurrent_viewers: int | None = None  # a string in the API


def parse_live_streaming_details(
    videos_list_body: Mapping[str, Any],
) -> LiveStreamingDetails | None:
    """The first video's :class:`LiveStreamingDetails`, or ``None`` when it has none."""
    video = _first_video(videos_list_body)
    raw = video.get("liveStreamingDetails")
    if not isinstance(raw, dict):
        return None
    return LiveStreamingDetails(
        video_id=_nonempty(video.get("id")),
        active_live_chat_id=_nonempty(raw.get("activeLiveChatId")),
        scheduled_start_time=parse_time(raw.get("scheduledStartTime")),
        actual_start_time=parse_time(raw.get("actualStartTime")),
        actual_end_time=parse_time(raw.get("actualEndTime")),
        concurrent_viewers=_int(raw.get("concurrentViewers")),
    )


@attrs.frozen(kw_only=True)
class Broadcast:
    """One ``liveBroadcast`` resource, the fields the chat actor needs."""

    id: str
    title: str | None = None
    channel_id: str | None = None
    live_chat_id: str | None = None
    scheduled_start_time: datetime | None = None
    actual_start_time: datetime | None = None
    actual_end_time: datetime | None = None
    is_default_broadcast: bool = False
    life_cycle_status: str | None = None  # status.lifeCycleStatus, e.g. "live", "complete"


@attrs.frozen(kw_only=True)
class BroadcastList:
    """A ``liveBroadcasts.list`` response."""

    items: tuple[Broadcast, ...] = ()
    etag: str | None = None
    next_page_token: str | None = None
    total_results: int | None = None
    results_per_page: int | None = None


def parse_broadcasts(body: Mapping[str, Any]) -> BroadcastList:
    """Parse a ``liveBroadcasts.list`` response; items without an id are dropped. Never raises."""
    body = _obj(body)
    items = body.get("items")
    broadcasts = []
    for raw in items if isinstance(items, list) else ():
        raw = _obj(raw)
        broadcast_id = _nonempty(raw.get("id"))
        if broadcast_id is None:
            continue
        snippet = _obj(raw.get("snippet"))
        broadcasts.append(
            Broadcast(
                id=broadcast_id,
                title=_str(snippet.get("title")),
                channel_id=_nonempty(snippet.get("channelId")),
                live_chat_id=_nonempty(snippet.get("liveChatId")),
                scheduled_start_time=parse_time(snippet.get("scheduledStartTime")),
                actual_start_time=parse_time(snippet.get("actualStartTime")),
                actual_end_time=parse_time(snippet.get("actualEndTime")),
                is_default_broadcast=snippet.get("isDefaultBroadcast") is True,
                life_cycle_status=_nonempty(_obj(raw.get("status")).get("lifeCycleStatus")),
            )
        )
    page_info = _obj(body.get("pageInfo"))
    return BroadcastList(
        items=tuple(broadcasts),
        etag=_str(body.get("etag")),
        next_page_token=_nonempty(body.get("nextPageToken")),
        total_results=_int(page_info.get("totalResults")),
        results_per_page=_int(page_info.get("resultsPerPage")),
    )
