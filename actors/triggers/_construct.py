"""Positional constructors for the frozen attrs values built for matched chat messages.

attrs' generated __init__ takes keyword arguments and sets each field through
object.__setattr__ (the classes are frozen): for an `Evaluation` or an action descriptor that
costs more than deciding what the message does. `positional(cls, names)` returns a callable
taking the values of `names` in order that fills the slots directly instead, the way
`actors/events.py` builds a `ChatEvent`: the object is the one the public constructor builds
(same slots, same values, so `==`, hash and repr agree). No converter or validator runs, so it
is only for classes that have none. The compiled constructor of `actors/_slotted.c` does it in
one call when built (and `STREAMSUITES_PURE_PYTHON` is unset); the Python twin is the
reference and the fallback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

try:
    from actors._slotted import constructor as _compiled  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - built without a C compiler
    _compiled = None
USE_COMPILED = _compiled is not None and os.environ.get("STREAMSUITES_PURE_PYTHON", "") in (
    "",
    "0",
)


def python_positional(cls: type[T], names: tuple[str, ...]) -> Callable[..., T]:
    """The Python twin of `positional` (the reference the tests compare against)."""
    _check(cls, names)
    setters = tuple(getattr(cls, name).__set__ for name in names)
    new = object.__new__

    def construct(*values: Any) -> T:
        obj = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(obj, value)
        return obj

    construct.__name__ = f"{cls.__name__}_positional"
    return construct


def positional(cls: type[T], names: tuple[str, ...]) -> Callable[..., T]:
    """A constructor of `cls` taking the values of `names` (all its fields, in attrs' order)
    positionally; raises `RuntimeError` when `names` are not `cls`'s fields."""
    if USE_COMPILED:
        _check(cls, names)
        return _compiled(cls, names)  # type: ignore[misc]
    return python_positional(cls, names)


def _check(cls: type, names: tuple[str, ...]) -> None:
    # Callers pass values by position: a field added or moved must not shift them silently.
    fields = attrs.fields(cls)
    if tuple(a.name for a in fields) != names:
        raise RuntimeError(f"{cls.__name__}'s fields are not {names}: update the caller")
    if any(a.converter is not None or a.validator is not None for a in fields):
        raise RuntimeError(f"{cls.__name__} converts or validates: use its own constructor")
