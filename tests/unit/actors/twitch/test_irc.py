"""Behaviour of the Twitch IRC sans-IO module (`actors.twitch.irc`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from actors.events import (
    ChatEvent,
    GiftEvent,
    ModerationEvent,
    NoticeEvent,
    RaidEvent,
    ReplyParent,
    SubscriptionEvent,
)
from actors.twitch.irc import (
    MAX_MESSAGE_LENGTH,
    IrcMessage,
    IrcParseError,
    TwitchMessageError,
    cap_req,
    format_irc_line,
    join,
    nick,
    parse_emotes,
    parse_irc_line,
    part,
    pass_,
    ping,
    pong,
    pong_for,
    privmsg,
    split_frame,
    to_chat_event,
    twitch_fields,
    unescape_tag_value,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_T = TypeVar("_T")

PRIVMSG = (
    "@badge-info=subscriber/22;badges=moderator/1,subscriber/12;color=#19E6E6;"
    "display-name=randers;emotes=25:0-4;first-msg=1;id=d831d848;mod=1;room-id=11148817;"
    "subscriber=1;tmi-sent-ts=1594555275886;user-id=40286300;user-type=mod "
    ":randers!randers@randers.tmi.twitch.tv PRIVMSG #pajlada :Kappa hello"
)


def usernotice(msg_id: str, extra: str = "", text: str = "") -> IrcMessage:
    tags = (
        f"@display-name=Gifter;id=abc;login=gifter;msg-id={msg_id};room-id=1;"
        f"system-msg=something\\shappened;tmi-sent-ts=1594495108936;user-id=42{extra}"
    )
    trailing = f" :{text}" if text else ""
    return parse_irc_line(f"{tags} :tmi.twitch.tv USERNOTICE #chan{trailing}")


# ------------------------------------------------------------------------------------------
# parse_irc_line
# ------------------------------------------------------------------------------------------


def test_parse_gives_tags_prefix_command_params() -> None:
    msg = parse_irc_line(PRIVMSG)
    assert msg.prefix == "randers!randers@randers.tmi.twitch.tv"
    assert msg.command == "PRIVMSG"
    assert msg.params == ["#pajlada", "Kappa hello"]
    assert msg.tags["display-name"] == "randers"


def test_absent_tags_are_empty_dict_and_absent_prefix_is_none() -> None:
    msg = parse_irc_line("PING :tmi.twitch.tv")
    assert msg.tags == {}
    assert msg.prefix is None


def test_command_is_kept_exactly_as_written() -> None:
    assert parse_irc_line("privmsg #a :b").command == "privmsg"


def test_trailing_parameter_keeps_its_spaces_and_colons() -> None:
    assert parse_irc_line(":x foo bar :  a :) b ").params == ["bar", "  a :) b "]


def test_runs_of_spaces_between_middle_params_are_folded() -> None:
    assert parse_irc_line(":x MODE  #c  +o   nick  ").params == ["#c", "+o", "nick"]


def test_spaces_after_tags_and_prefix_are_folded() -> None:
    msg = parse_irc_line("@a=b  :server   PING  :x")
    assert (msg.tags, msg.prefix, msg.command, msg.params) == ({"a": "b"}, "server", "PING", ["x"])


def test_empty_trailing_parameter_is_kept() -> None:
    assert parse_irc_line("foo bar :").params == ["bar", ""]


def test_trailing_crlf_is_stripped_but_inner_cr_lf_are_kept() -> None:
    assert parse_irc_line("PING :x\r\n").params == ["x"]
    msg = parse_irc_line("PRIVMSG #c :a\rb\nc")
    assert msg.params == ["#c", "a\rb\nc"]
    assert parse_irc_line("abc\rdef").command == "abc\rdef"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\\s", " "),
        ("\\:", ";"),
        ("\\\\", "\\"),
        ("\\r\\n", "\r\n"),
        ("\\b", "b"),
        ("end\\", "end"),
        ("\\\\s", "\\s"),
        ("a\\\\\\:b", "a\\;b"),
        ("plain", "plain"),
    ],
)
def test_tag_values_are_ircv3_unescaped(raw: str, expected: str) -> None:
    assert unescape_tag_value(raw) == expected
    assert parse_irc_line(f"@k={raw} CMD").tags == {"k": expected}


def test_tag_without_value_is_empty_string_and_last_duplicate_wins() -> None:
    assert parse_irc_line("@a;b=;a=2;c CMD").tags == {"a": "2", "b": "", "c": ""}


def test_empty_tag_items_are_ignored() -> None:
    assert parse_irc_line("@a=1;;b=2; CMD").tags == {"a": "1", "b": "2"}


def test_bare_at_sign_gives_no_tags_and_bare_colon_an_empty_prefix() -> None:
    assert parse_irc_line("@ :tmi.twitch.tv TEST").tags == {}
    assert parse_irc_line("@k=v : TEST").prefix == ""


@pytest.mark.parametrize(
    "line",
    ["", " ", "\r\n", "@key=value", "@k=v :tmi.twitch.tv", "@k=v :tmi.twitch.tv ", " PING", ":"],
)
def test_lines_without_a_command_are_rejected(line: str) -> None:
    with pytest.raises(IrcParseError):
        parse_irc_line(line)


def test_non_str_input_raises_parse_error() -> None:
    with pytest.raises(IrcParseError):
        parse_irc_line(b"PING :x")  # type: ignore[arg-type]


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(IrcParseError, ValueError)
    assert issubclass(TwitchMessageError, ValueError)


def test_parsed_message_equals_one_built_by_attrs_init() -> None:
    msg = parse_irc_line(PRIVMSG)
    again = IrcMessage(tags=msg.tags, prefix=msg.prefix, command=msg.command, params=msg.params)
    assert msg == again
    assert repr(msg) == repr(again)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.command = "X"  # type: ignore[misc]


def test_str_subclass_is_parsed_as_a_plain_copy() -> None:
    class Sneaky(str):
        def partition(self, sep: str) -> Any:
            raise AssertionError("overrides must not be used")

    msg = parse_irc_line(Sneaky("@a=b :x!x@x PRIVMSG #c :hi"))
    assert type(msg.command) is str and msg.params == ["#c", "hi"]
    assert msg.tags == {"a": "b"} and msg.prefix == "x!x@x"


def test_irc_message_is_frozen_with_slots_and_keyword_only() -> None:
    assert "__dict__" not in dir(parse_irc_line("PING"))
    with pytest.raises(TypeError):
        IrcMessage({}, None, "PING", [])  # type: ignore[call-arg]


def test_split_frame_splits_on_crlf_and_drops_empty_lines() -> None:
    assert split_frame("PING :a\r\n:x PRIVMSG #c :b\r\n\r\n") == ["PING :a", ":x PRIVMSG #c :b"]


# ------------------------------------------------------------------------------------------
# twitch_fields and emotes
# ------------------------------------------------------------------------------------------


def test_emotes_are_sorted_by_start_with_code_sliced_by_code_point() -> None:
    emotes = parse_emotes("1902:6-10/25:0-4", "Kappa Keepo")
    assert emotes == [
        {"id": "25", "start": 0, "end": 4, "code": "Kappa"},
        {"id": "1902", "start": 6, "end": 10, "code": "Keepo"},
    ]


def test_emote_ids_may_contain_slashes() -> None:
    emotes = parse_emotes("80481_/3:7-14", "\U000e0000-tags pajaW_/3.0")
    assert emotes == [{"id": "80481_/3", "start": 7, "end": 14, "code": "pajaW_/3"}]


@pytest.mark.parametrize("value", ["25:44-48", "25:9999999999-99999999999", "25:5-2"])
def test_out_of_range_emotes_are_kept_with_empty_code(value: str) -> None:
    (emote,) = parse_emotes(value, "short") or []
    assert emote["code"] == ""


@pytest.mark.parametrize("value", ["25", "25:", "25:a-b", "25:1", ":", "/", "25:1-2,x"])
def test_malformed_emote_ranges_are_skipped(value: str) -> None:
    assert parse_emotes(value, "text") == []


def test_privmsg_fields() -> None:
    fields = twitch_fields(parse_irc_line(PRIVMSG))
    assert fields["channel"] == "pajlada"
    assert fields["login"] == "randers"
    assert fields["badges"] == {"moderator": "1", "subscriber": "12"}
    assert fields["badge_info"] == {"subscriber": "22"}
    assert fields["timestamp_ms"] == 1594555275886
    assert fields["first_msg"] is True
    assert fields["roles"] == {"moderator", "subscriber"}


def test_action_needs_the_space_and_the_closing_ctcp_byte() -> None:
    def text(body: str) -> tuple[str, bool]:
        fields = twitch_fields(parse_irc_line(f":a!a@a PRIVMSG #c :{body}"))
        return fields["text"], fields["is_action"]

    assert text("\x01ACTION waves\x01") == ("waves", True)
    assert text("\x01ACTION \x01") == ("", True)
    assert text("\x01ACTION\x01") == ("\x01ACTION\x01", False)
    assert text("\x01ACTION waves") == ("\x01ACTION waves", False)


def test_usernotice_keeps_the_ctcp_wrapper() -> None:
    fields = twitch_fields(usernotice("announcement", text="\x01ACTION hi\x01"))
    assert fields["text"] == "\x01ACTION hi\x01"


def test_empty_color_is_none() -> None:
    assert twitch_fields(parse_irc_line("@color= :a!a@a PRIVMSG #c :x"))["color"] is None


@pytest.mark.parametrize(
    ("line", "action", "duration"),
    [
        ("@ban-duration=600 :tmi.twitch.tv CLEARCHAT #c :weeb", "timeout", 600),
        ("@target-user-id=1 :tmi.twitch.tv CLEARCHAT #c :weeb", "ban", None),
        ("@room-id=1 :tmi.twitch.tv CLEARCHAT #c", "clear", None),
    ],
)
def test_clearchat_action(line: str, action: str, duration: int | None) -> None:
    fields = twitch_fields(parse_irc_line(line))
    assert (fields["action"], fields["ban_duration"]) == (action, duration)


def test_roomstate_reports_only_modes_present() -> None:
    fields = twitch_fields(
        parse_irc_line("@followers-only=-1;room-id=1 :tmi.twitch.tv ROOMSTATE #c")
    )
    assert fields["followers_only"] == -1
    assert "slow" not in fields
    assert "emote_only" not in fields


def test_notice_star_has_no_channel() -> None:
    fields = twitch_fields(parse_irc_line(":tmi.twitch.tv NOTICE * :Login authentication failed"))
    assert fields["channel"] is None
    assert fields["msg_id"] is None


def test_hosttarget_without_target_is_a_twitch_error() -> None:
    with pytest.raises(TwitchMessageError):
        twitch_fields(parse_irc_line(":tmi.twitch.tv HOSTTARGET #randers"))
    with pytest.raises(TwitchMessageError):
        twitch_fields(parse_irc_line(":tmi.twitch.tv HOSTTARGET #randers :a b c"))


def test_hosttarget_dash_means_none() -> None:
    fields = twitch_fields(parse_irc_line(":tmi.twitch.tv HOSTTARGET #randers :- -"))
    assert (fields["hosted_channel"], fields["viewer_count"]) == (None, None)


def test_malformed_integer_tag_is_a_twitch_error() -> None:
    with pytest.raises(TwitchMessageError):
        twitch_fields(parse_irc_line("@tmi-sent-ts=soon :a!a@a PRIVMSG #c :x"))


def test_cap_subcommand_and_capabilities() -> None:
    fields = twitch_fields(
        parse_irc_line(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands")
    )
    assert fields == {"subcommand": "ACK", "capabilities": ["twitch.tv/tags", "twitch.tv/commands"]}


def test_unknown_commands_have_no_twitch_fields() -> None:
    assert twitch_fields(parse_irc_line(":tmi.twitch.tv 001 me :Welcome, GLHF!")) == {}


# ------------------------------------------------------------------------------------------
# to_chat_event
# ------------------------------------------------------------------------------------------


def test_privmsg_becomes_chat_event() -> None:
    event = to_chat_event(parse_irc_line(PRIVMSG))
    assert isinstance(event, ChatEvent)
    assert event.platform == "twitch"
    assert event.channel == "pajlada"
    assert (event.user_id, event.login, event.display_name) == ("40286300", "randers", "randers")
    assert event.text == "Kappa hello"
    assert event.message_id == "d831d848"
    assert event.sent_at == datetime(2020, 7, 12, 12, 1, 15, 886000, tzinfo=UTC)
    assert event.roles == frozenset({"moderator", "subscriber"})
    assert [(e.id, e.start, e.end, e.name) for e in event.emotes] == [("25", 0, 4, "Kappa")]
    assert event.first_message is True
    assert event.color == "#19E6E6"
    assert event.raw_type == "PRIVMSG"


def test_chat_event_uses_now_when_tmi_sent_ts_is_absent() -> None:
    event = to_chat_event(
        parse_irc_line(":abc!abc@abc.tmi.twitch.tv PRIVMSG #xyz :HeyGuys"), now=NOW
    )
    assert isinstance(event, ChatEvent)
    assert event.sent_at == NOW
    assert event.display_name == "abc"


def test_founder_badge_counts_as_subscriber_and_broadcaster_vip_roles() -> None:
    line = "@badges=broadcaster/1,founder/0,vip/1 :a!a@a PRIVMSG #a :hi"
    event = to_chat_event(parse_irc_line(line), now=NOW)
    assert isinstance(event, ChatEvent)
    assert event.roles == frozenset({"broadcaster", "subscriber", "vip"})


def test_chat_event_bits_action_and_reply_parent() -> None:
    line = (
        "@bits=100;reply-parent-msg-id=p1;reply-parent-user-login=bob;"
        "reply-parent-msg-body=hi\\sthere :a!a@a PRIVMSG #c :\x01ACTION cheer100 yo\x01"
    )
    event = to_chat_event(parse_irc_line(line), now=NOW)
    assert isinstance(event, ChatEvent)
    assert event.bits == 100
    assert event.is_action and event.text == "cheer100 yo"
    assert event.reply_parent is not None
    assert (event.reply_parent.message_id, event.reply_parent.text) == ("p1", "hi there")


def test_chat_event_with_out_of_range_emote_does_not_crash() -> None:
    event = to_chat_event(parse_irc_line("@emotes=25:44-48 :a!a@a PRIVMSG #c :short"), now=NOW)
    assert isinstance(event, ChatEvent)
    assert event.emotes[0].name is None


def test_negative_timestamp_is_a_date_before_1970() -> None:
    line = "@login=s;target-msg-id=m;tmi-sent-ts=-6795364578871 :tmi.twitch.tv CLEARMSG #r :x"
    event = to_chat_event(parse_irc_line(line), now=NOW)
    assert isinstance(event, ModerationEvent)
    assert event.sent_at.year == 1754
    assert (event.action, event.target_message_id, event.target_login) == ("delete", "m", "s")


def test_absurd_timestamp_falls_back_to_now() -> None:
    line = "@tmi-sent-ts=99999999999999999999 :a!a@a PRIVMSG #c :x"
    event = to_chat_event(parse_irc_line(line), now=NOW)
    assert event is not None and event.sent_at == NOW


def test_sub_and_resub_become_subscription_events() -> None:
    event = to_chat_event(
        usernotice("resub", ";msg-param-cumulative-months=11;msg-param-sub-plan=Prime", "hey"),
    )
    assert isinstance(event, SubscriptionEvent)
    assert (event.tier, event.months, event.text) == ("Prime", 11, "hey")
    assert (event.login, event.user_id, event.raw_type) == ("gifter", "42", "USERNOTICE/resub")


def test_old_resub_without_cumulative_months_uses_months() -> None:
    event = to_chat_event(usernotice("resub", ";msg-param-months=34"))
    assert isinstance(event, SubscriptionEvent)
    assert event.months == 34


def test_subgift_becomes_gift_event_with_recipient() -> None:
    extra = ";msg-param-recipient-id=7;msg-param-recipient-user-name=dot;msg-param-sub-plan=1000"
    event = to_chat_event(usernotice("subgift", extra))
    assert isinstance(event, GiftEvent)
    assert (event.count, event.recipient_user_id, event.recipient_login) == (1, "7", "dot")
    assert event.tier == "1000" and not event.anonymous


def test_mystery_gifts_carry_the_count_and_anonymity() -> None:
    event = to_chat_event(usernotice("anonsubmysterygift", ";msg-param-mass-gift-count=15"))
    assert isinstance(event, GiftEvent)
    assert (event.count, event.anonymous) == (15, True)


def test_raid_becomes_raid_event_with_viewer_count() -> None:
    extra = ";msg-param-login=raider;msg-param-displayName=Raider;msg-param-viewerCount=9"
    event = to_chat_event(usernotice("raid", extra))
    assert isinstance(event, RaidEvent)
    assert (event.login, event.display_name, event.viewer_count) == ("raider", "Raider", 9)


@pytest.mark.parametrize("msg_id", ["announcement", "ritual", "bitsbadgetier", "unraid"])
def test_other_usernotices_become_notice_events(msg_id: str) -> None:
    event = to_chat_event(usernotice(msg_id))
    assert isinstance(event, NoticeEvent)
    assert event.kind == msg_id
    assert event.text == "something happened"  # system-msg when the user wrote nothing


def test_clearchat_becomes_moderation_event() -> None:
    line = "@ban-duration=1;target-user-id=9;tmi-sent-ts=1 :tmi.twitch.tv CLEARCHAT #c :u"
    event = to_chat_event(parse_irc_line(line))
    assert isinstance(event, ModerationEvent)
    assert (event.action, event.duration_seconds, event.target_login) == ("timeout", 1, "u")


@pytest.mark.parametrize(
    "line", ["PING :tmi.twitch.tv", ":tmi.twitch.tv ROOMSTATE #c", ":tmi.twitch.tv NOTICE * :x"]
)
def test_other_commands_give_no_event(line: str) -> None:
    assert to_chat_event(parse_irc_line(line)) is None


def test_privmsg_without_channel_is_a_twitch_error() -> None:
    with pytest.raises(TwitchMessageError):
        to_chat_event(parse_irc_line(":leppunen!a@b PRIVMSG"))


# ------------------------------------------------------------------------------------------
# Builders
# ------------------------------------------------------------------------------------------


def test_format_uses_trailing_only_when_needed() -> None:
    assert format_irc_line("JOIN", "#a") == "JOIN #a"
    assert format_irc_line("PRIVMSG", "#a", "hello world") == "PRIVMSG #a :hello world"
    assert format_irc_line("PRIVMSG", "#a", ":)") == "PRIVMSG #a ::)"
    assert format_irc_line("PRIVMSG", "#a", "") == "PRIVMSG #a :"


def test_format_escapes_tag_values() -> None:
    line = format_irc_line("PRIVMSG", "#a", "x", tags={"k": "a b;c\\d"})
    assert line == "@k=a\\sb\\:c\\\\d PRIVMSG #a x"
    assert format_irc_line("PRIVMSG", "#a", "x", force_trailing=True) == "PRIVMSG #a :x"


@pytest.mark.parametrize("bad", ["a\r\nQUIT", "a\nb", "a\rb", "a\x00b"])
def test_format_refuses_line_injection(bad: str) -> None:
    with pytest.raises(ValueError, match="injection"):
        format_irc_line("PRIVMSG", "#a", bad)
    with pytest.raises(ValueError):
        privmsg("a", bad)


@pytest.mark.parametrize(
    ("command", "params"),
    [("", ()), ("A B", ()), (":X", ()), ("X", ("a b", "c")), ("X", ("", "c"))],
)
def test_format_refuses_unwritable_commands_and_middle_params(
    command: str, params: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        format_irc_line(command, *params)


def test_privmsg_truncates_to_500_code_points_and_flags_it() -> None:
    out = privmsg("#Chan", "🙂" * 600)
    assert out.truncated
    assert out.text == "🙂" * MAX_MESSAGE_LENGTH
    assert out.line == "PRIVMSG #chan :" + "🙂" * 500
    assert not privmsg("chan", "short").truncated


def test_privmsg_reply_and_action() -> None:
    out = privmsg("chan", "hi", reply_to="abc-1", action=True)
    assert out.line == "@reply-parent-msg-id=abc-1 PRIVMSG #chan :\x01ACTION hi\x01"


def test_privmsg_refuses_empty_text_and_bad_channels() -> None:
    with pytest.raises(ValueError):
        privmsg("chan", "   ")
    with pytest.raises(ValueError):
        privmsg("a b", "x")


def test_login_and_keepalive_builders() -> None:
    assert cap_req() == "CAP REQ :twitch.tv/tags twitch.tv/commands"
    assert pass_("abc") == "PASS oauth:abc"
    assert pass_("oauth:abc") == "PASS oauth:abc"
    assert nick("MyBot") == "NICK mybot"
    assert join("#A", "b") == "JOIN #a,#b"
    assert part("a") == "PART #a"
    assert ping() == "PING :tmi.twitch.tv"
    assert pong("tmi.twitch.tv") == "PONG :tmi.twitch.tv"
    assert pong_for(parse_irc_line("PING :tmi.twitch.tv")) == "PONG :tmi.twitch.tv"
    assert pong_for(parse_irc_line("PING :two words")) == "PONG :two words"


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

# Text rich in what breaks IRC parsers: control characters and the grammar's own symbols.
IRC_ALPHABET = st.sampled_from([*"@:;=\\ !#/,-\r\n\x00\x01\t", "a", "1", "é", "🙂"])
irc_text = st.one_of(st.text(), st.text(IRC_ALPHABET, max_size=60))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(irc_text)
@example("@")
@example(":")
@example("@a=b\\")
@example("@emotes=25:0-99999999999999999999 :a!a@a PRIVMSG #c :x")
@example("@tmi-sent-ts=-99999999999999999999 :a!a@a PRIVMSG #c :x")
@example("@msg-id=raid;msg-param-viewerCount=x :t USERNOTICE #c")
@example(":t HOSTTARGET #c :a b")
def test_fuzz_only_documented_errors_escape(line: str) -> None:
    try:
        msg = parse_irc_line(line)
    except IrcParseError:
        return
    assert isinstance(msg, IrcMessage)
    for command in (msg.command, "PRIVMSG", "USERNOTICE", "CLEARCHAT", "CLEARMSG", "HOSTTARGET"):
        variant = attrs.evolve(msg, command=command)
        try:
            twitch_fields(variant)
        except TwitchMessageError:
            pass
        try:
            to_chat_event(variant, now=NOW)
        except TwitchMessageError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.text(IRC_ALPHABET, max_size=40).map(lambda s: f"@{s} PRIVMSG #c :x"))
def test_fuzz_tag_sections_never_crash(line: str) -> None:
    msg = parse_irc_line(line)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in msg.tags.items())


words = st.text(
    st.characters(exclude_characters=" \r\n\x00", exclude_categories=["Cs"]), min_size=1
).filter(lambda w: not w.startswith(":"))
tag_keys = st.text(
    st.characters(exclude_characters=" =;\r\n\x00\\", exclude_categories=["Cs"]), min_size=1
)
tag_values = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))


@settings(max_examples=400, deadline=None)
@given(
    command=words.filter(lambda w: not w.startswith("@")),
    middle=st.lists(words, max_size=5),
    last=st.one_of(st.none(), st.text(st.characters(exclude_characters="\r\n\x00"))),
    tags=st.dictionaries(tag_keys, tag_values, max_size=5),
    force_trailing=st.booleans(),
)
def test_format_then_parse_round_trips(
    command: str, middle: list[str], last: str | None, tags: dict[str, str], force_trailing: bool
) -> None:
    params = [*middle, *([] if last is None else [last])]
    line = format_irc_line(command, *params, tags=tags, force_trailing=force_trailing)
    msg = parse_irc_line(line)
    assert msg.command == command
    assert msg.params == params
    assert msg.tags == tags
    assert msg.prefix is None


# ------------------------------------------------------------------------------------------
# PRIVMSG -> ChatEvent: agrees with the Twitch-level view of the same line
# ------------------------------------------------------------------------------------------

CORPUS = Path(__file__).parents[3] / "conformance" / "data" / "twitch_irc.jsonl"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _assert_agrees_with_twitch_fields(msg: IrcMessage, now: datetime) -> None:
    """`to_chat_event(msg)` carries exactly what `twitch_fields(msg)` reads from the line, or
    refuses a line without a channel or a text."""
    fields = twitch_fields(attrs.evolve(msg, command="PRIVMSG"))
    if not fields["channel"] or fields["text"] is None:
        with pytest.raises(TwitchMessageError, match="without a"):
            to_chat_event(msg, now=now)
        return
    event = to_chat_event(msg, now=now)
    assert isinstance(event, ChatEvent)
    login = fields["login"] or ""
    timestamp = fields["timestamp_ms"]
    assert event.platform == "twitch" and event.raw_type == "PRIVMSG"
    assert event.channel == fields["channel"]
    assert event.message_id == fields["message_id"]
    try:
        sent_at = now if timestamp is None else EPOCH + timedelta(milliseconds=timestamp)
    except OverflowError:  # a nonsense timestamp: the receive time instead
        sent_at = now
    assert event.sent_at == sent_at
    assert event.sent_at.utcoffset() == timedelta(0)
    assert event.user_id == (fields["user_id"] or "")
    assert event.login == login
    assert event.display_name == (fields["display_name"] or login)
    assert event.text == fields["text"]
    assert event.is_action == fields["is_action"]
    assert event.roles == frozenset(fields["roles"])
    assert [(e.id, e.start, e.end, e.name) for e in event.emotes] == [
        (e["id"], e["start"], e["end"], e["code"] or None) for e in fields["emotes"] or ()
    ]
    assert event.bits == (fields["bits"] or 0)
    parent = fields["reply_parent"]
    assert event.reply_parent == (ReplyParent(**parent) if parent is not None else None)
    assert event.first_message == bool(fields["first_msg"])
    assert event.color == fields["color"]


def _corpus_privmsgs() -> list[IrcMessage]:
    found = []
    for row in CORPUS.read_text("utf-8").splitlines():
        try:
            msg = parse_irc_line(json.loads(row)["raw"])
        except IrcParseError:
            continue
        if msg.command.upper() == "PRIVMSG":
            found.append(msg)
    return found


def test_corpus_privmsgs_become_chat_events_agreeing_with_twitch_fields() -> None:
    messages = _corpus_privmsgs()
    assert len(messages) >= 20
    for msg in messages:
        _assert_agrees_with_twitch_fields(msg, NOW)


def test_chat_event_timestamps_are_the_epoch_plus_the_milliseconds() -> None:
    for ms in (0, 1, 999, 1000, 1594555275886, 951782399999, 951868800000, 253402300799999):
        event = to_chat_event(parse_irc_line(f"@tmi-sent-ts={ms} :a!a@a PRIVMSG #c :x"))
        assert event is not None
        assert event.sent_at == EPOCH + timedelta(milliseconds=ms)
        assert repr(event.sent_at) == repr(EPOCH + timedelta(milliseconds=ms))


def test_chat_event_roles_follow_every_role_tag() -> None:
    def roles(tags: str) -> frozenset[str]:
        event = to_chat_event(parse_irc_line(f"@{tags} :a!a@a PRIVMSG #c :x"), now=NOW)
        assert isinstance(event, ChatEvent)
        return event.roles

    assert roles("badges=subscriber/1") == {"subscriber"}
    assert roles("badges=subscriber/1;mod=1") == {"subscriber", "moderator"}
    assert roles("badges=subscriber/1;vip=1") == {"subscriber", "vip"}
    assert roles("badges=;subscriber=1") == {"subscriber"}
    assert roles("badges=") == frozenset()


def test_chat_event_with_naive_now_is_refused() -> None:
    msg = parse_irc_line(":a!a@a PRIVMSG #c :x")
    with pytest.raises(ValueError, match="aware"):
        to_chat_event(msg, now=datetime(2026, 1, 1))


def _maybe(values: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), values)


def _either(
    good: st.SearchStrategy[_T], odd: st.SearchStrategy[_T]
) -> tuple[st.SearchStrategy[_T], st.SearchStrategy[_T]]:
    """What a well-formed line holds, and what any line may hold."""
    return good, st.one_of(good, odd)


digits = st.text(st.sampled_from("0123456789"), min_size=0, max_size=20)
numberish = st.one_of(
    digits, digits.map(lambda d: f"-{d}"), st.sampled_from(["٣", "1_0", " 1", "+1", "0x1"])
)
timestamps = _either(st.integers(0, 253402300799999).map(str), numberish)
badge_names = st.sampled_from(
    ["broadcaster", "moderator", "vip", "subscriber", "founder", "premium", "", "partner"]
)
badge_list = st.lists(
    st.tuples(badge_names, st.sampled_from(["", "/0", "/1", "/3012"])).map("".join), max_size=4
).map(",".join)
small = st.integers(0, 40).map(str)
good_emote = st.tuples(
    st.sampled_from(["25", "1902", "emotesv2_abc"]),
    st.lists(st.tuples(small, small).map("-".join), min_size=1, max_size=3).map(",".join),
).map(":".join)
odd_emote = st.tuples(
    st.sampled_from(["25", "emotesv2_a/b", "1902", "x:y", ""]),
    st.lists(st.tuples(digits, st.sampled_from(["-", "", "--"]), digits), min_size=1, max_size=3),
).map(lambda e: e[0] + ":" + ",".join(a + dash + b for a, dash, b in e[1]))
emotes_tag = _either(
    st.lists(good_emote, max_size=3).map("/".join),
    st.one_of(st.lists(odd_emote, max_size=3).map("/".join), st.text(IRC_ALPHABET, max_size=20)),
)
flag = st.sampled_from(["0", "1", "", "x"])


@st.composite
def privmsgs(draw: st.DrawFn, *, wellformed: bool) -> IrcMessage:
    """PRIVMSGs as Twitch sends them (`wellformed`), or holding anything odd."""
    pick = 0 if wellformed else 1
    candidates: dict[str, str | None] = {
        "tmi-sent-ts": draw(_maybe(timestamps[pick])),
        "bits": draw(_maybe(_either(small, numberish)[pick])),
        "emotes": draw(_maybe(emotes_tag[pick])),
        "badges": draw(_maybe(_either(badge_list, st.text(IRC_ALPHABET, max_size=10))[pick])),
        "mod": draw(_maybe(flag)),
        "vip": draw(_maybe(flag)),
        "subscriber": draw(_maybe(flag)),
        "first-msg": draw(_maybe(flag)),
        "display-name": draw(_maybe(st.sampled_from(["", "Ab", "日本"]))),
        "user-id": draw(_maybe(st.sampled_from(["", "42"]))),
        "id": draw(_maybe(st.sampled_from(["", "abc"]))),
        "color": draw(_maybe(st.sampled_from(["", "#FF0000"]))),
        "reply-parent-msg-id": draw(_maybe(st.sampled_from(["", "p1"]))),
        "reply-parent-user-login": draw(_maybe(st.sampled_from(["", "bob"]))),
        "reply-parent-msg-body": draw(_maybe(st.sampled_from(["", "hi there"]))),
    }
    tags = {key: value for key, value in candidates.items() if value is not None}
    prefix = draw(st.sampled_from([None, "a!a@a", "a@host", "tmi.twitch.tv", "!x@y", ""]))
    text = draw(irc_text)
    if draw(st.booleans()):
        text = f"\x01ACTION {text}\x01"
    channel = draw(_either(st.just("#c"), st.sampled_from(["c", "*", "#", "", "#日本"]))[pick])
    params = draw(
        _either(
            st.just([channel, text]),
            st.sampled_from([[], [channel], [channel, "extra", text]]),
        )[pick]
    )
    return IrcMessage(tags=tags, prefix=prefix, command="PRIVMSG", params=params)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(privmsgs(wellformed=True), st.sampled_from([None, NOW]))
def test_fuzz_wellformed_privmsgs_become_chat_events(msg: IrcMessage, now: datetime | None) -> None:
    event = to_chat_event(msg, now=now)
    assert isinstance(event, ChatEvent)
    if now is not None:
        _assert_agrees_with_twitch_fields(msg, now)


NAIVE = datetime(2026, 1, 1)  # the constructor must refuse it


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(privmsgs(wellformed=False), st.sampled_from([None, NOW, NAIVE]))
def test_fuzz_odd_privmsgs_give_a_chat_event_or_a_value_error(
    msg: IrcMessage, now: datetime | None
) -> None:
    try:
        event = to_chat_event(msg, now=now)
    except ValueError:  # TwitchMessageError, or the constructor refusing a naive `now`
        return
    assert isinstance(event, ChatEvent)
    if now is NOW:
        _assert_agrees_with_twitch_fields(msg, now)


@pytest.mark.parametrize("tag", ["bits", "ban-duration"])
def test_a_5000_digit_number_tag_raises_only_the_message_error(tag: str) -> None:
    command = "PRIVMSG #c :hi" if tag == "bits" else "CLEARCHAT #c :a"
    line = (
        f"@room-id=1;target-user-id=2;user-id=2;id=x;tmi-sent-ts=1;{tag}={'9' * 5000} "
        f":a!a@a.tmi.twitch.tv {command}"
    )
    with pytest.raises(TwitchMessageError):
        to_chat_event(parse_irc_line(line))
