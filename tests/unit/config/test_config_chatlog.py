"""The chat log format shared by the runtime's chat log and the replay source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from config.chatlog import ChatlogError, format_chatlog_line, is_skippable, parse_chatlog_line

LINE = {
    "platform": "twitch",
    "channel": "daniel",
    "message_id": "b34ccfc7-4977-403a-8a94-33c6bac34fb8",
    "user_id": "40100004",
    "login": "pixelpanda",
    "display_name": "PixelPanda",
    "text": "!vote 2",
    "sent_at": "2026-11-21T18:30:05.120Z",
    "roles": ["subscriber", "vip"],
    "raw_type": "PRIVMSG",
}


def test_parse_returns_chat_event_kwargs() -> None:
    parsed = parse_chatlog_line(json.dumps(LINE))
    assert parsed["sent_at"] == datetime(2026, 11, 21, 18, 30, 5, 120000, tzinfo=UTC)
    assert parsed["roles"] == frozenset({"subscriber", "vip"})
    assert parsed["text"] == "!vote 2"
    assert set(parsed) == set(LINE)


def test_round_trip() -> None:
    text = json.dumps(LINE, separators=(",", ":"))
    assert format_chatlog_line(parse_chatlog_line(text)) == text


def test_format_accepts_objects() -> None:
    class Event:
        pass

    event = Event()
    for key, value in parse_chatlog_line(json.dumps(LINE)).items():
        setattr(event, key, value)
    assert parse_chatlog_line(format_chatlog_line(event))["login"] == "pixelpanda"


def test_null_message_id() -> None:
    assert parse_chatlog_line(json.dumps({**LINE, "message_id": None}))["message_id"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"platform": "myspace"}, "platform: unknown platform 'myspace'"),
        ({"roles": ["admin"]}, "roles: unknown roles ['admin']"),
        ({"roles": "vip"}, "roles: expected an array of strings"),
        ({"text": 5}, "text: expected a string, got int"),
        ({"sent_at": "2026-11-21T18:30:05"}, "sent_at: expected an ISO-8601 UTC time"),
        ({"sent_at": "yesterdayZ"}, "sent_at: not an ISO-8601 time"),
        ({"sent_at": "2026-11-21T18:30:05+01:00Z"}, "sent_at: expected 'Z' as the only offset"),
        ({"extra": 1}, "unknown keys: extra"),
        ({"message_id": 7}, "message_id: expected a string or null"),
    ],
)
def test_invalid_lines(change: dict[str, object], message: str) -> None:
    with pytest.raises(ChatlogError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        parse_chatlog_line(json.dumps({**LINE, **change}))


def test_missing_keys_and_bad_json() -> None:
    with pytest.raises(ChatlogError, match="missing keys: user_id, login"):
        parse_chatlog_line(
            json.dumps({k: v for k, v in LINE.items() if k not in ("user_id", "login")})
        )
    with pytest.raises(ChatlogError, match="not JSON"):
        parse_chatlog_line("{nope")
    with pytest.raises(ChatlogError, match="expected a JSON object"):
        parse_chatlog_line("[]")


def test_skippable_lines() -> None:
    assert is_skippable("") and is_skippable("   \n") and is_skippable("  # comment")
    assert not is_skippable(json.dumps(LINE))


def test_format_needs_aware_time() -> None:
    fields = {**parse_chatlog_line(json.dumps(LINE)), "sent_at": datetime(2026, 1, 1)}
    with pytest.raises(ChatlogError):
        format_chatlog_line(fields)
