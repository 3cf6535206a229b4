"""The sans-IO Live Stream API parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actors.events import ChatEvent, PaidMessageEvent
from actors.rumble.livestream import (
    RumbleParseError,
    live_stream,
    message_key,
    parse_livestream_data,
    to_events,
)

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)

BODY = {
    "now": 1695059500,
    "type": "user",
    "user_id": "XXXXX",
    "username": "Streamer",
    "channel_id": None,
    "since": None,
    "max_num_results": 50,
    "followers": {"num_followers": 165, "recent_followers": []},
    "livestreams": [
        {
            "id": "old1",
            "title": "Earlier",
            "created_on": "2023-09-18T12:00:00-04:00",
            "is_live": False,
            "chat": {"recent_messages": [], "recent_rants": []},
        },
        {
            "id": "2ab3c",
            "title": "Live now",
            "created_on": "2023-09-18T13:00:00-04:00",
            "is_live": True,
            "watching_now": 42,
            "chat": {
                "latest_message": None,
                "recent_messages": [
                    {
                        "username": "bob",
                        "badges": ["moderator", "premium"],
                        "text": "second",
                        "created_on": "2023-09-18T13:05:02-04:00",
                    },
                    {
                        "username": "ann",
                        "badges": [],
                        "text": "first",
                        "created_on": "2023-09-18T13:05:01-04:00",
                    },
                    {"username": "", "text": "no user"},
                    "garbage",
                ],
                "recent_rants": [
                    {
                        "username": "cat",
                        "badges": [],
                        "text": "take my money",
                        "created_on": "2023-09-18T13:05:03-04:00",
                        "expires_on": "2023-09-18T13:07:03-04:00",
                        "amount_cents": 500,
                        "amount_dollars": 5,
                    }
                ],
            },
        },
    ],
}


def test_the_live_stream_and_its_chat_are_read():
    data = parse_livestream_data(BODY)
    assert data.skipped == 2 and data.username == "Streamer"
    assert data.now == datetime.fromtimestamp(1695059500, UTC)
    stream = live_stream(data)
    assert stream is not None and stream.id == "2ab3c" and stream.watching_now == 42
    events = to_events(stream, now=NOW)
    assert [e.text for e in events] == ["first", "second", "take my money"]
    first, second, rant = events
    assert isinstance(first, ChatEvent) and isinstance(rant, PaidMessageEvent)
    assert (first.platform, first.channel, first.login, first.raw_type) == (
        "rumble",
        "2ab3c",
        "ann",
        "message",
    )
    assert first.sent_at == datetime(2023, 9, 18, 17, 5, 1, tzinfo=UTC)
    assert second.roles == {"moderator"}
    assert (rant.amount_micros, rant.currency, rant.amount_display) == (5_000_000, "USD", "$5.00")


def test_keys_are_stable_and_tell_repeats_apart():
    stream = live_stream(parse_livestream_data(BODY))
    assert stream is not None
    again = to_events(stream, now=NOW)
    assert [e.message_id for e in again] == [e.message_id for e in to_events(stream, now=NOW)]
    message = stream.messages[0]
    assert message_key("2ab3c", message, 0) != message_key("2ab3c", message, 1)
    assert message_key("2ab3c", message, 0).startswith("2ab3c:")


def test_nothing_live_and_bad_bodies():
    assert live_stream(parse_livestream_data({"livestreams": []})) is None
    assert live_stream(parse_livestream_data({})) is None
    with pytest.raises(RumbleParseError):
        parse_livestream_data([])  # type: ignore[arg-type]
    with pytest.raises(RumbleParseError):
        parse_livestream_data({"livestreams": {}})
