"""Creators configured alike share their configuration values; errors stay per place."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from config import ConfigError, load_config, loads_config

TRIGGERS = """
[[creators.tallies]]
id = "deaths"
label = "Deaths"

[[creators.triggers]]
id = "ping"
pattern = "!ping"
response = "pong, {user}!"
cooldown_user = 5

[[creators.triggers]]
id = "greeting"
kind = "regex"
pattern = '\\b(hello|hi)\\b'
response = "Welcome in, {user}!"

[[creators.triggers]]
id = "death"
pattern = "!death"
action = "tally_increment"
tally = "deaths"
"""


def creator(creator_id: str, body: str = TRIGGERS) -> str:
    return f'\n[[creators]]\nid = "{creator_id}"\n{body}'


def test_creators_with_equal_triggers_share_one_value(
    write_config: Callable[[str], Path],
) -> None:
    config = load_config(write_config(creator("a") + creator("b") + creator("c")), environ={})
    a, b, c = config.creators
    assert a.triggers is b.triggers is c.triggers
    assert a.tallies is b.tallies
    greeting = a.triggers[1]
    assert greeting.regex is not None and greeting.regex.search("well hello there")
    assert [t.id for t in c.triggers] == ["ping", "greeting", "death"]
    assert (a.id, b.id, c.id) == ("a", "b", "c")  # each creator keeps its own table


def test_a_differing_trigger_is_a_value_of_its_own(write_config: Callable[[str], Path]) -> None:
    other = TRIGGERS.replace('"pong, {user}!"', '"PONG {user}"')
    config = load_config(write_config(creator("a") + creator("b", other)), environ={})
    a, b = config.creators
    assert a.triggers[0].response == "pong, {user}!"
    assert b.triggers[0].response == "PONG {user}"
    assert a.triggers[1] is b.triggers[1]  # the equal ones are still shared


def test_values_equal_in_python_but_not_in_toml_are_not_shared(
    write_config: Callable[[str], Path],
) -> None:
    # 5 and 5.0 are equal in Python; both are valid cooldowns, each structured as written.
    floats = TRIGGERS.replace("cooldown_user = 5", "cooldown_user = 5.0")
    config = load_config(write_config(creator("a") + creator("b", floats)), environ={})
    a, b = config.creators
    assert a.triggers[0].cooldown_user == b.triggers[0].cooldown_user == 5.0


def test_a_bad_value_after_an_equal_good_one_is_still_refused(
    problems: Callable[..., list[str]],
) -> None:
    # `true == 1` in Python: the good `amount = 1` must not stand in for `amount = true`.
    good = TRIGGERS + "amount = 1\n"
    bad = TRIGGERS + "amount = true\n"
    assert problems(creator("a", good) + creator("b", bad)) == [
        "FILE: creators[1].triggers[2].amount: expected an integer, got true"
    ]


def test_a_bad_trigger_shared_by_creators_is_reported_at_each_place(
    problems: Callable[..., list[str]],
) -> None:
    bad = TRIGGERS.replace("'\\b(hello|hi)\\b'", "'(unclosed'")
    found = problems(creator("a", bad) + creator("b") + creator("c", bad))
    assert found == [
        "FILE: creators[0].triggers[1].pattern: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "FILE: creators[2].triggers[1].pattern: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ]


def test_a_shared_relative_path_is_made_absolute_once(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "chat.jsonl").write_text("", encoding="utf-8")
    replay = '[creators.replay]\nfile = "chat.jsonl"\n'
    config = load_config(write_config(creator("a", replay) + creator("b", replay)), environ={})
    a, b = config.creators
    assert a.replay is not None and a.replay is b.replay
    assert a.replay.file == tmp_path / "chat.jsonl"


def test_nesting_as_deep_as_toml_allows_is_reported_as_without_sharing() -> None:
    def problems(depth: int) -> list[str]:
        nested = "[" * depth + "]" * depth
        with pytest.raises(ConfigError) as info:
            loads_config(creator("a", f"{TRIGGERS}aliases = {nested}\n"))
        return [str(p) for p in info.value.problems]

    low, high = 1, 10 * sys.getrecursionlimit()  # the deepest nesting the TOML reader takes
    while low < high:
        middle = (low + high + 1) // 2
        if "nested too deeply" in problems(middle)[0]:
            high = middle - 1
        else:
            low = middle
    assert problems(low) == [
        "<config>: creators[0].triggers[2].aliases[0]: expected a string, got an array"
    ]
