"""Matching: which triggers a message fires, with which arguments (`actors.triggers.rules`)."""

from __future__ import annotations

import pytest

from actors.events import ReplyParent


def ids(matches):
    return [m.trigger.id for m in matches]


def test_command_with_alias_and_args(event, rules, trig):
    compiled = rules([trig("discord", "!discord", aliases=("!socials", "!dc"))])

    (hit,) = compiled.match(event("!socials  now   please "))

    assert hit.trigger.id == "discord"
    assert hit.args == ("now", "please")
    assert hit.raw_args == "now   please"
    assert hit.alias == "!socials"
    assert ids(compiled.match(event("!dc"))) == ["discord"]
    assert compiled.match(event("!dc"))[0].args == ()
    assert compiled.match(event("!dc"))[0].raw_args == ""


def test_command_is_the_first_word_only(event, rules, trig):
    compiled = rules([trig("ping", "!ping")])

    assert ids(compiled.match(event("  !ping"))) == ["ping"]
    assert compiled.match(event("say !ping")) == []
    assert compiled.match(event("!pingpong")) == []
    assert compiled.match(event("")) == []
    assert compiled.match(event("   ")) == []


def test_command_is_case_insensitive_by_default(event, rules, trig):
    compiled = rules([trig("ping", "!Ping", aliases=("!PONG",))])

    assert ids(compiled.match(event("!PING"))) == ["ping"]
    assert ids(compiled.match(event("!ping"))) == ["ping"]
    assert ids(compiled.match(event("!pong"))) == ["ping"]


def test_case_sensitive_command_matches_exact_case_only(event, rules, trig):
    compiled = rules([trig("ping", "!Ping", case_sensitive=True)])

    assert ids(compiled.match(event("!Ping x"))) == ["ping"]
    assert compiled.match(event("!ping")) == []
    assert compiled.match(event("!PING")) == []


def test_twitch_reply_mention_before_a_command_is_skipped(event, rules, trig):
    compiled = rules([trig("ping", "!ping")])
    parent = ReplyParent(message_id="p-1", login="someone")

    (hit,) = compiled.match(event("@someone !ping hi", reply_parent=parent))

    assert hit.args == ("hi",)
    # Without a reply parent, "@someone" is just the first word.
    assert compiled.match(event("@someone !ping")) == []


def test_invisible_duplicate_bypass_characters_are_dropped_from_commands(event, rules, trig):
    compiled = rules([trig("vote", "!vote", action="poll_vote")])

    (hit,) = compiled.match(event("!vote 2 \U000e0000"))
    assert hit.args == ("2",)
    (hit,) = compiled.match(event("!vote\u200b 3"))
    assert hit.args == ("3",)


def test_keyword_matches_whole_words_case_insensitively(event, rules, trig):
    compiled = rules([trig("gg", "gg", kind="keyword")])

    for text in ("gg", "GG wp", "that was gg!", "well... Gg"):
        assert ids(compiled.match(event(text))) == ["gg"], text
    for text in ("eggs", "ggwp", "g g", "nothing here"):
        assert compiled.match(event(text)) == [], text


def test_keyword_aliases_and_non_word_edges(event, rules, trig):
    compiled = rules([trig("salute", "o7", kind="keyword", aliases=(":salute:", "good game"))])

    assert ids(compiled.match(event("o7 streamer"))) == ["salute"]
    assert ids(compiled.match(event("hi :salute:"))) == ["salute"]
    assert ids(compiled.match(event("GOOD GAME everyone"))) == ["salute"]
    assert compiled.match(event("good gamer")) == []


def test_case_sensitive_keyword(event, rules, trig):
    compiled = rules([trig("kappa", "Kappa", kind="keyword", case_sensitive=True)])

    assert ids(compiled.match(event("lol Kappa"))) == ["kappa"]
    assert compiled.match(event("lol kappa")) == []


def test_regex_search_with_groups(event, rules, trig):
    compiled = rules([trig("greet", r"\b(hello|hi|hey)\s+(?P<who>chat|everyone)\b", kind="regex")])

    (hit,) = compiled.match(event("well HEY Everyone!"))

    assert hit.groups == ("HEY", "Everyone")
    assert hit.named == {"who": "Everyone"}
    assert hit.args == ("HEY", "Everyone")
    assert hit.raw_args == "HEY Everyone"
    assert compiled.match(event("hello daniel")) == []


def test_regex_group_that_did_not_participate(event, rules, trig):
    compiled = rules([trig("num", r"!roll(?:\s+(\d+))?", kind="regex")])

    (hit,) = compiled.match(event("!roll"))

    assert hit.groups == (None,)
    assert hit.args == ("",)


def test_case_sensitive_regex(event, rules, trig):
    compiled = rules([trig("caps", r"\bLUL\b", kind="regex", case_sensitive=True)])

    assert ids(compiled.match(event("LUL"))) == ["caps"]
    assert compiled.match(event("lul")) == []


def test_matches_come_in_configuration_order(event, rules, trig):
    compiled = rules(
        [
            trig("rx", r"gg", kind="regex"),
            trig("cmd", "!gg"),
            trig("kw", "gg", kind="keyword"),
            trig("cmd2", "!GG"),
        ]
    )

    assert ids(compiled.match(event("!gg gg"))) == ["rx", "cmd", "kw", "cmd2"]


def test_disabled_triggers_never_match(event, rules, trig):
    compiled = rules([trig("ping", "!ping", enabled=False), trig("gg", "gg", kind="keyword")])

    assert compiled.match(event("!ping")) == []
    assert [t.id for t in compiled.triggers] == ["gg"]


@pytest.mark.parametrize("login", ["streamsuites_bot", "StreamSuites_Bot"])
def test_messages_from_the_bot_itself_match_nothing(event, rules, trig, login):
    compiled = rules([trig("ping", "!ping")], self_logins={"StreamSuites_bot"})

    assert compiled.match(event("!ping", login=login)) == []
    assert compiled.is_self(event("!ping", login=login))
    assert ids(compiled.match(event("!ping"))) == ["ping"]
