"""Argument parsing into action descriptors (`actors.triggers.actions.build_action`)."""

from __future__ import annotations

import pytest

from actors.triggers import (
    ArgumentError,
    ClipRequest,
    PollClose,
    PollOpen,
    PollVote,
    Reply,
    ScoreAdd,
    TallyChange,
    build_action,
)


def build(rules, event, trigger, text, **event_fields):
    compiled = rules([trigger])
    (match,) = compiled.match(event(text, **event_fields))
    return build_action(match, event(text, **event_fields), "daniel")


def error_of(rules, event, trigger, text) -> str:
    with pytest.raises(ArgumentError) as caught:
        build(rules, event, trigger, text)
    return caught.value.message


def test_every_descriptor_carries_the_message_identity(rules, event, trig):
    action = build(
        rules,
        event,
        trig("ping", "!ping", response="pong, {user}!"),
        "!ping a b",
        platform="kick",
        channel="chan-7",
        message_id="msg-9",
        user_id="42",
        login="sam",
        display_name="Sam",
    )

    assert action == Reply(
        trigger_id="ping",
        creator_id="daniel",
        platform="kick",
        channel="chan-7",
        message_id="msg-9",
        user_id="42",
        login="sam",
        display_name="Sam",
        args=("a", "b"),
        raw_args="a b",
        response="pong, {user}!",
        template="pong, {user}!",
    )


def test_poll_question_and_options_from_the_message(rules, event, trig):
    action = build(
        rules,
        event,
        trig("poll", "!poll", action="poll_open", duration=120),
        "!poll Next boon? | Zeus |Artemis| Ares ",
    )

    assert isinstance(action, PollOpen)
    assert action.question == "Next boon?"
    assert action.options == ("Zeus", "Artemis", "Ares")
    assert action.duration == 120


def test_poll_configured_question_and_options_ignore_the_message(rules, event, trig):
    poll = trig("poll", "!poll", action="poll_open", question="Best god?", options=("Zeus", "Ares"))

    action = build(rules, event, poll, "!poll whatever | x")

    assert (action.question, action.options, action.duration) == (
        "Best god?",
        ("Zeus", "Ares"),
        None,
    )


def test_poll_configured_question_takes_options_from_the_message(rules, event, trig):
    poll = trig("poll", "!poll", action="poll_open", question="Best god?")

    assert build(rules, event, poll, "!poll Zeus | Ares").options == ("Zeus", "Ares")


def test_poll_configured_options_take_the_question_from_the_message(rules, event, trig):
    poll = trig("poll", "!poll", action="poll_open", options=("Yes", "No"))

    action = build(rules, event, poll, "!poll Hades II next?")

    assert (action.question, action.options) == ("Hades II next?", ("Yes", "No"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!poll", "A poll needs a question. Usage: !poll Question | Option 1 | Option 2"),
        ("!poll  | A | B", "A poll needs a question. Usage: !poll Question | Option 1 | Option 2"),
        (
            "!poll Question without options",
            "A poll needs 2 to 10 options, got 0. Usage: !poll Question | Option 1 | Option 2",
        ),
        (
            "!poll Q | only one",
            "A poll needs 2 to 10 options, got 1. Usage: !poll Question | Option 1 | Option 2",
        ),
        (
            "!poll Q | " + " | ".join(str(n) for n in range(11)),
            "A poll needs 2 to 10 options, got 11. Usage: !poll Question | Option 1 | Option 2",
        ),
        ("!poll Q | A | | B", "Option 2 is empty. Usage: !poll Question | Option 1 | Option 2"),
        ("!poll Q | Zeus | zeus", "Option 2 repeats an earlier option."),
        ("!poll " + "q" * 201 + " | A | B", "The question is too long (at most 200 characters)."),
        ("!poll Q | A | " + "b" * 101, "Option 2 is too long (at most 100 characters)."),
    ],
)
def test_poll_argument_errors_are_user_facing(rules, event, trig, text, message):
    assert error_of(rules, event, trig("poll", "!poll", action="poll_open"), text) == message


