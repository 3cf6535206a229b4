"""Canonical JSON bytes and timestamps for export files.

Every export file is exactly
``json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"`` encoded as UTF-8, so
the same state always gives the same bytes (and an unchanged publish writes
nothing). Inputs are checked first: ``json.dumps`` would silently accept things that break the
contract (``NaN``, integer keys turned into strings, datetimes through a ``default=``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

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


def canonical_bytes(obj: object) -> bytes:
    """Return the canonical UTF-8 bytes of ``obj`` (sorted keys, indent 2, trailing newline).

    Raises :class:`CanonicalError` for non-finite floats, non-string keys, datetimes and any
    type JSON cannot represent exactly.
    """
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
    u = dt.astimezone(UTC)
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
