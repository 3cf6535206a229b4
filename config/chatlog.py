"""The chat log format: what the runtime's chat log writes and `[creators.replay]` reads.

A chat log is UTF-8 text with one JSON object per line (JSON Lines). Blank lines and lines whose
first non-blank character is `#` are skipped by readers. Each object has exactly these keys:

| key            | type             | meaning                                                      |
| -------------- | ---------------- | ------------------------------------------------------------ |
| `platform`     | string           | `twitch`, `youtube`, `kick`, `rumble` or `replay`           |
| `channel`      | string           | the platform's channel or chat id                            |
| `message_id`   | string or null   | the platform's message id                                    |
| `user_id`      | string           | the platform's user id of the sender                         |
| `login`        | string           | the sender's login (lower case on Twitch)                    |
| `display_name` | string           | the sender's display name                                    |
| `text`         | string           | the message text                                             |
| `sent_at`      | string           | ISO-8601 UTC with `Z`, e.g. `2026-11-21T18:30:05.120Z`       |
| `roles`        | array of strings | of `broadcaster`, `moderator`, `vip`, `subscriber`, `member` |
| `raw_type`     | string           | the platform's own message type (`PRIVMSG`, ...)             |

`parse_chatlog_line` validates one line and returns keyword arguments for
`actors.events.ChatEvent` (`sent_at` as an aware UTC datetime, `roles` as a frozenset);
`format_chatlog_line` writes the inverse, so a written log replays to equal events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from config.untrusted_json import UntrustedJSONError, loads_untrusted

# The same vocabularies as actors.events; repeated here so config stays free of actor imports.
PLATFORMS = frozenset({"twitch", "youtube", "kick", "rumble", "replay"})
ROLES = frozenset({"broadcaster", "moderator", "vip", "subscriber", "member"})
FIELDS = (
    "platform",
    "channel",
    "message_id",
    "user_id",
    "login",
    "display_name",
    "text",
    "sent_at",
    "roles",
    "raw_type",
)
_STRING_FIELDS = ("platform", "channel", "user_id", "login", "display_name", "text", "raw_type")


class ChatlogError(ValueError):
    """A chat log line that does not follow the format."""


def is_skippable(line: str) -> bool:
    """True for blank lines and `#` comments, which readers skip."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def parse_chatlog_line(line: str) -> dict[str, Any]:
    """Validate one chat log line; return `ChatEvent` keyword arguments. Raises `ChatlogError`."""
    try:
        obj = loads_untrusted(line)
    except UntrustedJSONError as exc:
        raise ChatlogError(str(exc)) from None
    if not isinstance(obj, dict):
        raise ChatlogError("expected a JSON object")
    missing = [key for key in FIELDS if key not in obj]
    if missing:
        raise ChatlogError(f"missing keys: {', '.join(missing)}")
    extra = sorted(set(obj) - set(FIELDS))
    if extra:
        raise ChatlogError(f"unknown keys: {', '.join(extra)}")
    for key in _STRING_FIELDS:
        if not isinstance(obj[key], str):
            raise ChatlogError(f"{key}: expected a string, got {type(obj[key]).__name__}")
    if obj["message_id"] is not None and not isinstance(obj["message_id"], str):
        raise ChatlogError("message_id: expected a string or null")
    if obj["platform"] not in PLATFORMS:
        raise ChatlogError(f"platform: unknown platform {obj['platform']!r}")
    roles = obj["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ChatlogError("roles: expected an array of strings")
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        raise ChatlogError(f"roles: unknown roles {unknown}")
    return {
        **{key: obj[key] for key in _STRING_FIELDS},
        "message_id": obj["message_id"],
        "sent_at": _parse_time(obj["sent_at"]),
        "roles": frozenset(roles),
    }


def _parse_time(value: object) -> datetime:
    # Only the exact export form: UTC, 'Z' suffix; fractions optional.
    if not isinstance(value, str) or not value.endswith("Z"):
        raise ChatlogError(f"sent_at: expected an ISO-8601 UTC time ending in 'Z', got {value!r}")
    try:
        parsed = datetime.fromisoformat(value[:-1])
    except ValueError:
        raise ChatlogError(f"sent_at: not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is not None:
        raise ChatlogError(f"sent_at: expected 'Z' as the only offset, got {value!r}")
    return parsed.replace(tzinfo=UTC)


def format_chatlog_line(fields: Mapping[str, Any] | object) -> str:
    """One chat log line (no newline) from a `ChatEvent` or a mapping with the same keys."""
    get: Callable[[str], Any] = (
        fields.get if isinstance(fields, Mapping) else lambda key: getattr(fields, key)
    )
    sent_at: datetime = get("sent_at")
    if sent_at.tzinfo is None:
        raise ChatlogError("sent_at must be an aware datetime")
    stamp = sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{sent_at.microsecond // 1000:03d}Z"
    )
    obj = {key: get(key) for key in FIELDS}
    obj["sent_at"] = stamp
    obj["roles"] = sorted(obj["roles"])
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
