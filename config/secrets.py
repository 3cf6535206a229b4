"""Secrets in the configuration: references in the file, masked values in memory.

A secret is never written inline in the TOML file. The file holds a *reference*:

    token = { env = "TWITCH_TOKEN_DANIEL" }                       # an environment variable
    token = { keyring = "twitch-daniel" }                         # an OS keyring entry
    token = { keyring = "twitch-daniel", service = "my-bots" }    # ... under another service

Resolution is **eager**: `config.loading.load_config` resolves every reference while it loads
the file, so a missing variable is a configuration error (exit code 1) reported by `check` and at
start-up, never a surprise hours later when a supervisor restarts a connection. Every reference
is resolved, also inside disabled sections, so that the outcome does not depend on toggles.

The resolved value lives in a `Secret`, whose `repr` and `str` are masked (`'***'`), so it can
be logged, put in an exception message or in a snapshot by accident without leaking. Code that
really needs the value (the transport that authenticates) calls `Secret.reveal()`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePath

import attrs

MASK = "***"
DEFAULT_KEYRING_SERVICE = "streamsuites-runtime"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SecretUnavailable(ValueError):
    """A referenced secret could not be resolved. The message names the reference, never a value."""


@attrs.frozen(kw_only=True)
class SecretRef:
    """Where a secret comes from: exactly one of an environment variable or a keyring entry."""

    env: str | None = None
    keyring: str | None = None
    service: str = DEFAULT_KEYRING_SERVICE

    def __attrs_post_init__(self) -> None:
        if (self.env is None) == (self.keyring is None):
            raise ValueError('a secret reference needs exactly one of "env" or "keyring"')
        if self.env is not None and not _ENV_NAME.fullmatch(self.env):
            raise ValueError(
                f"{self.env!r} is not a valid environment variable name "
                "(letters, digits and '_', not starting with a digit)"
            )
        if self.keyring is not None and not self.keyring.strip():
            raise ValueError("the keyring entry name is empty")

    def describe(self) -> str:
        """Human-readable name of the reference, safe to print (it contains no value)."""
        if self.env is not None:
            return f"environment variable {self.env}"
        return f"keyring entry {self.keyring!r} (service {self.service!r})"

    def to_toml(self) -> dict[str, str]:
        """The reference as it is written in the file (`{ env = "NAME" }`)."""
        if self.env is not None:
            return {"env": self.env}
        out = {"keyring": str(self.keyring)}
        if self.service != DEFAULT_KEYRING_SERVICE:
            out["service"] = self.service
        return out


@attrs.frozen(repr=False, eq=True)
class Secret:
    """A resolved secret. Masked in `repr`/`str`; `reveal()` returns the value."""

    ref: SecretRef
    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """The secret value. Call it only where the value is sent to its destination."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.ref.describe()}, {MASK!r})"

    def __str__(self) -> str:
        return MASK


def iter_secrets(value: object) -> Iterator[Secret]:
    """Every `Secret` held anywhere in `value`: attrs fields, nested, and the items of tuples,
    lists, sets and mapping values, in a stable order.

    This walk *is* the registry of secrets: a `Secret` field added to any configuration class
    is masked in logs and exports without being listed anywhere.
    """
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls in _LEAVES:  # most of a configuration: checked first, without isinstance
            continue
        if isinstance(item, Secret):
            yield item
        elif isinstance(item, _LEAF_TYPES):
            continue
        elif attrs.has(cls):
            stack.extend(getattr(item, name) for name in reversed(_field_names(cls)))
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))
        elif isinstance(item, set | frozenset):
            stack.extend(item)


# Values that hold no secret (a thousand creators' configuration is mostly these).
_LEAVES = frozenset({str, bytes, int, float, bool, type(None)})
_LEAF_TYPES = (SecretRef, str, bytes, int, float, re.Pattern, PurePath)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in attrs.fields(cls))


def resolve(ref: SecretRef, environ: Mapping[str, str]) -> Secret:
    """Resolve `ref` from `environ` (or the OS keyring). Raises `SecretUnavailable`."""
    if ref.env is not None:
        value = environ.get(ref.env)
        if value is None:
            raise SecretUnavailable(f"environment variable {ref.env} is not set")
        if not value.strip():
            raise SecretUnavailable(f"environment variable {ref.env} is set but empty")
        return Secret(ref, value=value)
    return Secret(ref, value=_from_keyring(ref))


def _from_keyring(ref: SecretRef) -> str:
    # Imported lazily: keyring is an optional dependency, needed only by configs that use it.
    try:
        import keyring
    except ImportError:
        raise SecretUnavailable(
            f"{ref.describe()} is requested but the optional 'keyring' package is not installed"
        ) from None
    assert ref.keyring is not None  # a SecretRef without `env` names a keyring entry
    try:
        value = keyring.get_password(ref.service, ref.keyring)
    except Exception as exc:  # backend errors vary by OS; report the type, not a value
        raise SecretUnavailable(
            f"{ref.describe()} could not be read: {type(exc).__name__}"
        ) from None
    if not value:
        raise SecretUnavailable(f"{ref.describe()} is not set")
    return str(value)
