"""Canonical bytes and timestamp formatting."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.canonical import (
    TIMESTAMP_PATTERN,
    CanonicalError,
    canonical_bytes,
    format_timestamp,
    parse_timestamp,
)


def test_exact_bytes_for_a_known_document() -> None:
    obj = {"b": [1, 2.5, None, True], "a": {"z": "é ✨ 🎬", "y": "™"}, "id": "1234567890123456789"}
    expected = (
        "{\n"
        '  "a": {\n'
        '    "y": "™",\n'
        '    "z": "é ✨ 🎬"\n'
        "  },\n"
        '  "b": [\n'
        "    1,\n"
        "    2.5,\n"
        "    null,\n"
        "    true\n"
        "  ],\n"
        '  "id": "1234567890123456789"\n'
        "}\n"
    ).encode()
    assert canonical_bytes(obj) == expected


GOLDEN = {
    "text": {"ascii": "plain", "accents": "Ünïcödé", "emoji": "🎬✨", "cjk": "日本語"},
    "escapes": 'quote " backslash \\ tab \t newline \n nul \u0000 del \u007f',
    "floats": [0.0, -0.0, 0.1, 2.5, 1.0, 100.0, 1e16, 1.7976931348623157e308, 1e-4, 1.5e-5],
    "small": [1e-9, 2.5e-7, 9.99e-10, 5e-324],
    "ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1],
    "nested": [[1, [2, []]], [{}], {"z": [], "a": {}}],
    "empty": {"list": [], "object": {}, "string": ""},
    "flags": [True, False, None],
    "Zed": 1,
    "zed": 2,
    "é": 3,
    "\U00010000": 4,
    "\uffff": 5,
}
GOLDEN_BYTES = (
    "{\n"
    '  "Zed": 1,\n'
    '  "empty": {\n'
    '    "list": [],\n'
    '    "object": {},\n'
    '    "string": ""\n'
    "  },\n"
    '  "escapes": "quote \\" backslash \\\\ tab \\t newline \\n nul \\u0000 del \u007f",\n'
    '  "flags": [\n'
    "    true,\n"
    "    false,\n"
    "    null\n"
    "  ],\n"
    '  "floats": [\n'
    "    0.0,\n"
    "    -0.0,\n"
    "    0.1,\n"
    "    2.5,\n"
    "    1.0,\n"
    "    100.0,\n"
    "    1e+16,\n"
    "    1.7976931348623157e+308,\n"
    "    0.0001,\n"
    "    0.000015\n"
    "  ],\n"
    '  "ints": [\n'
    "    0,\n"
    "    -1,\n"
    "    9007199254740993,\n"
    "    9223372036854775807,\n"
    "    -9223372036854775808,\n"
    "    18446744073709551615\n"
    "  ],\n"
    '  "nested": [\n'
    "    [\n"
    "      1,\n"
    "      [\n"
    "        2,\n"
    "        []\n"
    "      ]\n"
    "    ],\n"
    "    [\n"
    "      {}\n"
    "    ],\n"
    "    {\n"
    '      "a": {},\n'
    '      "z": []\n'
    "    }\n"
    "  ],\n"
    '  "small": [\n'
    "    1e-9,\n"
    "    2.5e-7,\n"
    "    9.99e-10,\n"
    "    5e-324\n"
    "  ],\n"
    '  "text": {\n'
    '    "accents": "Ünïcödé",\n'
    '    "ascii": "plain",\n'
    '    "cjk": "日本語",\n'
    '    "emoji": "🎬✨"\n'
    "  },\n"
    '  "zed": 2,\n'
    '  "é": 3,\n'
    '  "\uffff": 5,\n'
    '  "\U00010000": 4\n'
    "}\n"
).encode("utf-8")


def test_exact_bytes_of_the_golden_document() -> None:
    # Keys by code point (U+FFFF before U+10000), non-ASCII as UTF-8, control characters
    # escaped, empty containers on one line, floats as their shortest round-trip digits.
    assert canonical_bytes(GOLDEN) == GOLDEN_BYTES


def test_golden_bytes_differ_from_json_dumps_only_in_small_floats() -> None:
    # What changed with orjson: floats from 1e-9 to 1e-4 (see the module docstring).
    reference = (json.dumps(GOLDEN, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    assert reference != GOLDEN_BYTES
    for python, ours in (
        (b"1.5e-05", b"0.000015"),
        (b"1e-09", b"1e-9"),
        (b"2.5e-07", b"2.5e-7"),
    ):
        reference = reference.replace(python, ours)
    assert reference == GOLDEN_BYTES


_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or abs(f) >= 1e-4),
    _TEXT,
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_DOCUMENTS)
def test_same_bytes_as_json_dumps_outside_small_floats(doc: object) -> None:
    reference = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert canonical_bytes(doc) == reference.encode("utf-8")


def test_small_floats_read_back_as_the_same_float() -> None:
    values = [1e-9, 2.5e-7, 1.5e-5, 9.999e-5, -3e-6, 1.2345678901234567e-8]
    assert json.loads(canonical_bytes(values)) == values


def test_tuples_are_written_as_lists() -> None:
    assert canonical_bytes({"a": (1, 2)}) == canonical_bytes({"a": [1, 2]})


def test_empty_object() -> None:
    assert canonical_bytes({}) == b"{}\n"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_rejects_non_finite_floats(bad: float) -> None:
    with pytest.raises(CanonicalError, match=r"\$\.a\[1\]"):
        canonical_bytes({"a": [1, bad]})


@pytest.mark.parametrize("key", [1, 2.0, None, ("a",), True])
def test_rejects_non_string_keys(key: object) -> None:
    with pytest.raises(CanonicalError, match="non-string key"):
        canonical_bytes({"ok": {key: 1}})


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1), date(2026, 1, 1)],
)
def test_rejects_datetimes_and_dates(value: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_bytes({"at": value})


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), 1 + 2j])
def test_rejects_other_types(value: object) -> None:
    with pytest.raises(CanonicalError, match="unsupported type"):
        canonical_bytes({"x": value})


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_rejects_integers_beyond_64_bits_naming_where(number: int) -> None:
    with pytest.raises(
        CanonicalError, match=r"\$\.counts\[1\]: integer .* does not fit in 64 bits"
    ):
        canonical_bytes({"counts": [1, number]})


class _Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [_Colour.RED, uuid.UUID(int=1), _Point(1), types.MappingProxyType({"a": 1})],
)
def test_rejects_values_orjson_would_write_in_its_own_way(value: object) -> None:
    with pytest.raises(CanonicalError, match=r"\$\.x: unsupported type"):
        canonical_bytes({"x": value})


def test_str_and_int_subclasses_are_written_as_their_values() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    assert canonical_bytes({"a": Level.HIGH, "b": Name("x")}) == b'{\n  "a": 3,\n  "b": "x"\n}\n'


def test_rejects_str_subclass_keys() -> None:
    class Name(str):
        pass

    with pytest.raises(CanonicalError, match="keys must be plain str"):
        canonical_bytes({"ok": {Name("k"): 1}})


def test_rejects_nesting_deeper_than_orjson_writes_and_cycles() -> None:
    deep: list[object] = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(CanonicalError, match="nested deeper than 254 levels"):
        canonical_bytes(deep)
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(CanonicalError, match="circular"):
        canonical_bytes({"c": cycle})


def test_rejects_lone_surrogates() -> None:
    with pytest.raises(CanonicalError):
        canonical_bytes({"x": "\ud800"})


def test_canonical_error_is_a_type_and_value_error() -> None:
    with pytest.raises(TypeError):
        canonical_bytes({"x": {1}})
    with pytest.raises(ValueError):
        canonical_bytes({"x": float("nan")})


def test_same_content_different_insertion_order_gives_same_bytes() -> None:
    a = {"x": 1, "y": {"b": 2, "a": 1}}
    b = {"y": {"a": 1, "b": 2}, "x": 1}
    assert canonical_bytes(a) == canonical_bytes(b)


# --- timestamps --------------------------------------------------------------------------------


def test_format_timestamp_exact() -> None:
    dt = datetime(2026, 11, 21, 18, 30, 5, 120_000, tzinfo=UTC)
    assert format_timestamp(dt) == "2026-11-21T18:30:05.120Z"


def test_format_timestamp_truncates_never_rounds_up() -> None:
    dt = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert format_timestamp(dt) == "2026-12-31T23:59:59.999Z"


def test_format_timestamp_converts_to_utc() -> None:
    dt = datetime(2026, 11, 21, 20, 30, 5, 1_000, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(dt) == "2026-11-21T18:30:05.001Z"


def test_format_timestamp_pads_small_years() -> None:
    assert format_timestamp(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05.000Z"


def test_format_timestamp_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 11, 21, 18, 30))


@pytest.mark.parametrize("value", [1_763_749_805, "2026-11-21T18:30:05Z", None])
def test_format_timestamp_rejects_non_datetimes(value: object) -> None:
    with pytest.raises(TypeError):
        format_timestamp(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["2026-11-21T18:30:05Z", "2026-11-21T18:30:05.120+00:00", "2026-11-21 18:30:05.120Z", "1"],
)
def test_parse_timestamp_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


_ZONES = [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(_ZONES),
    )
)
def test_format_round_trips_within_a_millisecond(dt: datetime) -> None:
    text = format_timestamp(dt)
    assert re.match(TIMESTAMP_PATTERN, text)
    back = parse_timestamp(text)
    assert back <= dt
    assert dt - back < timedelta(milliseconds=1)
    assert format_timestamp(back) == text


def test_an_item_is_written_as_in_its_document_and_checked_with_its_path() -> None:
    from exports.canonical import CanonicalError, canonical_item_bytes

    item = {"b": [1, {"c": "x\ny"}], "a": None, "é": 1.5e-05}
    whole = canonical_bytes({"items": [item, item]})
    one = canonical_item_bytes(item, indent=4, path="$.items[0]")
    assert whole == b'{\n  "items": [\n    ' + one + b",\n    " + one + b"\n  ]\n}\n"
    with pytest.raises(CanonicalError) as caught:
        canonical_item_bytes({"n": [float("nan")]}, indent=4, path="$.items[3]")
    assert caught.value.path == "$.items[3].n[0]"
    with pytest.raises(CanonicalError) as caught:
        canonical_item_bytes({"n": 2**64}, indent=4, path="$.x[1]")
    assert caught.value.path == "$.x[1].n"


def test_items_encoded_together_equal_each_item_encoded_alone() -> None:
    from exports.canonical import canonical_item_bytes, canonical_items_bytes

    items: list[object] = [
        {"b": [1, {"c": ",\n  x"}], "a": "Éva", "e": [], "f": {}},
        [],
        {},
        "line,\n  not a split",
        0,
        None,
        [[1, 2], {"k": [None, 1.5]}],
        {"t": (1, 2)},  # a tuple reads back as a list: checked one by one, still fine
    ]
    paths = [f"$.items[{n}]" for n in range(len(items))]
    # Even indents are encoded nested that deep; an odd one is shifted line by line.
    for indent in (0, 2, 3, 4, 6, 8, 10):
        alone = [
            canonical_item_bytes(i, indent=indent, path=p)
            for i, p in zip(items, paths, strict=True)
        ]
        assert canonical_items_bytes(items, indent=indent, paths=paths) == alone
        plain = items[:-1]  # no tuple: encoded and checked as one array
        assert canonical_items_bytes(plain, indent=indent, paths=paths[:-1]) == alone[:-1]
        assert canonical_items_bytes(plain[:1], indent=indent, paths=paths[:1]) == alone[:1]
    assert canonical_items_bytes([], indent=4, paths=[]) == []


def test_items_encoded_together_refuse_a_bad_value_with_its_own_path() -> None:
    from exports.canonical import CanonicalError, canonical_items_bytes

    with pytest.raises(CanonicalError) as caught:
        canonical_items_bytes(
            [{"n": 1}, {"n": [float("nan")]}], indent=4, paths=["$.a[0]", "$.a[1 of 'zed']"]
        )
    assert caught.value.path == "$.a[1 of 'zed'].n[0]"
    with pytest.raises(CanonicalError) as caught:
        canonical_items_bytes([{"n": 2**64}], indent=8, paths=["$.b[0]"])
    assert caught.value.path == "$.b[0].n"


def test_plain_items_skip_the_decode_back_and_give_the_same_bytes() -> None:
    from exports.canonical import canonical_items_bytes

    items: list[object] = [
        {"b": [1, {"c": ",\n  x"}], "a": "Éva", "e": [], "f": {}, "g": -0.0, "h": 1.5e-05},
        {"t": (1, 2), "big": 2**64 - 1, "neg": -(2**63)},  # a tuple is written as a list
        None,
    ]
    paths = [f"$.items[{n}]" for n in range(len(items))]
    for indent in (3, 4, 8):
        checked = canonical_items_bytes(items, indent=indent, paths=paths)
        assert canonical_items_bytes(items, indent=indent, paths=paths, plain=True) == checked


def test_plain_items_still_refuse_what_the_encoder_refuses_with_where_it_sits() -> None:
    from exports.canonical import CanonicalError, canonical_items_bytes

    refused: list[tuple[object, str]] = [
        (2**64, "64 bits"),
        (datetime(2026, 1, 1, tzinfo=UTC), "format_timestamp"),
        ("\ud800", "Unicode"),
        (_Point(1), "unsupported type"),
    ]
    for value, problem in refused:
        with pytest.raises(CanonicalError, match=problem) as caught:
            canonical_items_bytes(
                [{"n": 1}, {"n": [value]}], indent=4, paths=["$.a[0]", "$.a[1]"], plain=True
            )
        assert caught.value.path == "$.a[1].n[0]"


def test_what_only_the_decode_back_catches_cannot_be_held_by_an_export_view() -> None:
    """The values orjson writes without refusing but not as themselves (a non-finite float,
    an enum that is not a str or an int, a UUID, a raw fragment) are refused where a view is
    made, so items built from views are plain (`canonical_items_bytes(plain=True)`)."""
    import orjson

    from exports.views import FilterView, PollOption, PollView, RateMetric, ScoreEntry

    unplain: list[Any] = [
        float("nan"),
        float("inf"),
        _Colour.RED,
        uuid.UUID(int=1),
        orjson.Fragment(b"1"),
    ]
    for value in unplain:
        with pytest.raises((TypeError, ValueError)):
            RateMetric(key="k", label="l", value=value, unit="u")
        with pytest.raises((TypeError, ValueError)):
            ScoreEntry(position=1, label=value, score=1)
        with pytest.raises((TypeError, ValueError)):
            FilterView(
                filter_id="f",
                creator_id="c",
                kind="links",
                action="delete",
                exempt=(value,),
                enabled=True,
            )
        with pytest.raises((TypeError, ValueError)):
            PollView(
                poll_id="p",
                creator_id="c",
                question="q",
                state="open",
                opened_at=datetime(2026, 1, 1, tzinfo=UTC),
                options=(value,),
            )
    assert PollOption(option_id="a", label="a", votes=1).votes == 1


def test_every_field_of_every_export_view_is_checked_where_the_view_is_made() -> None:
    """What makes view-built items plain: no field of a view takes a value unchecked."""
    import attrs

    from exports import views

    checking_converters = {views._bool_map, views._str_tuple}  # they check what they keep
    unchecked = [
        f"{name}.{field.name}"
        for name in views.__all__
        if attrs.has(kind := getattr(views, name))
        for field in attrs.fields(kind)
        if field.validator is None and field.converter not in checking_converters
    ]
    assert unchecked == []
