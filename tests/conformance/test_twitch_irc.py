"""Conformance: every record of the Twitch IRC corpus against `actors.twitch.irc`.

One test case per line of data/twitch_irc.jsonl (a copy of ../shared/corpus/twitch_irc.jsonl;
its conventions are in that folder's README.md). Every key of `expect` is compared, except the
ones listed in `NOT_CHECKED` with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.events import ChatEvent
from actors.twitch.irc import (
    IrcParseError,
    TwitchMessageError,
    parse_irc_line,
    to_chat_event,
    twitch_fields,
)

DATA = Path(__file__).parent / "data" / "twitch_irc.jsonl"

# IRC-level keys, compared against the `IrcMessage` itself (`command_normalized`: the
# uppercased verb of a lowercase line, which we keep as written in `command`).
IRC_KEYS = frozenset({"command", "prefix", "params", "tags", "command_normalized"})

# Keys deliberately not compared, with the reason.
NOT_CHECKED: dict[str, str] = {
    # A library-specific result the corpus keeps for comparison only; `tags` (the
    # ircdocs-style result) is what we follow and is compared.
    "source_asserts_tags": "library-specific tag result, recorded for comparison only",
}

# Keys handled specially below (not plain equality against `twitch_fields`).
ERROR_KEYS = frozenset({"error", "lenient_parse", "twitch_error"})


def _records() -> list[Any]:
    params = []
    for number, row in enumerate(DATA.read_text("utf-8").splitlines(), start=1):
        record = json.loads(row)
        name = record.get("test", "record").replace(" ", "_")[:60]
        params.append(pytest.param(record, id=f"L{number:03d}-{name}"))
    return params


def _check_irc(msg: Any, expect: dict[str, Any]) -> None:
    assert msg.command == expect["command"]
    assert msg.params == expect["params"]
    # Absent keys mean "absent in the line": no prefix is None, no tags is {}.
    assert msg.prefix == expect.get("prefix")
    assert msg.tags == expect.get("tags", {})
    if "command_normalized" in expect:
        assert msg.command.upper() == expect["command_normalized"]


def _normalize(key: str, got: Any, want: Any) -> Any:
    if key == "emotes" and got is not None:
        # `code` is only given where a source asserts it; compare it exactly then.
        with_code = any("code" in emote for emote in want or ())
        return [{k: v for k, v in emote.items() if k != "code" or with_code} for emote in got]
    if key == "roles":
        # Sources assert roles as {role: bool}; ours is the set of roles held.
        return {role: role in got for role in want}
    return got


@pytest.mark.parametrize("record", _records())
def test_record(record: dict[str, Any]) -> None:
    expect: dict[str, Any] = record["expect"]
    raw: str = record["raw"]

    if "error" in expect:
        lenient = expect["lenient_parse"]
        if lenient is None:
            with pytest.raises(IrcParseError):
                parse_irc_line(raw)
            return
        # A strict library rejects the line; we follow the lenient (ircdocs-style) result.
        msg = parse_irc_line(raw)
        _check_irc(msg, lenient)
        try:  # no Twitch-level values are expected, but only the documented error may escape
            twitch_fields(msg)
        except TwitchMessageError:
            pass
        return

    msg = parse_irc_line(raw)
    _check_irc(msg, expect)

    twitch_keys = set(expect) - IRC_KEYS - ERROR_KEYS - set(NOT_CHECKED)
    if "twitch_error" in expect:
        with pytest.raises(TwitchMessageError):
            twitch_fields(msg)
        return

    fields = twitch_fields(msg)
    for key in sorted(twitch_keys):
        assert key in fields, f"twitch_fields gives no {key!r} for {msg.command}"
        assert _normalize(key, fields[key], expect[key]) == expect[key], key

    # The normalized event agrees with the Twitch-level view for chat lines.
    try:
        event = to_chat_event(msg, now=datetime(2026, 1, 1, tzinfo=UTC))
    except TwitchMessageError:
        # Only lines that lack what an event needs (here: a PRIVMSG with no channel).
        assert fields.get("channel") is None or fields.get("text") is None
        return
    if isinstance(event, ChatEvent):
        assert event.channel == fields["channel"]
        assert event.text == fields["text"]
        assert event.is_action == fields["is_action"]
        assert event.message_id == fields["message_id"]
        if fields["timestamp_ms"] is not None:
            assert int(event.sent_at.timestamp() * 1000) == fields["timestamp_ms"]


def test_corpus_copy_matches_shared_corpus() -> None:
    """The copy under data/ is the shared corpus file, when that folder is present."""
    shared = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "twitch_irc.jsonl"
    if not shared.exists():
        pytest.skip("../shared/corpus is not present")
    assert DATA.read_bytes() == shared.read_bytes()
