"""Canonical JSON bytes and timestamps for export files.

Every export file is ``orjson.dumps(obj, option=OPT_SORT_KEYS | OPT_INDENT_2 |
OPT_APPEND_NEWLINE)``: UTF-8 with non-ASCII characters written as they are, keys sorted by
code point, two-space indentation, ``"key": value``, and one trailing newline, so the same
state always gives the same bytes (and an unchanged publish writes nothing).

These are the bytes ``json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"``
gave, with one exception: floats from 1e-9 to 1e-4 in magnitude (1e-4 excluded). Python
writes ``1.5e-05`` and ``2.5e-07``; orjson writes ``0.000015`` (fixed notation from 1e-5 up)
and ``2.5e-7`` (no leading zero in a one-digit exponent). Both carry the same shortest digits,
which read back as the same float.

Inputs are checked: every file decodes back to exactly the value given, or is refused with a
:class:`CanonicalError` naming where the problem sits. orjson would otherwise write ``NaN``
and infinities as ``null``, and enums or UUIDs in its own way; datetimes must be formatted
with :func:`format_timestamp` first; integers must fit in 64 bits (signed, or unsigned when
positive), which is what orjson writes.

:func:`canonical_item_bytes` writes one item of an array the same way, for documents assembled
from kept parts (:mod:`exports.fragments`): each part is checked when it is encoded, so a file
put together from parts was checked as a whole file is, without decoding it all again.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

import orjson

__all__ = [
    "TIMESTAMP_PATTERN",
    "CanonicalError",
    "canonical_bytes",
    "canonical_item_bytes",
    "canonical_items_bytes",
    "format_timestamp",
    "parse_timestamp",
]

#: The only timestamp form export files carry: ISO-8601 UTC, milliseconds, ``Z``.
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)

# Datetimes and dataclasses go to `_refuse` instead of being written in orjson's own form.
_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_INDENT_2
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_ITEM_OPTIONS = _OPTIONS & ~orjson.OPT_APPEND_NEWLINE
_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1
_MAX_DEPTH = 254  # orjson refuses deeper nesting ("Recursion limit reached")


class CanonicalError(TypeError, ValueError):
    """A value cannot be written as canonical export JSON; ``path`` says where it sits."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _check(value: object, path: str, depth: int = 0) -> None:
    """Raise :class:`CanonicalError` for the first thing in ``value`` that canonical JSON
    cannot hold exactly; return when there is none. Only run once the encoder refused a
    document or its bytes did not decode back to it: it walks the whole document."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_unicode(value, path)
        return
    if isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise CanonicalError(path, f"integer {value} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalError(path, f"non-finite float {value!r}")
        return
    if isinstance(value, dict | list | tuple) and depth >= _MAX_DEPTH:
        raise CanonicalError(path, f"nested deeper than {_MAX_DEPTH} levels (or circular)")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(path, f"non-string key {key!r}")
            if type(key) is not str:
                raise CanonicalError(
                    path, f"key {key!r} is a {type(key).__name__}: keys must be plain str"
                )
            _check_unicode(key, path)
            _check(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, datetime):
        raise CanonicalError(path, "datetime must be pre-formatted with format_timestamp()")
    raise CanonicalError(path, f"unsupported type {type(value).__name__}")


def _check_unicode(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be UTF-8
        raise CanonicalError(path, f"string is not valid Unicode: {exc}") from exc


def _refuse(value: object) -> NoReturn:
    # orjson's `default`: called for every value it does not write itself.
    raise TypeError(f"unsupported type {type(value).__name__}")


def canonical_bytes(obj: object) -> bytes:
    """Return the canonical UTF-8 bytes of ``obj`` (sorted keys, indent 2, trailing newline).

    Tuples are written as lists. Raises :class:`CanonicalError` for non-finite floats,
    non-string keys, datetimes, integers beyond 64 bits, lone surrogates, nesting deeper
    than 254 levels and any type JSON cannot represent exactly.
    """
    return _encode(obj, _OPTIONS, "$")


def canonical_item_bytes(obj: object, *, indent: int, path: str) -> bytes:
    """The canonical bytes of ``obj`` as an item of an array in a bigger document: what
    :func:`canonical_bytes` writes for it there, without the trailing newline and with every
    line after the first indented by ``indent`` spaces (where the item's first line starts).

    JSON strings hold no raw newline, so every newline in the encoding starts a line.
    Checked like :func:`canonical_bytes`; a :class:`CanonicalError` names ``path`` (where
    the item sits in its document) as the start of where the problem is.
    """
    data = _encode(obj, _ITEM_OPTIONS, path)
    return data.replace(b"\n", b"\n" + b" " * indent) if indent else data


@functools.lru_cache(maxsize=16)
def _between_items(indent: int) -> re.Pattern[bytes]:
    """Between two items of an encoded array whose items start ``indent`` spaces in: a comma,
    a newline and exactly ``indent`` spaces before a character that is not a space (nested
    lines have more spaces; JSON strings hold no raw newline, and a comma never comes before
    a closing bracket)."""
    return re.compile(b",\n" + b" " * indent + b"(?! )")


def canonical_items_bytes(
    items: Sequence[object], *, indent: int, paths: Sequence[str], plain: bool = False
) -> list[bytes]:
    """:func:`canonical_item_bytes` of each of ``items`` (``paths`` says where each sits),
    the same bytes, encoded and checked as one array: one encoder call, not one per item.

    With ``plain``, the caller vouches that the items hold nothing but plain JSON values
    (dicts with ``str`` keys, lists, tuples, ``str``, ``int``, ``bool``,
    ``None`` and finite floats, or subclasses of these that compare equal to what they are
    written as), as validated export views and decoded JSON do. Such values decode back to
    themselves whenever the encoder accepts them (what it refuses is still refused, with where
    it sits), so the decode-back comparison is skipped: it only ever catches a non-finite
    float, an enum, a UUID or an ``orjson.Fragment``, none of which is plain.

    For an even ``indent``, the array is encoded nested that deep (``[[...]]`` for four
    spaces), so the encoder writes every line of every item where it goes."""
    if not items:
        return []
    whole = list(items)
    depth, odd = divmod(indent, 2)
    nested: object = whole
    for _ in range(depth - 1 if depth and not odd else 0):
        nested = [nested]
    try:
        data = orjson.dumps(nested, default=_refuse, option=_ITEM_OPTIONS)
        exact = plain or orjson.loads(data) == nested
    except orjson.JSONEncodeError:
        exact = False
    if not exact:  # one by one: each names where its problem is (or is fine: a tuple)
        return [
            canonical_item_bytes(item, indent=indent, path=path)
            for item, path in zip(whole, paths, strict=True)
        ]
    if depth and not odd:
        # "[\n  [\n    item,\n    item\n  ]\n]" for four spaces: each item where it goes.
        # Each of the `depth` brackets opens with "[", a newline and its indentation.
        start, end = 2 * depth + depth * (depth + 1), 2 * depth + depth * (depth - 1)
        pieces = _between_items(indent).split(data[start:-end])
        if len(pieces) != len(whole):
            raise AssertionError(f"{len(whole)} items encoded as {len(pieces)}")
        return pieces
    # "[\n  item,\n  item\n]": each item's lines after its first are two spaces in.
    pieces = _between_items(2).split(data[4:-2])
    if len(pieces) != len(whole):
        raise AssertionError(f"{len(whole)} items encoded as {len(pieces)}")
    inner = b"\n" + b" " * indent
    return [piece.replace(b"\n  ", inner) for piece in pieces]


def _encode(obj: object, option: int, path: str) -> bytes:
    try:
        data = orjson.dumps(obj, default=_refuse, option=option)
    except orjson.JSONEncodeError as exc:
        _check(obj, path)
        raise CanonicalError(path, f"cannot be encoded: {exc}") from exc
    # Decoding and comparing runs in C, far cheaper than a Python walk over the document. A
    # difference is a NaN written as null, an enum or UUID written as its value, or a tuple
    # read back as a list (the only one that is fine): the walk tells them apart.
    if orjson.loads(data) != obj:
        _check(obj, path)
    return data


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC.

    Sub-millisecond digits are truncated, never rounded up, so a formatted "now" is never in
    the future. Naive datetimes are rejected: their zone is a guess.
    """
    if dt.__class__ is datetime and dt.tzinfo is UTC:  # most of them: no conversion to make
        return _format_utc(dt)
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: export timestamps need an aware datetime")
    return _format_utc(dt.astimezone(UTC))


# Exports format the same instants again and again (every publish, every actor's start time).
# Keyed by the UTC value: two UTC datetimes are equal exactly when their fields are (a zone with
# a repeated hour could make two different local instants compare equal).
@functools.lru_cache(maxsize=16384)
def _format_utc(u: datetime) -> str:
    # Explicit zero padding: strftime("%Y") does not pad years below 1000 on every platform.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp written by :func:`format_timestamp` back into an aware UTC datetime."""
    if not isinstance(text, str) or not _TIMESTAMP_RE.match(text):
        raise ValueError(f"not an export timestamp: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