def test_poll_with_ten_options_is_accepted(rules, event, trig):
    text = "!poll Q | " + " | ".join(f"o{n}" for n in range(10))

    assert len(build(rules, event, trig("poll", "!poll", action="poll_open"), text).options) == 10


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("!vote 2", "2"),
        ("!vote 02", "2"),
        ("!vote #3", "3"),
        ("!vote 1 because zeus", "1"),
        ("!vote Artemis", "Artemis"),
        ("!vote  the big one ", "the big one"),
    ],
)
def test_vote_parsing(rules, event, trig, text, option):
    action = build(rules, event, trig("vote", "!vote", action="poll_vote"), text)

    assert isinstance(action, PollVote)
    assert action.option == option


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!vote", "Which option? Usage: !vote <number>"),
        ("!vote 99999", "There is no such option."),
        ("!vote " + "x" * 101, "There is no such option."),
    ],
)
def test_vote_errors(rules, event, trig, text, message):
    assert error_of(rules, event, trig("vote", "!vote", action="poll_vote"), text) == message


def test_poll_close_ignores_arguments(rules, event, trig):
    action = build(rules, event, trig("end", "!endpoll", action="poll_close"), "!endpoll now")

    assert isinstance(action, PollClose)


@pytest.mark.parametrize(
    ("action", "amount", "expected"),
    [
        ("tally_increment", None, ("increment", 1)),
        ("tally_increment", 3, ("increment", 3)),
        ("tally_decrement", None, ("decrement", 1)),
        ("tally_reset", None, ("reset", 0)),
    ],
)
def test_tally_changes_ignore_chat_arguments(rules, event, trig, action, amount, expected):
    fields = {"amount": amount} if amount is not None else {}
    tally = trig("t", "!t", action=action, tally="deaths", **fields)

    change = build(rules, event, tally, "!t that one was a disconnect, doesn't count")

    assert isinstance(change, TallyChange)
    assert (change.tally_id, change.op, change.amount) == ("deaths", *expected)


def test_score_goes_to_the_first_argument(rules, event, trig):
    point = trig("point", "!point", action="score_add", scoreboard="trivia", points=1)

    action = build(rules, event, point, "!point @PixelPanda, nice")

    assert isinstance(action, ScoreAdd)
    assert (action.scoreboard_id, action.label, action.points) == ("trivia", "PixelPanda", 1)


def test_score_points_from_the_arguments_only_when_the_trigger_sets_none(rules, event, trig):
    free = trig("give", "!give", action="score_add", scoreboard="trivia")
    fixed = trig("point", "!point", action="score_add", scoreboard="trivia", points=2)

    assert build(rules, event, free, "!give @sam 5").points == 5
    assert build(rules, event, free, "!give @sam -3").points == -3
    assert build(rules, event, free, "!give @sam lots").points == 1
    assert build(rules, event, free, "!give @sam 99999999").points == 1
    assert build(rules, event, fixed, "!point @sam 50").points == 2


def test_score_command_without_target_is_an_error(rules, event, trig):
    point = trig("point", "!point", action="score_add", scoreboard="trivia")

    assert error_of(rules, event, point, "!point") == "Who gets the points? Usage: !point @user"
    assert error_of(rules, event, point, "!point @") == "Who gets the points? Usage: !point @user"


def test_score_from_a_keyword_goes_to_the_chatter(rules, event, trig):
    kw = trig("here", "present", kind="keyword", action="score_add", scoreboard="attendance")

    action = build(rules, event, kw, "present!", display_name="QuietFern")

    assert (action.label, action.points) == ("QuietFern", 1)


def test_clip_duration_and_title(rules, event, trig):
    clip = trig("clip", "!clip", action="clip", duration=45)

    action = build(rules, event, clip, "!clip what a dash\r\n")
    assert isinstance(action, ClipRequest)
    assert (action.duration_seconds, action.title) == (45, "what a dash")
    default = build(rules, event, trig("c", "!c", action="clip"), "!c")
    assert (default.duration_seconds, default.title) == (30.0, None)
