"""Messages every chat platform actor understands."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class SendChat:
    """Post `text` in the creator's chat on this platform (optionally as a reply)."""

    text: str
    reply_to: str | None = None
    trigger_id: str | None = None


@attrs.frozen(kw_only=True)
class Moderate:
    """Act on a chat message a filter caught: `delete` it, or `timeout` its author for
    `seconds`. Platform actors that cannot moderate yet record and count the request."""

    action: str  # "delete" | "timeout"
    message_id: str | None
    user_id: str
    login: str
    seconds: int | None = None
    reason: str = ""
    filter_id: str | None = None
