"""The compiled IRC parser (`_irc_accel.c`) against the Python reference, line by line.

Also its emotes-tag splitter against `irc._plain_emotes_py`.

Same value (tags, prefix, command, params, and their types) or the same exception type and
message, for the corpus and for generated lines rich in the grammar's symbols, in every string
width CPython stores (ASCII, Latin-1, BMP, astral).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from actors.events import Emote
from actors.twitch import irc
from actors.twitch.irc import IrcMessage, IrcParseError

compiled = irc.compiled_parse_irc_line
reference = irc._parse_irc_line_py
if compiled is not None:
    from actors.twitch import _irc_accel  # type: ignore[attr-defined]

pytestmark = pytest.mark.skipif(compiled is None, reason="compiled parser not built")

CORPUS = Path(__file__).parents[3] / "conformance" / "data" / "twitch_irc.jsonl"


def outcome(parse: Any, line: Any) -> tuple[str, Any]:
    try:
        msg = parse(line)
    except Exception as exc:
        return "error", (type(exc), str(exc))
    assert type(msg) is IrcMessage
    assert type(msg.tags) is dict and type(msg.params) is list
    assert all(type(k) is str and type(v) is str for k, v in msg.tags.items())
    assert all(type(p) is str for p in msg.params)
    return "value", (list(msg.tags.items()), msg.prefix, msg.command, msg.params)


def assert_same(line: Any) -> None:
    assert outcome(compiled, line) == outcome(reference, line)


def test_parse_irc_line_is_the_compiled_parser_when_built() -> None:
    forced = os.environ.get("STREAMSUITES_PURE_PYTHON", "") not in ("", "0")
    assert irc.PARSER == ("python" if forced else "compiled")
    assert (irc.parse_irc_line is compiled) == (not forced)


@pytest.mark.parametrize(
    "line",
    [json.loads(row)["raw"] for row in CORPUS.read_text("utf-8").splitlines()],
)
def test_corpus_lines_parse_identically(line: str) -> None:
    assert_same(line)
    assert_same(line + "\r\n")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "\r\n",
        "\n",
        "@",
        "@ ",
        ":",
        ": ",
        " PING",
        "@a=b",
        "@a=b ",
        "@a=b :pfx",
        "@a=b :pfx ",
        "@a=b\\ CMD",
        "@a=\\ CMD",
        "@a=x\\sy\\:z\\\\w\\rv\\nu\\qt CMD",
        "@a;b=;a=2;c CMD",
        "@a=1;;b=2; CMD",
        "@=v;k=v CMD",
        "@k=a=b=c CMD",
        "@k\\s=v CMD",
        "@ :tmi.twitch.tv TEST",
        "@k=v : TEST",
        "@a=b   :srv   PING   :x",
        ":x foo bar :  a :) b ",
        ":x MODE  #c  +o   nick  ",
        "foo bar :",
        "foo bar : ",
        "CMD   ",
        "CMD a b c",
        "CMD a  :b",
        "PRIVMSG #c :a\rb\nc",
        "abc\rdef",
        "PING :x\r\n",
        "PING :x\n\n",
        "PING :x\r\r\n",
        "@k=é;ü=ß :ñ!ñ@ñ PRIVMSG #é :ça",
        "@k=\u20ac\\s\u20ac :a PRIVMSG #c :\u20ac",
        "@k=🙂\\:🙂 :🙂 PRIVMSG #🙂 :🙂 🙂",
        "@k=v \x00 \x00",
        "@k=v\x00;\x00=\x00 CMD \x00 :\x00",
    ],
)
def test_edge_lines_parse_identically(line: str) -> None:
    assert_same(line)


def test_non_str_input_gets_the_reference_error() -> None:
    for value in (b"PING :x", None, 42, ["PING"]):
        assert_same(value)
        with pytest.raises(IrcParseError):
            compiled(value)  # type: ignore[misc]


def test_str_subclass_is_parsed_as_a_plain_copy() -> None:
    class Sneaky(str):
        def partition(self, sep: str) -> Any:  # type: ignore[override]
            raise AssertionError("overrides must not be used")

    line = Sneaky("@a=b :x!x@x PRIVMSG #c :hi")
    assert_same(line)
    msg = compiled(line)  # type: ignore[misc]
    assert type(msg.command) is str and msg.params == ["#c", "hi"]


def test_parsing_leaks_no_memory() -> None:
    lines = [json.loads(row)["raw"] for row in CORPUS.read_text("utf-8").splitlines()]
    lines += ["@a=x\\sy;b;=c :p CMD a b :c", "@", ": ", "", "CMD", "@k=🙂\\s :🙂 PING :é"]

    def churn() -> None:
        for _ in range(50):
            for line in lines:
                try:
                    compiled(line)  # type: ignore[misc]
                except IrcParseError:
                    pass
            _irc_accel.plain_emotes("25:0-4,6-8/1902:10-12", "Kappa abc 🙂🙂🙂", python_emote)
            _irc_accel.plain_emotes("25:0-4,6-", "Kappa", python_emote)

    churn()  # warm caches (interned strings, free lists) first
    gc.collect()
    refs_before = [sys.getrefcount(line) for line in lines]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        churn()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(line) for line in lines] == refs_before
    # 50 x ~150 lines parsed: a leak of even one object per line would be ~200 KiB.
    assert after - before < 20_000


def test_setup_refuses_a_class_without_the_slots() -> None:
    class NotAMessage:
        pass

    with pytest.raises((TypeError, AttributeError)):
        _irc_accel.setup(NotAMessage, reference)
    # The refused setup left the working one in place.
    assert compiled("PING :x").params == ["x"]  # type: ignore[misc]


# Text rich in what breaks IRC parsers, in every storage width.
ALPHABET = st.sampled_from(
    [*"@:;=\\ !#/,-\r\n\x00\x01\t", "a", "1", "é", "ÿ", "\u20ac", "\uffff", "🙂"]
)
lines = st.one_of(
    st.text(),
    st.text(ALPHABET, max_size=80),
    st.tuples(
        st.text(ALPHABET, max_size=40), st.text(ALPHABET, max_size=20), st.text(ALPHABET)
    ).map(lambda parts: f"@{parts[0]} :{parts[1]} PRIVMSG #c :{parts[2]}"),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
@example("@a=b\\")
@example("@a=\\\\\\")
@example("@;=;; X")
def test_generated_lines_parse_identically(line: str) -> None:
    assert_same(line)


# --- the emotes tag ----------------------------------------------------------------------


def python_emote(id: str, start: int, end: int, name: str | None) -> Emote:
    return Emote(id=id, start=start, end=end, name=name)


def emotes_outcome(function: Any, value: str, text: str) -> Any:
    result = function(value, text, python_emote)
    if result is not None:
        assert type(result) is tuple
        assert all(type(e) is Emote for e in result)
        # Field types too: equality alone would take True for 1.
        result = [(e.id, e.start, e.end, e.name, type(e.start), type(e.end)) for e in result]
    return result


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("25:0-4", "Kappa hello"),
        ("25:0-4,6-10/1902:12-16", "Kappa Kappa Keepo"),
        ("1902:6-10,29-33/499:0-1", "abc"),  # ranges past the text: names clamp or vanish
        ("25:5-2", "Kappa"),  # an inverted range names nothing
        ("25:0-0", ""),
        ("a:1-1,0-0/b:1-1", "xy"),  # equal starts keep the tag's order
        ("emotesv2_abc:0-3", "🙂🙂🙂🙂🙂"),
        ("25:000000001-000000002", "abc"),
        ("25:0-1234567890", "x"),  # ten digits: not plain
        ("80481_/3:7-14", "x"),  # an id holding `/`: not plain
        ("a:b:0-1", "x"),
        (":0-1", "x"),
        ("25:0-4/", "x"),
        ("25:0-4,", "x"),
        ("25:-4", "x"),
        ("25:0-", "x"),
        ("25:0-4/26", "x"),
        ("25:\u0660-\u0664", "x"),  # non-ASCII digits
        ("", "x"),
        ("/".join(f"{n}:{n}-{n}" for n in range(300)), "x" * 400),  # more than the C buffer
    ],
)
def test_plain_emotes_match_the_python_twin(value: str, text: str) -> None:
    assert_same_emotes(value, text)


def assert_same_emotes(value: str, text: str) -> None:
    got = emotes_outcome(_irc_accel.plain_emotes, value, text)
    want = emotes_outcome(irc._plain_emotes_py, value, text)
    if got is None and want is not None:
        # The compiled splitter leaves very long tags to the Python walk (same result).
        assert len(want) > 256
        assert irc._quick_emotes(value, text) == irc._plain_emotes_py(value, text, python_emote)
    else:
        assert got == want


digit_runs = st.text(st.sampled_from("0123456789"), min_size=1, max_size=11)
emote_values = st.one_of(
    st.text(st.sampled_from([*"0123456789:-,/a_", "\u0663", "é"]), max_size=40),
    st.lists(
        st.tuples(
            st.text(st.sampled_from([*"abc_/:1é"]), min_size=0, max_size=6),
            st.lists(st.tuples(digit_runs, digit_runs), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ).map(lambda es: "/".join(i + ":" + ",".join(f"{a}-{b}" for a, b in rs) for i, rs in es)),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emote_values, st.text(st.sampled_from(["a", "é", "€", "🙂", " "]), max_size=30))
def test_generated_emote_tags_match_the_python_twin(value: str, text: str) -> None:
    assert_same_emotes(value, text)


def test_plain_emotes_refuses_wrong_arguments() -> None:
    with pytest.raises(TypeError):
        _irc_accel.plain_emotes("25:0-4", "Kappa")
    with pytest.raises(TypeError):
        _irc_accel.plain_emotes(b"25:0-4", "Kappa", python_emote)


def test_plain_emotes_passes_on_the_constructor_error() -> None:
    def broken(*_args: Any) -> Emote:
        raise RuntimeError("no emote")

    with pytest.raises(RuntimeError, match="no emote"):
        _irc_accel.plain_emotes("25:0-4", "Kappa", broken)


def test_repeated_tags_stay_right_across_string_widths() -> None:
    # The compiled parser reuses the previous line's key and value strings when the same
    # characters come back at the same position; the line's width must not matter.
    tails = ["x", "é", "€", "🙂"]
    for first in tails:
        for second in tails:
            for line in (
                f"@a=1;b={first};c=v{first} :p PRIVMSG #c :{first}",
                f"@a=1;b={second};c=v{second} :p PRIVMSG #c :{second}",
                f"@a=1;b=;c=v{second};d={first} :p PRIVMSG #c :{second}",
                f"@b=1;a={second} CMD",
            ):
                assert_same(line)
