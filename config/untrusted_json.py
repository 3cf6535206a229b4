"""Decoding JSON that came from outside the process: the one place every decoder goes through.

Webhook bodies, control requests, platform API responses and websocket frames are decoded here,
never with a bare ``json.loads``. The standard decoder accepts things no platform sends and
that break code further on: nesting deep enough to raise ``RecursionError`` (in the decoder or
in whatever walks the value next), integers with thousands of digits (``ValueError`` from
Python's int-conversion limit, ``OverflowError`` from ``timedelta``), ``NaN`` and
``Infinity``. Here each of them is one documented error, :class:`UntrustedJSONError`, a
``ValueError``, so a caller that already rejects malformed input rejects these too.

It lives in ``config`` because that is the lowest package: actors, runtime and the chat-log
loader in ``config`` all import it, and it imports nothing of the project.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "UntrustedJSONError",
    "decimal_int",
    "describe",
    "loads_untrusted",
]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; real payloads nest fewer than 10 levels."""

MAX_INT_DIGITS = 20
"""Longest integer accepted, in digits: every 64-bit value (signed or not) fits."""


class UntrustedJSONError(ValueError):
    """The text is not JSON, or is JSON beyond this module's limits (depth, number size)."""


def _parse_int(text: str) -> int:
    # Called with the literal before conversion, so a 5,000-digit integer never reaches int().
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise UntrustedJSONError(f"integer with {len(text.lstrip('-'))} digits is too large")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedJSONError(f"number {text[:20]}... is out of range")
    return value


def _parse_constant(text: str) -> Any:
    raise UntrustedJSONError(f"{text} is not a JSON value")


def _check_depth(value: Any) -> None:
    # Iterative, so checking the depth cannot itself run out of stack.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise UntrustedJSONError(f"JSON nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def loads_untrusted(data: str | bytes | bytearray) -> Any:
    """Decode ``data`` (text, or bytes in UTF-8/16/32) as JSON from an untrusted source.

    Returns the decoded value. Raises :class:`UntrustedJSONError` (and nothing else, for any
    ``str`` or ``bytes``) when it is not JSON, not valid UTF, nested more than
    :data:`MAX_DEPTH` levels, holds an integer of more than :data:`MAX_INT_DIGITS` digits, a
    number out of float range, or ``NaN``/``Infinity``. The message says which, without
    quoting the input.
    """
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except UntrustedJSONError:
        raise
    except RecursionError:
        raise UntrustedJSONError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise UntrustedJSONError(f"not JSON: {exc.msg} at position {exc.pos}") from None
    except UnicodeDecodeError as exc:
        raise UntrustedJSONError(f"not valid UTF-8 text: {exc.reason}") from None
    except (ValueError, TypeError) as exc:
        # TypeError: bytes whose detected encoding is not decodable as given; ValueError: any
        # other conversion limit of the decoder.
        raise UntrustedJSONError(f"not JSON ({type(exc).__name__})") from None
    _check_depth(value)
    return value


def decimal_int(text: str, *, max_digits: int = MAX_INT_DIGITS) -> int | None:
    """The integer spelled by ``text`` (ASCII digits only), or ``None`` when it is not one or
    has more than ``max_digits`` digits: for ids and counters in headers, URLs and channel
    names, where ``int()`` would raise on thousands of digits."""
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


def describe(value: Any) -> str:
    """A short, safe description of a decoded value for an error message.

    ``repr`` of untrusted data can itself fail (an int of more than 4,300 digits raises
    ``ValueError``, a deeply nested list ``RecursionError``) or flood a log line; this never
    raises and stays under about 60 characters.
    """
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 64:
            # Counted without str(), which raises past 4,300 digits.
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} members"
    return f"a value of type {type(value).__name__}"
