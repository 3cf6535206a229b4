"""Reply templates (`actors.triggers.templates.render`): fields, safety, length."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.triggers import (
    MAX_REPLY_LENGTH,
    PollOpen,
    ScoreAdd,
    action_variables,
    render,
    templates,
)
from actors.triggers.actions import ActionFields


def test_fields_are_filled():
    out = render(
        "pong, {user}! ({count} deaths on {platform}/{channel})",
        {"user": "Sam", "count": 3, "platform": "twitch", "channel": "daniel"},
    )

    assert out == "pong, Sam! (3 deaths on twitch/daniel)"


def test_unknown_fields_stay_literal_and_doubled_braces_are_escapes():
    assert render("{winner} wins {{really}}", {}) == "{winner} wins {really}"


@pytest.mark.parametrize(
    "template",
    [
        "{user.__class__}",
        "{user.__class__.__mro__}",
        "{user[0]}",
        "{user!r}",
        "{user:>500}",
        "{0}",
        "{}",
        "{user.__init__.__globals__}",
    ],
)
def test_format_string_injection_in_templates_reaches_nothing(template):
    secret = type("Secret", (), {"__repr__": lambda self: "LEAK", "__format__": None})()

    out = render(template, {"user": "Sam", "0": secret, "": secret})

    assert out == template
    assert "class" not in out.replace("__class__", "") and "LEAK" not in out


def test_user_values_are_inserted_verbatim_not_rescanned():
    out = render("hi {user}: {args}", {"user": "{args}", "args": "{user.__class__} {{x}}"})

    assert out == "hi {args}: {user.__class__} {{x}}"


def test_line_breaks_are_removed_from_values_and_template():
    out = render("a\nb {args}", {"args": "PRIVMSG\r\n#other :hi\x00\u2028x"})

    assert "\r" not in out and "\n" not in out and "\x00" not in out and "\u2028" not in out
    assert out == "a b PRIVMSG  #other :hi  x"


def test_output_is_capped_at_500_characters():
    out = render("{args}{args}", {"args": "x" * 400})

    assert len(out) == MAX_REPLY_LENGTH
    assert out.endswith("…")
    assert render("x" * 500, {}) == "x" * 500


def test_value_kinds():
    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("no")

    variables = {"n": None, "f": 2.0, "g": 2.5, "l": ["a", 1], "b": True, "x": Boom()}

    assert render("[{n}][{f}][{g}][{l}][{b}][{x}]", variables) == "[][2][2.5][a, 1][yes][]"
    assert render("{big}", {"big": 10**5000}) == "…"


def test_action_variables_for_a_poll_and_a_score(event):
    common: ActionFields = {
        "trigger_id": "poll-open",
        "creator_id": "daniel",
        "platform": "replay",
        "channel": "daniel",
        "message_id": "rp-0021",
        "user_id": "1",
        "login": "daniel",
        "display_name": "Daniel",
        "args": ("Next", "boon?", "|", "Zeus"),
        "raw_args": "Next boon? | Zeus",
    }
    poll = PollOpen(question="Next boon?", options=("Zeus", "Artemis", "Ares"), **common)

    out = render("Poll: {question} Vote with !vote <number>: {options}", action_variables(poll))
    assert out == "Poll: Next boon? Vote with !vote <number>: 1) Zeus, 2) Artemis, 3) Ares"
    assert render("{user} {arg2} [{arg9}] {trigger}", action_variables(poll)) == (
        "Daniel boon? [] poll-open"
    )

    score = ScoreAdd(scoreboard_id="trivia", label="PixelPanda", points=1, **common)
    assert render("{target} +{points}", action_variables(score)) == "PixelPanda +1"


@given(template=st.text(max_size=2000), values=st.dictionaries(st.text(max_size=20), st.text()))
def test_render_never_raises_and_never_exceeds_the_cap(template, values):
    out = render(template, values)

    assert len(out) <= MAX_REPLY_LENGTH
    assert "\r" not in out and "\n" not in out


@given(
    template=st.text(alphabet=st.sampled_from("{}user.__class__[]!:0 args"), max_size=200),
    user=st.text(max_size=600),
)
def test_render_with_brace_heavy_templates_and_hostile_values(template, user):
    out = render(template, {"user": user, "args": [user, 3, None], "count": 10**50})

    assert len(out) <= MAX_REPLY_LENGTH
    assert "<class" not in out


def test_a_template_is_split_once_however_often_it_is_rendered() -> None:
    template = "Deaths {{so far}}: {count} ({counter:deaths}) {missing}"
    templates._parsed.cache_clear()
    outs = {render(template, {"count": n, "counter:deaths": n}) for n in (1, 1, 1)}
    assert outs == {"Deaths {so far}: 1 (1) {missing}"}
    info = templates._parsed.cache_info()
    assert (info.misses, info.hits) == (1, 2)
