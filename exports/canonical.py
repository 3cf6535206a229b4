"""Canonical JSON bytes and timestamps for export files.

Every export file is exactly
``json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"`` encoded as UTF-8, so
the same state always gives the same bytes (and an unchanged publish writes
nothing). Inputs are checked first: ``json.dumps`` would silently accept things that break the
contract (``NaN``, integer keys turned into strings, datetimes through a ``default=``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _encode_basestring
from typing import Any

__all__ = [
    "TIMESTAMP_PATTERN",
    "CanonicalError",
    "canonical_bytes",
    "format_timestamp",
    "parse_timestamp",
]

#: The only timestamp form export files carry: ISO-8601 UTC, milliseconds, ``Z``.
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)


class CanonicalError(TypeError, ValueError):
    """A value cannot be written as canonical export JSON; ``path`` says where it sits."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _check(value: object, path: str) -> None:
    # bool before int: bool is an int subclass, both are fine anyway.
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalError(path, f"non-finite float {value!r}")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(path, f"non-string key {key!r}")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, datetime):
        raise CanonicalError(path, "datetime must be pre-formatted with format_timestamp()")
    raise CanonicalError(path, f"unsupported type {type(value).__name__}")


class _Unsupported(Exception):
    """The fast encoder met something it leaves to the checked path (which reports it)."""


_INDENTS = ["\n" + "  " * level for level in range(64)]


# Exact types only: a subclass (an OrderedDict, an IntEnum) takes the checked path.
_SCALARS = frozenset({str, int, float, bool, type(None)})


# A container holding no container is indented like a one-line JSON text whose item separator
# carries the newline and the indentation of its level: the C encoder (which json.dumps only
# uses without indent=) makes exactly those bytes, far faster than the Python one.
def _no_default(value: object) -> object:
    raise TypeError(f"not JSON: {type(value).__name__}")


def _flat_encoder(level: int) -> Callable[[object], str]:
    separators = ("," + _INDENTS[level + 1], ": ")
    if _c_make_encoder is None:  # no C accelerator: still correct, just not faster
        return json.JSONEncoder(
            sort_keys=True,
            ensure_ascii=False,
            check_circular=False,
            allow_nan=False,
            separators=separators,
        ).encode
    # What json.JSONEncoder.iterencode builds for these options, made once instead of per call.
    encoder = _c_make_encoder(
        None,
        _no_default,
        _encode_basestring,
        None,
        separators[1],
        separators[0],
        True,
        False,
        False,
    )
    return lambda value: "".join(encoder(value, 0))


_FLAT_ENCODERS = [_flat_encoder(level) for level in range(len(_INDENTS) - 1)]


def _flat(value: object, level: int) -> str:
    """A non-empty dict (string keys) or list of exact scalars, indented for ``level``."""
    try:
        text = _FLAT_ENCODERS[level](value)
    except (TypeError, ValueError) as exc:  # not JSON, or not finite: the checked path reports
        raise _Unsupported from exc
    # "{a,<indent>b}" -> "{<indent>a,<indent>b<outer indent>}"
    return text[0] + _INDENTS[level + 1] + text[1:-1] + _INDENTS[level] + text[-1]


# Stands in for a nested container while its parent goes through the C encoder; its JSON form
# can only come from a placeholder when no string encoded in that same call holds a NUL.
_HOLE = "\x00\x00"
_HOLE_JSON = '"\\u0000\\u0000"'


def _flat_field(field: Any, level: int) -> str | None:
    """A record's container field, if it is flat (exact scalars, string keys); else None."""
    if not field:
        return "{}" if type(field) is dict else "[]"
    if type(field) is dict:
        for key, item in field.items():
            if type(key) is not str or type(item) not in _SCALARS:
                return None
    else:
        for item in field:
            if type(item) not in _SCALARS:
                return None
    return _flat(field, level)


