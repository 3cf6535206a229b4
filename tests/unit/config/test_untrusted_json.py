"""The one decoder of untrusted JSON: every input beyond its limits is one documented error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.untrusted_json import (
    MAX_DEPTH,
    UntrustedJSONError,
    decimal_int,
    describe,
    loads_untrusted,
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 200_000 + "]" * 200_000, "nested deeper"),
        ("[" * 200_000, "nested deeper"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested deeper"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper"),
        ("1" * 5000, "5000 digits"),
        ('{"duration_seconds": ' + "9" * 400 + "}", "400 digits"),
        ("-" + "1" * 21, "21 digits"),
        ("1e400", "out of range"),
        ("NaN", "not a JSON value"),
        ("[Infinity]", "not a JSON value"),
        ("{", "not JSON"),
        (b"\xff\xfe\x00", "not valid UTF-8"),
        (b'"\xc3\x28"', "not valid UTF-8"),
    ],
)
def test_input_beyond_the_limits_is_an_untrusted_json_error(text: str | bytes, reason: str) -> None:
    with pytest.raises(UntrustedJSONError, match=reason):
        loads_untrusted(text)


def test_values_within_the_limits_decode_as_the_standard_decoder_does() -> None:
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_untrusted(nested) is not None
    assert loads_untrusted(b'{"id": -9223372036854775808, "n": 18446744073709551615}') == {
        "id": -(2**63),
        "n": 2**64 - 1,
    }
    assert loads_untrusted("[1.5, true, null]") == [1.5, True, None]


def test_the_error_is_a_value_error_so_existing_rejections_apply() -> None:
    assert issubclass(UntrustedJSONError, ValueError)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_any_text_or_bytes_decodes_or_raises_only_untrusted_json_error(data: str | bytes) -> None:
    try:
        loads_untrusted(data)
    except UntrustedJSONError:
        pass


def test_decimal_int_refuses_what_int_would_choke_on() -> None:
    assert decimal_int("246956") == 246956
    assert decimal_int("7" * 5000) is None
    assert decimal_int("²") is None and decimal_int("") is None and decimal_int("-1") is None


@pytest.mark.parametrize(
    "value",
    [10**5000, [[[]]], "x" * 10_000, {"a": 1}, None, 1.5, object()],
    ids=["huge-int", "list", "long-str", "dict", "none", "float", "object"],
)
def test_describe_never_raises_and_stays_short(value: object) -> None:
    assert len(describe(value)) <= 64


def test_describe_survives_a_list_nested_100000_deep() -> None:
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert describe(deep) == "a list of 1 items"
