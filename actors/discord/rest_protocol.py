"""Discord REST and interactions, sans-IO: rate limits, error bodies, interaction payloads.

Pure code, no I/O (../shared/docs/platforms.md §7.2, §7.3). Rate limits are driven from what
Discord answers: the ``X-RateLimit-*`` headers on every response and the 429 body's
``retry_after`` (float seconds, more precise than the integer ``Retry-After`` header).
Snowflakes stay strings throughout; permission bitfields arrive as strings and become ints.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from config.untrusted_json import decimal_int, loads_untrusted

__all__ = [
    "ADMINISTRATOR",
    "MANAGE_GUILD",
    "DiscordError",
    "DiscordParseError",
    "Interaction",
    "InteractionOption",
    "RateLimitInfo",
    "bucket_key",
    "has_admin",
    "parse_error",
    "parse_interaction",
    "parse_rate_limit",
]

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5

# Option types that nest: SUB_COMMAND (1) and SUB_COMMAND_GROUP (2).
_SUB_COMMAND, _SUB_COMMAND_GROUP = 1, 2


class DiscordParseError(ValueError):
    """A Discord payload is not what the API documents."""


@attrs.frozen(kw_only=True)
class RateLimitInfo:
    """What a response says about rate limits. `retry_after` is set on a 429."""

    status: int
    retry_after: float | None  # body, float seconds (preferred)
    retry_after_header: float | None  # `Retry-After`, whole seconds rounded up
    is_global: bool
    scope: str | None  # user | global | shared
    bucket: str | None
    limit: int | None
    remaining: int | None
    reset: float | None  # epoch seconds
    reset_after: float | None  # seconds
    message: str | None
    code: int | None

    @property
    def limited(self) -> bool:
        """Whether this response was a 429."""
        return self.status == 429

    @property
    def wait_seconds(self) -> float:
        """How long to wait before retrying (0 when nothing says to wait).

        Prefers the body's float over the header; with no 429, waits out an exhausted bucket.
        """
        if self.limited:
            for value in (self.retry_after, self.retry_after_header, self.reset_after):
                if value is not None:
                    return value
            return 1.0  # a 429 without any hint: back off a little rather than hammer
        if self.remaining == 0 and self.reset_after is not None:
            return self.reset_after
        return 0.0


@attrs.frozen(kw_only=True)
class DiscordError:
    """A JSON error body: ``{"message", "code", "errors"?}``."""

    status: int | None
    message: str
    code: int | None
    errors: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class InteractionOption:
    """A leaf option of a command; subcommands are folded into `Interaction.command_path`."""

    name: str
    type: int
    value: Any
    focused: bool = False


@attrs.frozen(kw_only=True)
class Interaction:
    """An interaction (the `d` of INTERACTION_CREATE, or an HTTP interactions body)."""

    type: int
    id: str
    application_id: str | None
    token: str = attrs.field(repr=False)  # lets anyone answer as the bot for 15 minutes
    guild_id: str | None
    channel_id: str | None
    locale: str | None
    guild_locale: str | None
    app_permissions: int | None
    command_id: str | None
    command_name: str | None
    command_type: int | None
    command_path: tuple[str, ...]  # (name, subcommand group?, subcommand?)
    target_id: str | None
    options: tuple[InteractionOption, ...]
    user_id: str | None
    username: str | None
    member_roles: tuple[str, ...]
    member_permissions: int | None  # None outside a guild (DMs)

    def option(self, name: str, default: Any = None) -> Any:
        """The value of the named leaf option, or `default`."""
        for opt in self.options:
            if opt.name == name:
                return opt.value
        return default


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value.strip()
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
    else:
        return None
    # Negative, NaN or infinite waits are garbage; never let them reach a sleep.
    return f if math.isfinite(f) and f >= 0 else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return decimal_int(value.strip())  # None for "²" or thousands of digits, not a raise
    return None


def _decode(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if body is None:
        return {}
    if isinstance(body, Mapping):
        return body
    try:
        obj = loads_untrusted(body) if body.strip() else {}
    except ValueError:
        return {}  # a proxy's HTML 429 page still carries usable headers
    return obj if isinstance(obj, dict) else {}


def parse_rate_limit(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> RateLimitInfo:
    """Rate-limit facts of any REST response (headers any case; body may be absent/garbled)."""
    obj = _decode(body) if status == 429 else {}
    global_header = (_header(headers, "X-RateLimit-Global") or "").lower() == "true"
    return RateLimitInfo(
        status=status,
        retry_after=_float(obj.get("retry_after")),
        retry_after_header=_float(_header(headers, "Retry-After")),
        is_global=obj.get("global") is True or global_header,
        scope=_header(headers, "X-RateLimit-Scope"),
        bucket=_header(headers, "X-RateLimit-Bucket"),
        limit=_int(_header(headers, "X-RateLimit-Limit")),
        remaining=_int(_header(headers, "X-RateLimit-Remaining")),
        reset=_float(_header(headers, "X-RateLimit-Reset")),
        reset_after=_float(_header(headers, "X-RateLimit-Reset-After")),
        message=obj.get("message") if isinstance(obj.get("message"), str) else None,
        code=_int(obj.get("code")),
    )


def parse_error(status: int | None, body: bytes | str | Mapping[str, Any] | None) -> DiscordError:
    """A JSON error body (``{"message", "code"}``); tolerant of non-JSON bodies."""
    obj = _decode(body)
    errors = obj.get("errors")
    message = obj.get("message")
    return DiscordError(
        status=status,
        message=message if isinstance(message, str) else "",
        code=_int(obj.get("code")),
        errors=errors if isinstance(errors, Mapping) else None,
    )


# Top-level resources whose id is part of the rate-limit key (Discord limits per bucket and
# per top-level resource). Other snowflakes in a path are replaced by a placeholder.
_MAJOR = frozenset({"channels", "guilds", "webhooks"})
_SNOWFLAKE = re.compile(r"\d{15,21}", re.ASCII)


_API_VERSION = re.compile(r"v[0-9]+", re.ASCII)


def bucket_key(method: str, path: str) -> str:
    """A per-route key for rate limiting before Discord has told us the bucket.

    ``POST /channels/123/messages`` and ``POST /channels/456/messages`` are different keys
    (different major parameter); ``/channels/123/messages/789`` and ``.../790`` are the same.
    Webhook tokens and interaction tokens are part of the major parameter and are hashed
    out of the key so no secret ends up in a dict key that might be logged.
    """
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts and parts[0] == "api":  # tolerate full /api/v10/... and unversioned /api/... paths
        parts = parts[2:] if len(parts) > 1 and _API_VERSION.fullmatch(parts[1]) else parts[1:]
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        prev = parts[i - 1] if i else ""
        if i == 1 and prev in _MAJOR:
            out.append(part)  # the major parameter stays
            if prev == "webhooks" and i + 1 < len(parts) and not _SNOWFLAKE.fullmatch(parts[i + 1]):
                out.append(f"<token:{hashlib.sha256(parts[i + 1].encode()).hexdigest()[:12]}>")
                i += 1
        elif prev == "interactions" and i == 1:
            out.append("{id}")
            if i + 1 < len(parts):
                out.append("{token}")  # interaction endpoints are per-interaction anyway
                i += 1
        elif _SNOWFLAKE.fullmatch(part):
            out.append("{id}")
        else:
            out.append(part)
        i += 1
    return f"{method.upper()} /{'/'.join(out)}"


def has_admin(permissions: int) -> bool:
    """Whether a permission bitfield grants ADMINISTRATOR or MANAGE_GUILD."""
    return bool(permissions & (ADMINISTRATOR | MANAGE_GUILD))


def _snowflake(value: object) -> str | None:
    # Snowflakes stay strings; an int (some libraries' fixtures) is converted, not trusted.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _flatten_options(options: object, path: list[str]) -> tuple[list[str], list[InteractionOption]]:
    leaves: list[InteractionOption] = []
    if not isinstance(options, list):
        return path, leaves
    for opt in options:
        if not isinstance(opt, Mapping) or not isinstance(opt.get("name"), str):
            continue
        kind = _int(opt.get("type"))
        if kind in (_SUB_COMMAND, _SUB_COMMAND_GROUP):
            # A subcommand is a path step, its own options are the leaves.
            return _flatten_options(opt.get("options"), [*path, opt["name"]])
        leaves.append(
            InteractionOption(
                name=opt["name"],
                type=kind if kind is not None else 0,
                value=opt.get("value"),
                focused=opt.get("focused") is True,
            )
        )
    return path, leaves


def parse_interaction(d: Mapping[str, Any] | str | bytes) -> Interaction:
    """Parse an interaction object. Raises `DiscordParseError` without `type`, `id`, `token`."""
    if not isinstance(d, Mapping):
        d = _decode(d)
    kind = _int(d.get("type"))
    interaction_id = _snowflake(d.get("id"))
    token = d.get("token")
    if kind is None or interaction_id is None or not isinstance(token, str):
        raise DiscordParseError("interaction needs type, id and token")
    data = d.get("data")
    data = data if isinstance(data, Mapping) else {}
    member = d.get("member")
    member = member if isinstance(member, Mapping) else None
    # In a guild the user sits inside `member`; in DMs it is top-level `user`.
    user = member.get("user") if member else d.get("user")
    user = user if isinstance(user, Mapping) else {}
    command_name = data.get("name") if isinstance(data.get("name"), str) else None
    path, leaves = _flatten_options(data.get("options"), [command_name] if command_name else [])
    roles = member.get("roles") if member else None
    return Interaction(
        type=kind,
        id=interaction_id,
        application_id=_snowflake(d.get("application_id")),
        token=token,
        guild_id=_snowflake(d.get("guild_id")),
        channel_id=_snowflake(d.get("channel_id")),
        locale=d.get("locale") if isinstance(d.get("locale"), str) else None,
        guild_locale=d.get("guild_locale") if isinstance(d.get("guild_locale"), str) else None,
        app_permissions=_int(d.get("app_permissions")),
        command_id=_snowflake(data.get("id")),
        command_name=command_name,
        command_type=_int(data.get("type")),
        command_path=tuple(path),
        target_id=_snowflake(data.get("target_id")),
        options=tuple(leaves),
        user_id=_snowflake(user.get("id")),
        username=user.get("username") if isinstance(user.get("username"), str) else None,
        member_roles=tuple(r for r in roles if isinstance(r, str))
        if isinstance(roles, list)
        else (),
        member_permissions=_int(member.get("permissions")) if member else None,
    )
