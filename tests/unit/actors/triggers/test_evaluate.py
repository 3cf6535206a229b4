"""One message in, an `Evaluation` out (`actors.triggers.evaluate`), incl. the example config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.events import ROLES, ChatEvent
from actors.triggers import (
    Blocked,
    CooldownTable,
    ErrorReply,
    Evaluation,
    PollClose,
    PollOpen,
    PollVote,
    Reply,
    ScoreAdd,
    TallyChange,
    TriggerRules,
    evaluate,
)
from actors.triggers.features import FEATURE_ACTIONS
from config.chatlog import is_skippable, parse_chatlog_line
from config.loading import load_config

ROOT = Path(__file__).resolve().parents[4]
T0 = 1_700_000_000.0


def test_fired_trigger_gives_its_action_and_starts_its_cooldowns(rules, event, trig):
    compiled = rules([trig("ping", "!ping", response="pong, {user}!", cooldown_user=5)])
    table = CooldownTable()

    first = evaluate(compiled, table, event("!ping"), now=T0)
    again = evaluate(compiled, table, event("!ping"), now=T0 + 2)
    later = evaluate(compiled, table, event("!ping"), now=T0 + 5)

    assert [type(a) for a in first.actions] == [Reply]
    assert first.cooldowns_started == {"user:ping:1001": T0 + 5}
    assert again.actions == ()
    assert again.blocked == (
        Blocked(trigger_id="ping", reason="cooldown", scope="user", remaining=3.0),
    )
    assert again.cooldowns_started == {}
    assert len(later.actions) == 1


def test_permission_blocks_without_starting_cooldowns(rules, event, trig):
    compiled = rules(
        [
            trig(
                "death",
                "!death",
                permission="moderator",
                cooldown_trigger=5,
                action="tally_increment",
                tally="deaths",
            )
        ]
    )
    table = CooldownTable()

    viewer = evaluate(compiled, table, event("!death"), now=T0)
    mod = evaluate(compiled, table, event("!death", roles={"moderator"}), now=T0)

    assert viewer.blocked == (Blocked(trigger_id="death", reason="permission"),)
    assert viewer.actions == ()
    assert [type(a) for a in mod.actions] == [TallyChange]


def test_argument_error_becomes_an_error_reply_and_starts_no_cooldown(rules, event, trig):
    compiled = rules([trig("poll", "!poll", action="poll_open", cooldown_trigger=60)])
    table = CooldownTable()

    bad = evaluate(compiled, table, event("!poll only a question", message_id="m-7"), now=T0)
    good = evaluate(compiled, table, event("!poll Q | A | B"), now=T0 + 1)

    (error,) = bad.errors
    assert isinstance(error, ErrorReply)
    assert (error.trigger_id, error.message_id, error.channel) == ("poll", "m-7", "daniel")
    assert error.text.startswith("A poll needs 2 to 10 options, got 0.")
    assert bad.actions == () and bad.cooldowns_started == {}
    assert [type(a) for a in good.actions] == [PollOpen]


def test_global_cooldown_of_an_earlier_trigger_blocks_a_later_one_in_the_same_message(
    rules, event, trig
):
    compiled = rules(
        [
            trig("a", "gg", kind="keyword", cooldown_global=10),
            trig("b", r"\bgg\b", kind="regex", cooldown_global=10),
        ]
    )

    result = evaluate(compiled, CooldownTable(), event("gg"), now=T0)

    assert [a.trigger_id for a in result.actions] == ["a"]
    assert result.blocked == (
        Blocked(trigger_id="b", reason="cooldown", scope="global", remaining=10.0),
    )


def test_actions_come_in_trigger_order(rules, event, trig):
    compiled = rules(
        [
            trig("kw", "boon", kind="keyword"),
            trig("poll", "!poll", action="poll_open"),
            trig("rx", r"zeus", kind="regex"),
        ]
    )

    result = evaluate(compiled, CooldownTable(), event("!poll Best boon? | Zeus | Ares"), now=T0)

    assert [a.trigger_id for a in result.actions] == ["kw", "poll", "rx"]


def test_messages_from_the_bot_itself_are_ignored(rules, event, trig):
    compiled = rules(
        [trig("ping", "!ping", response="!ping"), trig("gg", "gg", kind="keyword")],
        self_logins={"streamsuites_bot"},
    )
    table = CooldownTable()

    result = evaluate(compiled, table, event("!ping gg", login="StreamSuites_Bot"), now=T0)

    assert result.ignored
    assert (result.actions, result.blocked, result.errors) == ((), (), ())
    assert not evaluate(compiled, table, event("!ping gg"), now=T0).ignored


def test_nothing_matched_is_the_empty_evaluation(rules, event, trig):
    result = evaluate(rules([trig("ping", "!ping")]), CooldownTable(), event("hello"), now=T0)

    assert (result.actions, result.blocked, result.errors, result.ignored) == ((), (), (), False)


# --- the example configuration against the example chat log ------------------------------------


def _summary(action) -> tuple:
    if isinstance(action, Reply):
        return ("reply", action.trigger_id)
    if isinstance(action, TallyChange):
        return ("tally", action.tally_id, action.op, action.amount)
    if isinstance(action, PollOpen):
        return ("poll_open", action.question, action.options)
    if isinstance(action, PollVote):
        return ("vote", action.option)
    if isinstance(action, PollClose):
        return ("poll_close",)
    if isinstance(action, ScoreAdd):
        return ("score", action.scoreboard_id, action.label, action.points)
    if isinstance(action, FEATURE_ACTIONS):  # points, quotes, giveaways
        return ("feature", action.trigger_id)
    raise AssertionError(action)


EXPECTED = {
    "rp-0001": [("reply", "greeting")],
    "rp-0003": [("reply", "greeting")],
    "rp-0004": [("reply", "ping")],
    "rp-0008": [("reply", "discord")],
    "rp-0015": [("tally", "deaths", "increment", 1)],
    "rp-0017": [("tally", "gg", "increment", 1)],
    "rp-0018": [("tally", "gg", "increment", 1)],
    "rp-0019": [("tally", "gg", "increment", 1)],
    "rp-0021": [("poll_open", "Next boon?", ("Zeus", "Artemis", "Ares"))],
    "rp-0022": [("vote", "2")],
    "rp-0023": [("vote", "1")],
    "rp-0024": [("vote", "2")],
    "rp-0025": [("vote", "3")],
    "rp-0026": [("vote", "2")],
    "rp-0027": [("vote", "1")],
    "rp-0028": [("vote", "2")],
    "rp-0029": [("vote", "3")],
    "rp-0030": [("vote", "1")],
    "rp-0031": [("vote", "2")],
    "rp-0033": [("poll_close",)],
    "rp-0035": [("reply", "ping")],
    "rp-0040": [("score", "trivia", "PixelPanda", 1)],
    "rp-0043": [("score", "trivia", "Speedy_Sam", 1)],
    "rp-0047": [("score", "trivia", "QuietFern", 1)],
    "rp-0050": [("tally", "deaths", "increment", 1)],
    "rp-0051": [("tally", "gg", "increment", 1)],
    "rp-0053": [("reply", "greeting")],
    "rp-0054": [("tally", "deaths", "decrement", 1)],
    "rp-0056": [("reply", "ping")],
    "rp-0057": [("tally", "gg", "increment", 1)],
    "rp-0059": [("tally", "gg", "increment", 1)],
    "rp-0061": [("feature", "quote-add")],
    "rp-0062": [("feature", "points")],
    "rp-0064": [("feature", "quote-show")],
    "rp-0065": [("feature", "giveaway-open")],
    "rp-0066": [("feature", "giveaway-join")],
    "rp-0067": [("feature", "giveaway-join")],
    "rp-0068": [("feature", "giveaway-join")],
    "rp-0069": [("feature", "giveaway-join")],
    "rp-0071": [("feature", "give")],
    "rp-0072": [("feature", "giveaway-join")],
    "rp-0073": [("reply", "hydrate")],
    "rp-0074": [("feature", "giveaway-draw")],
    "rp-0075": [("feature", "giveaway-close")],
    "rp-0078": [("feature", "top")],
    "rp-0080": [("feature", "addpoints")],
}
EXPECTED_BLOCKED = {
    # "hey everyone" 5.4 s after the first greeting: the greeting's 10 s trigger cooldown.
    "rp-0002": [("greeting", "cooldown", "trigger")],
    # !socials is an alias of !discord, 21.3 s into its 30 s trigger cooldown.
    "rp-0012": [("discord", "cooldown", "trigger")],
    # !quote 1 from a viewer: the moderators' sub-commands sharing !quote are not theirs.
    "rp-0064": [("quote-add", "permission", None), ("quote-delete", "permission", None)],
}


@pytest.fixture(scope="module")
def example_run() -> list[tuple[ChatEvent, Evaluation]]:
    config = load_config(ROOT / "config" / "example.toml")
    compiled = TriggerRules.from_config(config.creator("daniel"), self_logins={"streamsuites"})
    table = CooldownTable()
    results = []
    lines = (ROOT / "config" / "example_chat.jsonl").read_text("utf-8").splitlines()
    for line in lines:
        if is_skippable(line):
            continue
        chat = ChatEvent(**parse_chatlog_line(line))
        results.append((chat, evaluate(compiled, table, chat, now=chat.sent_at.timestamp())))
    return results


def test_example_config_fires_the_expected_actions_on_the_example_chat(example_run):
    fired = {
        chat.message_id: [_summary(a) for a in result.actions]
        for chat, result in example_run
        if result.actions
    }

    assert fired == EXPECTED


def test_example_config_blocks_the_expected_messages(example_run):
    blocked = {
        chat.message_id: [(b.trigger_id, b.reason, b.scope) for b in result.blocked]
        for chat, result in example_run
        if result.blocked
    }

    assert blocked == EXPECTED_BLOCKED
    assert not any(result.errors for _chat, result in example_run)


def test_example_actions_carry_the_chatter_identity(example_run):
    chat, result = next((c, r) for c, r in example_run if c.message_id == "rp-0040")
    (action,) = result.actions

    assert (action.creator_id, action.platform, action.channel) == ("daniel", "replay", "daniel")
    assert (action.user_id, action.login, action.display_name) == (
        "40100002",
        "modkate",
        "ModKate",
    )
    assert action.message_id == chat.message_id
    assert action.response == "{target} now has {score} points."


# --- properties ----------------------------------------------------------------------------------


def _fuzz_rules(rules, trig) -> TriggerRules:
    return rules(
        [
            trig("ping", "!ping", response="pong {user} {arg1}", cooldown_user=5),
            trig("poll", "!poll", action="poll_open", permission="moderator"),
            trig("vote", "!vote", action="poll_vote"),
            trig("end", "!endpoll", action="poll_close", permission="vip"),
            trig("point", "!point", action="score_add", scoreboard="trivia"),
            trig("clip", "!clip", action="clip", cooldown_global=30),
            trig("gg", "gg", kind="keyword", action="tally_increment", tally="gg"),
            trig("greet", r"\b(hi|hey)\s+(chat)?", kind="regex", cooldown_trigger=10),
            trig(
                "score", r"(?P<who>\w+) wins", kind="regex", action="score_add", scoreboard="trivia"
            ),
        ],
        self_logins={"bot"},
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda cmd, rest: f"{cmd}{rest}",
            st.sampled_from(["!ping", "!poll", "!vote", "!endpoll", "!point", "!clip", "@x "]),
            st.text(max_size=200),
        ),
    ),
    roles=st.frozensets(st.sampled_from(sorted(ROLES))),
    login=st.sampled_from(["viewer", "bot", "BOT", ""]),
    now=st.floats(min_value=0, max_value=2e9, allow_nan=False),
)
def test_evaluate_never_raises_on_arbitrary_text_and_roles(
    rules, event, trig, text, roles, login, now
):
    compiled = _fuzz_rules(rules, trig)
    table = CooldownTable()

    for step in range(2):
        result = evaluate(compiled, table, event(text, roles=roles, login=login), now=now + step)

        for action in result.actions:
            assert action.creator_id == "daniel"
            if isinstance(action, PollOpen):
                assert 2 <= len(action.options) <= 10
        for error in result.errors:
            assert "\n" not in error.text and "\r" not in error.text