def _rows(value: Any, level: int) -> str | None:
    """A list of records in ONE C-encoder call, or None when ``value`` is not one.

    A record is a non-empty dict of scalars and flat containers (a row of a table, an actor
    with its mailbox). Encoded with the records' own item separator, the only wrong bytes are
    around each record's braces. Strings never hold a raw newline (the encoder escapes it), so
    "},<newline>" plus that separator's indentation plus "{" only ever sits between two records:
    one replace fixes them all; the first and last braces are at known places. Container
    fields are encoded on their own and stand as ``_HOLE`` meanwhile (no string here may then
    hold a NUL, so the holes' JSON is unambiguous).
    """
    if level + 3 >= len(_INDENTS):
        return None
    records = value
    fills: list[str] = []
    for position, item in enumerate(value):
        if type(item) is not dict or not item:
            return None
        holes: list[str] | None = None
        for key, field in item.items():
            kind = type(field)
            if type(key) is not str or "\x00" in key:
                return None
            if kind in _SCALARS:
                if kind is str and "\x00" in field:
                    return None
            elif kind is dict or kind is list or kind is tuple:
                if holes is None:
                    holes = []
                holes.append(key)
            else:
                return None
        if holes is not None:
            if records is value:
                records = list(value)
            holed = dict(item)
            for key in sorted(holes):  # the order the encoder writes them in
                text = _flat_field(item[key], level + 2)
                if text is None:
                    return None
                fills.append(text)
                holed[key] = _HOLE
            records[position] = holed
    inner, outer, indent = _INDENTS[level + 2], _INDENTS[level + 1], _INDENTS[level]
    try:
        text = _FLAT_ENCODERS[level + 1](records)  # "[{a,<inner>b},<inner>{c}]"
    except (TypeError, ValueError) as exc:
        raise _Unsupported from exc
    body = text[2:-2].replace("}," + inner + "{", outer + "}," + outer + "{" + inner)
    text = "[" + outer + "{" + inner + body + outer + "}" + indent + "]"
    if not fills:
        return text
    pieces = text.split(_HOLE_JSON)
    if len(pieces) != len(fills) + 1:
        raise _Unsupported
    out = [pieces[0]]
    for fill, piece in zip(fills, pieces[1:], strict=True):
        out.append(fill)
        out.append(piece)
    return "".join(out)


def _container(value: Any, level: int) -> str:
    """A dict or list, indented for ``level``: one C-encoder call per container.

    Nested containers are encoded first (one level deeper), stood in for by ``_HOLE`` while
    their parent is encoded, then put back in place of the holes, in the encoder's order.
    """
    if not value:
        return "{}" if type(value) is dict else "[]"
    if level + 1 >= len(_INDENTS):
        raise _Unsupported
    nested: dict[Any, str] | None = None
    if type(value) is dict:
        for key, item in value.items():
            kind = type(item)
            if type(key) is not str or "\x00" in key:
                raise _Unsupported
            if kind in _SCALARS:
                if kind is str and "\x00" in item:
                    raise _Unsupported
            elif kind is dict or kind is list or kind is tuple:
                if nested is None:
                    nested = {}
                nested[key] = _container(item, level + 1)
            else:
                raise _Unsupported
        if nested is None:
            return _flat(value, level)
        holed: Any = dict(value)
        for key in nested:
            holed[key] = _HOLE
        fills = [nested[key] for key in sorted(nested)]  # the encoder sorts the keys too
    else:
        rows = _rows(value, level)
        if rows is not None:
            return rows
        for index, item in enumerate(value):
            kind = type(item)
            if kind in _SCALARS:
                if kind is str and "\x00" in item:
                    raise _Unsupported
            elif kind is dict or kind is list or kind is tuple:
                if nested is None:
                    nested = {}
                nested[index] = _container(item, level + 1)
            else:
                raise _Unsupported
        if nested is None:
            return _flat(value, level)
        holed = list(value)
        for index in nested:
            holed[index] = _HOLE
        fills = list(nested.values())  # in list order
    pieces = _flat(holed, level).split(_HOLE_JSON)
    if len(pieces) != len(fills) + 1:  # cannot happen (no NUL at this level); be certain
        raise _Unsupported
    out = [pieces[0]]
    for fill, piece in zip(fills, pieces[1:], strict=True):
        out.append(fill)
        out.append(piece)
    return "".join(out)


def _fast_encode(obj: object) -> str:
    """``json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False)``, byte for byte.

    The standard library falls back to its pure-Python generator encoder whenever ``indent`` is
    set; here every container is one call of the C encoder (see :func:`_container`). It
    validates as it goes (exact JSON types only, string keys, finite floats), so the separate
    ``_check`` walk is not needed; anything else raises :class:`_Unsupported` and the checked
    path takes over.
    """
    kind = type(obj)
    if kind is dict or kind is list or kind is tuple:
        return _container(obj, 0)
    if kind in _SCALARS:
        return _flat([obj], 0)[len(_INDENTS[1]) + 1 : -len(_INDENTS[0]) - 1]
    raise _Unsupported


def canonical_bytes(obj: object) -> bytes:
    """Return the canonical UTF-8 bytes of ``obj`` (sorted keys, indent 2, trailing newline).

    Raises :class:`CanonicalError` for non-finite floats, non-string keys, datetimes and any
    type JSON cannot represent exactly.
    """
    try:
        text = _fast_encode(obj)
    except (_Unsupported, TypeError, RecursionError):
        pass  # the checked path below reports the problem exactly as it always did
    else:
        try:
            return (text + "\n").encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates cannot be UTF-8
            raise CanonicalError("$", f"string is not valid Unicode: {exc}") from exc
    _check(obj, "$")
    text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be UTF-8
        raise CanonicalError("$", f"string is not valid Unicode: {exc}") from exc


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC.

    Sub-millisecond digits are truncated, never rounded up, so a formatted "now" is never in
    the future. Naive datetimes are rejected: their zone is a guess.
    """
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
