"""Canonical bytes and timestamp formatting."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
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


def test_matches_the_documented_json_dumps_call() -> None:
    obj = {"clips": [{"title": "Ünïcödé", "n": 3}], "meta": {"scope": "clips"}, "e": []}
    reference = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert canonical_bytes(obj) == reference.encode("utf-8")


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
