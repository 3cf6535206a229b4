"""Behaviour of the sans-IO YouTube Live Chat module: message mapping, errors, requests.

The corpus has no real newSponsorEvent, memberMilestoneChatEvent, messageDeletedEvent or
userBannedEvent items; the items below are made up following the documented schema
(LiveChatMessageSnippet and its details objects, shared/docs/platforms.md section 5).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events import (
    ChatEvent,
    GiftEvent,
    ModerationEvent,
    NoticeEvent,
    PaidMessageEvent,
    SubscriptionEvent,
)
from actors.youtube.livechat import (
    API_BASE,
    MAX_MESSAGE_LENGTH,
    QUOTA_COSTS,
    ErrorAction,
    LiveChatPage,
    LiveChatParseError,
    YouTubeError,
    error_action,
    live_broadcasts_list,
    live_chat_messages_insert,
    live_chat_messages_list,
    next_quota_reset,
    parse_active_chat_id,
    parse_broadcasts,
    parse_error,
    parse_live_streaming_details,
    parse_messages,
    parse_time,
    search_live,
    videos_list,
)

NOW = datetime(2026, 9, 5, 12, 0, tzinfo=UTC)
CHAT_ID = "EiEKGFVDU0o0Z2tWQzZOcnZJSTh1bXp0ZjBPdxIFL2xpdmU"


def item(kind: str, details: dict[str, Any] | None = None, **author: Any) -> dict[str, Any]:
    """A liveChatMessage resource as the API returns it."""
    snippet: dict[str, Any] = {
        "type": kind,
        "liveChatId": CHAT_ID,
        "authorChannelId": "UCauthor",
        "publishedAt": "2026-09-05T11:59:58.123Z",
        "hasDisplayContent": True,
        "displayMessage": "shown text",
    }
    if details is not None:
        snippet.update(details)
    return {
        "kind": "youtube#liveChatMessage",
        "etag": "etag-1",
        "id": f"msg-{kind}",
        "snippet": snippet,
        "authorDetails": {
            "channelId": "UCauthor",
            "channelUrl": "http://www.youtube.com/channel/UCauthor",
            "displayName": "@viewer",
            "profileImageUrl": "https://yt3.ggpht.com/x",
            "isVerified": False,
            "isChatOwner": False,
            "isChatSponsor": False,
            "isChatModerator": False,
            **author,
        },
    }


def page(*items: Any, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "youtube#liveChatMessageListResponse",
        "etag": "page-etag",
        "pollingIntervalMillis": 5000,
        "nextPageToken": "GLDqmLzV8IgDIN7z",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        "items": list(items),
        **fields,
    }


def one(raw: dict[str, Any]) -> Any:
    result = parse_messages(page(raw), now=NOW)
    assert result.skipped == 0
    (event,) = result.events
    return event


# --- paging ------------------------------------------------------------------------------------


def test_page_fields_are_read() -> None:
    result = parse_messages(page(), now=NOW)
    assert result == LiveChatPage(
        events=(),
        next_page_token="GLDqmLzV8IgDIN7z",
        polling_interval_ms=5000,
        etag="page-etag",
        total_results=0,
        results_per_page=0,
    )
    assert not result.chat_ended


def test_offline_at_is_parsed_and_means_the_chat_ended() -> None:
    result = parse_messages(page(offlineAt="2026-09-05T12:00:00Z"), now=NOW)
    assert result.offline_at == NOW
    assert result.chat_ended


def test_empty_body_gives_an_empty_page() -> None:
    assert parse_messages({}) == LiveChatPage()


@pytest.mark.parametrize(
    "body",
    [
        [],
        "items",
        None,
        {"items": {}},
        {"items": "x"},
        {"nextPageToken": 5},
        {"pollingIntervalMillis": "soon"},
        {"pollingIntervalMillis": -1},
        {"pollingIntervalMillis": True},
    ],
)
def test_bodies_of_the_wrong_shape_raise_live_chat_parse_error(body: Any) -> None:
    with pytest.raises(LiveChatParseError):
        parse_messages(body)


def test_live_chat_parse_error_is_a_value_error() -> None:
    assert issubclass(LiveChatParseError, ValueError)


def test_unreadable_items_are_skipped_and_counted_not_fatal() -> None:
    no_id = item("textMessageEvent")
    del no_id["id"]
    no_type = item("textMessageEvent")
    del no_type["snippet"]["type"]
    no_chat = item("textMessageEvent")
    del no_chat["snippet"]["liveChatId"]
    bad_amount = item("superChatEvent", {"superChatDetails": {"amountMicros": "lots"}})
    good = item("textMessageEvent", {"textMessageDetails": {"messageText": "hi"}})
    result = parse_messages(
        page(None, 3, "x", {}, no_id, no_type, no_chat, bad_amount, good), now=NOW
    )
    assert result.skipped == 8
    assert [e.message_id for e in result.events] == ["msg-textMessageEvent"]


# --- item mapping ------------------------------------------------------------------------------


def test_text_message_maps_to_chat_event() -> None:
    raw = item("textMessageEvent", {"textMessageDetails": {"messageText": "hello :)"}})
    assert one(raw) == ChatEvent(
        platform="youtube",
        channel=CHAT_ID,
        message_id="msg-textMessageEvent",
        sent_at=datetime(2026, 9, 5, 11, 59, 58, 123000, tzinfo=UTC),
        raw_type="textMessageEvent",
        user_id="UCauthor",
        login="UCauthor",
        display_name="@viewer",
        text="hello :)",
    )


def test_login_is_the_channel_id_because_display_names_are_not_stable() -> None:
    event = one(item("textMessageEvent", displayName="Some Name"))
    assert (event.login, event.display_name) == ("UCauthor", "Some Name")


def test_text_falls_back_to_display_message_without_text_details() -> None:
    assert one(item("textMessageEvent")).text == "shown text"


@pytest.mark.parametrize(
    ("flags", "roles"),
    [
        ({}, set()),
        ({"isChatOwner": True}, {"broadcaster"}),
        ({"isChatModerator": True}, {"moderator"}),
        ({"isChatSponsor": True}, {"member"}),
        (
            {"isChatOwner": True, "isChatModerator": True, "isChatSponsor": True},
            {"broadcaster", "moderator", "member"},
        ),
        ({"isChatOwner": "true", "isChatModerator": 1}, set()),
    ],
)
def test_author_flags_map_to_roles(flags: dict[str, Any], roles: set[str]) -> None:
    assert one(item("textMessageEvent", **flags)).roles == roles


def test_author_id_falls_back_to_author_details() -> None:
    raw = item("textMessageEvent")
    del raw["snippet"]["authorChannelId"]
    assert one(raw).user_id == "UCauthor"


def test_text_message_without_any_author_is_skipped() -> None:
    raw = item("textMessageEvent")
    del raw["snippet"]["authorChannelId"]
    del raw["authorDetails"]
    assert parse_messages(page(raw), now=NOW).skipped == 1


def test_super_chat_maps_to_paid_message_with_string_amount_converted() -> None:
    raw = item(
        "superChatEvent",
        {
            "superChatDetails": {
                "amountMicros": "5000000",
                "currency": "USD",
                "amountDisplayString": "$5.00",
                "userComment": "great stream",
                "tier": 2,
            }
        },
        isChatSponsor=True,
    )
    assert one(raw) == PaidMessageEvent(
        platform="youtube",
        channel=CHAT_ID,
        message_id="msg-superChatEvent",
        sent_at=datetime(2026, 9, 5, 11, 59, 58, 123000, tzinfo=UTC),
        raw_type="superChatEvent",
        user_id="UCauthor",
        login="UCauthor",
        display_name="@viewer",
        amount_micros=5_000_000,
        currency="USD",
        text="great stream",
        amount_display="$5.00",
    )


def test_super_chat_amount_as_a_json_number_is_accepted_too() -> None:
    raw = item("superChatEvent", {"superChatDetails": {"amountMicros": 1000000, "currency": "EUR"}})
    assert one(raw).amount_micros == 1_000_000


@pytest.mark.parametrize("amount", ["²", "٣", "5e6", "12\n", "", None, 1.5, True])
def test_super_chat_with_an_unreadable_amount_is_skipped(amount: Any) -> None:
    raw = item("superChatEvent", {"superChatDetails": {"amountMicros": amount, "currency": "USD"}})
    assert parse_messages(page(raw), now=NOW).skipped == 1


def test_super_sticker_maps_to_paid_message_with_the_alt_text() -> None:
    raw = item(
        "superStickerEvent",
        {
            "superStickerDetails": {
                "superStickerMetadata": {
                    "stickerId": "st1",
                    "altText": "Dancing cat",
                    "language": "en",
                },
                "amountMicros": "2000000",
                "currency": "JPY",
                "amountDisplayString": "¥200",
                "tier": 1,
            }
        },
    )
    event = one(raw)
    assert isinstance(event, PaidMessageEvent)
    assert (event.amount_micros, event.currency, event.text) == (2_000_000, "JPY", "Dancing cat")


def test_new_sponsor_maps_to_subscription_with_the_level_name() -> None:
    raw = item(
        "newSponsorEvent",
        {"newSponsorDetails": {"memberLevelName": "Gold", "isUpgrade": False}},
        isChatSponsor=True,
    )
    event = one(raw)
    assert isinstance(event, SubscriptionEvent)
    assert (event.user_id, event.tier, event.months, event.text) == (
        "UCauthor",
        "Gold",
        None,
        None,
    )


def test_member_milestone_maps_to_subscription_with_months_and_comment() -> None:
    raw = item(
        "memberMilestoneChatEvent",
        {
            "memberMilestoneChatDetails": {
                "memberMonth": 12,
                "memberLevelName": "Gold",
                "userComment": "one year!",
            }
        },
    )
    event = one(raw)
    assert isinstance(event, SubscriptionEvent)
    assert (event.months, event.tier, event.text) == (12, "Gold", "one year!")


def test_membership_gifting_maps_to_a_gift_from_the_author() -> None:
    raw = item(
        "membershipGiftingEvent",
        {
            "membershipGiftingDetails": {
                "giftMembershipsCount": 5,
                "giftMembershipsLevelName": "Gold",
            }
        },
    )
    event = one(raw)
    assert isinstance(event, GiftEvent)
    assert (event.user_id, event.count, event.tier) == ("UCauthor", 5, "Gold")
    assert event.recipient_user_id is None


def test_gift_membership_received_names_the_author_as_recipient() -> None:
    raw = item(
        "giftMembershipReceivedEvent",
        {
            "giftMembershipReceivedDetails": {
                "memberLevelName": "Gold",
                "gifterChannelId": "UCgifter",
                "associatedMembershipGiftingMessageId": "msg-membershipGiftingEvent",
            }
        },
    )
    event = one(raw)
    assert isinstance(event, GiftEvent)
    assert (event.user_id, event.count, event.recipient_user_id) == ("UCgifter", 1, "UCauthor")


def test_message_deleted_maps_to_delete_moderation() -> None:
    raw = item("messageDeletedEvent", {"messageDeletedDetails": {"deletedMessageId": "msg-42"}})
    event = one(raw)
    assert isinstance(event, ModerationEvent)
    assert (event.action, event.target_message_id) == ("delete", "msg-42")


def test_message_retracted_maps_to_delete_moderation() -> None:
    raw = item(
        "messageRetractedEvent", {"messageRetractedDetails": {"retractedMessageId": "msg-7"}}
    )
    assert one(raw).target_message_id == "msg-7"


def test_permanent_user_ban_maps_to_ban() -> None:
    raw = item(
        "userBannedEvent",
        {
            "userBannedDetails": {
                "bannedUserDetails": {"channelId": "UCspammer", "displayName": "spammer"},
                "banType": "permanent",
            }
        },
        isChatModerator=True,
    )
    event = one(raw)
    assert isinstance(event, ModerationEvent)
    assert (event.action, event.target_user_id, event.duration_seconds) == (
        "ban",
        "UCspammer",
        None,
    )


@pytest.mark.parametrize("duration", ["300", 300])
def test_temporary_user_ban_maps_to_timeout_with_its_duration(duration: Any) -> None:
    raw = item(
        "userBannedEvent",
        {
            "userBannedDetails": {
                "bannedUserDetails": {"channelId": "UCspammer"},
                "banType": "temporary",
                "banDurationSeconds": duration,
            }
        },
    )
    event = one(raw)
    assert (event.action, event.duration_seconds) == ("timeout", 300)


@pytest.mark.parametrize(
    "kind",
    [
        "chatEndedEvent",
        "sponsorOnlyModeStartedEvent",
        "sponsorOnlyModeEndedEvent",
        "tombstone",
        "pollEvent",
        "someFutureEvent",
    ],
)
def test_other_types_become_notices_named_after_the_type(kind: str) -> None:
    event = one(item(kind))
    assert isinstance(event, NoticeEvent)
    assert (event.kind, event.raw_type, event.text) == (kind, kind, "shown text")


def test_chat_ended_event_marks_the_page_as_ended() -> None:
    assert parse_messages(page(item("chatEndedEvent")), now=NOW).chat_ended


def test_items_keep_response_order() -> None:
    result = parse_messages(
        page(item("textMessageEvent"), item("chatEndedEvent"), item("newSponsorEvent")), now=NOW
    )
    assert [e.raw_type for e in result.events] == [
        "textMessageEvent",
        "chatEndedEvent",
        "newSponsorEvent",
    ]


# --- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-05T12:00:00Z", datetime(2026, 9, 5, 12, tzinfo=UTC)),
        ("2026-09-05T12:00:00.1Z", datetime(2026, 9, 5, 12, 0, 0, 100000, tzinfo=UTC)),
        ("2026-09-05T12:00:00.123Z", datetime(2026, 9, 5, 12, 0, 0, 123000, tzinfo=UTC)),
        ("2026-09-05T12:00:00.123456Z", datetime(2026, 9, 5, 12, 0, 0, 123456, tzinfo=UTC)),
        (
            "2026-09-05T12:00:00.123456789Z",
            datetime(2026, 9, 5, 12, 0, 0, 123456, tzinfo=UTC),
        ),
        ("2026-09-05T17:30:00+05:30", datetime(2026, 9, 5, 12, tzinfo=UTC)),
        ("2026-09-05T04:00:00.5-08:00", datetime(2026, 9, 5, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-09-05T12:00:00", datetime(2026, 9, 5, 12, tzinfo=UTC)),
    ],
)
def test_published_at_accepts_any_fraction_and_z_or_offsets(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
    sent_at = one(item("textMessageEvent", {"publishedAt": text})).sent_at
    assert sent_at == expected
    assert sent_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-02-30T00:00:00Z", 1757073600])
def test_missing_or_bad_published_at_falls_back_to_now(text: Any) -> None:
    assert one(item("textMessageEvent", {"publishedAt": text})).sent_at == NOW


# --- errors ------------------------------------------------------------------------------------


def error_body(status: int, reason: str, domain: str = "youtube.liveChat") -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": f"{reason} happened",
            "errors": [{"domain": domain, "reason": reason, "message": f"{reason} happened"}],
        }
    }


def test_parse_error_reads_the_first_reason_and_domain() -> None:
    err = parse_error(403, error_body(403, "quotaExceeded", "youtube.quota"))
    assert err == YouTubeError(
        status=403,
        reason="quotaExceeded",
        message="quotaExceeded happened",
        domain="youtube.quota",
        code=403,
        reasons=("quotaExceeded",),
        domains=("youtube.quota",),
    )


@pytest.mark.parametrize(
    "body", [None, {}, {"error": "boom"}, {"error": {"errors": "x"}}, {"error": {"errors": [1]}}]
)
def test_parse_error_never_raises_on_odd_bodies(body: Any) -> None:
    err = parse_error(502, body)
    assert (err.status, err.reason, err.domain) == (502, None, None)


@pytest.mark.parametrize(
    ("status", "reason", "action"),
    [
        (403, "quotaExceeded", ErrorAction.WAIT_FOR_QUOTA_RESET),
        (403, "dailyLimitExceeded", ErrorAction.WAIT_FOR_QUOTA_RESET),
        (403, "rateLimitExceeded", ErrorAction.BACKOFF),
        (403, "userRateLimitExceeded", ErrorAction.BACKOFF),
        (403, "liveChatEnded", ErrorAction.REDISCOVER),
        (404, "liveChatNotFound", ErrorAction.REDISCOVER),
        (403, "liveChatDisabled", ErrorAction.REDISCOVER),
        (403, "forbidden", ErrorAction.FAIL),
        (403, "insufficientPermissions", ErrorAction.FAIL),
        (401, "authError", ErrorAction.REAUTHENTICATE),
        (400, "keyInvalid", ErrorAction.FAIL),
        (500, "backendError", ErrorAction.BACKOFF),
    ],
)
def test_error_action_by_reason(status: int, reason: str, action: ErrorAction) -> None:
    assert error_action(parse_error(status, error_body(status, reason))) is action


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (500, ErrorAction.BACKOFF),
        (503, ErrorAction.BACKOFF),
        (429, ErrorAction.BACKOFF),
        (401, ErrorAction.REAUTHENTICATE),
        (404, ErrorAction.REDISCOVER),
        (400, ErrorAction.FAIL),
        (403, ErrorAction.FAIL),
    ],
)
def test_error_action_by_status_without_a_known_reason(status: int, action: ErrorAction) -> None:
    assert error_action(parse_error(status, None)) is action
    assert error_action(parse_error(status, error_body(status, "somethingNew"))) is action


def test_next_quota_reset_is_midnight_pacific_in_winter() -> None:
    assert next_quota_reset(datetime(2026, 1, 15, 20, 0, tzinfo=UTC)) == datetime(
        2026, 1, 16, 8, 0, tzinfo=UTC
    )


def test_next_quota_reset_is_midnight_pacific_in_summer() -> None:
    assert next_quota_reset(datetime(2026, 7, 15, 6, 59, tzinfo=UTC)) == datetime(
        2026, 7, 15, 7, 0, tzinfo=UTC
    )


def test_next_quota_reset_at_midnight_is_the_following_midnight() -> None:
    assert next_quota_reset(datetime(2026, 7, 15, 7, 0, tzinfo=UTC)) == datetime(
        2026, 7, 16, 7, 0, tzinfo=UTC
    )


def test_next_quota_reset_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        next_quota_reset(datetime(2026, 1, 1))


# --- requests ----------------------------------------------------------------------------------


def test_quota_costs_follow_platforms_md() -> None:
    assert QUOTA_COSTS["liveChatMessages.list"] == 5
    assert QUOTA_COSTS["liveChatMessages.streamList"] == 5
    assert QUOTA_COSTS["liveChatMessages.insert"] == 20
    assert QUOTA_COSTS["videos.list"] == 1
    assert QUOTA_COSTS["channels.list"] == 1
    assert QUOTA_COSTS["search.list"] == 100
    assert "liveBroadcasts.list" in QUOTA_COSTS


def test_videos_list_asks_for_live_streaming_details() -> None:
    req = videos_list("9ywjjWAkeL0")
    assert (req.http_method, req.url) == ("GET", f"{API_BASE}/videos")
    assert req.params == {"part": "liveStreamingDetails", "id": "9ywjjWAkeL0"}
    assert req.quota_cost == 1
    assert videos_list(["a", "b"]).params["id"] == "a,b"
    with pytest.raises(ValueError):
        videos_list([])


def test_live_broadcasts_list_for_own_channel() -> None:
    req = live_broadcasts_list(mine=True)
    assert req.path == "/liveBroadcasts"
    assert req.params == {"part": "snippet,status", "broadcastType": "all", "mine": "true"}
    assert live_broadcasts_list(broadcast_status="active").params["broadcastStatus"] == "active"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mine": True, "broadcast_status": "active"},
        {"mine": True, "ids": ["x"]},
        {"broadcast_status": "live"},
        {"mine": True, "max_results": 51},
    ],
)
def test_live_broadcasts_list_rejects_bad_filter_combinations(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        live_broadcasts_list(**kwargs)


def test_search_live_finds_a_channels_live_video() -> None:
    req = search_live("UCchannel")
    assert req.path == "/search"
    assert req.params == {
        "part": "snippet",
        "channelId": "UCchannel",
        "eventType": "live",
        "type": "video",
    }
    assert req.quota_cost == QUOTA_COSTS["search.list"]


def test_live_chat_messages_list_params_and_page_token() -> None:
    req = live_chat_messages_list(CHAT_ID)
    assert req.path == "/liveChat/messages"
    assert req.params == {"liveChatId": CHAT_ID, "part": "snippet,authorDetails"}
    assert req.quota_cost == 5
    req = live_chat_messages_list(
        CHAT_ID, page_token="tok", max_results=2000, profile_image_size=16
    )
    assert req.params["pageToken"] == "tok"
    assert req.params["maxResults"] == "2000"
    assert req.params["profileImageSize"] == "16"


@pytest.mark.parametrize(
    "kwargs", [{"max_results": 199}, {"max_results": 2001}, {"profile_image_size": 721}]
)
def test_live_chat_messages_list_rejects_out_of_range_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        live_chat_messages_list(CHAT_ID, **kwargs)


def test_live_chat_messages_insert_builds_the_documented_body() -> None:
    req = live_chat_messages_insert(CHAT_ID, "hello chat")
    assert (req.http_method, req.path, req.params) == (
        "POST",
        "/liveChat/messages",
        {"part": "snippet"},
    )
    assert req.json == {
        "snippet": {
            "liveChatId": CHAT_ID,
            "type": "textMessageEvent",
            "textMessageDetails": {"messageText": "hello chat"},
        }
    }
    assert req.quota_cost == 20


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_MESSAGE_LENGTH + 1)])
def test_live_chat_messages_insert_rejects_empty_or_too_long_text(text: str) -> None:
    with pytest.raises(ValueError):
        live_chat_messages_insert(CHAT_ID, text)


# --- discovery ---------------------------------------------------------------------------------

VIDEO = {
    "kind": "youtube#video",
    "id": "9ywjjWAkeL0",
    "liveStreamingDetails": {
        "concurrentViewers": "5290",
        "actualStartTime": "2018-08-01T10:19:52.000Z",
        "activeLiveChatId": CHAT_ID,
    },
}


def test_active_chat_id_from_a_videos_list_response() -> None:
    assert parse_active_chat_id({"items": [VIDEO]}) == CHAT_ID


def test_active_chat_id_from_a_bare_video_resource() -> None:
    assert parse_active_chat_id(VIDEO) == CHAT_ID


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"id": "x", "liveStreamingDetails": {"actualEndTime": "2018-08-01T12:00Z"}}]},
        {"items": [{"id": "x"}]},
        {"items": [None]},
        {"items": "x"},
        {},
        None,
    ],
)
def test_no_active_chat_id_when_not_live_or_odd(body: Any) -> None:
    assert parse_active_chat_id(body) is None


def test_live_streaming_details_converts_viewers_and_times() -> None:
    details = parse_live_streaming_details({"items": [VIDEO]})
    assert details is not None
    assert details.video_id == "9ywjjWAkeL0"
    assert details.concurrent_viewers == 5290
    assert details.actual_start_time == datetime(2018, 8, 1, 10, 19, 52, tzinfo=UTC)
    assert parse_live_streaming_details({"items": [{"id": "x"}]}) is None


def test_parse_broadcasts_reads_chat_id_and_life_cycle_status() -> None:
    body = {
        "items": [
            {
                "id": "b1",
                "snippet": {"liveChatId": "chat-1", "title": "t", "isDefaultBroadcast": False},
                "status": {"lifeCycleStatus": "live"},
            },
            {"snippet": {"liveChatId": "no id: dropped"}},
        ],
        "nextPageToken": "n",
    }
    result = parse_broadcasts(body)
    assert [(b.id, b.live_chat_id, b.life_cycle_status) for b in result.items] == [
        ("b1", "chat-1", "live")
    ]
    assert result.next_page_token == "n"


# --- fuzz --------------------------------------------------------------------------------------

# Strings that look numeric to str.isdigit() or int() but are not amounts.
TRICKY = st.sampled_from(["²", "٣", "12\n", " 7", "-0", "1e3", "9" * 5000, "5000000"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | TRICKY,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)

TYPES = [
    "textMessageEvent",
    "superChatEvent",
    "superStickerEvent",
    "fanFundingEvent",
    "newSponsorEvent",
    "memberMilestoneChatEvent",
    "membershipGiftingEvent",
    "giftMembershipReceivedEvent",
    "messageDeletedEvent",
    "messageRetractedEvent",
    "userBannedEvent",
    "chatEndedEvent",
    "tombstone",
]
DETAIL_KEYS = [
    "textMessageDetails",
    "superChatDetails",
    "superStickerDetails",
    "fanFundingEventDetails",
    "newSponsorDetails",
    "memberMilestoneChatDetails",
    "membershipGiftingDetails",
    "giftMembershipReceivedDetails",
    "messageDeletedDetails",
    "messageRetractedDetails",
    "userBannedDetails",
]
detail_values = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in [
            "messageText",
            "amountMicros",
            "currency",
            "userComment",
            "memberMonth",
            "giftMembershipsCount",
            "gifterChannelId",
            "deletedMessageId",
            "banType",
            "banDurationSeconds",
            "bannedUserDetails",
            "superStickerMetadata",
        ]
    },
)
snippets = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(TYPES), json_values),
        "liveChatId": st.one_of(st.just(CHAT_ID), json_values),
        "authorChannelId": st.one_of(st.just("UCx"), json_values),
        "publishedAt": st.one_of(
            st.just("2026-09-05T12:00:00.123456789+05:30"), st.text(max_size=30), json_values
        ),
        "displayMessage": json_values,
        **{k: st.one_of(detail_values, json_values) for k in DETAIL_KEYS},
    },
)
items = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.text(max_size=5), json_values),
            "snippet": st.one_of(snippets, json_values),
            "authorDetails": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        k: json_values
                        for k in ["channelId", "displayName", "isChatOwner", "isChatSponsor"]
                    },
                ),
                json_values,
            ),
        },
    ),
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "items": st.one_of(st.lists(items, max_size=5), json_values),
            "nextPageToken": json_values,
            "pollingIntervalMillis": json_values,
            "offlineAt": st.one_of(st.text(max_size=30), json_values),
            "pageInfo": json_values,
            "etag": json_values,
        },
    ),
)


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_fuzz_parse_messages_raises_only_live_chat_parse_error(body: Any) -> None:
    original = copy.deepcopy(body)
    try:
        result = parse_messages(body, now=NOW)
    except LiveChatParseError:
        return
    assert isinstance(result, LiveChatPage)
    assert len(result.events) + result.skipped == len(body.get("items") or [])
    assert body == original or body != body  # input untouched (NaN compares unequal)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=100, max_value=599), json_values)
def test_fuzz_parse_error_and_error_action_never_raise(status: int, body: Any) -> None:
    err = parse_error(status, body if isinstance(body, dict) else None)
    assert isinstance(error_action(err), ErrorAction)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_fuzz_discovery_parsers_never_raise(body: Any) -> None:
    parse_active_chat_id(body)
    parse_live_streaming_details(body)
    parse_broadcasts(body)


@pytest.mark.parametrize("interval", [10**5000, [[[[]]]] * 3], ids=["int-5000-digits", "list"])
def test_a_hostile_polling_interval_raises_only_the_parse_error(interval) -> None:
    # Formatting the message must not raise (repr of a 5,000-digit int does).
    with pytest.raises(LiveChatParseError, match="pollingIntervalMillis"):
        parse_messages({"items": [], "pollingIntervalMillis": interval})


def test_a_polling_interval_beyond_an_hour_is_refused_not_obeyed() -> None:
    assert parse_messages({"items": [], "pollingIntervalMillis": 3_600_000}).polling_interval_ms
    with pytest.raises(LiveChatParseError, match="at most an hour"):
        parse_messages({"items": [], "pollingIntervalMillis": 2**62})
