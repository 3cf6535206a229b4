"""Kick's moderation requests, sans-IO: what to send for a filter's delete or timeout.

Facts (KickEngineering/KickDevDocs: `apis/moderation.md`, `apis/chat.md`, `scopes/scopes.md`,
and the OpenAPI document they embed; ../shared/docs/platforms.md §6.3): below the public API
base ``https://api.kick.com/public/v1``, ``DELETE /chat/<message_id>`` deletes a chat message
(scope ``moderation:chat_message:manage``); ``POST /moderation/bans`` with ``{broadcaster_user_id,
user_id, duration, reason}`` bans a user, for ``duration`` minutes (1 to 10080, a week) when
given, else for good (scope ``moderation:ban``). Ids are Kick's integer user ids.
"""

from __future__ import annotations

import math
from typing import Any, Final
from urllib.parse import quote

import attrs

__all__ = [
    "MAX_TIMEOUT_MINUTES",
    "SCOPE_FOR_ACTION",
    "KickRequest",
    "ban_request",
    "delete_message_request",
    "timeout_minutes",
]

#: A Kick timeout lasts 1 minute to 7 days, in whole minutes.
MAX_TIMEOUT_MINUTES: Final = 10_080
#: Kick cuts long ban reasons; we send at most this much.
MAX_REASON_LENGTH: Final = 100

SCOPE_FOR_ACTION: Final = {
    "delete": "moderation:chat_message:manage",
    "timeout": "moderation:ban",
}


@attrs.frozen(kw_only=True)
class KickRequest:
    """A call to make: `method` and `path` below the public API base, optional JSON body."""

    method: str
    path: str
    json: dict[str, Any] | None = None


def delete_message_request(message_id: str) -> KickRequest:
    """``DELETE /chat/<message_id>``."""
    if not message_id or not message_id.strip() or "/" in message_id:
        raise ValueError(f"not a Kick message id: {message_id!r}")
    return KickRequest(method="DELETE", path=f"/chat/{quote(message_id.strip(), safe='')}")


def timeout_minutes(seconds: int) -> int:
    """A timeout of `seconds` in Kick's whole minutes (rounded up, within 1..10080)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError("a timeout lasts at least 1 second")
    return min(MAX_TIMEOUT_MINUTES, max(1, math.ceil(seconds / 60)))


def _user_id(value: int | str, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} is not a Kick user id: {value!r}")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise ValueError(f"{what} is not a Kick user id: {value!r}")
        value = int(value)
    if value < 1:
        raise ValueError(f"{what} is not a Kick user id: {value!r}")
    return value


def ban_request(
    broadcaster_user_id: int | str, user_id: int | str, *, seconds: int, reason: str = ""
) -> KickRequest:
    """``POST /moderation/bans``: a timeout of `seconds` (sent as whole minutes)."""
    body: dict[str, Any] = {
        "broadcaster_user_id": _user_id(broadcaster_user_id, "broadcaster_user_id"),
        "user_id": _user_id(user_id, "user_id"),
        "duration": timeout_minutes(seconds),
    }
    if reason:
        body["reason"] = reason[:MAX_REASON_LENGTH]
    return KickRequest(method="POST", path="/moderation/bans", json=body)
