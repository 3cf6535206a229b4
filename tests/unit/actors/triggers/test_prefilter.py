"""Keyword and regex triggers match exactly what a plain search finds (the keyword pre-check
never changes what matches)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATTERNS = [
    r"\b(hello|hi|hey)\s+(chat|everyone|all)\b",
    r"\bwhat (?:game|build) is this\b",
    r"\b(\d{1,2})\s*-\s*(\d{1,2})\b",
    r"(?:https?://)?discord\.gg/\w+",
    r"^!(?:drop|raid)\s+(\w+)",
    r"\bl+o+l+\b",
    r"[Hh]ello",
    r"colou?r",
    r"(a|)bc",
    r"(ab|cd)+e",
    r"a{2,3}b",
    r"(\w)\1x",
    r"(?=.*zz)ab",
    r"(?<!no)pe",
    r"(?i)kiss",
    r"café",
    r"(?x) g g  \s* wp",
    r"ab*c",
    r"(?:x|y){3}",
    r"s+t",
    r".*",
    r"x?",
]
ALPHABET = st.sampled_from(
    [
        "hello", "hi", "hey", " ", "chat", "all", "everyone", "what", " game", " is this",
        "-", "1", "42", "discord.gg/", "abc", "!", "drop", "raid", "l", "o", "lol", "H", "h",
        "ello", "colour", "color", "b", "c", "cd", "e", "a", "x", "y", "zz", "no", "pe", "KISS",
        "\u212a", "\u017f", "\u0130", "caf", "é", "É", "gg", "wp", "GG", "s", "t", "S", "\n",
    ]
)  # fmt: skip
TEXTS = st.lists(ALPHABET, max_size=12).map("".join)


def regex_rules(rules, trig, pattern: str, case_sensitive: bool):
    return rules([trig("rx", pattern, kind="regex", case_sensitive=case_sensitive)])


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pattern=st.sampled_from(PATTERNS),
    case_sensitive=st.booleans(),
    text=st.one_of(TEXTS, st.text(max_size=40)),
)
def test_regex_triggers_match_exactly_when_the_regex_searches(
    rules, event, trig, pattern, case_sensitive, text
):
    compiled = regex_rules(rules, trig, pattern, case_sensitive)
    flags = 0 if case_sensitive else re.IGNORECASE

    matched = bool(compiled.match(event(text)))

    assert matched == (re.search(pattern, text, flags) is not None)


def test_ignorecase_regex_matches_non_ascii_case_variants(rules, event, trig):
    compiled = regex_rules(rules, trig, r"kiss", False)

    # U+212A KELVIN SIGN matches "k" under IGNORECASE; lower-casing would not reveal it.
    assert compiled.match(event("\u212aiss me"))


KEYWORDS = ["gg", "gg wp", "o7", ":)", "f in chat", "straße", "ab", "abc"]


def _keyword_reference(keywords, text: str, case_sensitive: bool) -> bool:
    haystack = text if case_sensitive else text.casefold()
    for keyword in keywords:
        needle = keyword if case_sensitive else keyword.casefold()
        if re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack):
            return True
    return False


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keywords=st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=3, unique=True),
    case_sensitive=st.booleans(),
    text=st.one_of(
        st.lists(
            st.sampled_from(
                [
                    "gg",
                    "GG",
                    " ",
                    "wp",
                    "o7",
                    ":)",
                    "f in chat",
                    "STRASSE",
                    "ab",
                    "c",
                    "x",
                    "!",
                    "ß",
                    "straße",
                ]
            ),
            max_size=8,
        ).map("".join),
        st.text(max_size=30),
    ),
)
def test_keyword_triggers_match_whole_words_exactly(
    rules, event, trig, keywords, case_sensitive, text
):
    compiled = rules(
        [
            trig(
                "kw",
                keywords[0],
                kind="keyword",
                aliases=tuple(keywords[1:]),
                case_sensitive=case_sensitive,
            )
        ]
    )

    matched = bool(compiled.match(event(text)))

    assert matched == _keyword_reference(keywords, text, case_sensitive)


def test_many_literal_hits_in_one_line_still_find_every_trigger(rules, event, trig):
    compiled = rules([trig("a", "a", kind="keyword"), trig("z", r"zz+top", kind="regex")])

    assert [m.trigger.id for m in compiled.match(event("a " * 100 + "zzztop"))] == ["a", "z"]


def test_creators_with_equal_triggers_share_one_compilation_under_their_own_ids() -> None:
    import attrs

    from actors.triggers.rules import TriggerRules
    from config.models import CreatorConfig, TriggerConfig

    triggers = (
        TriggerConfig(id="ping", pattern="!ping", response="pong"),
        TriggerConfig(id="gg", kind="keyword", pattern="gg", response="gg!"),
    )
    first = CreatorConfig(id="daniel", display_name="Daniel", triggers=triggers)
    second = attrs.evolve(first, id="mia", display_name="Mia")
    other = attrs.evolve(first, id="zed", triggers=triggers[:1])
    a, b, c = (TriggerRules.from_config(x) for x in (first, second, other))
    assert (a.creator_id, b.creator_id, c.creator_id) == ("daniel", "mia", "zed")
    assert a._scans is b._scans and a._commands_folded is b._commands_folded  # compiled once
    assert c._scans is not a._scans  # other triggers: their own compilation
    assert [t.id for t in b.triggers] == ["ping", "gg"]
