"""Behaviour of the sans-IO Kick/Pusher module: frames, Kick events, client helpers, state machine.

Frames for event types missing from the corpus (StreamerIsLive, StopStreamBroadcast,
MessageDeletedEvent, replies, emotes) are made up, following the payload shapes documented in
shared/docs/platforms.md section 6.1 (KickLib models).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events import (
    ChatEvent,
    Emote,
    GiftEvent,
    ModerationEvent,
    ReplyParent,
    StreamEnded,
    StreamStarted,
    SubscriptionEvent,
)
from actors.kick.pusher import (
    KICK_APP_KEY,
    CloseAction,
    Connected,
    ConnectionState,
    Deliver,
    PusherConnection,
    PusherFrame,
    PusherParseError,
    Reconnect,
    Send,
    ServerError,
    Subscribed,
    SubscriptionFailed,
    SubscriptionState,
    channel_channel,
    channel_id_from,
    chatroom_channel,
    chatroom_id_from,
    classify_close,
    classify_error,
    connection_url,
    event_name,
    parse_connection_established,
    parse_emotes,
    parse_frame,
    ping,
    pong,
    subscribe,
    to_chat_event,
    to_event,
    unsubscribe,
)

NOW = datetime(2026, 9, 5, 12, 0, 0, tzinfo=UTC)


def kick_frame(event: str, data: Any, channel: str | None = "chatrooms.246956.v2") -> str:
    """A server frame as Kick sends it: `data` JSON-encoded inside the JSON frame."""
    frame: dict[str, Any] = {"event": event, "data": json.dumps(data)}
    if channel is not None:
        frame["channel"] = channel
    return json.dumps(frame)


def chat_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "57eee8aa-0c3e-4a47-9a4b-0f0a2b7c1d11",
        "chatroom_id": 246956,
        "content": "I see the coke",
        "type": "message",
        "created_at": "2026-09-04T23:28:30+00:00",
        "sender": {
            "id": 117108965,
            "username": "GoofyWilson96",
            "slug": "goofywilson96",
            "identity": {
                "color": "#31D6C2",
                "badges": [{"type": "subscriber", "text": "Subscriber", "count": 3}],
            },
        },
    }
    payload.update(overrides)
    return payload


def chat(**overrides: Any) -> ChatEvent:
    event = to_chat_event(
        parse_frame(kick_frame("App\\Events\\ChatMessageEvent", chat_payload(**overrides)))
    )
    assert event is not None
    return event


# --- parse_frame -------------------------------------------------------------------------------


def test_parse_frame_decodes_double_encoded_data() -> None:
    frame = parse_frame(kick_frame("App\\Events\\ChatMessageEvent", {"a": [1, 2]}))
    assert frame == PusherFrame(
        event="App\\Events\\ChatMessageEvent",
        channel="chatrooms.246956.v2",
        data={"a": [1, 2]},
        data_is_string=True,
    )


def test_parse_frame_keeps_non_json_string_data_verbatim() -> None:
    frame = parse_frame('{"event":"pusher:error","data":":("}')
    assert frame.data == ":("
    assert frame.data_is_string is True


def test_parse_frame_keeps_object_data_as_given() -> None:
    frame = parse_frame('{"event":"pusher:pong","data":{}}')
    assert frame.data == {}
    assert frame.data_is_string is False


def test_parse_frame_decodes_json_scalars_inside_strings() -> None:
    assert parse_frame('{"event":"x","data":"[]"}').data == []
    assert parse_frame('{"event":"x","data":"42"}').data == 42
    assert parse_frame('{"event":"x","data":"\\"hi\\""}').data == "hi"


def test_parse_frame_reports_absent_data_and_channel_as_none() -> None:
    frame = parse_frame('{"event":"pusher_internal:subscription_succeeded"}')
    assert frame.data is None
    assert frame.data_is_string is False
    assert frame.channel is None


def test_parse_frame_treats_non_string_channel_as_absent() -> None:
    assert parse_frame('{"event":"x","channel":12}').channel is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "this isn't JSON",
        "[]",
        '"pusher:ping"',
        "null",
        "{}",
        '{"data":"{}"}',
        '{"event":null}',
        '{"event":42}',
        '{"event":["pusher:ping"]}',
        "[" * 100_000,
        '{"event":"x","data":' + "9" * 10_000 + "}",
        '{"event":"x"} trailing',
    ],
)
def test_parse_frame_raises_only_pusher_parse_error_on_garbage(text: str) -> None:
    with pytest.raises(PusherParseError):
        parse_frame(text)


def test_parse_frame_rejects_non_str_input_with_pusher_parse_error() -> None:
    with pytest.raises(PusherParseError):
        parse_frame(b'{"event":"x"}')  # type: ignore[arg-type]


def test_parse_frame_keeps_too_deep_inner_json_as_a_string() -> None:
    inner = "[" * 100_000
    frame = parse_frame(json.dumps({"event": "x", "data": inner}))
    assert frame.data == inner


def test_pusher_parse_error_is_a_value_error() -> None:
    assert issubclass(PusherParseError, ValueError)


def test_pusher_frame_is_frozen() -> None:
    frame = parse_frame('{"event":"x"}')
    with pytest.raises(AttributeError):
        frame.event = "y"  # type: ignore[misc]


# Strings that look numeric to str.isdigit() or int() but are not ids.
TRICKY = st.sampled_from(["²", "٣", "12\n", " 7", "-0", "1e3", "9" * 5000])

# Numbers within the limits of config.untrusted_json; beyond them a frame is rejected (tested
# on its own below).
json_numbers = st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats(
    allow_nan=False, allow_infinity=False
)
json_values = st.recursive(
    st.none() | st.booleans() | json_numbers | st.text() | TRICKY,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_fuzz_parse_frame_only_raises_pusher_parse_error_for_any_text(text: str) -> None:
    try:
        frame = parse_frame(text)
    except PusherParseError:
        return
    assert isinstance(frame.event, str)


@settings(max_examples=200, deadline=None)
@given(
    event=st.one_of(st.text(), json_values),
    channel=json_values,
    data=st.one_of(json_values, json_values.map(json.dumps), st.text()),
    drop=st.sets(st.sampled_from(["event", "channel", "data"])),
)
def test_fuzz_parse_frame_on_json_shaped_frames(
    event: Any, channel: Any, data: Any, drop: set[str]
) -> None:
    obj = {"event": event, "channel": channel, "data": data}
    for key in drop:
        del obj[key]
    try:
        frame = parse_frame(json.dumps(obj))
    except PusherParseError:
        assert "event" in drop or not isinstance(event, str)
        return
    assert frame.event == event
    assert frame.data_is_string is (("data" not in drop) and isinstance(data, str))


KICK_EVENTS = [
    "App\\Events\\ChatMessageEvent",
    "App\\Events\\MessageDeletedEvent",
    "App\\Events\\UserBannedEvent",
    "App\\Events\\UserUnbannedEvent",
    "App\\Events\\SubscriptionEvent",
    "App\\Events\\GiftedSubscriptionsEvent",
    "App\\Events\\StreamerIsLive",
    "App\\Events\\StopStreamBroadcast",
    "ChatMessageEvent",
    "FollowersUpdated",
]


@settings(max_examples=200, deadline=None)
@given(
    event=st.sampled_from(KICK_EVENTS),
    channel=st.sampled_from([None, "chatrooms.1.v2", "channel.2", "chatroom_3", "other"]),
    data=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "id": json_values,
                "content": json_values,
                "chatroom_id": json_values,
                "created_at": st.one_of(json_values, st.just("2024-01-01 00:00:00")),
                "type": st.sampled_from(["message", "reply", None]),
                "metadata": json_values,
                "sender": st.fixed_dictionaries(
                    {}, optional={"id": json_values, "identity": json_values}
                ),
                "user": json_values,
                "permanent": json_values,
                "duration": json_values,
                "expires_at": json_values,
                "message": json_values,
                "gifted_usernames": json_values,
                "livestream": json_values,
            },
        ),
    ),
)
def test_fuzz_to_event_returns_an_event_none_or_pusher_parse_error(
    event: str, channel: str | None, data: Any
) -> None:
    frame = PusherFrame(event=event, channel=channel, data=data, data_is_string=True)
    try:
        result = to_event(frame, now=NOW)
    except PusherParseError:
        return
    assert result is None or result.platform == "kick"


# --- channel names and client frames -----------------------------------------------------------


def test_event_name_strips_the_app_events_prefix_only() -> None:
    assert event_name("App\\Events\\StreamerIsLive") == "StreamerIsLive"
    assert event_name("StreamerIsLive") == "StreamerIsLive"
    assert event_name(PusherFrame(event="pusher:ping")) == "pusher:ping"


@pytest.mark.parametrize(
    ("channel", "chatroom", "channel_id"),
    [
        ("chatrooms.2507974.v2", 2507974, None),
        ("chatrooms.2507974", 2507974, None),
        ("chatroom_2507974", 2507974, None),
        ("channel.2515504", None, 2515504),
        ("channel_2515504", None, 2515504),
        ("private-userfeed.15671413", None, None),
        ("chatrooms.abc.v2", None, None),
        (None, None, None),
    ],
)
def test_channel_names_give_chatroom_and_channel_ids(
    channel: str | None, chatroom: int | None, channel_id: int | None
) -> None:
    assert chatroom_id_from(channel) == chatroom
    assert channel_id_from(channel) == channel_id


@pytest.mark.parametrize("channel", ["chatrooms.٣.v2", "chatrooms.1.v2\n", "channel.²"])
def test_channel_names_with_non_ascii_digits_or_newlines_carry_no_id(channel: str) -> None:
    assert chatroom_id_from(channel) is None
    assert channel_id_from(channel) is None


@pytest.mark.parametrize("chatroom_id", ["²", "٣", "12\n", True, 1.5])
def test_payload_ids_that_are_not_plain_integers_are_rejected(chatroom_id: Any) -> None:
    frame = PusherFrame(
        event="SubscriptionEvent", data={"chatroom_id": chatroom_id, "username": "x"}
    )
    with pytest.raises(PusherParseError):
        to_event(frame, now=NOW)


def test_subscribe_frame_matches_kick_public_channel_shape() -> None:
    assert json.loads(subscribe("chatrooms.1.v2")) == {
        "event": "pusher:subscribe",
        "data": {"auth": "", "channel": "chatrooms.1.v2"},
    }


def test_unsubscribe_ping_and_pong_frames() -> None:
    assert json.loads(unsubscribe("channel.9")) == {
        "event": "pusher:unsubscribe",
        "data": {"channel": "channel.9"},
    }
    assert json.loads(ping()) == {"event": "pusher:ping", "data": {}}
    assert json.loads(pong()) == {"event": "pusher:pong", "data": {}}


def test_client_frames_parse_back_with_our_own_parser() -> None:
    assert parse_frame(subscribe("x")).data == {"auth": "", "channel": "x"}


def test_chatroom_and_channel_channel_names() -> None:
    assert chatroom_channel(246956) == "chatrooms.246956.v2"
    assert channel_channel("2515504") == "channel.2515504"


def test_connection_url_defaults_to_kicks_pusher_endpoint() -> None:
    assert connection_url(KICK_APP_KEY) == (
        "wss://ws-us2.pusher.com/app/32cbd69e4b950bf97679"
        "?protocol=7&client=js&version=8.4.0-rc2&flash=false"
    )
    assert connection_url() == connection_url(KICK_APP_KEY)


def test_connection_url_points_at_a_local_soketi() -> None:
    url = connection_url("app-key", host="127.0.0.1", port=6001, tls=False)
    assert url.startswith("ws://127.0.0.1:6001/app/app-key?protocol=7&")


def test_connection_url_uses_the_cluster_in_the_host() -> None:
    assert connection_url("k", cluster="eu").startswith("wss://ws-eu.pusher.com/app/k?")


def test_connection_url_rejects_an_empty_key() -> None:
    with pytest.raises(ValueError):
        connection_url("")


# --- close and error codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (4000, CloseAction.REFUSED),
        (4001, CloseAction.REFUSED),
        (4009, CloseAction.REFUSED),
        (4099, CloseAction.REFUSED),
        (4100, CloseAction.BACKOFF),
        (4199, CloseAction.BACKOFF),
        (4200, CloseAction.RETRY),
        (4201, CloseAction.RETRY),
        (4299, CloseAction.RETRY),
        (4300, CloseAction.REFUSED),
        (4301, CloseAction.REFUSED),
        (4399, CloseAction.REFUSED),
        (4400, CloseAction.BACKOFF),
        (1000, CloseAction.BACKOFF),
        (1006, CloseAction.BACKOFF),
        (None, CloseAction.BACKOFF),
    ],
)
def test_classify_close_follows_pusher_code_ranges(code: int | None, action: CloseAction) -> None:
    assert classify_close(code) is action


def test_classify_error_uses_the_same_ranges_for_pusher_error_frames() -> None:
    frame = parse_frame('{"event":"pusher:error","data":{"code":4100,"message":"Over quota"}}')
    assert classify_error(frame) is CloseAction.BACKOFF


@pytest.mark.parametrize(
    "raw",
    [
        '{"event":"pusher:error","data":{"code":null,"message":"Client event rejected"}}',
        '{"event":"pusher:error","data":":("}',
        '{"event":"pusher:error","data":{"code":true}}',
        '{"event":"pusher:error"}',
    ],
)
def test_classify_error_gives_none_without_an_integer_code(raw: str) -> None:
    assert classify_error(parse_frame(raw)) is None


# --- handshake ---------------------------------------------------------------------------------


def test_connection_established_with_string_data_as_kick_sends_it() -> None:
    frame = parse_frame(
        '{"event":"pusher:connection_established",'
        '"data":"{\\"socket_id\\":\\"214617.19803\\",\\"activity_timeout\\":120}"}'
    )
    info = parse_connection_established(frame)
    assert info.socket_id == "214617.19803"
    assert info.activity_timeout == 120.0


@pytest.mark.parametrize(
    "data",
    [
        {"socket_id": "1.2"},
        {"socket_id": "1.2", "activity_timeout": "120"},
        {"socket_id": "1.2", "activity_timeout": True},
        {"socket_id": "1.2", "activity_timeout": 0},
        {"socket_id": "1.2", "activity_timeout": -5},
        {"activity_timeout": 120},
        "not json",
        None,
    ],
)
def test_connection_established_without_usable_fields_is_a_parse_error(data: Any) -> None:
    frame = PusherFrame(event="pusher:connection_established", data=data)
    with pytest.raises(PusherParseError):
        parse_connection_established(frame)


# --- ChatMessageEvent --------------------------------------------------------------------------


def test_chat_message_maps_to_a_normalized_chat_event() -> None:
    event = chat()
    assert event == ChatEvent(
        platform="kick",
        channel="246956",
        message_id="57eee8aa-0c3e-4a47-9a4b-0f0a2b7c1d11",
        sent_at=datetime(2026, 9, 4, 23, 28, 30, tzinfo=UTC),
        raw_type="App\\Events\\ChatMessageEvent",
        user_id="117108965",
        login="goofywilson96",
        display_name="GoofyWilson96",
        text="I see the coke",
        roles=frozenset({"subscriber"}),
        color="#31D6C2",
    )


@pytest.mark.parametrize(
    ("badge", "roles"),
    [
        ("broadcaster", {"broadcaster"}),
        ("moderator", {"moderator"}),
        ("vip", {"vip"}),
        ("subscriber", {"subscriber"}),
        ("og", {"subscriber"}),
        ("founder", {"subscriber"}),
        ("sub_gifter", set()),
        ("verified", set()),
        ("staff", set()),
    ],
)
def test_badges_map_to_allowed_roles(badge: str, roles: set[str]) -> None:
    sender = chat_payload()["sender"]
    sender["identity"]["badges"] = [{"type": badge, "text": badge}]
    assert chat(sender=sender).roles == roles


def test_several_badges_combine_into_several_roles() -> None:
    sender = chat_payload()["sender"]
    sender["identity"]["badges"] = [{"type": "moderator"}, {"type": "og"}, {"type": "vip"}]
    assert chat(sender=sender).roles == {"moderator", "subscriber", "vip"}


def test_odd_badge_lists_give_no_roles_instead_of_crashing() -> None:
    sender = chat_payload()["sender"]
    sender["identity"]["badges"] = [None, "moderator", {"type": 3}, {}]
    assert chat(sender=sender).roles == frozenset()
    sender["identity"] = None
    event = chat(sender=sender)
    assert event.roles == frozenset()
    assert event.color is None


def test_inline_emotes_are_parsed_with_inclusive_code_point_ranges() -> None:
    event = chat(content="😀 [emote:37226:KEKW] hi [emote:4148074:HYPERCLAP]")
    assert event.emotes == (
        Emote(id="37226", start=2, end=19, name="KEKW"),
        Emote(id="4148074", start=24, end=48, name="HYPERCLAP"),
    )
    # The tokens stay in the text: triggers see what Kick's chat shows.
    assert event.text.startswith("😀 [emote:37226:KEKW]")


def test_parse_emotes_ignores_malformed_tokens() -> None:
    assert parse_emotes("[emote:abc:X] [emote:12] [emote:1:ok]") == (
        Emote(id="1", start=25, end=36, name="ok"),
    )


def test_reply_message_carries_the_parent_from_metadata() -> None:
    event = chat(
        type="reply",
        content="@someone yes",
        metadata={
            "original_sender": {"id": 42, "username": "Someone"},
            "original_message": {"id": "aaaa-bbbb", "content": "is it live?"},
            "message_ref": "1726000000000",
        },
    )
    assert event.reply_parent == ReplyParent(
        message_id="aaaa-bbbb", user_id="42", display_name="Someone", text="is it live?"
    )


def test_reply_metadata_as_a_json_string_is_accepted() -> None:
    metadata = json.dumps({"original_message": {"id": "m1", "content": "x"}})
    assert chat(type="reply", metadata=metadata).reply_parent == ReplyParent(
        message_id="m1", text="x"
    )


def test_reply_without_usable_metadata_has_no_parent() -> None:
    assert chat(type="reply", metadata=None).reply_parent is None
    assert chat(type="reply", metadata="{not json").reply_parent is None


def test_plain_message_ignores_metadata() -> None:
    assert chat(metadata={"original_message": {"id": "x"}}).reply_parent is None


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2026-09-04T23:28:30+00:00", datetime(2026, 9, 4, 23, 28, 30, tzinfo=UTC)),
        ("2026-09-04T23:28:30Z", datetime(2026, 9, 4, 23, 28, 30, tzinfo=UTC)),
        ("2026-09-05T01:28:30+02:00", datetime(2026, 9, 4, 23, 28, 30, tzinfo=UTC)),
        ("2026-09-04 23:28:30", datetime(2026, 9, 4, 23, 28, 30, tzinfo=UTC)),
        (
            "2023-03-31T21:25:27.123456789Z",
            datetime(2023, 3, 31, 21, 25, 27, 123456, tzinfo=UTC),
        ),
    ],
)
def test_created_at_becomes_an_aware_utc_sent_at(created_at: str, expected: datetime) -> None:
    sent_at = chat(created_at=created_at).sent_at
    assert sent_at == expected
    assert sent_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("created_at", [None, "yesterday", "2026-13-40T00:00:00Z", 10**19])
def test_missing_or_bad_created_at_falls_back_to_now(created_at: Any) -> None:
    payload = chat_payload(created_at=created_at)
    frame = parse_frame(kick_frame("App\\Events\\ChatMessageEvent", payload))
    event = to_chat_event(frame, now=NOW)
    assert event is not None
    assert event.sent_at == NOW


def test_a_message_with_a_huge_number_is_rejected_as_a_parse_error() -> None:
    payload = chat_payload(created_at=10**30)
    frame = parse_frame(kick_frame("App\\Events\\ChatMessageEvent", payload))
    with pytest.raises(PusherParseError, match="not an object"):
        to_chat_event(frame, now=NOW)


def test_a_frame_nested_100000_deep_is_a_parse_error() -> None:
    with pytest.raises(PusherParseError, match="nested deeper"):
        parse_frame('{"event": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_a_chatroom_id_of_5000_digits_is_no_chatroom_id() -> None:
    assert chatroom_id_from("chatrooms." + "7" * 5000 + ".v2") is None
    assert channel_id_from("channel." + "7" * 5000) is None
    assert chatroom_id_from("chatrooms.246956.v2") == 246956


def test_chat_channel_comes_from_the_payload_when_the_channel_name_has_none() -> None:
    frame = parse_frame(kick_frame("ChatMessageEvent", chat_payload(chatroom_id=7), channel=None))
    event = to_chat_event(frame)
    assert event is not None
    assert event.channel == "7"
    assert event.raw_type == "ChatMessageEvent"


def test_login_falls_back_to_username_when_slug_is_missing() -> None:
    event = chat(sender={"id": 5, "username": "Bob"})
    assert (event.login, event.display_name) == ("Bob", "Bob")


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        chat_payload(id=None),
        chat_payload(content=None),
        chat_payload(content=12),
        chat_payload(sender=None),
        chat_payload(sender={"username": "no id"}),
        chat_payload(sender={"id": True}),
    ],
)
def test_chat_frame_without_essentials_raises_pusher_parse_error(payload: Any) -> None:
    frame = PusherFrame(
        event="App\\Events\\ChatMessageEvent", channel="chatrooms.1.v2", data=payload
    )
    with pytest.raises(PusherParseError):
        to_chat_event(frame)


def test_chat_frame_without_any_chatroom_raises_pusher_parse_error() -> None:
    frame = PusherFrame(event="App\\Events\\ChatMessageEvent", data=chat_payload(chatroom_id=None))
    with pytest.raises(PusherParseError):
        to_chat_event(frame)


def test_non_chat_frames_give_no_chat_event() -> None:
    assert to_chat_event(parse_frame('{"event":"pusher:ping","data":{}}')) is None
    assert to_chat_event(parse_frame(kick_frame("App\\Events\\FollowersUpdated", {}))) is None


# --- other Kick events -------------------------------------------------------------------------


def test_message_deleted_event_maps_to_delete_moderation() -> None:
    raw = kick_frame(
        "App\\Events\\MessageDeletedEvent",
        {"id": "del-1", "message": {"id": "57eee8aa"}, "aiModerated": False},
    )
    assert to_event(parse_frame(raw), now=NOW) == ModerationEvent(
        platform="kick",
        channel="246956",
        message_id="del-1",
        sent_at=NOW,
        raw_type="App\\Events\\MessageDeletedEvent",
        action="delete",
        target_message_id="57eee8aa",
    )


def banned(**fields: Any) -> ModerationEvent:
    data = {
        "id": "ban-1",
        "user": {"id": 99, "username": "Spammer", "slug": "spammer"},
        "banned_by": {"id": 1, "username": "Mod", "slug": "mod"},
        **fields,
    }
    event = to_event(parse_frame(kick_frame("App\\Events\\UserBannedEvent", data)), now=NOW)
    assert isinstance(event, ModerationEvent)
    return event


def test_permanent_user_ban_maps_to_ban() -> None:
    event = banned(permanent=True)
    assert (event.action, event.duration_seconds) == ("ban", None)
    assert (event.target_user_id, event.target_login) == ("99", "spammer")


def test_user_ban_with_duration_in_minutes_maps_to_timeout_seconds() -> None:
    event = banned(permanent=False, duration=10)
    assert (event.action, event.duration_seconds) == ("timeout", 600)


def test_user_ban_with_only_expires_at_maps_to_timeout_until_then() -> None:
    expires = (NOW + timedelta(minutes=5)).isoformat()
    event = banned(permanent=False, expires_at=expires)
    assert (event.action, event.duration_seconds) == ("timeout", 300)


def test_user_ban_without_permanence_or_duration_is_a_ban() -> None:
    assert banned().action == "ban"


def test_user_unbanned_maps_to_unban() -> None:
    raw = kick_frame("UserUnbannedEvent", {"id": "u1", "user": {"id": 99, "username": "S"}})
    event = to_event(parse_frame(raw), now=NOW)
    assert isinstance(event, ModerationEvent)
    assert (event.action, event.target_user_id, event.target_login) == ("unban", "99", "S")


def test_subscription_event_maps_to_subscription() -> None:
    raw = kick_frame(
        "App\\Events\\SubscriptionEvent",
        {"chatroom_id": 246956, "username": "NewSub", "months": 3},
    )
    event = to_event(parse_frame(raw), now=NOW)
    assert event == SubscriptionEvent(
        platform="kick",
        channel="246956",
        message_id=None,
        sent_at=NOW,
        raw_type="App\\Events\\SubscriptionEvent",
        user_id=None,
        login=None,
        display_name="NewSub",
        months=3,
    )


def test_gifted_subscriptions_map_to_a_gift_with_the_recipient_count() -> None:
    raw = kick_frame(
        "App\\Events\\GiftedSubscriptionsEvent",
        {
            "chatroom_id": 246956,
            "gifted_usernames": ["a", "b", "c"],
            "gifter_username": "Generous",
            "gifter_total": 40,
        },
    )
    event = to_event(parse_frame(raw), now=NOW)
    assert isinstance(event, GiftEvent)
    assert (event.display_name, event.count, event.recipient_login) == ("Generous", 3, None)
    assert event.anonymous is False


def test_single_gifted_subscription_names_the_recipient() -> None:
    raw = kick_frame(
        "GiftedSubscriptionsEvent",
        {"chatroom_id": 1, "gifted_usernames": ["lucky"], "gifter_username": None},
    )
    event = to_event(parse_frame(raw), now=NOW)
    assert isinstance(event, GiftEvent)
    assert (event.count, event.recipient_login, event.anonymous) == (1, "lucky", True)


def test_streamer_is_live_maps_to_stream_started() -> None:
    raw = kick_frame(
        "App\\Events\\StreamerIsLive",
        {
            "livestream": {
                "id": 31337,
                "channel_id": 2515504,
                "session_title": "Friday stream",
                "source": None,
                "created_at": "2026-09-05 11:58:00",
            }
        },
        channel="channel.2515504",
    )
    assert to_event(parse_frame(raw), now=NOW) == StreamStarted(
        platform="kick",
        channel="2515504",
        message_id="31337",
        sent_at=datetime(2026, 9, 5, 11, 58, tzinfo=UTC),
        raw_type="App\\Events\\StreamerIsLive",
        title="Friday stream",
    )


def test_stop_stream_broadcast_maps_to_stream_ended() -> None:
    raw = kick_frame(
        "App\\Events\\StopStreamBroadcast",
        {"livestream": {"id": 31337, "channel": {"id": 2515504, "is_banned": False}}},
        channel="channel.2515504",
    )
    assert to_event(parse_frame(raw), now=NOW) == StreamEnded(
        platform="kick",
        channel="2515504",
        message_id="31337",
        sent_at=NOW,
        raw_type="App\\Events\\StopStreamBroadcast",
    )


def test_stream_events_take_the_channel_from_the_payload_without_a_channel_name() -> None:
    raw = kick_frame(
        "StopStreamBroadcast", {"livestream": {"id": 1, "channel": {"id": 77}}}, channel=None
    )
    event = to_event(parse_frame(raw), now=NOW)
    assert isinstance(event, StreamEnded)
    assert event.channel == "77"


def test_stream_event_naming_no_channel_raises_pusher_parse_error() -> None:
    raw = kick_frame("StopStreamBroadcast", {"livestream": {"id": 1}}, channel=None)
    with pytest.raises(PusherParseError):
        to_event(parse_frame(raw), now=NOW)


def test_known_event_with_non_object_payload_raises_pusher_parse_error() -> None:
    with pytest.raises(PusherParseError):
        to_event(parse_frame(kick_frame("App\\Events\\MessageDeletedEvent", [])), now=NOW)


@pytest.mark.parametrize(
    "event",
    [
        "App\\Events\\FollowersUpdated",
        "App\\Events\\PinnedMessageDeletedEvent",
        "App\\Events\\ChannelSubscriptionEvent",
        "pusher:ping",
        "pusher_internal:subscription_succeeded",
    ],
)
def test_unmapped_events_give_none(event: str) -> None:
    assert to_event(parse_frame(kick_frame(event, {"x": 1})), now=NOW) is None


def test_to_event_without_now_uses_the_current_time_for_untimed_payloads() -> None:
    raw = kick_frame("MessageDeletedEvent", {"id": "d", "message": {"id": "m"}})
    before = datetime.now(UTC)
    event = to_event(parse_frame(raw))
    assert event is not None
    assert before <= event.sent_at <= datetime.now(UTC)


# --- PusherConnection --------------------------------------------------------------------------

ESTABLISHED = (
    '{"event":"pusher:connection_established",'
    '"data":"{\\"socket_id\\":\\"214617.19803\\",\\"activity_timeout\\":120}"}'
)


def connected(*channels: str, now: float = 0.0, **kwargs: Any) -> PusherConnection:
    conn = PusherConnection(**kwargs)
    for channel in channels:
        conn.subscribe(channel, now=now)
    conn.connection_made(now=now)
    conn.receive_text(ESTABLISHED, now=now)
    return conn


def sent(outputs: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(o.text) for o in outputs if isinstance(o, Send)]


def test_handshake_records_socket_id_and_activity_timeout() -> None:
    conn = PusherConnection()
    assert conn.state is ConnectionState.IDLE
    assert conn.connection_made(now=10.0) == []
    assert conn.state is ConnectionState.HANDSHAKING
    out = conn.receive_text(ESTABLISHED, now=10.5)
    assert out == [Connected(socket_id="214617.19803", activity_timeout=120.0)]
    assert conn.state is ConnectionState.CONNECTED
    assert (conn.socket_id, conn.activity_timeout) == ("214617.19803", 120.0)


def test_channels_wanted_before_the_handshake_are_subscribed_after_it() -> None:
    conn = PusherConnection()
    assert conn.subscribe("chatrooms.1.v2", now=0.0) == []
    conn.connection_made(now=0.0)
    assert conn.subscriptions == {"chatrooms.1.v2": SubscriptionState.PENDING}
    out = conn.receive_text(ESTABLISHED, now=1.0)
    assert sent(out) == [json.loads(subscribe("chatrooms.1.v2"))]
    assert conn.subscriptions == {"chatrooms.1.v2": SubscriptionState.SUBSCRIBING}


def test_subscribe_while_connected_sends_at_once_and_only_once() -> None:
    conn = connected()
    assert sent(conn.subscribe("channel.2", now=1.0)) == [json.loads(subscribe("channel.2"))]
    assert conn.subscribe("channel.2", now=2.0) == []


def test_subscription_succeeded_marks_the_channel_subscribed() -> None:
    conn = connected("chatrooms.1.v2")
    out = conn.receive_text(
        '{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"chatrooms.1.v2"}',
        now=1.0,
    )
    assert out == [Subscribed(channel="chatrooms.1.v2")]
    assert conn.subscriptions["chatrooms.1.v2"] is SubscriptionState.SUBSCRIBED


def test_soketi_subscription_succeeded_without_data_is_accepted() -> None:
    conn = connected("c")
    out = conn.receive_text(
        '{"event":"pusher_internal:subscription_succeeded","channel":"c"}', now=1.0
    )
    assert out == [Subscribed(channel="c")]


def test_subscription_succeeded_for_an_unwanted_channel_is_ignored() -> None:
    conn = connected()
    out = conn.receive_text(
        '{"event":"pusher_internal:subscription_succeeded","channel":"x"}', now=1.0
    )
    assert out == []
    assert conn.subscriptions == {}


def test_subscription_error_marks_the_channel_failed() -> None:
    conn = connected("private-x")
    out = conn.receive_text(
        '{"event":"pusher:subscription_error","channel":"private-x","data":{"status":401}}',
        now=1.0,
    )
    assert out == [SubscriptionFailed(channel="private-x", data={"status": 401})]
    assert conn.subscriptions["private-x"] is SubscriptionState.FAILED


def test_unsubscribe_sends_only_for_channels_subscribed_on_this_connection() -> None:
    conn = connected("a")
    assert sent(conn.unsubscribe("a", now=1.0)) == [json.loads(unsubscribe("a"))]
    assert conn.subscriptions == {}
    assert conn.unsubscribe("never", now=1.0) == []


def test_server_ping_is_answered_with_pong() -> None:
    conn = connected()
    assert conn.receive_text('{"event":"pusher:ping","data":{}}', now=5.0) == [Send(text=pong())]


def test_application_frames_are_delivered_to_the_actor() -> None:
    conn = connected("chatrooms.246956.v2")
    raw = kick_frame("App\\Events\\ChatMessageEvent", chat_payload())
    (out,) = conn.receive_text(raw, now=3.0)
    assert isinstance(out, Deliver)
    assert isinstance(to_event(out.frame), ChatEvent)


def test_unneeded_protocol_frames_produce_nothing() -> None:
    conn = connected()
    assert conn.receive_text('{"event":"pusher_internal:member_added","data":"{}"}', now=1) == []
    assert conn.receive_text('{"event":"pusher:pong","data":"{}"}', now=1.0) == []


def test_liveness_deadline_is_activity_timeout_after_the_last_frame() -> None:
    conn = connected(now=100.0)
    assert conn.next_deadline() == 220.0
    conn.receive_text('{"event":"pusher:pong"}', now=150.0)
    assert conn.next_deadline() == 270.0


def test_silence_past_activity_timeout_sends_one_ping() -> None:
    conn = connected(now=0.0)
    assert conn.tick(now=119.9) == []
    assert conn.tick(now=120.0) == [Send(text=ping())]
    assert conn.awaiting_pong
    assert conn.next_deadline() == 150.0  # pong timeout 30 s
    assert conn.tick(now=130.0) == []  # no second ping while waiting


def test_pong_within_pong_timeout_restores_the_activity_deadline() -> None:
    conn = connected(now=0.0)
    conn.tick(now=120.0)
    assert conn.receive_text('{"event":"pusher:pong","data":{}}', now=125.0) == []
    assert not conn.awaiting_pong
    assert conn.next_deadline() == 245.0
    assert conn.state is ConnectionState.CONNECTED


def test_any_frame_after_a_ping_counts_as_proof_of_life() -> None:
    conn = connected("chatrooms.246956.v2", now=0.0)
    conn.tick(now=120.0)
    conn.receive_text(kick_frame("App\\Events\\ChatMessageEvent", chat_payload()), now=121.0)
    assert not conn.awaiting_pong
    assert conn.tick(now=150.0) == []


def test_no_pong_within_pong_timeout_asks_for_an_immediate_reconnect() -> None:
    conn = connected(now=0.0, pong_timeout=10.0)
    conn.tick(now=120.0)
    assert conn.tick(now=130.0) == [Reconnect(action=CloseAction.RETRY, reason="pong timeout")]
    assert conn.state is ConnectionState.CLOSED
    assert conn.next_deadline() is None
    assert conn.tick(now=500.0) == []


def test_server_activity_timeout_is_capped_by_the_client_maximum() -> None:
    conn = PusherConnection(max_activity_timeout=60.0)
    conn.connection_made(now=0.0)
    out = conn.receive(
        PusherFrame(
            event="pusher:connection_established",
            data={"socket_id": "1.1", "activity_timeout": 300},
        ),
        now=0.0,
    )
    assert out == [Connected(socket_id="1.1", activity_timeout=60.0)]
    assert conn.next_deadline() == 60.0


def test_soketi_activity_timeout_of_30_is_used_as_is() -> None:
    conn = PusherConnection()
    conn.connection_made(now=0.0)
    conn.receive_text(
        '{"event":"pusher:connection_established",'
        '"data":"{\\"socket_id\\":\\"1.2\\",\\"activity_timeout\\":30}"}',
        now=0.0,
    )
    assert conn.next_deadline() == 30.0


def test_missing_handshake_within_the_handshake_timeout_backs_off() -> None:
    conn = PusherConnection(handshake_timeout=10.0)
    conn.connection_made(now=0.0)
    assert conn.next_deadline() == 10.0
    assert conn.tick(now=9.0) == []
    assert conn.tick(now=10.0) == [
        Reconnect(action=CloseAction.BACKOFF, reason="handshake timeout")
    ]


def test_handshake_without_activity_timeout_backs_off() -> None:
    conn = PusherConnection()
    conn.connection_made(now=0.0)
    (out,) = conn.receive_text(
        '{"event":"pusher:connection_established","data":{"socket_id":"123.456"}}', now=1.0
    )
    assert out == Reconnect(
        action=CloseAction.BACKOFF, reason="No activity timeout specified in handshake"
    )
    assert conn.state is ConnectionState.CLOSED


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (4001, CloseAction.REFUSED),
        (4009, CloseAction.REFUSED),
        (4100, CloseAction.BACKOFF),
        (4200, CloseAction.RETRY),
        (4201, CloseAction.RETRY),
        (4301, CloseAction.REFUSED),
    ],
)
def test_pusher_error_with_a_close_code_asks_for_the_matching_reconnect(
    code: int, action: CloseAction
) -> None:
    conn = connected()
    raw = json.dumps({"event": "pusher:error", "data": {"code": code, "message": "m"}})
    assert conn.receive_text(raw, now=1.0) == [Reconnect(action=action, reason="m", code=code)]
    assert conn.state is ConnectionState.CLOSED
    # The close that follows was expected: no second reconnect request.
    assert conn.connection_lost(code, now=1.1) == []


def test_pusher_error_without_a_code_is_reported_and_keeps_the_connection() -> None:
    conn = connected()
    out = conn.receive_text(
        '{"event":"pusher:error","data":{"code":null,"message":"Client event rejected"}}',
        now=1.0,
    )
    assert out == [ServerError(code=None, message="Client event rejected")]
    assert conn.state is ConnectionState.CONNECTED


def test_pusher_error_with_string_data_is_reported_with_the_string() -> None:
    conn = connected()
    assert conn.receive_text('{"event":"pusher:error","data":":("}', now=1.0) == [
        ServerError(code=None, message=":(")
    ]


@pytest.mark.parametrize(
    ("code", "action"),
    [(1006, CloseAction.BACKOFF), (4200, CloseAction.RETRY), (4001, CloseAction.REFUSED)],
)
def test_connection_lost_is_classified_by_its_close_code(code: int, action: CloseAction) -> None:
    conn = connected()
    assert conn.connection_lost(code, now=5.0) == [
        Reconnect(action=action, reason="connection closed", code=code)
    ]
    assert conn.state is ConnectionState.CLOSED


def test_reconnect_resubscribes_every_wanted_channel() -> None:
    conn = connected("a", "b")
    conn.receive_text('{"event":"pusher_internal:subscription_succeeded","channel":"a"}', now=1)
    conn.connection_lost(1006, now=2.0)
    conn.connection_made(now=3.0)
    assert conn.socket_id is None
    assert set(conn.subscriptions.values()) == {SubscriptionState.PENDING}
    out = conn.receive_text(ESTABLISHED, now=3.5)
    assert [d["data"]["channel"] for d in sent(out)] == ["a", "b"]


def test_frames_after_the_machine_gave_up_are_ignored() -> None:
    conn = connected()
    conn.connection_lost(None, now=1.0)
    assert conn.receive_text('{"event":"pusher:ping"}', now=2.0) == []
    assert conn.next_deadline() is None


def test_garbage_text_raises_but_still_counts_as_activity() -> None:
    conn = connected(now=0.0)
    with pytest.raises(PusherParseError):
        conn.receive_text("not json", now=50.0)
    assert conn.next_deadline() == 170.0


def test_activity_clock_never_moves_backwards() -> None:
    conn = connected(now=100.0)
    conn.receive_text('{"event":"pusher:pong"}', now=90.0)
    assert conn.next_deadline() == 220.0
